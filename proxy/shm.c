#define LOG_TAG "shm"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocols/log.h"
#include "proxy/session.h"

/*
 * wl_shm checks. The compositor maps what a client hands it, so a pool must
 * not claim more bytes than its fd has, and a buffer must lie inside its
 * pool. A guest can still shrink its memfd after the check; the compositor's
 * SIGBUS protection (libwayland's wl_shm_buffer_begin_access) covers that,
 * and these checks make sure no honest-looking request relies on it.
 */

#define SHM_ERROR_INVALID_FORMAT 0
#define SHM_ERROR_INVALID_STRIDE 1
#define SHM_ERROR_INVALID_FD 2

#define SHM_FORMAT_ARGB8888 0
#define SHM_FORMAT_XRGB8888 1
#define MAX_DIMENSION 32768

struct format_info {
	uint32_t format;
	uint32_t bpp; // bytes per pixel of the first plane
};

static uint32_t fourcc(char a, char b, char c, char d) {
	return (uint32_t)a | (uint32_t)b << 8 | (uint32_t)c << 16 | (uint32_t)d << 24;
}

static uint32_t format_bpp(uint32_t format) {
	if (format == SHM_FORMAT_ARGB8888 || format == SHM_FORMAT_XRGB8888) {
		return 4;
	}
	const struct format_info formats[] = {
		{ fourcc('C', '8', ' ', ' '), 1 }, { fourcc('R', '8', ' ', ' '), 1 },
		{ fourcc('R', 'G', '1', '6'), 2 }, { fourcc('B', 'G', '1', '6'), 2 },
		{ fourcc('A', 'R', '1', '5'), 2 }, { fourcc('X', 'R', '1', '5'), 2 },
		{ fourcc('A', 'R', '1', '2'), 2 }, { fourcc('X', 'R', '1', '2'), 2 },
		{ fourcc('R', 'G', '8', '8'), 2 }, { fourcc('G', 'R', '8', '8'), 2 },
		{ fourcc('R', '1', '6', ' '), 2 },
		{ fourcc('R', 'G', '2', '4'), 3 }, { fourcc('B', 'G', '2', '4'), 3 },
		{ fourcc('A', 'B', '2', '4'), 4 }, { fourcc('X', 'B', '2', '4'), 4 },
		{ fourcc('R', 'A', '2', '4'), 4 }, { fourcc('R', 'X', '2', '4'), 4 },
		{ fourcc('B', 'A', '2', '4'), 4 }, { fourcc('B', 'X', '2', '4'), 4 },
		{ fourcc('A', 'R', '3', '0'), 4 }, { fourcc('X', 'R', '3', '0'), 4 },
		{ fourcc('A', 'B', '3', '0'), 4 }, { fourcc('X', 'B', '3', '0'), 4 },
		{ fourcc('A', 'B', '4', 'H'), 8 }, { fourcc('X', 'B', '4', 'H'), 8 },
		{ fourcc('A', 'B', '4', '8'), 8 }, { fourcc('X', 'B', '4', '8'), 8 },
	};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].format == format) {
			return formats[i].bpp;
		}
	}
	return 1; // another advertised format: at least a byte per pixel
}

static bool format_advertised(const struct vd_session *session, uint32_t format) {
	if (format == SHM_FORMAT_ARGB8888 || format == SHM_FORMAT_XRGB8888) {
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
		vd_session_client_error(ctx->session, object_id, SHM_ERROR_INVALID_STRIDE,
			"invalid pool size %d", size);
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		vd_session_client_error(ctx->session, object_id, SHM_ERROR_INVALID_FD,
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
			vd_session_client_error(ctx->session, object_id, SHM_ERROR_INVALID_FD,
				"the pool fd is not a mappable file");
			return false;
		}
	}
	if ((off_t)size > real_size) {
		vd_session_client_error(ctx->session, object_id, SHM_ERROR_INVALID_FD,
			"pool size %d is larger than its fd (%lld bytes)", size,
			(long long)real_size);
		return false;
	}
	/* the new pool's size, for create_buffer checks */
	ctx->new_pool_size = size;
	return true;
}

bool shm_pool_handle_resize(struct vd_hook_ctx *ctx) {
	int32_t size = ctx->msg->args[0].i;
	struct vd_object *pool = ctx->object;
	if (size <= 0 || size < pool->pool_size) {
		vd_session_client_error(ctx->session, pool->client_id, SHM_ERROR_INVALID_STRIDE,
			"invalid pool resize from %lld to %d bytes (pools only grow)",
			(long long)pool->pool_size, size);
		return false;
	}
	pool->pool_size = size;
	return true;
}

bool shm_pool_handle_create_buffer(struct vd_hook_ctx *ctx) {
	const struct vd_wire_message *msg = ctx->msg;
	struct vd_object *pool = ctx->object;
	int32_t offset = msg->args[1].i;
	int32_t width = msg->args[2].i;
	int32_t height = msg->args[3].i;
	int32_t stride = msg->args[4].i;
	uint32_t format = msg->args[5].u;
	uint32_t shm_id = pool->client_id;
	if (!format_advertised(ctx->session, format)) {
		vd_session_client_error(ctx->session, shm_id, SHM_ERROR_INVALID_FORMAT,
			"invalid format 0x%x", format);
		return false;
	}
	if (width <= 0 || height <= 0 || width > MAX_DIMENSION || height > MAX_DIMENSION) {
		vd_session_client_error(ctx->session, shm_id, SHM_ERROR_INVALID_STRIDE,
			"invalid buffer size %dx%d", width, height);
		return false;
	}
	int64_t min_stride = (int64_t)width * format_bpp(format);
	if (stride <= 0 || stride < min_stride) {
		vd_session_client_error(ctx->session, shm_id, SHM_ERROR_INVALID_STRIDE,
			"invalid stride %d for width %d", stride, width);
		return false;
	}
	if (offset < 0 || (int64_t)offset + (int64_t)stride * height > pool->pool_size) {
		vd_session_client_error(ctx->session, shm_id, SHM_ERROR_INVALID_STRIDE,
			"buffer at offset %d, %d rows of %d bytes, is outside its pool of %lld bytes",
			offset, height, stride, (long long)pool->pool_size);
		return false;
	}
	return true;
}
