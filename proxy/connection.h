#ifndef PROXY_CONNECTION_H
#define PROXY_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One end of a Wayland socket: bytes and fds in, bytes and fds out. Input is
 * a fixed buffer (a message is at most 4096 bytes); output grows up to a hard
 * limit. fds received are owned here until a message takes them; fds queued
 * for output are closed once sent.
 */

#define VD_CONNECTION_IN_SIZE 65536
/* One recvmsg delivers at most the fds of one sendmsg (SCM_MAX_FD). */
#define VD_CONNECTION_MAX_RECV_FDS 253

struct vd_out_fd {
	int fd;
	size_t offset; // byte offset in the output of the message that carries it
};

struct vd_connection {
	int fd;

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

/* max_fds caps fds held in input; out_limit caps queued output bytes. */
bool vd_connection_init(struct vd_connection *conn, int fd, size_t max_fds, size_t out_limit);
/* Closes the socket and every fd still held. */
void vd_connection_finish(struct vd_connection *conn);

/* Reads once into the input buffer, at most max bytes (never blocks). */
enum vd_io_result vd_connection_read(struct vd_connection *conn, size_t max);
static inline size_t vd_connection_in_size(const struct vd_connection *conn) {
	return conn->in_end - conn->in_start;
}
static inline const uint8_t *vd_connection_in_data(const struct vd_connection *conn) {
	return conn->in + conn->in_start;
}
void vd_connection_consume(struct vd_connection *conn, size_t size);
/* Takes the next received fd, or -1 if none is queued. */
int vd_connection_take_fd(struct vd_connection *conn);
size_t vd_connection_in_fd_count(const struct vd_connection *conn);

/*
 * Queues a message (already encoded) and the fds it carries (ownership of
 * the fds passes to the connection). Returns false if the output would pass
 * the hard limit; the fds are then closed.
 */
bool vd_connection_queue(struct vd_connection *conn, const void *data, size_t size,
	const int *fds, size_t fd_count);
/* Reserves size bytes at the end of the output for in-place encoding. */
uint8_t *vd_connection_reserve(struct vd_connection *conn, size_t size);
/* Commits a reserved message (size bytes) with its fds. */
bool vd_connection_commit(struct vd_connection *conn, size_t size, const int *fds,
	size_t fd_count);

/* Writes as much as the socket takes. VD_IO_AGAIN means output remains. */
enum vd_io_result vd_connection_flush(struct vd_connection *conn);
static inline size_t vd_connection_out_size(const struct vd_connection *conn) {
	return conn->out_end - conn->out_start;
}

#endif
