#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/wire.h"
#include "proxy/wl/endpoint.h"

/*
 * The Unix-socket transport: recvmsg/sendmsg with SCM_RIGHTS, watched by an
 * fd source of the event loop.
 */

/* One recvmsg delivers at most the fds of one sendmsg (SCM_MAX_FD). */
#define MAX_RECV_FDS 253

struct socket_endpoint {
	struct vd_endpoint base;
	int fd;
	struct wl_event_loop *loop;
	struct wl_event_source *source; // added on the first watch
};

static struct socket_endpoint *socket_from(struct vd_endpoint *endpoint) {
	struct socket_endpoint *sock = wl_container_of(endpoint, sock, base);
	return sock;
}

static enum vd_io_result socket_read(struct vd_endpoint *endpoint, size_t max) {
	struct socket_endpoint *sock = socket_from(endpoint);
	struct vd_connection *conn = &endpoint->conn;
	size_t space;
	uint8_t *tail = vd_connection_in_tail(conn, &space);
	if (space == 0) {
		return VD_IO_AGAIN;
	}
	if (space > max) {
		space = max;
	}
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_RECV_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = tail, .iov_len = space };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	do {
		n = recvmsg(sock->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
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
			if (!vd_connection_push_fd(conn, fd)) {
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
	vd_connection_in_commit(conn, (size_t)n);
	conn->drained = (size_t)n < space;
	return VD_IO_OK;
}

static enum vd_io_result socket_flush(struct vd_endpoint *endpoint) {
	struct socket_endpoint *sock = socket_from(endpoint);
	struct vd_connection *conn = &endpoint->conn;
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
			n = sendmsg(sock->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? VD_IO_AGAIN : VD_IO_ERROR;
		}
		vd_connection_out_sent(conn, (size_t)n, fd_count);
	}
	return VD_IO_OK;
}

static int handle_fd(int fd, uint32_t mask, void *data) {
	struct vd_endpoint *endpoint = data;
	/* may destroy the endpoint: nothing of it is touched after */
	vd_endpoint_notify(endpoint, mask);
	return 0;
}

static bool socket_watch(struct vd_endpoint *endpoint, uint32_t mask) {
	struct socket_endpoint *sock = socket_from(endpoint);
	if (sock->source != NULL) {
		return wl_event_source_fd_update(sock->source, mask) == 0;
	}
	sock->source = wl_event_loop_add_fd(sock->loop, sock->fd, mask, handle_fd, endpoint);
	return sock->source != NULL;
}

static void socket_destroy(struct vd_endpoint *endpoint) {
	struct socket_endpoint *sock = socket_from(endpoint);
	if (sock->source != NULL) {
		wl_event_source_remove(sock->source);
	}
	close(sock->fd);
	free(sock);
}

static const struct vd_endpoint_impl socket_impl = {
	.name = "socket",
	.read = socket_read,
	.flush = socket_flush,
	.watch = socket_watch,
	.destroy = socket_destroy,
};

struct vd_endpoint *vd_socket_endpoint_create(struct wl_event_loop *loop, int fd) {
	struct socket_endpoint *sock = calloc(1, sizeof(*sock));
	if (sock == NULL) {
		close(fd);
		return NULL;
	}
	vd_endpoint_init(&sock->base, &socket_impl);
	sock->fd = fd;
	sock->loop = loop;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		sock->base.pid = cred.pid;
	}
	return &sock->base;
}
