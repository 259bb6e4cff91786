#ifndef PROXY_WL_ENDPOINT_H
#define PROXY_WL_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <wayland-server-core.h>

#include "proxy/wl/connection.h"

/*
 * One end of a Wayland connection as its owner (a proxy session, a bridge)
 * sees it: the connection's buffers, and a transport that moves bytes and
 * fds between them and the peer. A Unix socket is one transport
 * (vd_socket_endpoint_create); a channel of a VM link is another: it turns
 * link objects into fds on the way in, fds into link objects on the way
 * out, and its backpressure is the link's per-channel window. The owner
 * neither knows nor cares which.
 *
 * Readiness masks are wl_event_loop's: WL_EVENT_READABLE, WL_EVENT_WRITABLE
 * (watch and ready), WL_EVENT_HANGUP, WL_EVENT_ERROR (ready only).
 *
 * A transport implements vd_endpoint_impl:
 *   read(max)  moves at most max bytes (and the fds that came with them)
 *              from the peer into conn's input (vd_connection_in_tail,
 *              _in_commit, _push_fd) and sets conn.drained when nothing more
 *              was there. Never blocks. VD_IO_OK: bytes arrived (or only
 *              fds); VD_IO_AGAIN: nothing; VD_IO_CLOSED: the peer is gone;
 *              VD_IO_TOO_MANY_FDS: the peer sent more fds than conn holds.
 *   flush()    moves conn's output toward the peer as far as it takes
 *              (vd_connection_out_sent); every fd goes with the first byte
 *              of the message that carries it, never after it. VD_IO_OK:
 *              all gone; VD_IO_AGAIN: some remains (the owner watches
 *              WL_EVENT_WRITABLE); VD_IO_ERROR: the peer is gone.
 *   watch(m)   the owner wants to hear of m (called only when m changes);
 *              false if the transport cannot watch (the owner gives up).
 *              A transport that cannot pause its peer (a link channel whose
 *              owner stops reading) stops granting the peer room to send.
 *   destroy()  frees the transport (the buffers are finished already).
 * It calls vd_endpoint_notify when something it was asked to watch
 * happens, and on hangup, always from its own event-loop callback, never
 * from inside read, flush or watch; the owner's ready callback may destroy
 * the endpoint, so the transport touches nothing of it afterwards.
 */

struct vd_endpoint;

struct vd_endpoint_impl {
	const char *name;
	enum vd_io_result (*read)(struct vd_endpoint *endpoint, size_t max);
	enum vd_io_result (*flush)(struct vd_endpoint *endpoint);
	bool (*watch)(struct vd_endpoint *endpoint, uint32_t mask);
	void (*destroy)(struct vd_endpoint *endpoint);
};

typedef void (*vd_endpoint_ready_func)(struct vd_endpoint *endpoint, uint32_t mask, void *data);

struct vd_endpoint {
	const struct vd_endpoint_impl *impl;
	struct vd_connection conn;
	pid_t pid; // the peer's process if known (SO_PEERCRED), else 0
	char label[32]; // the peer in log lines if not a pid ("channel=7"), else ""
	uint32_t mask; // what the owner watches
	vd_endpoint_ready_func ready; // the owner's
	void *ready_data;
};

/* For transports: sets up the common part (no buffers yet). */
void vd_endpoint_init(struct vd_endpoint *endpoint, const struct vd_endpoint_impl *impl);

/*
 * For the owner, once: allocates the buffers with the owner's limits,
 * installs its callback and starts watching WL_EVENT_READABLE.
 */
bool vd_endpoint_attach(struct vd_endpoint *endpoint, size_t max_fds, size_t out_limit,
	vd_endpoint_ready_func ready, void *data);
/* Closes every fd still held, frees the buffers and the transport. NULL is fine. */
void vd_endpoint_destroy(struct vd_endpoint *endpoint);

static inline enum vd_io_result vd_endpoint_read(struct vd_endpoint *endpoint, size_t max) {
	return endpoint->impl->read(endpoint, max);
}
static inline enum vd_io_result vd_endpoint_flush(struct vd_endpoint *endpoint) {
	return endpoint->impl->flush(endpoint);
}
static inline bool vd_endpoint_watch(struct vd_endpoint *endpoint, uint32_t mask) {
	if (mask == endpoint->mask) {
		return true;
	}
	endpoint->mask = mask;
	return endpoint->impl->watch(endpoint, mask);
}
/* For transports: tells the owner. */
static inline void vd_endpoint_notify(struct vd_endpoint *endpoint, uint32_t mask) {
	endpoint->ready(endpoint, mask, endpoint->ready_data);
}

/*
 * A connected Unix socket (non-blocking, close-on-exec), watched on loop.
 * Takes fd (closed on failure). The peer's pid comes from SO_PEERCRED.
 */
struct vd_endpoint *vd_socket_endpoint_create(struct wl_event_loop *loop, int fd);

#endif
