#define LOG_TAG "client"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/log.h"
#include "proxy/clipboard.h"
#include "proxy/server.h"
#include "proxy/session-private.h"
#include "proxy/shell.h"

/*
 * Output may pass max_queue: toward the compositor by what one input buffer
 * can produce; toward the client by the events the compositor still owes
 * for requests already sent (the compositor is always read: a libwayland
 * compositor drops a client that does not read). A client whose queue
 * passes twice max_queue keeps requesting far more than it reads, and is
 * cut off.
 */
#define OUT_SLACK (4 * VD_CONNECTION_IN_SIZE)
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
 */
#define FENCE_BYTES 32768
#define FENCES_MAX 2
/*
 * Requests read from a client per wakeup. The compositor's replies to one
 * batch must fit in its socket buffer before the proxy reads them (a
 * libwayland compositor drops a client whose buffer overflows), so client
 * batches stay small, like libwayland's own 4 KiB reads; the compositor's
 * events are read in big batches.
 */
#define CLIENT_READ_SIZE 16384

void session_log(struct vd_session *session, enum vd_log_level level, const char *fmt,
		...) {
	if (level > vd_log_get_level()) {
		return;
	}
	char text[512];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	_vd_log(level, LOG_TAG, "vm=%s pid=%d %s", session->server->vm, (int)session->pid, text);
}

/* Output */

static void update_masks(struct vd_session *session) {
	const size_t max_queue = session->server->limits.max_queue;
	uint32_t client_mask = 0, upstream_mask = 0;
	/* a client that does not read its events gets no more requests read:
	 * its requests would only produce more events for it */
	size_t upstream_pause = max_queue < UPSTREAM_PAUSE ? max_queue : UPSTREAM_PAUSE;
	if (!session->closing && vd_connection_out_size(&session->upstream) < upstream_pause &&
			vd_connection_out_size(&session->client) < max_queue &&
			session->fences_pending < FENCES_MAX) {
		client_mask |= WL_EVENT_READABLE;
	}
	if (vd_connection_out_size(&session->client) > 0) {
		client_mask |= WL_EVENT_WRITABLE;
	}
	if (!session->closing) {
		upstream_mask |= WL_EVENT_READABLE;
	}
	if (vd_connection_out_size(&session->upstream) > 0) {
		upstream_mask |= WL_EVENT_WRITABLE;
	}
	if (client_mask != session->client_mask) {
		wl_event_source_fd_update(session->client_source, client_mask);
		session->client_mask = client_mask;
	}
	if (upstream_mask != session->upstream_mask) {
		wl_event_source_fd_update(session->upstream_source, upstream_mask);
		session->upstream_mask = upstream_mask;
	}
}

bool vd_session_send_client(struct vd_session *session, const uint8_t *data, uint32_t size) {
	if (!vd_connection_queue(&session->client, data, size, NULL, 0)) {
		session->closing = true;
		snprintf(session->error, sizeof(session->error), "client output overflow");
		return false;
	}
	return true;
}

bool vd_session_send_upstream(struct vd_session *session, const uint8_t *data, uint32_t size) {
	if (!vd_connection_queue(&session->upstream, data, size, NULL, 0)) {
		session->closing = true;
		snprintf(session->error, sizeof(session->error), "compositor output overflow");
		return false;
	}
	return true;
}

void session_send_delete_id(struct vd_session *session, uint32_t client_id) {
	uint8_t buf[16];
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, DISPLAY_ID, DISPLAY_EVENT_DELETE_ID);
	vd_wire_writer_put_u32(&writer, client_id);
	vd_wire_writer_finish(&writer);
	vd_session_send_client(session, buf, writer.size);
}

void session_send_display_error(struct vd_session *session, uint32_t object_id, uint32_t code,
		const char *message) {
	uint8_t buf[VD_WIRE_MAX_MESSAGE_SIZE];
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, DISPLAY_ID, DISPLAY_EVENT_ERROR);
	vd_wire_writer_put_u32(&writer, object_id);
	vd_wire_writer_put_u32(&writer, code);
	vd_wire_writer_put_string(&writer, message);
	if (vd_wire_writer_finish(&writer)) {
		vd_connection_queue(&session->client, buf, writer.size, NULL, 0);
	}
}

void vd_session_client_error(struct vd_session *session, uint32_t client_id, uint32_t code,
		const char *fmt, ...) {
	if (session->closing) {
		return;
	}
	char text[512];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	session_log(session, VD_WARN, "protocol error: %s", text);
	session_send_display_error(session, client_id, code, text);
	snprintf(session->error, sizeof(session->error), "protocol error");
	session->closing = true;
}

void vd_session_upstream_error(struct vd_session *session, const char *fmt, ...) {
	if (session->closing) {
		return;
	}
	char text[512];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	session_log(session, VD_ERROR, "compositor error: %s", text);
	session_send_display_error(session, DISPLAY_ID, DISPLAY_ERROR_IMPLEMENTATION,
		"vmdesk-proxy: the compositor sent a malformed message");
	snprintf(session->error, sizeof(session->error), "compositor error");
	session->closing = true;
}

/* Input processing */

static void process_input(struct vd_session *session, bool from_client) {
	struct vd_connection *conn = from_client ? &session->client : &session->upstream;
	while (!session->closing) {
		size_t avail = vd_connection_in_size(conn);
		if (avail < VD_WIRE_HEADER_SIZE) {
			break;
		}
		const uint8_t *data = vd_connection_in_data(conn);
		struct vd_wire_header header;
		vd_wire_header_read(data, &header);
		if (header.size < VD_WIRE_HEADER_SIZE || header.size % 4 != 0 ||
				header.size > VD_WIRE_MAX_MESSAGE_SIZE) {
			if (from_client) {
				vd_session_client_error(session, DISPLAY_ID,
					DISPLAY_ERROR_INVALID_METHOD,
					"invalid message size %u for object %u", header.size,
					header.object);
			} else {
				vd_session_upstream_error(session, "invalid message size %u",
					header.size);
			}
			return;
		}
		if (avail < header.size) {
			break;
		}
		if (from_client) {
			dispatch_request(session, data, &header);
		} else {
			dispatch_event(session, data, &header);
		}
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
			vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_INVALID_METHOD,
				"%zu file descriptors sent without a message to carry them",
				vd_connection_in_fd_count(conn));
		} else {
			vd_session_upstream_error(session, "file descriptors without a message");
		}
	}
}

static void session_end(struct vd_session *session) {
	/* best effort: a client that does not read does not get the error */
	vd_connection_flush(&session->client);
	if (session->error[0] == '\0') {
		snprintf(session->error, sizeof(session->error), "closed");
	}
	vd_session_destroy(session);
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
	struct vd_object *display = vd_object_map_get(&session->upstream_map, DISPLAY_ID);
	struct vd_object *callback = vd_session_new_object(session, &vd_iface_wl_callback, 1,
		&fence_impl, NULL);
	if (callback != NULL && vd_session_request(session, display, 0, "n", callback)) {
		session->fences_pending++;
	}
	session->unfenced = 0;
}

static bool read_side(struct vd_session *session, bool from_client) {
	struct vd_connection *conn = from_client ? &session->client : &session->upstream;
	switch (vd_connection_read(conn, from_client ? CLIENT_READ_SIZE : VD_CONNECTION_IN_SIZE)) {
	case VD_IO_OK:
		process_input(session, from_client);
		if (from_client) {
			maybe_send_fence(session);
		}
		return true;
	case VD_IO_AGAIN:
		return true;
	case VD_IO_CLOSED:
		if (!from_client) {
			snprintf(session->error, sizeof(session->error),
				"the compositor closed the connection");
		}
		break;
	case VD_IO_TOO_MANY_FDS:
		if (from_client) {
			vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_NO_MEMORY,
				"too many file descriptors in flight (limit %zu)",
				session->server->limits.max_fds);
			return true;
		}
		vd_session_upstream_error(session, "too many file descriptors");
		return true;
	case VD_IO_ERROR:
		snprintf(session->error, sizeof(session->error), "%s read error: %s",
			from_client ? "client" : "compositor", strerror(errno));
		break;
	}
	session->closing = true;
	return false;
}

static bool flush_side(struct vd_session *session, bool to_client) {
	struct vd_connection *conn = to_client ? &session->client : &session->upstream;
	if (vd_connection_out_size(conn) == 0) {
		return true;
	}
	if (vd_connection_flush(conn) == VD_IO_ERROR) {
		if (session->error[0] == '\0' && to_client && (errno == EPIPE ||
				errno == ECONNRESET)) {
			snprintf(session->error, sizeof(session->error), "closed");
		} else if (session->error[0] == '\0') {
			snprintf(session->error, sizeof(session->error), "%s write error: %s",
				to_client ? "client" : "compositor", strerror(errno));
		}
		session->closing = true;
		return false;
	}
	return true;
}

static int handle_fd_event(struct vd_session *session, bool is_client, uint32_t mask) {
	if (mask & WL_EVENT_READABLE) {
		read_side(session, is_client);
	} else if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		/* reading was paused: take what is left, then end */
		struct vd_connection *conn = is_client ? &session->client : &session->upstream;
		for (int i = 0; i < 16 && !session->closing; i++) {
			if (vd_connection_read(conn, VD_CONNECTION_IN_SIZE) != VD_IO_OK) {
				break;
			}
			process_input(session, is_client);
		}
		session->closing = true;
	}
	flush_side(session, false);
	flush_side(session, true);
	if (session->closing) {
		session_end(session);
		return 0;
	}
	update_masks(session);
	return 0;
}

static void handle_idle_flush(void *data) {
	struct vd_session *session = data;
	session->idle_flush = NULL;
	flush_side(session, false);
	flush_side(session, true);
	if (session->closing) {
		session_end(session);
		return;
	}
	update_masks(session);
}

void vd_session_schedule_flush(struct vd_session *session) {
	if (session->idle_flush == NULL && !session->tearing_down) {
		session->idle_flush = wl_event_loop_add_idle(session->server->loop,
			handle_idle_flush, session);
	}
}

static int handle_client_fd(int fd, uint32_t mask, void *data) {
	return handle_fd_event(data, true, mask);
}

static int handle_upstream_fd(int fd, uint32_t mask, void *data) {
	return handle_fd_event(data, false, mask);
}

/* Lifetime */

struct vd_session *vd_session_create(struct vd_server *server, int client_fd, int upstream_fd) {
	struct vd_session *session = dispatch_init() ? calloc(1, sizeof(*session)) : NULL;
	if (session == NULL) {
		goto error_fds;
	}
	session->server = server;
	session->serial = ++server->next_serial;
	wl_list_init(&session->link);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(client_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		session->pid = cred.pid;
	}
	const struct vd_limits *limits = &server->limits;
	size_t out_limit = limits->max_queue + OUT_SLACK;
	if (!vd_connection_init(&session->client, client_fd, limits->max_fds,
			2 * limits->max_queue + OUT_SLACK)) {
		free(session);
		goto error_fds;
	}
	if (!vd_connection_init(&session->upstream, upstream_fd, limits->max_fds, out_limit)) {
		vd_connection_finish(&session->client);
		free(session);
		close(upstream_fd);
		return NULL;
	}
	vd_object_map_init(&session->client_map, false, true);
	vd_object_map_init(&session->upstream_map, true, false);

	struct vd_object *display = object_create(session, &vd_iface_wl_display, 1);
	if (display == NULL) {
		goto error_session;
	}
	display->client_id = display->upstream_id = DISPLAY_ID;
	if (!vd_object_map_insert(&session->client_map, DISPLAY_ID, display) ||
			!vd_object_map_insert(&session->upstream_map, DISPLAY_ID, display)) {
		goto error_session;
	}

	session->client_mask = session->upstream_mask = WL_EVENT_READABLE;
	session->client_source = wl_event_loop_add_fd(server->loop, client_fd,
		WL_EVENT_READABLE, handle_client_fd, session);
	session->upstream_source = wl_event_loop_add_fd(server->loop, upstream_fd,
		WL_EVENT_READABLE, handle_upstream_fd, session);
	if (session->client_source == NULL || session->upstream_source == NULL) {
		goto error_session;
	}
	if (!shell_session_init(session)) {
		goto error_session;
	}
	wl_list_insert(&server->sessions, &session->link);
	session_log(session, VD_INFO, "connected");
	return session;

error_session:
	vd_session_destroy(session);
	return NULL;
error_fds:
	close(client_fd);
	close(upstream_fd);
	return NULL;
}

static void free_objects(struct vd_session *session) {
	session->tearing_down = true;
	/* first let every impl drop what hangs off its object */
	struct vd_id_range *all[] = {
		&session->client_map.client, &session->client_map.server,
		&session->upstream_map.client, &session->upstream_map.server,
	};
	for (size_t r = 0; r < sizeof(all) / sizeof(all[0]); r++) {
		for (uint32_t i = 0; i < all[r]->count; i++) {
			if (all[r]->entries[i] != NULL) {
				vd_object_gone(session, all[r]->entries[i]);
			}
		}
	}
	struct vd_id_range *ranges[] = {
		&session->client_map.client, &session->client_map.server,
		&session->upstream_map.client, &session->upstream_map.server,
	};
	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		struct vd_id_range *range = ranges[r];
		for (uint32_t i = 0; i < range->count; i++) {
			struct vd_object *object = range->entries[i];
			if (object == NULL) {
				continue;
			}
			/* clear both references, then free once */
			if (object->client_id != 0) {
				struct vd_object **slot = object->client_id >= VD_WIRE_SERVER_ID_START ?
					&session->client_map.server.entries[object->client_id -
						VD_WIRE_SERVER_ID_START] :
					&session->client_map.client.entries[object->client_id - 1];
				*slot = NULL;
			}
			if (object->upstream_id != 0) {
				struct vd_object **slot =
					object->upstream_id >= VD_WIRE_SERVER_ID_START ?
					&session->upstream_map.server.entries[object->upstream_id -
						VD_WIRE_SERVER_ID_START] :
					&session->upstream_map.client.entries[object->upstream_id - 1];
				*slot = NULL;
			}
			free(object);
		}
	}
	session->object_count = 0;
}

void vd_session_destroy(struct vd_session *session) {
	if (session == NULL) {
		return;
	}
	if (session->client_source != NULL) {
		session_log(session, VD_INFO, "disconnected (%s)",
			session->error[0] ? session->error : "closed");
	}
	wl_list_remove(&session->link);
	if (session->idle_flush != NULL) {
		wl_event_source_remove(session->idle_flush);
	}
	if (session->client_source != NULL) {
		wl_event_source_remove(session->client_source);
	}
	if (session->upstream_source != NULL) {
		wl_event_source_remove(session->upstream_source);
	}
	free_objects(session);
	clipboard_session_gone(session->server->clipboard, session);
	shell_session_finish(session);
	vd_object_map_finish(&session->client_map);
	vd_object_map_finish(&session->upstream_map);
	registry_finish(session);
	vd_connection_finish(&session->client);
	vd_connection_finish(&session->upstream);
	free(session);
}
