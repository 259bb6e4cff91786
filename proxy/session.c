#define LOG_TAG "client"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/log.h"
#include "proxy/clipboard.h"
#include "proxy/server.h"
#include "proxy/session-private.h"
#include "proxy/shell.h"

/*
 * A session's lifetime, its log lines and how it ends: protocol errors of
 * either side, and closing. Reading and writing are in proxy/session-io.c,
 * the message path in proxy/dispatch.c.
 */

/* Output slack beyond max_queue: what one input buffer can produce. */
#define OUT_SLACK (4 * VD_CONNECTION_IN_SIZE)

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
	_vd_log(level, LOG_TAG, "vm=%s %s %s", session->server->vm, session->peer, text);
}

void session_set_closing(struct vd_session *session, const char *fmt, ...) {
	session->closing = true;
	if (session->error[0] != '\0') {
		return;
	}
	va_list args;
	va_start(args, fmt);
	vsnprintf(session->error, sizeof(session->error), fmt, args);
	va_end(args);
}

void vd_session_close(struct vd_session *session, const char *reason) {
	if (!session->closing) {
		session_set_closing(session, "%s", reason);
		vd_session_schedule_flush(session);
	}
}

/* Output from the proxy */

bool vd_session_send_client(struct vd_session *session, const uint8_t *data, uint32_t size) {
	if (!vd_connection_queue(&session->client->conn, data, size, NULL, 0)) {
		session_set_closing(session, "client output overflow");
		return false;
	}
	return true;
}

bool vd_session_send_upstream(struct vd_session *session, const uint8_t *data, uint32_t size) {
	if (!vd_connection_queue(&session->upstream->conn, data, size, NULL, 0)) {
		session_set_closing(session, "compositor output overflow");
		return false;
	}
	return true;
}

void session_send_delete_id(struct vd_session *session, uint32_t client_id) {
	uint8_t buf[16];
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID);
	vd_wire_writer_put_u32(&writer, client_id);
	vd_wire_writer_finish(&writer);
	vd_session_send_client(session, buf, writer.size);
}

void session_send_display_error(struct vd_session *session, uint32_t object_id, uint32_t code,
		const char *message) {
	uint8_t buf[VD_WIRE_MAX_MESSAGE_SIZE];
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_ERROR);
	vd_wire_writer_put_u32(&writer, object_id);
	vd_wire_writer_put_u32(&writer, code);
	vd_wire_writer_put_string(&writer, message);
	if (vd_wire_writer_finish(&writer)) {
		vd_connection_queue(&session->client->conn, buf, writer.size, NULL, 0);
	}
}

/* Errors */

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
	session_set_closing(session, "protocol error");
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
	session_send_display_error(session, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
		"vmdesk-proxy: the compositor sent a malformed message");
	session_set_closing(session, "compositor error");
}

/* Output queued from outside the session's handlers (another session's
 * hook, a timer) is flushed from the event loop. */

static void handle_idle_flush(void *data) {
	struct vd_session *session = data;
	session->idle_flush = NULL;
	session_after_dispatch(session);
}

void vd_session_schedule_flush(struct vd_session *session) {
	if (session->idle_flush == NULL && !session->tearing_down) {
		session->idle_flush = wl_event_loop_add_idle(session->server->loop,
			handle_idle_flush, session);
	}
}

/* Lifetime */

struct vd_session *vd_session_create(struct vd_server *server, int client_fd, int upstream_fd) {
	struct vd_endpoint *client = vd_socket_endpoint_create(server->loop, client_fd);
	if (client == NULL) {
		close(upstream_fd);
		return NULL;
	}
	return vd_session_create_with(server, client, upstream_fd, NULL);
}

struct vd_session *vd_session_create_with(struct vd_server *server, struct vd_endpoint *client,
		int upstream_fd, const struct vd_hook_registry *hooks) {
	struct vd_endpoint *upstream = vd_socket_endpoint_create(server->loop, upstream_fd);
	struct vd_session *session = upstream != NULL ? calloc(1, sizeof(*session)) : NULL;
	if (session == NULL) {
		vd_endpoint_destroy(client);
		vd_endpoint_destroy(upstream);
		return NULL;
	}
	session->server = server;
	session->serial = ++server->next_serial;
	session->hooks = hooks != NULL ? hooks : server->hooks;
	session->client = client;
	session->upstream = upstream;
	session->pid = client->pid;
	if (client->label[0] != '\0') {
		snprintf(session->peer, sizeof(session->peer), "%s", client->label);
	} else {
		snprintf(session->peer, sizeof(session->peer), "pid=%d", (int)client->pid);
	}
	wl_list_init(&session->link);
	vd_objects_init(&session->objects);
	vd_object_map_init(&session->client_map, false, true);
	vd_object_map_init(&session->upstream_map, true, false);

	const struct vd_limits *limits = &server->limits;
	if (!vd_endpoint_attach(client, limits->max_fds, 2 * limits->max_queue + OUT_SLACK,
			session_handle_ready, session) ||
			!vd_endpoint_attach(upstream, limits->max_fds, limits->max_queue + OUT_SLACK,
				session_handle_ready, session)) {
		goto error_session;
	}
	struct vd_object *display = object_create(session, &vd_iface_wl_display, 1);
	if (display == NULL) {
		goto error_session;
	}
	display->client_id = display->upstream_id = VD_DISPLAY_ID;
	if (!vd_object_map_insert(&session->client_map, VD_DISPLAY_ID, display) ||
			!vd_object_map_insert(&session->upstream_map, VD_DISPLAY_ID, display)) {
		goto error_session;
	}
	if (!shell_session_init(session)) {
		goto error_session;
	}
	wl_list_insert(&server->sessions, &session->link);
	session->connected = true;
	session_log(session, VD_INFO, "connected");
	return session;

error_session:
	vd_session_destroy(session);
	return NULL;
}

/* Releases both of an object's IDs, so that it is freed once. */
static void free_object(struct vd_object *object, uint32_t id, void *data) {
	struct vd_session *session = data;
	if (object->client_id != 0) {
		vd_object_map_remove(&session->client_map, object->client_id);
		object->client_id = 0;
	}
	if (object->upstream_id != 0) {
		vd_object_map_remove(&session->upstream_map, object->upstream_id);
		object->upstream_id = 0;
	}
	vd_object_destroy(&session->objects, object);
}

static void object_gone(struct vd_object *object, uint32_t id, void *data) {
	vd_object_gone(data, object);
}

static void free_objects(struct vd_session *session) {
	session->tearing_down = true;
	/* first let every impl drop what hangs off its object */
	vd_object_map_for_each(&session->client_map, object_gone, session);
	vd_object_map_for_each(&session->upstream_map, object_gone, session);
	vd_object_map_for_each(&session->client_map, free_object, session);
	vd_object_map_for_each(&session->upstream_map, free_object, session);
	vd_objects_finish(&session->objects);
}

void vd_session_destroy(struct vd_session *session) {
	if (session == NULL) {
		return;
	}
	wl_list_remove(&session->link);
	if (session->idle_flush != NULL) {
		wl_event_source_remove(session->idle_flush);
	}
	free_objects(session);
	clipboard_session_gone(session->server->clipboard, session);
	shell_session_finish(session);
	vd_object_map_finish(&session->client_map);
	vd_object_map_finish(&session->upstream_map);
	registry_finish(session);
	vd_endpoint_destroy(session->client);
	vd_endpoint_destroy(session->upstream);
	/* last: once it is logged, nothing of the session is left (tests count fds then) */
	if (session->connected) {
		session_log(session, VD_INFO, "disconnected (%s)",
			session->error[0] ? session->error : "closed");
	}
	free(session);
}
