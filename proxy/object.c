#define LOG_TAG "client"

#include <assert.h>
#include <stdarg.h>
#include <unistd.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/session-private.h"

/* Objects */

struct vd_object *object_create(struct vd_session *session,
		const struct vd_interface *interface, uint32_t version) {
	return vd_object_create(&session->objects, interface, version);
}

void vd_object_gone(struct vd_session *session, struct vd_object *object) {
	const struct vd_object_impl *impl = object->impl;
	object->impl = NULL;
	if (impl != NULL && impl->gone != NULL) {
		impl->gone(session, object);
	}
	vd_object_addons_destroy(object);
}

/* Destroyed once neither side has an ID for it (freed after the dispatch). */
void object_maybe_free(struct vd_session *session, struct vd_object *object) {
	if (object->client_id == 0 && object->upstream_id == 0) {
		vd_object_gone(session, object);
		vd_object_destroy(&session->objects, object);
	}
}

void object_release_client(struct vd_session *session, struct vd_object *object) {
	if (object->client_id != 0) {
		vd_object_map_remove(&session->client_map, object->client_id);
		object->client_id = 0;
	}
	object_maybe_free(session, object);
}

void object_release_upstream(struct vd_session *session, struct vd_object *object) {
	if (object->upstream_id != 0) {
		vd_object_map_remove(&session->upstream_map, object->upstream_id);
		object->upstream_id = 0;
	}
	object->flags |= VD_OBJECT_UPSTREAM_GONE;
	object_maybe_free(session, object);
}

/* The proxy's own objects */

/* An object that lives on one side only: the compositor's (the proxy's own)
 * or the client's (served by the proxy). */
static struct vd_object *new_one_sided_object(struct vd_session *session, bool for_client,
		const struct vd_interface *interface, uint32_t version,
		const struct vd_object_impl *impl, void *data) {
	if (session->closing || session->tearing_down) {
		return NULL;
	}
	struct vd_object *object = object_create(session, interface, version);
	if (object == NULL) {
		return NULL;
	}
	object->impl = impl;
	object->data = data;
	uint32_t id;
	if (for_client) {
		object->flags = VD_OBJECT_UPSTREAM_GONE;
		id = object->client_id = vd_object_map_alloc(&session->client_map, true, object);
	} else {
		object->flags = VD_OBJECT_PROXY_OWNED;
		id = object->upstream_id =
			vd_object_map_alloc(&session->upstream_map, false, object);
	}
	if (id == 0) {
		vd_object_destroy(&session->objects, object);
		return NULL;
	}
	return object;
}

struct vd_object *vd_session_new_object(struct vd_session *session,
		const struct vd_interface *interface, uint32_t version,
		const struct vd_object_impl *impl, void *data) {
	return new_one_sided_object(session, false, interface, version, impl, data);
}

struct vd_object *vd_session_client_object(struct vd_session *session, uint32_t client_id) {
	struct vd_object *object = vd_object_map_get(&session->client_map, client_id);
	if (object == NULL || (object->flags & VD_OBJECT_CLIENT_GONE)) {
		return NULL;
	}
	return object;
}

static void skip_args(const char *fmt, va_list args) {
	/* fds passed in must still be closed */
	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p == 'h') {
			close(va_arg(args, int));
		} else if (*p == 's') {
			(void)va_arg(args, const char *);
		} else if (*p == 'o' || *p == 'n') {
			(void)va_arg(args, struct vd_object *);
		} else {
			(void)va_arg(args, uint32_t);
		}
	}
}

/* Builds and queues a message from the proxy toward one side. */
static bool send_built(struct vd_session *session, bool to_client, struct vd_object *object,
		uint16_t opcode, const char *fmt, va_list args) {
	uint8_t buf[VD_WIRE_MAX_MESSAGE_SIZE];
	int fds[4];
	size_t fd_count = 0;
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, to_client ? object->client_id : object->upstream_id,
		opcode);
	for (const char *p = fmt; *p != '\0'; p++) {
		switch (*p) {
		case 'u':
			vd_wire_writer_put_u32(&writer, va_arg(args, uint32_t));
			break;
		case 'i':
		case 'f':
			vd_wire_writer_put_u32(&writer, (uint32_t)va_arg(args, int32_t));
			break;
		case 's':
			vd_wire_writer_put_string(&writer, va_arg(args, const char *));
			break;
		case 'o':
		case 'n': {
			struct vd_object *arg = va_arg(args, struct vd_object *);
			uint32_t id = arg == NULL ? 0 : to_client ? arg->client_id : arg->upstream_id;
			vd_wire_writer_put_u32(&writer, id);
			break;
		}
		case 'h':
			assert(fd_count < sizeof(fds) / sizeof(fds[0]));
			fds[fd_count++] = va_arg(args, int);
			break;
		default:
			assert(!"bad message format");
		}
	}
	struct vd_connection *conn = to_client ? &session->client->conn : &session->upstream->conn;
	if (!vd_wire_writer_finish(&writer)) {
		close_fds(fds, fd_count);
		return false;
	}
	return vd_connection_queue(conn, buf, writer.size, fds, fd_count);
}

bool vd_session_request(struct vd_session *session, struct vd_object *object, uint16_t opcode,
		const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	bool ok;
	if (session->closing || session->tearing_down || object == NULL ||
			object->upstream_id == 0) {
		skip_args(fmt, args);
		ok = false;
	} else {
		ok = send_built(session, false, object, opcode, fmt, args);
	}
	va_end(args);
	return ok;
}

bool vd_session_event(struct vd_session *session, struct vd_object *object, uint16_t opcode,
		const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	bool ok;
	if (session->closing || session->tearing_down || object == NULL ||
			object->client_id == 0 || (object->flags & VD_OBJECT_CLIENT_GONE)) {
		skip_args(fmt, args);
		ok = false;
	} else {
		ok = send_built(session, true, object, opcode, fmt, args);
	}
	va_end(args);
	if (ok) {
		/* events may be sent from another session's handler: flush there */
		vd_session_schedule_flush(session);
	}
	return ok;
}

struct vd_object *vd_session_new_client_object(struct vd_session *session,
		const struct vd_interface *interface, uint32_t version,
		const struct vd_object_impl *impl, void *data) {
	return new_one_sided_object(session, true, interface, version, impl, data);
}

void vd_session_destroy_object(struct vd_session *session, struct vd_object *object,
		uint16_t destructor_opcode) {
	if (object == NULL) {
		return;
	}
	object->impl = NULL;
	object->data = NULL;
	if (session->tearing_down) {
		return; // free_objects frees it
	}
	bool sent = vd_session_request(session, object, destructor_opcode, "");
	object->flags |= VD_OBJECT_CLIENT_GONE;
	if (!sent || object->upstream_id >= VD_WIRE_SERVER_ID_START) {
		/* no delete_id will come for it */
		object_release_upstream(session, object);
	}
}
