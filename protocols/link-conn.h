#ifndef PROTOCOLS_LINK_CONN_H
#define PROTOCOLS_LINK_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/link.h"

/*
 * One end of a link on a wl_event_loop: the fd, the capped reader, the
 * output queue, the HELLO handshake, flow control and closing. Every
 * program's links are one of these (protocols/link.md).
 *
 * Lifetime, the rule every program follows: nothing a link does frees
 * anything while a caller is inside it. vd_link_conn_send on a full queue,
 * vd_link_conn_fail and a broken peer only mark the link closing; its
 * closed() handler runs later, from an idle callback of the loop, and is
 * where the owner tears down what hangs on the link and calls
 * vd_link_conn_destroy. So code that sends to a link may go on using every
 * object it holds.
 */

enum vd_link_carrier {
	VD_LINK_CARRIER_STREAM, // a connection (unix, vsock): errors and EOF end the link
	VD_LINK_CARRIER_SERIAL, // a byte stream that outlives its ends (virtio-serial)
};

struct vd_link_conn;

struct vd_link_conn_impl {
	/* The peer's HELLO came: version and capabilities are settled (optional). */
	void (*ready)(struct vd_link_conn *conn);
	/* One message of the peer (never HELLO); valid during the call only. */
	void (*message)(struct vd_link_conn *conn, const struct vd_link_msg *msg);
	/*
	 * A frame that did not decode (optional). Return true to drop it and go
	 * on; false (or no handler) fails the link with a protocol error.
	 */
	bool (*refused)(struct vd_link_conn *conn, const struct vd_link_header *header,
		const char *err);
	/* Everything queued was written (optional). */
	void (*drained)(struct vd_link_conn *conn);
	/*
	 * Serial carriers: the peer restarted (a HELLO with a new session);
	 * drop what belonged to its old session (optional). ready() follows.
	 */
	void (*reset)(struct vd_link_conn *conn);
	/*
	 * The link is over: reason says why (NULL: the peer ended it after
	 * whole frames, or vd_link_conn_close finished). Called from an idle
	 * callback; the owner destroys the link here or later.
	 */
	void (*closed)(struct vd_link_conn *conn, const char *reason);
};

struct vd_link_conn_config {
	const struct vd_link_set *set;
	int role; // this end's role in the set (VD_LINK_ROLE_*)
	uint32_t caps; // capabilities offered
	const char *software; // "vmdesk-hostd 0.1.0"
	size_t max_queue; // bytes queued before the peer counts as not reading (0: 4 MiB)
	uint32_t max_frame; // largest payload accepted (0: the set's)
	enum vd_link_carrier carrier;
	int hello_timeout_ms; // fail without the peer's HELLO by then (0: wait)
};

#define VD_LINK_DEFAULT_MAX_QUEUE (4u * 1024u * 1024u)

/* Takes fd (non-blocking, close-on-exec) and sends HELLO. NULL if out of memory (fd closed). */
struct vd_link_conn *vd_link_conn_create(struct wl_event_loop *loop, int fd,
	const struct vd_link_conn_config *config, const struct vd_link_conn_impl *impl, void *data);
/* Closes the fd and frees the link; safe anywhere, also inside its handlers. Accepts NULL. */
void vd_link_conn_destroy(struct vd_link_conn *conn);
void *vd_link_conn_data(const struct vd_link_conn *conn);

/*
 * Queues msg. Returns false if it was not queued: the link is closing, msg
 * breaks a rule (logged), or the queue is over max_queue (the link then
 * fails: "the peer does not read").
 */
bool vd_link_conn_send(struct vd_link_conn *conn, const struct vd_link_msg *msg);
/* Sends ERROR(code, text) (code 0: none) and closes; closed() gets text. */
void vd_link_conn_fail(struct vd_link_conn *conn, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Closes once everything queued is written (at most 5 s later). */
void vd_link_conn_close(struct vd_link_conn *conn);
bool vd_link_conn_closing(const struct vd_link_conn *conn);

bool vd_link_conn_ready(const struct vd_link_conn *conn);
/* Negotiated: the capabilities both ends offered. */
uint32_t vd_link_conn_caps(const struct vd_link_conn *conn);
const char *vd_link_conn_peer_software(const struct vd_link_conn *conn);
size_t vd_link_conn_queued(const struct vd_link_conn *conn);
/* Stops (or resumes) reading from the peer: back-pressure. */
void vd_link_conn_pause(struct vd_link_conn *conn, bool paused);
int vd_link_conn_fd(const struct vd_link_conn *conn);

#endif
