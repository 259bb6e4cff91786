#ifndef PROTOCOLS_AGENT_CONN_H
#define PROTOCOLS_AGENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/agent-wire.h"

/*
 * A non-blocking framed connection: an input buffer that never holds more
 * than one maximal frame plus one read, and an output queue with a cap. A
 * peer that stops reading makes the queue hit the cap; the owner then drops
 * the connection rather than buffering without end.
 */

#define VD_AGENT_CONN_DEFAULT_MAX_QUEUE (4u * 1024u * 1024u)

struct vd_agent_conn {
	int fd;
	uint8_t *in;
	size_t in_len, in_cap, in_pos;
	struct vd_agent_buf out;
	size_t out_pos;
	size_t max_queue;
	bool eof;
};

enum vd_conn_status {
	VD_CONN_OK,
	VD_CONN_EOF, // orderly close after whole frames
	VD_CONN_ERROR, // I/O error or a broken frame; err says which
};

struct vd_agent_frame {
	struct vd_agent_header header;
	const uint8_t *payload; // valid until the next vd_agent_conn_read or _next
};

/* Takes ownership of fd. */
void vd_agent_conn_init(struct vd_agent_conn *conn, int fd, size_t max_queue);
/* Closes the fd and frees the buffers. */
void vd_agent_conn_finish(struct vd_agent_conn *conn);

/* Reads what is available (up to a bounded amount). */
enum vd_conn_status vd_agent_conn_read(struct vd_agent_conn *conn, char *err, size_t err_size);
/*
 * Takes the next complete frame out of the input buffer. Returns false when
 * there is none; *status is VD_CONN_ERROR (with err) if the data is broken,
 * VD_CONN_EOF when the peer closed after whole frames (truncated frame: error).
 */
bool vd_agent_conn_next(struct vd_agent_conn *conn, struct vd_agent_frame *frame,
	enum vd_conn_status *status, char *err, size_t err_size);

/* Queues a message. False if it cannot be encoded or the queue is over its cap. */
bool vd_agent_conn_send(struct vd_agent_conn *conn, const struct vd_agent_msg *msg);
/* Writes what it can. False on a write error. */
bool vd_agent_conn_flush(struct vd_agent_conn *conn);
size_t vd_agent_conn_queued(const struct vd_agent_conn *conn);

/* Blocking helpers for simple clients (the CLI): flush all, and wait for one frame. */
bool vd_agent_conn_flush_blocking(struct vd_agent_conn *conn);

#endif
