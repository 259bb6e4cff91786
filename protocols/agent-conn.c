#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/agent-conn.h"

#define READ_CHUNK (64u * 1024u)

void vd_agent_conn_init(struct vd_agent_conn *conn, int fd, size_t max_queue) {
	memset(conn, 0, sizeof(*conn));
	conn->fd = fd;
	conn->max_queue = max_queue ? max_queue : VD_AGENT_CONN_DEFAULT_MAX_QUEUE;
}

void vd_agent_conn_finish(struct vd_agent_conn *conn) {
	if (conn->fd >= 0) {
		close(conn->fd);
	}
	free(conn->in);
	vd_agent_buf_finish(&conn->out);
	memset(conn, 0, sizeof(*conn));
	conn->fd = -1;
}

static void compact(struct vd_agent_conn *conn) {
	if (conn->in_pos == 0) {
		return;
	}
	memmove(conn->in, conn->in + conn->in_pos, conn->in_len - conn->in_pos);
	conn->in_len -= conn->in_pos;
	conn->in_pos = 0;
}

enum vd_conn_status vd_agent_conn_read(struct vd_agent_conn *conn, char *err, size_t err_size) {
	if (conn->eof) {
		return VD_CONN_OK;
	}
	compact(conn);
	/* Never hold more than one maximal frame plus one chunk. */
	size_t limit = VD_AGENT_HEADER_SIZE + VD_AGENT_MAX_PAYLOAD + READ_CHUNK;
	if (conn->in_len >= limit) {
		return VD_CONN_OK; // the caller must consume frames first
	}
	size_t want = READ_CHUNK;
	if (conn->in_cap - conn->in_len < want) {
		size_t cap = conn->in_len + want;
		uint8_t *in = realloc(conn->in, cap);
		if (in == NULL) {
			snprintf(err, err_size, "out of memory");
			return VD_CONN_ERROR;
		}
		conn->in = in;
		conn->in_cap = cap;
	}
	ssize_t n = recv(conn->fd, conn->in + conn->in_len, want, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			return VD_CONN_OK;
		}
		snprintf(err, err_size, "read: %s", strerror(errno));
		return VD_CONN_ERROR;
	}
	if (n == 0) {
		conn->eof = true;
		return VD_CONN_OK;
	}
	conn->in_len += (size_t)n;
	return VD_CONN_OK;
}

bool vd_agent_conn_next(struct vd_agent_conn *conn, struct vd_agent_frame *frame,
		enum vd_conn_status *status, char *err, size_t err_size) {
	*status = VD_CONN_OK;
	size_t avail = conn->in_len - conn->in_pos;
	if (avail >= VD_AGENT_HEADER_SIZE) {
		const uint8_t *p = conn->in + conn->in_pos;
		if (!vd_agent_header_parse(p, &frame->header, err, err_size)) {
			*status = VD_CONN_ERROR;
			return false;
		}
		if (avail - VD_AGENT_HEADER_SIZE >= frame->header.length) {
			frame->payload = p + VD_AGENT_HEADER_SIZE;
			conn->in_pos += VD_AGENT_HEADER_SIZE + frame->header.length;
			return true;
		}
	}
	if (conn->eof) {
		if (avail > 0) {
			snprintf(err, err_size, "truncated frame (%zu bytes) at end of stream", avail);
			*status = VD_CONN_ERROR;
		} else {
			*status = VD_CONN_EOF;
		}
	}
	return false;
}

size_t vd_agent_conn_queued(const struct vd_agent_conn *conn) {
	return conn->out.len - conn->out_pos;
}

bool vd_agent_conn_send(struct vd_agent_conn *conn, const struct vd_agent_msg *msg) {
	if (vd_agent_conn_queued(conn) > conn->max_queue) {
		return false;
	}
	if (conn->out_pos > 0 && conn->out_pos == conn->out.len) {
		conn->out.len = 0;
		conn->out_pos = 0;
	}
	return vd_agent_encode(&conn->out, msg);
}

bool vd_agent_conn_flush(struct vd_agent_conn *conn) {
	while (conn->out_pos < conn->out.len) {
		ssize_t n = send(conn->fd, conn->out.data + conn->out_pos,
			conn->out.len - conn->out_pos, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				break;
			}
			return false;
		}
		conn->out_pos += (size_t)n;
	}
	if (conn->out_pos == conn->out.len) {
		conn->out.len = 0;
		conn->out_pos = 0;
	} else if (conn->out_pos > 1024u * 1024u) {
		memmove(conn->out.data, conn->out.data + conn->out_pos, conn->out.len - conn->out_pos);
		conn->out.len -= conn->out_pos;
		conn->out_pos = 0;
	}
	return true;
}

bool vd_agent_conn_flush_blocking(struct vd_agent_conn *conn) {
	while (vd_agent_conn_queued(conn) > 0) {
		if (!vd_agent_conn_flush(conn)) {
			return false;
		}
		if (vd_agent_conn_queued(conn) > 0) {
			struct pollfd pfd = {.fd = conn->fd, .events = POLLOUT};
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
				return false;
			}
		}
	}
	return true;
}
