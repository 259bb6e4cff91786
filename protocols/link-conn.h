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
	/*
	 * A byte stream that outlives its ends (virtio-serial), or a connection
	 * that may lead to one (a host's Unix socket to QEMU's virtio-serial
	 * chardev): the nonce handshake, resynchronisation after a broken frame.
	 * On a socket, EOF ends the link. On a port (a character device: the
	 * guest's end of a virtio-serial port) EOF means no host is connected
	 * now: the link resets and waits, without polling the hangup that
	 * never clears, until one connects (link.md, "Serial carriers").
	 */
	VD_LINK_CARRIER_SERIAL,
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
	/*
	 * Bulk messages (optional; link.md, "Bulk data"): a frame of a bulk type
	 * is coming whose data is not all here yet; head has its fields, checked,
	 * and data_len (data is NULL). Return where its data_len bytes go (the
	 * link reads them straight there, then calls message() with data
	 * pointing there), or NULL to have it read and delivered as any frame.
	 */
	uint8_t *(*bulk_target)(struct vd_link_conn *conn, const struct vd_link_msg *head);
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
/*
 * As vd_link_conn_send for a bulk message, without copying the bytes of its
 * data field: they are written from where msg points, which must stay
 * mapped until release(release_data, faulted) runs (once: when they are
 * written, or the link drops them; never from inside this call). Memory
 * that faults when written (a file mapping whose file shrank) is sent as
 * zeros, so that the frame stays whole, and release says faulted. False:
 * nothing was queued and release will not run.
 */
typedef void (*vd_link_release_func)(void *data, bool faulted);
bool vd_link_conn_send_ref(struct vd_link_conn *conn, const struct vd_link_msg *msg,
	vd_link_release_func release, void *release_data);
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
/* The largest payload the peer takes (its HELLO's max_frame, at most the set's). */
uint32_t vd_link_conn_peer_max_frame(const struct vd_link_conn *conn);
/* Stops (or resumes) reading from the peer: back-pressure. */
void vd_link_conn_pause(struct vd_link_conn *conn, bool paused);
int vd_link_conn_fd(const struct vd_link_conn *conn);

#endif
