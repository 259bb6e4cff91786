#define LOG_TAG "shm"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/wayland/shm.h"
#include "protocols/log.h"
#include "proxy/wl/shm-format.h"

/* Freed pool bytes smaller than this are not worth telling the host. */
#define DISCARD_MIN (64u * 1024u)



static struct client *client_of(struct vd_hook_ctx *ctx) {
	return ctx->tracker->data;
}

/* ---- pools ---- */

static void pool_free(struct pool *pool) {
	if (pool->map != MAP_FAILED) {
		munmap(pool->map, VD_POOL_RESERVED);
	}
	if (pool->shadow != MAP_FAILED) {
		munmap(pool->shadow, VD_POOL_RESERVED);
	}
	if (pool->fd >= 0) {
		close(pool->fd);
	}
	free(pool->stale);
	free(pool);
}

void pool_unref(struct pool *pool) {
	if (pool != NULL && --pool->refs == 0) {
		pool_free(pool);
	}
}

/* The pool's object and buffers are all gone: the host forgets it. */
static void pool_maybe_done(struct pool *pool) {
	if (pool->object_live || !wl_list_empty(&pool->buffers)) {
		return;
	}
	if (pool->client != NULL && !pool->client->gone) {
		struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_FREE};
		msg.body.wl_pool_free.pool = pool->id;
		client_queue_msg(pool->client, &msg);
		pool->client->pool_count--;
	}
	pool->client = NULL;
}

/* The pool's addon on its wl_shm_pool (the pool itself outlives the object). */
struct pool_addon {
	struct vd_object_addon addon;
	struct pool *pool;
};

static void pool_holder_destroy(struct vd_object_addon *addon) {
	struct pool_addon *holder = wl_container_of(addon, holder, addon);
	struct pool *pool = holder->pool;
	free(holder);
	pool->object_live = false;
	if (pool->fd >= 0) {
		close(pool->fd);
		pool->fd = -1;
	}
	if (pool->client != NULL && !pool->client->gone) {
		struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_SEALED};
		msg.body.wl_pool_sealed.pool = pool->id;
		client_queue_msg(pool->client, &msg);
	}
	pool_maybe_done(pool);
	pool_unref(pool);
}

static const struct vd_object_addon_impl pool_addon_impl = {
	.name = "bridge shm pool",
	.destroy = pool_holder_destroy,
};

static struct pool *pool_of(const struct vd_object *object) {
	struct vd_object_addon *addon = vd_object_addon_find(object, &pool_addon_impl);
	struct pool_addon *holder = addon != NULL ? wl_container_of(addon, holder, addon) : NULL;
	return holder != NULL ? holder->pool : NULL;
}

/* Maps the client's fd read-only over [0, size) of the pool's reservation. */
static bool map_client(struct pool *pool, uint32_t size) {
	return mmap(pool->map, size, PROT_READ, MAP_SHARED | MAP_FIXED, pool->fd, 0) != MAP_FAILED &&
		mprotect(pool->shadow, size, PROT_READ | PROT_WRITE) == 0;
}

/* The fd really holds size bytes (a compositor checks this too). */
static bool fd_holds(struct client *client, uint32_t object, int fd, int32_t size) {
	struct stat st;
	if (fstat(fd, &st) != 0) {
		client_fail(client, object, VD_WL_SHM_ERROR_INVALID_FD,
			"cannot stat the pool fd: %s", strerror(errno));
		return false;
	}
	off_t real = S_ISREG(st.st_mode) ? st.st_size : lseek(fd, 0, SEEK_END);
	if (real < 0 || (off_t)size > real) {
		client_fail(client, object, VD_WL_SHM_ERROR_INVALID_FD,
			"pool size %d is larger than its fd (%lld bytes)", size, (long long)real);
		return false;
	}
	return true;
}

static bool handle_create_pool(struct vd_hook_ctx *ctx) {
	struct client *client = client_of(ctx);
	uint32_t object = ctx->object->client_id;
	int32_t size = ctx->msg->args[2].i;
	int fd = ctx->fds[0];
	if (size <= 0) {
		client_fail(client, object, VD_WL_SHM_ERROR_INVALID_STRIDE, "invalid pool size %d",
			size);
		return false;
	}
	if (client->pool_count >= client->bridge->max_pools) {
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"more than %u shm pools (the host's limit)", client->bridge->max_pools);
		return false;
	}
	if (!fd_holds(client, object, fd, size)) {
		return false;
	}
	struct pool *pool = calloc(1, sizeof(*pool));
	if (pool == NULL) {
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return false;
	}
	pool->refs = 1; // the wl_shm_pool's
	pool->fd = -1;
	pool->client = client;
	pool->object_live = true;
	wl_list_init(&pool->buffers);
	pool->map = mmap(NULL, VD_POOL_RESERVED, PROT_NONE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	pool->shadow = mmap(NULL, VD_POOL_RESERVED, PROT_NONE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	pool->fd = fd;
	if (pool->map == MAP_FAILED || pool->shadow == MAP_FAILED ||
			!map_client(pool, (uint32_t)size)) {
		pool->fd = -1; // the tracker's caller closes it
		pool_free(pool);
		client_fail(client, object, VD_WL_SHM_ERROR_INVALID_FD, "cannot map the pool: %s",
			strerror(errno));
		return false;
	}
	ctx->fds[0] = -1; // kept for resizes; the host gets a mirror instead
	pool->size = (uint32_t)size;
	pool->id = ++client->next_pool;
	client->pool_count++;
	client->new_pool = pool;
	struct vd_link_msg msg = {.type = VD_LINK_WL_POOL};
	msg.body.wl_pool = (struct vd_link_wl_pool){.pool = pool->id, .size = pool->size};
	client_queue_msg(client, &msg);
	return true;
}

static bool handle_create_pool_done(struct vd_hook_ctx *ctx) {
	struct client *client = client_of(ctx);
	struct pool *pool = client->new_pool;
	client->new_pool = NULL;
	if (pool == NULL) {
		return true;
	}
	struct pool_addon *holder = calloc(1, sizeof(*holder));
	if (holder == NULL || ctx->new_object_count == 0) {
		free(holder);
		pool->object_live = false;
		pool_maybe_done(pool);
		pool_unref(pool);
		return true;
	}
	holder->pool = pool;
	vd_object_addon_init(&holder->addon, ctx->new_objects[0], &pool_addon_impl);
	return true;
}

static bool handle_resize(struct vd_hook_ctx *ctx) {
	struct client *client = client_of(ctx);
	struct pool *pool = pool_of(ctx->object);
	int32_t size = ctx->msg->args[0].i;
	if (pool == NULL || size <= 0 || (uint32_t)size <= pool->size) {
		return true; // nothing to grow; the host checks the rest
	}
	if (!fd_holds(client, ctx->object->client_id, pool->fd, size)) {
		return false;
	}
	if (!map_client(pool, (uint32_t)size)) {
		client_fail(client, ctx->object->client_id, VD_WL_SHM_ERROR_INVALID_FD,
			"cannot map the pool: %s", strerror(errno));
		return false;
	}
	pool->size = (uint32_t)size;
	struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_RESIZE};
	msg.body.wl_pool_resize = (struct vd_link_wl_pool_resize){.pool = pool->id,
		.size = pool->size};
	client_queue_msg(client, &msg);
	return true;
}

/* ---- buffers ---- */

/*
 * Bytes of [start, end) that no live buffer of the pool uses go back to both
 * ends (WL_POOL_DISCARD). Decided after the requests read with the
 * destruction (shm_flush_discards): foot scrolls by destroying a buffer and
 * making one that overlaps it at once, and the overlap must stay.
 */
struct freed {
	struct pool *pool;
	uint32_t start, end;
};

void shm_flush_discards(struct client *client) {
	struct freed *freed = client->freed;
	for (size_t f = 0; f < client->freed_count; f++) {
		struct pool *pool = freed[f].pool;
		uint64_t pieces[8][2] = {{freed[f].start, freed[f].end}};
		size_t count = 1;
		struct buffer *other;
		wl_list_for_each(other, &pool->buffers, pool_link) {
			uint64_t o0 = other->offset;
			uint64_t o1 = o0 + (uint64_t)other->stride * (uint64_t)other->height;
			size_t n = count;
			for (size_t i = 0; i < n && count < 8; i++) {
				uint64_t a = pieces[i][0], b = pieces[i][1];
				if (o1 <= a || o0 >= b) {
					continue;
				}
				pieces[i][1] = o0 > a ? o0 : a; // what is before it
				if (o1 < b) {
					pieces[count][0] = o1; // and after it
					pieces[count][1] = b;
					count++;
				}
			}
		}
		for (size_t i = 0; i < count; i++) {
			if (pieces[i][1] > pieces[i][0] && pieces[i][1] - pieces[i][0] >= DISCARD_MIN &&
					pool->client != NULL && !client->gone) {
				client_queue_discard(client, pool, (uint32_t)pieces[i][0],
					(uint32_t)(pieces[i][1] - pieces[i][0]));
			}
		}
		pool_unref(pool);
	}
	client->freed_count = 0;
}

static void note_freed(struct buffer *gone) {
	struct client *client = gone->client;
	uint64_t start = gone->offset;
	uint64_t end = start + (uint64_t)gone->stride * (uint64_t)gone->height;
	if (end - start < DISCARD_MIN || client->gone) {
		return;
	}
	if (client->freed_count == client->freed_cap) {
		size_t cap = client->freed_cap ? client->freed_cap * 2 : 8;
		struct freed *freed = realloc(client->freed, cap * sizeof(*freed));
		if (freed == NULL) {
			return; // kept: only memory is lost, until the pool goes
		}
		client->freed = freed;
		client->freed_cap = cap;
	}
	struct freed *freed = client->freed;
	freed[client->freed_count++] = (struct freed){.pool = pool_ref(gone->pool),
		.start = (uint32_t)start, .end = (uint32_t)end};
}

static void buffer_addon_destroy(struct vd_object_addon *addon) {
	struct buffer *buffer = wl_container_of(addon, buffer, addon);
	struct surface *surface = buffer->surface;
	if (surface != NULL) {
		wl_list_remove(&buffer->surface_link);
	}
	wl_list_remove(&buffer->pool_link);
	note_freed(buffer);
	pool_maybe_done(buffer->pool);
	pool_unref(buffer->pool);
	pixman_region32_fini(&buffer->pending);
	if (--buffer->stat->refs == 0) {
		free(buffer->stat);
	}
	buffer->pool = NULL;
	free(buffer);
}

static const struct vd_object_addon_impl buffer_addon_impl = {
	.name = "bridge shm buffer",
	.destroy = buffer_addon_destroy,
};

struct buffer *buffer_of(const struct vd_object *object) {
	struct vd_object_addon *addon = object != NULL ?
		vd_object_addon_find(object, &buffer_addon_impl) : NULL;
	struct buffer *buffer = addon != NULL ? wl_container_of(addon, buffer, addon) : NULL;
	return buffer;
}

static bool handle_create_buffer_done(struct vd_hook_ctx *ctx) {
	struct pool *pool = pool_of(ctx->object);
	const struct vd_wire_message *msg = ctx->msg;
	int32_t offset = msg->args[1].i, width = msg->args[2].i, height = msg->args[3].i;
	int32_t stride = msg->args[4].i;
	uint32_t bpp = vd_shm_format_bpp(msg->args[5].u);
	if (pool == NULL || ctx->new_object_count == 0 || width <= 0 || height <= 0 ||
			offset < 0 || stride <= 0 || (int64_t)stride < (int64_t)width * bpp ||
			(int64_t)offset + (int64_t)stride * height > pool->size) {
		return true; // not a buffer the compositor takes: the host ends the client
	}
	struct buffer *buffer = calloc(1, sizeof(*buffer));
	struct bufstat *stat = calloc(1, sizeof(*stat));
	if (buffer == NULL || stat == NULL) {
		free(buffer);
		free(stat);
		client_fail(client_of(ctx), VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	buffer->client = client_of(ctx);
	buffer->pool = pool_ref(pool);
	buffer->offset = (uint32_t)offset;
	buffer->width = width;
	buffer->height = height;
	buffer->stride = stride;
	buffer->bpp = bpp;
	stat->refs = 1;
	buffer->stat = stat;
	pixman_region32_init(&buffer->pending);
	wl_list_insert(&pool->buffers, &buffer->pool_link);
	vd_object_addon_init(&buffer->addon, ctx->new_objects[0], &buffer_addon_impl);
	return true;
}

/* ---- the table ---- */

static const struct vd_hook request_hooks[] = {
	{ &vd_iface_wl_shm, VD_WL_SHM_REQUEST_CREATE_POOL, handle_create_pool },
	{ &vd_iface_wl_shm_pool, VD_WL_SHM_POOL_REQUEST_RESIZE, handle_resize },
};

static const struct vd_hook request_post_hooks[] = {
	{ &vd_iface_wl_shm, VD_WL_SHM_REQUEST_CREATE_POOL, handle_create_pool_done },
	{ &vd_iface_wl_shm_pool, VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER, handle_create_buffer_done },
};

bool shm_hooks_add(struct vd_hook_registry *registry) {
	return vd_hook_registry_add(registry, VD_HOOK_REQUEST, request_hooks,
			sizeof(request_hooks) / sizeof(request_hooks[0])) &&
		vd_hook_registry_add(registry, VD_HOOK_REQUEST_POST, request_post_hooks,
			sizeof(request_post_hooks) / sizeof(request_post_hooks[0]));
}
