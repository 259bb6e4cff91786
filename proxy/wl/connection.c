#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/wl/connection.h"

#define OUT_INITIAL_SIZE 16384

bool vd_connection_init(struct vd_connection *conn, size_t max_fds, size_t out_limit) {
	*conn = (struct vd_connection){ .out_limit = out_limit };
	conn->in = malloc(VD_CONNECTION_IN_SIZE);
	conn->in_fd_cap = max_fds;
	conn->in_fds = calloc(max_fds > 0 ? max_fds : 1, sizeof(int));
	if (conn->in == NULL || conn->in_fds == NULL) {
		free(conn->in);
		free(conn->in_fds);
		*conn = (struct vd_connection){0};
		return false;
	}
	return true;
}

void vd_connection_out_close_fds(struct vd_connection *conn) {
	for (size_t i = 0; i < conn->out_fd_count; i++) {
		close(conn->out_fds[conn->out_fd_start + i].fd);
	}
	conn->out_fd_start = conn->out_fd_count = 0;
}

void vd_connection_finish(struct vd_connection *conn) {
	for (size_t i = 0; i < conn->in_fd_count; i++) {
		close(conn->in_fds[(conn->in_fd_start + i) % conn->in_fd_cap]);
	}
	vd_connection_out_close_fds(conn);
	free(conn->in);
	free(conn->in_fds);
	free(conn->out);
	free(conn->out_fds);
	*conn = (struct vd_connection){0};
}

bool vd_connection_push_fd(struct vd_connection *conn, int fd) {
	if (conn->in_fd_count >= conn->in_fd_cap) {
		return false;
	}
	conn->in_fds[(conn->in_fd_start + conn->in_fd_count) % conn->in_fd_cap] = fd;
	conn->in_fd_count++;
	return true;
}

uint8_t *vd_connection_in_tail(struct vd_connection *conn, size_t *space) {
	if (conn->in_start > 0) {
		size_t len = conn->in_end - conn->in_start;
		memmove(conn->in, conn->in + conn->in_start, len);
		conn->in_start = 0;
		conn->in_end = len;
	}
	*space = VD_CONNECTION_IN_SIZE - conn->in_end;
	return conn->in + conn->in_end;
}

int vd_connection_take_fd(struct vd_connection *conn) {
	if (conn->in_fd_count == 0) {
		return -1;
	}
	int fd = conn->in_fds[conn->in_fd_start];
	conn->in_fd_start = (conn->in_fd_start + 1) % conn->in_fd_cap;
	conn->in_fd_count--;
	return fd;
}

uint8_t *vd_connection_reserve(struct vd_connection *conn, size_t size) {
	if (conn->out_start > 0 && conn->out_start == conn->out_end) {
		conn->out_start = conn->out_end = 0;
	}
	if (conn->out_end + size > conn->out_cap) {
		size_t used = conn->out_end - conn->out_start;
		if (used + size > conn->out_limit) {
			return NULL;
		}
		if (conn->out_start > 0 && conn->out_start >= conn->out_cap / 2) {
			/* compact: fd offsets are relative to the buffer start */
			memmove(conn->out, conn->out + conn->out_start, used);
			for (size_t i = 0; i < conn->out_fd_count; i++) {
				conn->out_fds[conn->out_fd_start + i].offset -= conn->out_start;
			}
			conn->out_start = 0;
			conn->out_end = used;
		}
		if (conn->out_end + size > conn->out_cap) {
			size_t cap = conn->out_cap ? conn->out_cap : OUT_INITIAL_SIZE;
			while (cap < conn->out_end + size) {
				cap *= 2;
			}
			uint8_t *out = realloc(conn->out, cap);
			if (out == NULL) {
				return NULL;
			}
			conn->out = out;
			conn->out_cap = cap;
		}
	}
	return conn->out + conn->out_end;
}

static bool push_out_fds(struct vd_connection *conn, const int *fds, size_t count,
		size_t offset) {
	if (count == 0) {
		return true;
	}
	if (conn->out_fd_start > 0 && conn->out_fd_count == 0) {
		conn->out_fd_start = 0;
	}
	if (conn->out_fd_start + conn->out_fd_count + count > conn->out_fd_cap) {
		if (conn->out_fd_start > 0) {
			memmove(conn->out_fds, conn->out_fds + conn->out_fd_start,
				conn->out_fd_count * sizeof(conn->out_fds[0]));
			conn->out_fd_start = 0;
		}
		if (conn->out_fd_count + count > conn->out_fd_cap) {
			size_t cap = conn->out_fd_cap ? conn->out_fd_cap * 2 : 32;
			while (cap < conn->out_fd_count + count) {
				cap *= 2;
			}
			struct vd_out_fd *fds_new = realloc(conn->out_fds, cap * sizeof(*fds_new));
			if (fds_new == NULL) {
				return false;
			}
			conn->out_fds = fds_new;
			conn->out_fd_cap = cap;
		}
	}
	for (size_t i = 0; i < count; i++) {
		conn->out_fds[conn->out_fd_start + conn->out_fd_count++] =
			(struct vd_out_fd){ .fd = fds[i], .offset = offset };
	}
	return true;
}

bool vd_connection_commit(struct vd_connection *conn, size_t size, const int *fds,
		size_t fd_count) {
	if (!push_out_fds(conn, fds, fd_count, conn->out_end)) {
		for (size_t i = 0; i < fd_count; i++) {
			close(fds[i]);
		}
		return false;
	}
	conn->out_end += size;
	return true;
}

bool vd_connection_queue_slow(struct vd_connection *conn, const void *data, size_t size,
		const int *fds, size_t fd_count) {
	uint8_t *dst = vd_connection_reserve(conn, size);
	if (dst == NULL) {
		for (size_t i = 0; i < fd_count; i++) {
			close(fds[i]);
		}
		return false;
	}
	memcpy(dst, data, size);
	return vd_connection_commit(conn, size, fds, fd_count);
}

void vd_connection_out_close_sent_fds(struct vd_connection *conn, size_t fd_count) {
	/* the fds went with the first byte: ours are closed now */
	for (size_t i = 0; i < fd_count; i++) {
		close(conn->out_fds[conn->out_fd_start + i].fd);
	}
	conn->out_fd_start += fd_count;
	conn->out_fd_count -= fd_count;
}
