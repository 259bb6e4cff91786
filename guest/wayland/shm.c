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

/* A buffer that accumulates more rectangles than this keeps their extents. */
#define MAX_RECTS 64
/* Freed pool bytes smaller than this are not worth telling the host. */
#define DISCARD_MIN (64u * 1024u)

struct buffer {
	struct vd_object_addon addon;
	struct client *client;
	struct pool *pool;
	uint32_t offset, bpp;
	int32_t width, height, stride;
	pixman_region32_t pending; // may differ from what the host has
	bool sent; // the host has had all of it once
	struct surface *surface; // the surface it was last committed on
	struct wl_list surface_link; // surface.buffers
	struct wl_list pool_link; // pool.buffers
	struct bufstat *stat;
};

struct surface {
	struct vd_object_addon addon;
	struct client *client;
	/* buffers by ID: one the client destroys is simply not found */
	bool attached; // an attach is pending
	uint32_t pending_buffer; // its buffer (0: none)
	uint32_t current; // the buffer committed
	pixman_region32_t damage, damage_buffer; // pending
	int32_t scale, pending_scale;
	uint32_t transform, pending_transform;
	bool scale_set, transform_set;
	struct viewport *viewport;
	struct wl_list buffers; // buffer.surface_link: committed on it
	int32_t last_width, last_height; // of the last buffer committed
};

struct viewport {
	struct vd_object_addon addon;
	struct surface *surface; // NULL once the surface is gone
	bool source, destination; // set: damage cannot be mapped simply
};

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

static struct buffer *buffer_of(const struct vd_object *object) {
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

/* ---- surfaces ---- */

static void surface_addon_destroy(struct vd_object_addon *addon) {
	struct surface *surface = wl_container_of(addon, surface, addon);
	struct buffer *buffer, *tmp;
	wl_list_for_each_safe(buffer, tmp, &surface->buffers, surface_link) {
		wl_list_remove(&buffer->surface_link);
		wl_list_init(&buffer->surface_link);
		buffer->surface = NULL;
	}
	if (surface->viewport != NULL) {
		surface->viewport->surface = NULL;
	}
	pixman_region32_fini(&surface->damage);
	pixman_region32_fini(&surface->damage_buffer);
	free(surface);
}

static const struct vd_object_addon_impl surface_addon_impl = {
	.name = "bridge surface",
	.destroy = surface_addon_destroy,
};

static struct surface *surface_of(const struct vd_object *object) {
	struct vd_object_addon *addon = object != NULL ?
		vd_object_addon_find(object, &surface_addon_impl) : NULL;
	struct surface *surface = addon != NULL ? wl_container_of(addon, surface, addon) : NULL;
	return surface;
}

static bool handle_create_surface_done(struct vd_hook_ctx *ctx) {
	if (ctx->new_object_count == 0) {
		return true;
	}
	struct surface *surface = calloc(1, sizeof(*surface));
	if (surface == NULL) {
		client_fail(client_of(ctx), VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	surface->client = client_of(ctx);
	surface->scale = surface->pending_scale = 1;
	pixman_region32_init(&surface->damage);
	pixman_region32_init(&surface->damage_buffer);
	wl_list_init(&surface->buffers);
	vd_object_addon_init(&surface->addon, ctx->new_objects[0], &surface_addon_impl);
	return true;
}

static bool handle_attach(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		surface->attached = true;
		surface->pending_buffer = ctx->msg->args[0].id;
	}
	return true;
}

static void add_damage(pixman_region32_t *region, int32_t x, int32_t y, int32_t width,
		int32_t height) {
	if (width <= 0 || height <= 0) {
		return;
	}
	/* clamped: damage far outside any buffer is clipped at commit anyway */
	int64_t x1 = (int64_t)x + width, y1 = (int64_t)y + height;
	x = x < -65536 ? -65536 : x;
	y = y < -65536 ? -65536 : y;
	x1 = x1 > 65536 ? 65536 : x1;
	y1 = y1 > 65536 ? 65536 : y1;
	if (x1 > x && y1 > y) {
		pixman_region32_union_rect(region, region, x, y, (uint32_t)(x1 - x),
			(uint32_t)(y1 - y));
	}
	if (pixman_region32_n_rects(region) > MAX_RECTS) {
		pixman_box32_t box = *pixman_region32_extents(region);
		pixman_region32_reset(region, &box);
	}
}

static bool handle_damage(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		const struct vd_wire_message *m = ctx->msg;
		add_damage(&surface->damage, m->args[0].i, m->args[1].i, m->args[2].i, m->args[3].i);
	}
	return true;
}

static bool handle_damage_buffer(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		const struct vd_wire_message *m = ctx->msg;
		add_damage(&surface->damage_buffer, m->args[0].i, m->args[1].i, m->args[2].i,
			m->args[3].i);
	}
	return true;
}

static bool handle_set_buffer_scale(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		surface->pending_scale = ctx->msg->args[0].i;
		surface->scale_set = true;
	}
	return true;
}

static bool handle_set_buffer_transform(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		surface->pending_transform = (uint32_t)ctx->msg->args[0].i;
		surface->transform_set = true;
	}
	return true;
}

static void accumulate(pixman_region32_t *into, const pixman_region32_t *damage) {
	pixman_region32_union(into, into, (pixman_region32_t *)damage);
	if (pixman_region32_n_rects(into) > MAX_RECTS) {
		pixman_box32_t box = *pixman_region32_extents(into);
		pixman_region32_reset(into, &box);
	}
}

static bool handle_commit(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface == NULL) {
		return true;
	}
	struct client *client = surface->client;
	uint32_t previous = surface->current; // the buffer the host shows now
	if (surface->attached) {
		surface->current = surface->pending_buffer;
		surface->pending_buffer = 0;
		surface->attached = false;
	}
	bool scale_changed = surface->scale_set && surface->pending_scale != surface->scale;
	if (surface->scale_set) {
		surface->scale = surface->pending_scale;
		surface->scale_set = false;
	}
	if (surface->transform_set) {
		scale_changed = scale_changed || surface->pending_transform != surface->transform;
		surface->transform = surface->pending_transform;
		surface->transform_set = false;
	}
	struct buffer *buffer = surface->current != 0 ?
		buffer_of(vd_tracker_get(ctx->tracker, surface->current)) : NULL;
	if (buffer == NULL || buffer->pool->broken) {
		pixman_region32_clear(&surface->damage);
		pixman_region32_clear(&surface->damage_buffer);
		return true;
	}
	/* the commit's damage in buffer coordinates */
	pixman_region32_t damage;
	pixman_region32_init(&damage);
	bool simple = surface->transform == VD_WL_OUTPUT_TRANSFORM_NORMAL && surface->scale > 0 &&
		(surface->viewport == NULL ||
			(!surface->viewport->source && !surface->viewport->destination));
	if (pixman_region32_not_empty(&surface->damage)) {
		if (simple && !scale_changed) {
			int n;
			const pixman_box32_t *boxes = pixman_region32_rectangles(&surface->damage, &n);
			int32_t s = surface->scale;
			for (int i = 0; i < n; i++) {
				add_damage(&damage, boxes[i].x1 * s, boxes[i].y1 * s,
					(boxes[i].x2 - boxes[i].x1) * s, (boxes[i].y2 - boxes[i].y1) * s);
			}
		} else {
			pixman_region32_union_rect(&damage, &damage, 0, 0, (uint32_t)buffer->width,
				(uint32_t)buffer->height);
		}
	}
	pixman_region32_union(&damage, &damage, &surface->damage_buffer);
	pixman_region32_intersect_rect(&damage, &damage, 0, 0, (uint32_t)buffer->width,
		(uint32_t)buffer->height);
	pixman_region32_clear(&surface->damage);
	pixman_region32_clear(&surface->damage_buffer);

	/* what the host may not have of this buffer */
	bool whole = !buffer->sent || buffer->surface != surface ||
		buffer->width != surface->last_width || buffer->height != surface->last_height;
	pixman_region32_t send;
	pixman_region32_init(&send);
	if (whole) {
		pixman_region32_union_rect(&send, &send, 0, 0, (uint32_t)buffer->width,
			(uint32_t)buffer->height);
	} else {
		pixman_region32_union(&send, &buffer->pending, &damage);
	}
	/* the other buffers of the surface miss this commit's changes from now on */
	struct buffer *other;
	wl_list_for_each(other, &surface->buffers, surface_link) {
		if (other != buffer) {
			accumulate(&other->pending, &damage);
		}
	}
	if (buffer->surface != surface) {
		if (buffer->surface != NULL) {
			wl_list_remove(&buffer->surface_link);
		}
		buffer->surface = surface;
		wl_list_insert(&surface->buffers, &buffer->surface_link);
	}
	buffer->sent = true;
	pixman_region32_clear(&buffer->pending);
	surface->last_width = buffer->width;
	surface->last_height = buffer->height;
	/*
	 * The surface showed another buffer like it: what may differ from it is
	 * taken from there on both ends (what the client left alone is that, as
	 * the protocol wants), then only the damage is compared, with the last
	 * frame rather than with this buffer's older one.
	 */
	struct buffer *last = previous != 0 && previous != surface->current ?
		buffer_of(vd_tracker_get(ctx->tracker, previous)) : NULL;
	if (last != NULL && last != buffer && !buffer->stat->raw && !last->pool->broken &&
			last->width == buffer->width && last->height == buffer->height &&
			last->stride == buffer->stride && last->bpp == buffer->bpp &&
			pixman_region32_not_empty(&send) &&
			!pool_stale(last->pool, last->offset,
				last->offset + (size_t)last->stride * (size_t)last->height)) {
		int n;
		const pixman_box32_t *boxes = pixman_region32_rectangles(&send, &n);
		for (int i = 0; i < n; i++) {
			size_t at = (size_t)boxes[i].y1 * (size_t)buffer->stride +
				(size_t)boxes[i].x1 * buffer->bpp;
			struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_COPY};
			msg.body.wl_pool_copy = (struct vd_link_wl_pool_copy){
				.src_pool = last->pool->id, .src_offset = (uint32_t)(last->offset + at),
				.src_stride = (uint32_t)last->stride,
				.dst_pool = buffer->pool->id, .dst_offset = (uint32_t)(buffer->offset + at),
				.dst_stride = (uint32_t)buffer->stride,
				.width = (uint32_t)(boxes[i].x2 - boxes[i].x1) * buffer->bpp,
				.rows = (uint32_t)(boxes[i].y2 - boxes[i].y1)};
			client_queue_copy(client, last->pool, buffer->pool, &msg);
		}
		pixman_region32_copy(&send, &damage);
	}
	if (pixman_region32_not_empty(&send)) {
		struct job *job = job_create(buffer->pool, buffer->stat, buffer->offset,
			buffer->stride, buffer->width, buffer->height, buffer->bpp, &send);
		if (job == NULL) {
			client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
				"out of memory");
		} else {
			client_queue_job(client, job, job_size(job));
		}
	}
	pixman_region32_fini(&send);
	pixman_region32_fini(&damage);
	return true;
}

/* ---- viewports ---- */

static void viewport_addon_destroy(struct vd_object_addon *addon) {
	struct viewport *viewport = wl_container_of(addon, viewport, addon);
	if (viewport->surface != NULL && viewport->surface->viewport == viewport) {
		viewport->surface->viewport = NULL;
	}
	free(viewport);
}

static const struct vd_object_addon_impl viewport_addon_impl = {
	.name = "bridge viewport",
	.destroy = viewport_addon_destroy,
};

static struct viewport *viewport_of(const struct vd_object *object) {
	struct vd_object_addon *addon = vd_object_addon_find(object, &viewport_addon_impl);
	struct viewport *viewport = addon != NULL ? wl_container_of(addon, viewport, addon) : NULL;
	return viewport;
}

static bool handle_get_viewport_done(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(vd_tracker_get(ctx->tracker, ctx->msg->args[1].id));
	if (surface == NULL || ctx->new_object_count == 0 || surface->viewport != NULL) {
		return true;
	}
	struct viewport *viewport = calloc(1, sizeof(*viewport));
	if (viewport == NULL) {
		return true;
	}
	viewport->surface = surface;
	surface->viewport = viewport;
	vd_object_addon_init(&viewport->addon, ctx->new_objects[0], &viewport_addon_impl);
	return true;
}

static bool handle_set_source(struct vd_hook_ctx *ctx) {
	struct viewport *viewport = viewport_of(ctx->object);
	if (viewport != NULL) {
		viewport->source = ctx->msg->args[0].i != -256 || ctx->msg->args[2].i != -256;
	}
	return true;
}

static bool handle_set_destination(struct vd_hook_ctx *ctx) {
	struct viewport *viewport = viewport_of(ctx->object);
	if (viewport != NULL) {
		viewport->destination = ctx->msg->args[0].i != -1 || ctx->msg->args[1].i != -1;
	}
	return true;
}

/* ---- the table ---- */

static const struct vd_hook request_hooks[] = {
	{ &vd_iface_wl_shm, VD_WL_SHM_REQUEST_CREATE_POOL, handle_create_pool },
	{ &vd_iface_wl_shm_pool, VD_WL_SHM_POOL_REQUEST_RESIZE, handle_resize },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_ATTACH, handle_attach },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_DAMAGE, handle_damage },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_DAMAGE_BUFFER, handle_damage_buffer },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_SET_BUFFER_SCALE, handle_set_buffer_scale },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_SET_BUFFER_TRANSFORM,
		handle_set_buffer_transform },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_COMMIT, handle_commit },
	{ &vd_iface_wp_viewport, VD_WP_VIEWPORT_REQUEST_SET_SOURCE, handle_set_source },
	{ &vd_iface_wp_viewport, VD_WP_VIEWPORT_REQUEST_SET_DESTINATION, handle_set_destination },
};

static const struct vd_hook request_post_hooks[] = {
	{ &vd_iface_wl_shm, VD_WL_SHM_REQUEST_CREATE_POOL, handle_create_pool_done },
	{ &vd_iface_wl_shm_pool, VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER, handle_create_buffer_done },
	{ &vd_iface_wl_compositor, VD_WL_COMPOSITOR_REQUEST_CREATE_SURFACE,
		handle_create_surface_done },
	{ &vd_iface_wp_viewporter, VD_WP_VIEWPORTER_REQUEST_GET_VIEWPORT,
		handle_get_viewport_done },
};

bool shm_hooks_add(struct vd_hook_registry *registry) {
	return vd_hook_registry_add(registry, VD_HOOK_REQUEST, request_hooks,
			sizeof(request_hooks) / sizeof(request_hooks[0])) &&
		vd_hook_registry_add(registry, VD_HOOK_REQUEST_POST, request_post_hooks,
			sizeof(request_post_hooks) / sizeof(request_post_hooks[0]));
}
