#define LOG_TAG "connection"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/log.h"
#include "protocols/wire.h"
#include "proxy/connection.h"

#define OUT_INITIAL_SIZE 16384

bool vd_connection_init(struct vd_connection *conn, int fd, size_t max_fds, size_t out_limit) {
	*conn = (struct vd_connection){ .fd = fd, .out_limit = out_limit };
	conn->in = malloc(VD_CONNECTION_IN_SIZE);
	conn->in_fd_cap = max_fds;
	conn->in_fds = calloc(max_fds > 0 ? max_fds : 1, sizeof(int));
	if (conn->in == NULL || conn->in_fds == NULL) {
		free(conn->in);
		free(conn->in_fds);
		conn->fd = -1;
		return false;
	}
	return true;
}

static void close_out_fds(struct vd_connection *conn) {
	for (size_t i = 0; i < conn->out_fd_count; i++) {
		close(conn->out_fds[conn->out_fd_start + i].fd);
	}
	conn->out_fd_start = conn->out_fd_count = 0;
}

void vd_connection_finish(struct vd_connection *conn) {
	if (conn->fd >= 0) {
		close(conn->fd);
	}
	for (size_t i = 0; i < conn->in_fd_count; i++) {
		close(conn->in_fds[(conn->in_fd_start + i) % conn->in_fd_cap]);
	}
	close_out_fds(conn);
	free(conn->in);
	free(conn->in_fds);
	free(conn->out);
	free(conn->out_fds);
	*conn = (struct vd_connection){ .fd = -1 };
}

static bool push_in_fd(struct vd_connection *conn, int fd) {
	if (conn->in_fd_count >= conn->in_fd_cap) {
		return false;
	}
	conn->in_fds[(conn->in_fd_start + conn->in_fd_count) % conn->in_fd_cap] = fd;
	conn->in_fd_count++;
	return true;
}

enum vd_io_result vd_connection_read(struct vd_connection *conn, size_t max) {
	if (conn->in_start > 0) {
		size_t len = conn->in_end - conn->in_start;
		memmove(conn->in, conn->in + conn->in_start, len);
		conn->in_start = 0;
		conn->in_end = len;
	}
	size_t space = VD_CONNECTION_IN_SIZE - conn->in_end;
	if (space == 0) {
		return VD_IO_AGAIN;
	}
	if (space > max) {
		space = max;
	}
	union {
		char buf[CMSG_SPACE(sizeof(int) * VD_CONNECTION_MAX_RECV_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = conn->in + conn->in_end, .iov_len = space };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	do {
		n = recvmsg(conn->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? VD_IO_AGAIN : VD_IO_ERROR;
	}
	bool overflow = (msg.msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
			cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
			continue;
		}
		size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *data = CMSG_DATA(cmsg);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, data + i * sizeof(int), sizeof(int));
			if (!push_in_fd(conn, fd)) {
				close(fd);
				overflow = true;
			}
		}
	}
	if (overflow) {
		return VD_IO_TOO_MANY_FDS;
	}
	if (n == 0) {
		return VD_IO_CLOSED;
	}
	conn->in_end += (size_t)n;
	conn->drained = (size_t)n < space;
	return VD_IO_OK;
}

void vd_connection_consume(struct vd_connection *conn, size_t size) {
	assert(size <= conn->in_end - conn->in_start);
	conn->in_start += size;
	if (conn->in_start == conn->in_end) {
		conn->in_start = conn->in_end = 0;
	}
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

size_t vd_connection_in_fd_count(const struct vd_connection *conn) {
	return conn->in_fd_count;
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

bool vd_connection_queue(struct vd_connection *conn, const void *data, size_t size,
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

enum vd_io_result vd_connection_flush(struct vd_connection *conn) {
	while (conn->out_start < conn->out_end) {
		/*
		 * Send at most VD_WIRE_MAX_FDS_PER_SEND fds per sendmsg (the
		 * receiver's limit), and never send a message before its fds:
		 * stop the bytes at the message that carries the first fd left
		 * out of this batch.
		 */
		size_t fd_count = conn->out_fd_count;
		size_t limit = conn->out_end;
		if (fd_count > VD_WIRE_MAX_FDS_PER_SEND) {
			fd_count = VD_WIRE_MAX_FDS_PER_SEND;
			limit = conn->out_fds[conn->out_fd_start + fd_count].offset;
			assert(limit > conn->out_start);
		}
		union {
			char buf[CMSG_SPACE(sizeof(int) * VD_WIRE_MAX_FDS_PER_SEND)];
			struct cmsghdr align;
		} control;
		struct iovec iov = {
			.iov_base = conn->out + conn->out_start,
			.iov_len = limit - conn->out_start,
		};
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (fd_count > 0) {
			msg.msg_control = control.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
			struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
			for (size_t i = 0; i < fd_count; i++) {
				int fd = conn->out_fds[conn->out_fd_start + i].fd;
				memcpy(CMSG_DATA(cmsg) + i * sizeof(int), &fd, sizeof(int));
			}
		}
		ssize_t n;
		do {
			n = sendmsg(conn->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? VD_IO_AGAIN : VD_IO_ERROR;
		}
		/* the fds went with the first byte: ours are closed now */
		for (size_t i = 0; i < fd_count; i++) {
			close(conn->out_fds[conn->out_fd_start + i].fd);
		}
		conn->out_fd_start += fd_count;
		conn->out_fd_count -= fd_count;
		conn->out_start += (size_t)n;
	}
	conn->out_start = conn->out_end = 0;
	return VD_IO_OK;
}
