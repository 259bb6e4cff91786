#define LOG_TAG "shm"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocols/log.h"
#include "proxy/session.h"
#include "proxy/wl/shm-format.h"

/*
 * wl_shm checks. The compositor maps what a client hands it, so a pool must
 * not claim more bytes than its fd has, and a buffer must lie inside its
 * pool. A guest can still shrink its memfd after the check; the compositor's
 * SIGBUS protection (libwayland's wl_shm_buffer_begin_access) covers that,
 * and these checks make sure no honest-looking request relies on it.
 */

#define MAX_DIMENSION 32768

/* A wl_shm_pool's checked size, attached to the pool object. */
struct shm_pool {
	struct vd_object_addon addon;
	int64_t size;
};

static void pool_destroy(struct vd_object_addon *addon) {
	struct shm_pool *pool = wl_container_of(addon, pool, addon);
	free(pool);
}

static const struct vd_object_addon_impl pool_impl = {
	.name = "wl_shm_pool size",
	.destroy = pool_destroy,
};

static struct shm_pool *pool_from(const struct vd_object *object) {
	struct vd_object_addon *addon = vd_object_addon_find(object, &pool_impl);
	struct shm_pool *pool = addon != NULL ? wl_container_of(addon, pool, addon) : NULL;
	return pool;
}

static bool format_advertised(const struct vd_session *session, uint32_t format) {
	if (format == VD_WL_SHM_FORMAT_ARGB8888 || format == VD_WL_SHM_FORMAT_XRGB8888) {
		return true; // always supported (wl_shm)
	}
	for (size_t i = 0; i < session->shm_format_count; i++) {
		if (session->shm_formats[i] == format) {
			return true;
		}
	}
	return false;
}

bool shm_handle_format(struct vd_hook_ctx *ctx) {
	struct vd_session *session = ctx->session;
	uint32_t format = ctx->msg->args[0].u;
	size_t cap = sizeof(session->shm_formats) / sizeof(session->shm_formats[0]);
	if (!format_advertised(session, format) && session->shm_format_count < cap) {
		session->shm_formats[session->shm_format_count++] = format;
	}
	return true;
}

bool shm_handle_create_pool(struct vd_hook_ctx *ctx) {
	const struct vd_wire_message *msg = ctx->msg;
	int32_t size = msg->args[2].i;
	int fd = ctx->fds[0];
	uint32_t object_id = ctx->object->client_id;
	if (size <= 0) {
		vd_session_client_error(ctx->session, object_id, VD_WL_SHM_ERROR_INVALID_STRIDE,
			"invalid pool size %d", size);
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		vd_session_client_error(ctx->session, object_id, VD_WL_SHM_ERROR_INVALID_FD,
			"cannot stat the pool fd: %s", strerror(errno));
		return false;
	}
	off_t real_size;
	if (S_ISREG(st.st_mode)) {
		real_size = st.st_size;
	} else {
		/* a dma-buf or another mappable object: ask for its end */
		real_size = lseek(fd, 0, SEEK_END);
		if (real_size < 0) {
			vd_session_client_error(ctx->session, object_id, VD_WL_SHM_ERROR_INVALID_FD,
				"the pool fd is not a mappable file");
			return false;
		}
	}
	if ((off_t)size > real_size) {
		vd_session_client_error(ctx->session, object_id, VD_WL_SHM_ERROR_INVALID_FD,
			"pool size %d is larger than its fd (%lld bytes)", size,
			(long long)real_size);
		return false;
	}
	return true;
}

bool shm_handle_create_pool_done(struct vd_hook_ctx *ctx) {
	/* the checked size, for create_buffer checks */
	struct shm_pool *pool = calloc(1, sizeof(*pool));
	if (pool == NULL) {
		vd_session_client_error(ctx->session, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return false;
	}
	pool->size = ctx->msg->args[2].i;
	vd_object_addon_init(&pool->addon, ctx->new_objects[0], &pool_impl);
	return true;
}

bool shm_pool_handle_resize(struct vd_hook_ctx *ctx) {
	int32_t size = ctx->msg->args[0].i;
	struct shm_pool *pool = pool_from(ctx->object);
	int64_t old_size = pool != NULL ? pool->size : 0;
	if (size <= 0 || size < old_size) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_WL_SHM_ERROR_INVALID_STRIDE,
			"invalid pool resize from %lld to %d bytes (pools only grow)",
			(long long)old_size, size);
		return false;
	}
	if (pool != NULL) {
		pool->size = size;
	}
	return true;
}

bool shm_pool_handle_create_buffer(struct vd_hook_ctx *ctx) {
	const struct vd_wire_message *msg = ctx->msg;
	const struct shm_pool *pool = pool_from(ctx->object);
	int64_t pool_size = pool != NULL ? pool->size : 0;
	int32_t offset = msg->args[1].i;
	int32_t width = msg->args[2].i;
	int32_t height = msg->args[3].i;
	int32_t stride = msg->args[4].i;
	uint32_t format = msg->args[5].u;
	uint32_t shm_id = ctx->object->client_id;
	if (!format_advertised(ctx->session, format)) {
		vd_session_client_error(ctx->session, shm_id, VD_WL_SHM_ERROR_INVALID_FORMAT,
			"invalid format 0x%x", format);
		return false;
	}
	if (width <= 0 || height <= 0 || width > MAX_DIMENSION || height > MAX_DIMENSION) {
		vd_session_client_error(ctx->session, shm_id, VD_WL_SHM_ERROR_INVALID_STRIDE,
			"invalid buffer size %dx%d", width, height);
		return false;
	}
	int64_t min_stride = (int64_t)width * vd_shm_format_bpp(format);
	if (stride <= 0 || stride < min_stride) {
		vd_session_client_error(ctx->session, shm_id, VD_WL_SHM_ERROR_INVALID_STRIDE,
			"invalid stride %d for width %d", stride, width);
		return false;
	}
	if (offset < 0 || (int64_t)offset + (int64_t)stride * height > pool_size) {
		vd_session_client_error(ctx->session, shm_id, VD_WL_SHM_ERROR_INVALID_STRIDE,
			"buffer at offset %d, %d rows of %d bytes, is outside its pool of %lld bytes",
			offset, height, stride, (long long)pool_size);
		return false;
	}
	return true;
}
