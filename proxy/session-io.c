#define LOG_TAG "client"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/session-private.h"

/*
 * A session's input and output: reading each side, dispatching its
 * messages, flushing, and the flow control between the two sides.
 *
 * Output may pass max_queue: toward the compositor by what one input buffer
 * can produce; toward the client by the events the compositor still owes
 * for requests already sent (the compositor is always read: a libwayland
 * compositor drops a client that does not read). A client whose queue
 * passes twice max_queue keeps requesting far more than it reads, and is
 * cut off.
 */

/*
 * Requests queued toward the compositor before the client is read no more.
 * Small: every request queued (and in the compositor's socket) may still
 * owe events to the client, which must fit under the client's hard limit
 * even if the client never reads.
 */
#define UPSTREAM_PAUSE 65536
/*
 * Fences: after this many bytes of requests, the proxy sends a
 * wl_display.sync of its own; with FENCES_MAX of them unanswered it reads
 * no more requests. The compositor's answer comes after every event it owed
 * for the requests before it, so the events it has not yet sent (or the
 * proxy not yet read) are bounded whatever the relative speeds of the two.
 *
 * The bound must fit in the compositor's socket buffer with room to spare:
 * libwayland 1.21 (Debian 12) drops a client when a write would block. A
 * 208 KiB send buffer holds 176 KiB in 4 KiB writes but only 6.5 KiB in
 * 24-byte ones (each write costs its own skb), and a wl_display.sync flood
 * owes 24 bytes of events per 12 bytes of requests. With 8 KiB fences and
 * 8 KiB reads, at most 16 KiB of requests are unanswered (32 KiB of sync
 * events); with 32 KiB fences a proxy descheduled under load was dropped
 * by sway (tests/hostile test_flood_never_reading, 1 run in 10).
 */
#define FENCE_BYTES 8192
#define FENCES_MAX 2
/*
 * Requests read from a client per wakeup. The compositor's replies to one
 * batch must fit in its socket buffer before the proxy reads them (a
 * libwayland compositor drops a client whose buffer overflows), so client
 * batches stay small, like libwayland's own 4 KiB reads; the compositor's
 * events are read in big batches.
 */
#define CLIENT_READ_SIZE 8192

static void update_masks(struct vd_session *session) {
	struct vd_connection *client = &session->client->conn;
	struct vd_connection *upstream = &session->upstream->conn;
	const size_t max_queue = session->server->limits.max_queue;
	uint32_t client_mask = 0, upstream_mask = 0;
	/* a client that does not read its events gets no more requests read:
	 * its requests would only produce more events for it */
	size_t upstream_pause = max_queue < UPSTREAM_PAUSE ? max_queue : UPSTREAM_PAUSE;
	if (!session->closing && vd_connection_out_size(upstream) < upstream_pause &&
			vd_connection_out_size(client) < max_queue &&
			session->fences_pending < FENCES_MAX) {
		client_mask |= WL_EVENT_READABLE;
	}
	if (vd_connection_out_size(client) > 0) {
		client_mask |= WL_EVENT_WRITABLE;
	}
	if (!session->closing) {
		upstream_mask |= WL_EVENT_READABLE;
	}
	if (vd_connection_out_size(upstream) > 0) {
		upstream_mask |= WL_EVENT_WRITABLE;
	}
	vd_endpoint_watch(session->client, client_mask);
	vd_endpoint_watch(session->upstream, upstream_mask);
}

static void process_input(struct vd_session *session, bool from_client) {
	struct vd_connection *conn = from_client ? &session->client->conn :
		&session->upstream->conn;
	while (!session->closing) {
		const uint8_t *data = vd_connection_in_data(conn);
		struct vd_wire_header header;
		enum vd_parse_next next = vd_parse_next(data, vd_connection_in_size(conn), &header);
		if (next == VD_PARSE_NEXT_MORE) {
			break;
		}
		if (next == VD_PARSE_NEXT_BAD_SIZE) {
			if (from_client) {
				vd_session_client_error(session, VD_DISPLAY_ID,
					VD_WL_DISPLAY_ERROR_INVALID_METHOD,
					"invalid message size %u for object %u", header.size,
					header.object);
			} else {
				vd_session_upstream_error(session, "invalid message size %u",
					header.size);
			}
			return;
		}
		/* objects destroyed by the message are freed after it */
		vd_objects_dispatch_begin(&session->objects);
		if (from_client) {
			dispatch_request(session, data, &header);
		} else {
			dispatch_event(session, data, &header);
		}
		vd_objects_dispatch_end(&session->objects);
		vd_connection_consume(conn, header.size);
	}
	/*
	 * fds travel with the first byte of the sendmsg that carries their
	 * message, so they may arrive ahead of it; but when the socket is
	 * drained (a short read) and every byte is consumed, fds left over
	 * belong to no message.
	 */
	if (!session->closing && conn->drained && vd_connection_in_size(conn) == 0 &&
			vd_connection_in_fd_count(conn) > 0) {
		if (from_client) {
			vd_session_client_error(session, VD_DISPLAY_ID,
				VD_WL_DISPLAY_ERROR_INVALID_METHOD,
				"%zu file descriptors sent without a message to carry them",
				vd_connection_in_fd_count(conn));
		} else {
			vd_session_upstream_error(session, "file descriptors without a message");
		}
	}
}

static void fence_event(struct vd_session *session, struct vd_object *object,
		const struct vd_wire_message *msg, const int *fds) {
	/* wl_callback.done: the compositor has sent all it owed before it */
	if (session->fences_pending > 0) {
		session->fences_pending--;
	}
	object->flags |= VD_OBJECT_CLIENT_GONE; // destroyed by this event
}

static const struct vd_object_impl fence_impl = {
	.event = fence_event,
};

static void maybe_send_fence(struct vd_session *session) {
	if (session->unfenced < FENCE_BYTES) {
		return;
	}
	struct vd_object *display = vd_object_map_get(&session->upstream_map, VD_DISPLAY_ID);
	struct vd_object *callback = vd_session_new_object(session, &vd_iface_wl_callback, 1,
		&fence_impl, NULL);
	if (callback != NULL && vd_session_request(session, display,
			VD_WL_DISPLAY_REQUEST_SYNC, "n", callback)) {
		session->fences_pending++;
	}
	session->unfenced = 0;
}

static void read_side(struct vd_session *session, bool from_client) {
	struct vd_endpoint *endpoint = from_client ? session->client : session->upstream;
	switch (vd_endpoint_read(endpoint, from_client ? CLIENT_READ_SIZE : VD_CONNECTION_IN_SIZE)) {
	case VD_IO_OK:
		process_input(session, from_client);
		if (from_client) {
			maybe_send_fence(session);
		}
		return;
	case VD_IO_AGAIN:
		return;
	case VD_IO_CLOSED:
		if (from_client) {
			session_set_closing(session, "closed");
		} else {
			session_set_closing(session, "the compositor closed the connection");
		}
		return;
	case VD_IO_TOO_MANY_FDS:
		if (from_client) {
			vd_session_client_error(session, VD_DISPLAY_ID,
				VD_WL_DISPLAY_ERROR_NO_MEMORY,
				"too many file descriptors in flight (limit %zu)",
				session->server->limits.max_fds);
		} else {
			vd_session_upstream_error(session, "too many file descriptors");
		}
		return;
	case VD_IO_ERROR:
		session_set_closing(session, "%s read error: %s",
			from_client ? "client" : "compositor", strerror(errno));
		return;
	}
}

/* A side that ended: what it sent before is read and handled (up to a bound). */
static void read_rest(struct vd_session *session, bool from_client) {
	struct vd_endpoint *endpoint = from_client ? session->client : session->upstream;
	for (int i = 0; i < 16 && !session->closing; i++) {
		if (vd_endpoint_read(endpoint, VD_CONNECTION_IN_SIZE) != VD_IO_OK) {
			break;
		}
		process_input(session, from_client);
	}
}

static void flush_side(struct vd_session *session, bool to_client) {
	struct vd_endpoint *endpoint = to_client ? session->client : session->upstream;
	if (vd_connection_out_size(&endpoint->conn) == 0) {
		return;
	}
	if (vd_endpoint_flush(endpoint) == VD_IO_ERROR) {
		if (to_client && (errno == EPIPE || errno == ECONNRESET)) {
			session_set_closing(session, "closed");
		} else if (errno == EPIPE || errno == ECONNRESET) {
			/*
			 * The compositor closed while the client's requests were on their
			 * way: its last words (a wl_display.error) may still be unread,
			 * and are the client's to hear before the end.
			 */
			read_rest(session, false);
			session_set_closing(session, "the compositor closed the connection");
		} else {
			session_set_closing(session, "%s write error: %s",
				to_client ? "client" : "compositor", strerror(errno));
		}
	}
}

void session_after_dispatch(struct vd_session *session) {
	flush_side(session, false);
	flush_side(session, true);
	if (session->closing) {
		/* best effort: a client that does not read does not get the error */
		vd_endpoint_flush(session->client);
		session_set_closing(session, "closed");
		/* the last act of the callback that dispatched: see vd-wl.h */
		vd_session_destroy(session);
		return;
	}
	update_masks(session);
}

void session_handle_ready(struct vd_endpoint *endpoint, uint32_t mask, void *data) {
	struct vd_session *session = data;
	bool is_client = endpoint == session->client;
	if (mask & WL_EVENT_READABLE) {
		read_side(session, is_client);
	} else if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		/* reading was paused: take what is left, then end */
		read_rest(session, is_client);
		session_set_closing(session, "closed");
	}
	session_after_dispatch(session);
}
