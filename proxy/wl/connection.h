#ifndef PROXY_WL_CONNECTION_H
#define PROXY_WL_CONNECTION_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * The buffers of one Wayland byte stream, whatever carries it (a Unix
 * socket, a channel of a VM link: see proxy/wl/endpoint.h): bytes and fds
 * in, bytes and fds out. Input is a fixed buffer (a message is at most 4096
 * bytes); output grows up to a limit, checked when the buffer must grow (so
 * that it never passes twice the limit). fds received are owned here until
 * a message takes them; fds queued for output are owned here until the
 * transport sends (and closes) them.
 */

#define VD_CONNECTION_IN_SIZE 65536

struct vd_out_fd {
	int fd;
	size_t offset; // byte offset in the output of the message that carries it
};

struct vd_connection {
	uint8_t *in;
	size_t in_start, in_end;
	bool drained; // the last read took less than it could: nothing more was there
	int *in_fds;
	size_t in_fd_start, in_fd_count, in_fd_cap;

	uint8_t *out;
	size_t out_start, out_end, out_cap, out_limit;
	struct vd_out_fd *out_fds;
	size_t out_fd_start, out_fd_count, out_fd_cap;
};

enum vd_io_result {
	VD_IO_OK, // progress made
	VD_IO_AGAIN, // nothing more for now
	VD_IO_CLOSED, // orderly shutdown by the peer
	VD_IO_ERROR, // errno says why
	VD_IO_TOO_MANY_FDS, // the peer sent more fds than allowed in flight
};

/* max_fds caps fds held in input; out_limit caps the growth of the output. */
bool vd_connection_init(struct vd_connection *conn, size_t max_fds, size_t out_limit);
/* Closes every fd still held and frees the buffers. */
void vd_connection_finish(struct vd_connection *conn);

/* Input, for the reader */
static inline size_t vd_connection_in_size(const struct vd_connection *conn) {
	return conn->in_end - conn->in_start;
}
static inline const uint8_t *vd_connection_in_data(const struct vd_connection *conn) {
	return conn->in + conn->in_start;
}
static inline void vd_connection_consume(struct vd_connection *conn, size_t size) {
	assert(size <= conn->in_end - conn->in_start);
	conn->in_start += size;
	if (conn->in_start == conn->in_end) {
		conn->in_start = conn->in_end = 0;
	}
}
/* Takes the next received fd, or -1 if none is queued. */
int vd_connection_take_fd(struct vd_connection *conn);
static inline size_t vd_connection_in_fd_count(const struct vd_connection *conn) {
	return conn->in_fd_count;
}

/* Input, for the transport */
/* Room at the end of the input (after moving what is unread to the front). */
uint8_t *vd_connection_in_tail(struct vd_connection *conn, size_t *space);
/* size bytes were written at the tail. */
static inline void vd_connection_in_commit(struct vd_connection *conn, size_t size) {
	conn->in_end += size;
}
/* Takes ownership of fd; false (fd left open) if max_fds are held already. */
bool vd_connection_push_fd(struct vd_connection *conn, int fd);

/* Output, for the writer */
/*
 * Queues a message (already encoded) and the fds it carries (ownership of
 * the fds passes to the connection). Returns false if the output would pass
 * the hard limit; the fds are then closed.
 */
bool vd_connection_queue_slow(struct vd_connection *conn, const void *data, size_t size,
	const int *fds, size_t fd_count);
static inline bool vd_connection_queue(struct vd_connection *conn, const void *data,
		size_t size, const int *fds, size_t fd_count) {
	/* most messages: no fds, and room without growing (or resetting) */
	if (fd_count == 0 && conn->out_end + size <= conn->out_cap &&
			(conn->out_start == 0 || conn->out_start != conn->out_end)) {
		memcpy(conn->out + conn->out_end, data, size);
		conn->out_end += size;
		return true;
	}
	return vd_connection_queue_slow(conn, data, size, fds, fd_count);
}
/* Reserves size bytes at the end of the output for in-place encoding. */
uint8_t *vd_connection_reserve(struct vd_connection *conn, size_t size);
/* Commits a reserved message (size bytes) with its fds. */
bool vd_connection_commit(struct vd_connection *conn, size_t size, const int *fds,
	size_t fd_count);
static inline size_t vd_connection_out_size(const struct vd_connection *conn) {
	return conn->out_end - conn->out_start;
}

/* Output, for the transport: out[out_start, out_end) is unsent, and
 * out_fds[out_fd_start, +out_fd_count) the fds still to go with it. */
/* size bytes and the first fd_count fds were sent (the fds are closed). */
void vd_connection_out_close_sent_fds(struct vd_connection *conn, size_t fd_count);
static inline void vd_connection_out_sent(struct vd_connection *conn, size_t size,
		size_t fd_count) {
	if (fd_count > 0) {
		vd_connection_out_close_sent_fds(conn, fd_count);
	}
	conn->out_start += size;
	if (conn->out_start == conn->out_end) {
		conn->out_start = conn->out_end = 0;
	}
}
/* Closes the fds queued for output (the transport cannot send them). */
void vd_connection_out_close_fds(struct vd_connection *conn);

#endif
