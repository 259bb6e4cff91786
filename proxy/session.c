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
#include "proxy/session.h"
#include "proxy/shell.h"

/* wl_display */
#define DISPLAY_ID 1
#define DISPLAY_EVENT_ERROR 0
#define DISPLAY_EVENT_DELETE_ID 1
#define DISPLAY_ERROR_INVALID_OBJECT 0
#define DISPLAY_ERROR_INVALID_METHOD 1
#define DISPLAY_ERROR_NO_MEMORY 2
#define DISPLAY_ERROR_IMPLEMENTATION 3

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
 * Requests read from a client per wakeup. The compositor's replies to one
 * batch must fit in its socket buffer before the proxy reads them (a
 * libwayland compositor drops a client whose buffer overflows), so client
 * batches stay small, like libwayland's own 4 KiB reads; the compositor's
 * events are read in big batches.
 */
#define CLIENT_READ_SIZE 16384

typedef bool (*hook_func)(struct vd_hook_ctx *ctx);

struct hook {
	const struct vd_interface *interface;
	uint16_t opcode;
	hook_func func;
};

static const struct hook request_hooks[] = {
	{ &vd_iface_wl_registry, 0, registry_handle_bind },
	{ &vd_iface_wl_shm, 0, shm_handle_create_pool },
	{ &vd_iface_wl_shm_pool, 0, shm_pool_handle_create_buffer },
	{ &vd_iface_wl_shm_pool, 2, shm_pool_handle_resize },
	SHELL_REQUEST_HOOKS
	CLIPBOARD_REQUEST_HOOKS
};

static const struct hook request_post_hooks[] = {
	SHELL_REQUEST_POST_HOOKS
	CLIPBOARD_REQUEST_POST_HOOKS
};

static const struct hook event_hooks[] = {
	{ &vd_iface_wl_registry, 0, registry_handle_global },
	{ &vd_iface_wl_registry, 1, registry_handle_global_remove },
	{ &vd_iface_wl_shm, 0, shm_handle_format },
	SHELL_EVENT_HOOKS
	CLIPBOARD_EVENT_HOOKS
};

static const struct hook event_post_hooks[] = {
	SHELL_EVENT_POST_HOOKS
};

#define HOOK_COUNT(hooks) (sizeof(hooks) / sizeof((hooks)[0]))

static hook_func find_hook(const struct hook *hooks, size_t count,
		const struct vd_interface *interface, uint16_t opcode) {
	for (size_t i = 0; i < count; i++) {
		if (hooks[i].interface == interface && hooks[i].opcode == opcode) {
			return hooks[i].func;
		}
	}
	return NULL;
}

static void session_log(struct vd_session *session, enum vd_log_level level, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

static void session_log(struct vd_session *session, enum vd_log_level level, const char *fmt,
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

/* Objects */

static struct vd_object *object_create(struct vd_session *session,
		const struct vd_interface *interface, uint32_t version) {
	struct vd_object *object = calloc(1, sizeof(*object));
	if (object == NULL) {
		return NULL;
	}
	object->interface = interface;
	object->version = version;
	session->object_count++;
	return object;
}

void vd_object_gone(struct vd_session *session, struct vd_object *object) {
	const struct vd_object_impl *impl = object->impl;
	object->impl = NULL;
	if (impl != NULL && impl->gone != NULL) {
		impl->gone(session, object);
	}
}

static void object_maybe_free(struct vd_session *session, struct vd_object *object) {
	if (object->client_id == 0 && object->upstream_id == 0) {
		vd_object_gone(session, object);
		session->object_count--;
		free(object);
	}
}

static void object_release_client(struct vd_session *session, struct vd_object *object) {
	if (object->client_id != 0) {
		vd_object_map_remove(&session->client_map, object->client_id);
		object->client_id = 0;
	}
	object_maybe_free(session, object);
}

static void object_release_upstream(struct vd_session *session, struct vd_object *object) {
	if (object->upstream_id != 0) {
		vd_object_map_remove(&session->upstream_map, object->upstream_id);
		object->upstream_id = 0;
	}
	object->flags |= VD_OBJECT_UPSTREAM_GONE;
	object_maybe_free(session, object);
}

/* Output */

static void update_masks(struct vd_session *session) {
	const size_t max_queue = session->server->limits.max_queue;
	uint32_t client_mask = 0, upstream_mask = 0;
	/* a client that does not read its events gets no more requests read:
	 * its requests would only produce more events for it */
	if (!session->closing && vd_connection_out_size(&session->upstream) < max_queue &&
			vd_connection_out_size(&session->client) < max_queue) {
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

static void send_delete_id(struct vd_session *session, uint32_t client_id) {
	uint8_t buf[16];
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, DISPLAY_ID, DISPLAY_EVENT_DELETE_ID);
	vd_wire_writer_put_u32(&writer, client_id);
	vd_wire_writer_finish(&writer);
	vd_session_send_client(session, buf, writer.size);
}

static void send_display_error(struct vd_session *session, uint32_t object_id, uint32_t code,
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
	send_display_error(session, client_id, code, text);
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
	send_display_error(session, DISPLAY_ID, DISPLAY_ERROR_IMPLEMENTATION,
		"vmdesk-proxy: the compositor sent a malformed message");
	snprintf(session->error, sizeof(session->error), "compositor error");
	session->closing = true;
}

static void close_fds(int *fds, size_t count) {
	for (size_t i = 0; i < count; i++) {
		close(fds[i]);
	}
}

/* Requests: client to compositor */

/* Checks every argument before anything changes; false if an error was posted. */
static bool check_request_args(struct vd_session *session, struct vd_object *object,
		struct vd_wire_message *msg, bool *forward) {
	const struct vd_message *desc = msg->desc;
	uint32_t new_ids = 0;
	for (uint32_t i = 0; i < msg->arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		struct vd_wire_arg *arg = &msg->args[i];
		if (spec->type == VD_ARG_OBJECT) {
			if (arg->id == 0) {
				continue;
			}
			struct vd_object *target = vd_object_map_get(&session->client_map, arg->id);
			if (target == NULL || (target->flags & VD_OBJECT_CLIENT_GONE)) {
				vd_session_client_error(session, DISPLAY_ID,
					DISPLAY_ERROR_INVALID_OBJECT, "invalid object %u in %s.%s",
					arg->id, object->interface->name, desc->name);
				return false;
			}
			if (spec->interface != NULL && target->interface != spec->interface) {
				vd_session_client_error(session, DISPLAY_ID,
					DISPLAY_ERROR_INVALID_OBJECT,
					"object %u is a %s, %s.%s wants a %s", arg->id,
					target->interface->name, object->interface->name, desc->name,
					spec->interface->name);
				return false;
			}
			if (target->flags & VD_OBJECT_UPSTREAM_GONE) {
				*forward = false;
			}
		} else if (spec->type == VD_ARG_NEW_ID) {
			/* the map's own cap bounds what IDs a client can spread over */
			if (arg->id >= VD_WIRE_SERVER_ID_START ||
					!vd_object_map_can_insert(&session->client_map, arg->id)) {
				vd_session_client_error(session, DISPLAY_ID,
					DISPLAY_ERROR_INVALID_OBJECT, "invalid new id %u in %s.%s",
					arg->id, object->interface->name, desc->name);
				return false;
			}
			for (uint32_t j = 0; j < i; j++) {
				if (desc->args[j].type == VD_ARG_NEW_ID && msg->args[j].id == arg->id) {
					vd_session_client_error(session, DISPLAY_ID,
						DISPLAY_ERROR_INVALID_OBJECT, "new id %u used twice",
						arg->id);
					return false;
				}
			}
			if (spec->interface == NULL &&
					vd_interface_find(arg->new_interface) == NULL) {
				vd_session_client_error(session, DISPLAY_ID,
					DISPLAY_ERROR_INVALID_OBJECT, "unknown interface %s",
					arg->new_interface);
				return false;
			}
			new_ids++;
		}
	}
	if (session->object_count + new_ids > session->server->limits.max_objects) {
		vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_NO_MEMORY,
			"too many objects (limit %u)", session->server->limits.max_objects);
		return false;
	}
	return true;
}

/* Creates the request's new objects and writes the compositor's IDs. */
static bool translate_request_args(struct vd_session *session, struct vd_object *object,
		struct vd_wire_message *msg, uint8_t *out, bool forward,
		struct vd_hook_ctx *ctx) {
	const struct vd_message *desc = msg->desc;
	for (uint32_t i = 0; i < msg->arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		struct vd_wire_arg *arg = &msg->args[i];
		if (spec->type == VD_ARG_OBJECT && arg->id != 0 && forward) {
			struct vd_object *target = vd_object_map_get(&session->client_map, arg->id);
			vd_wire_put_u32(out, arg->offset, target->upstream_id);
		} else if (spec->type == VD_ARG_NEW_ID) {
			const struct vd_interface *interface = spec->interface;
			uint32_t version = object->version;
			if (interface == NULL) {
				interface = vd_interface_find(arg->new_interface);
				version = arg->new_version;
			}
			struct vd_object *child = object_create(session, interface, version);
			if (child == NULL) {
				goto no_memory;
			}
			child->client_id = arg->id;
			if (interface == &vd_iface_wl_shm_pool) {
				child->pool_size = ctx->new_pool_size;
			}
			if (!vd_object_map_insert(&session->client_map, arg->id, child)) {
				child->client_id = 0;
				object_maybe_free(session, child);
				goto no_memory;
			}
			if (ctx->new_object_count < sizeof(ctx->new_objects) / sizeof(ctx->new_objects[0])) {
				ctx->new_objects[ctx->new_object_count++] = child;
			}
			if (forward) {
				child->upstream_id =
					vd_object_map_alloc(&session->upstream_map, false, child);
				if (child->upstream_id == 0) {
					goto no_memory;
				}
				vd_wire_put_u32(out, arg->offset, child->upstream_id);
			} else {
				child->flags |= VD_OBJECT_UPSTREAM_GONE;
			}
		}
	}
	return true;

no_memory:
	vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_NO_MEMORY, "out of memory");
	return false;
}

static void handle_client_destructor(struct vd_session *session, struct vd_object *object) {
	vd_object_gone(session, object);
	if (object->flags & VD_OBJECT_UPSTREAM_GONE) {
		/* nothing upstream will confirm: answer for the compositor */
		if (object->client_id < VD_WIRE_SERVER_ID_START &&
				!(object->flags & VD_OBJECT_DELETE_ID_SENT)) {
			send_delete_id(session, object->client_id);
		}
		object_release_client(session, object);
		return;
	}
	object->flags |= VD_OBJECT_CLIENT_GONE;
	if (object->client_id >= VD_WIRE_SERVER_ID_START) {
		/* the client frees server-created IDs at once; the compositor
		 * sends no delete_id for them: the upstream ID stays a zombie
		 * until the compositor reuses it */
		object_release_client(session, object);
	}
}

static void handle_request(struct vd_session *session, const uint8_t *data,
		const struct vd_wire_header *header) {
	struct vd_object *object = vd_object_map_get(&session->client_map, header->object);
	if (object == NULL || (object->flags & VD_OBJECT_CLIENT_GONE)) {
		vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_INVALID_OBJECT,
			"invalid object %u", header->object);
		return;
	}
	const struct vd_interface *interface = object->interface;
	if (header->opcode >= interface->request_count) {
		vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_INVALID_METHOD,
			"invalid opcode %u for %s@%u", header->opcode, interface->name,
			header->object);
		return;
	}
	const struct vd_message *desc = &interface->requests[header->opcode];
	if (desc->since > object->version) {
		vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_INVALID_METHOD,
			"%s.%s needs version %u, %s@%u has version %u", interface->name,
			desc->name, desc->since, interface->name, header->object, object->version);
		return;
	}
	struct vd_wire_message msg;
	char err[256];
	if (!vd_wire_parse(desc, data, &msg, err, sizeof(err))) {
		vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_INVALID_METHOD,
			"%s@%u: %s", interface->name, header->object, err);
		return;
	}
	if (msg.fd_count > vd_connection_in_fd_count(&session->client)) {
		vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_INVALID_METHOD,
			"%s.%s: file descriptor expected", interface->name, desc->name);
		return;
	}
	bool forward = !(object->flags & VD_OBJECT_UPSTREAM_GONE);
	if (!check_request_args(session, object, &msg, &forward)) {
		return;
	}

	int fds[VD_WIRE_MAX_ARGS];
	for (uint32_t i = 0; i < msg.fd_count; i++) {
		fds[i] = vd_connection_take_fd(&session->client);
	}
	/* the message is checked and rewritten in a copy; hooks may queue
	 * messages of their own ahead of it */
	uint8_t out[VD_WIRE_MAX_MESSAGE_SIZE];
	memcpy(out, data, header->size);

	hook_func hook = find_hook(request_hooks, HOOK_COUNT(request_hooks), interface,
		header->opcode);
	struct vd_hook_ctx ctx = {
		.session = session, .object = object, .msg = &msg, .data = out, .fds = fds,
	};
	if (hook != NULL && !hook(&ctx)) {
		if (session->closing) {
			close_fds(fds, msg.fd_count);
			return;
		}
		forward = false;
	}
	if (!translate_request_args(session, object, &msg, out, forward, &ctx)) {
		close_fds(fds, msg.fd_count);
		return;
	}
	if (session->server->trace) {
		trace_message(session, true, object, &msg, !forward);
	}
	if (forward) {
		uint32_t size = header->size;
		if (ctx.replacement != NULL) {
			/* only messages without IDs in their arguments are replaced */
			memcpy(out, ctx.replacement, ctx.replacement_size);
			size = ctx.replacement_size;
		}
		vd_wire_put_u32(out, 0, object->upstream_id);
		if (!vd_connection_queue(&session->upstream, out, size, fds, msg.fd_count)) {
			vd_session_client_error(session, DISPLAY_ID, DISPLAY_ERROR_NO_MEMORY,
				"out of memory");
			return;
		}
	} else {
		close_fds(fds, msg.fd_count);
	}
	hook = find_hook(request_post_hooks, HOOK_COUNT(request_post_hooks), interface,
		header->opcode);
	if (hook != NULL) {
		ctx.forwarded = forward;
		hook(&ctx);
	}
	if (desc->destructor) {
		handle_client_destructor(session, object);
	}
}

/* Events: compositor to client */

static void handle_delete_id(struct vd_session *session, const uint8_t *data, uint32_t size) {
	if (size != 12) {
		vd_session_upstream_error(session, "wl_display.delete_id of size %u", size);
		return;
	}
	uint32_t id = vd_wire_get_u32(data, 8);
	struct vd_object *object = vd_object_map_get(&session->upstream_map, id);
	if (object == NULL || id >= VD_WIRE_SERVER_ID_START) {
		session_log(session, VD_DEBUG, "delete_id for unknown object %u", id);
		return;
	}
	if (!(object->flags & VD_OBJECT_CLIENT_GONE)) {
		vd_object_gone(session, object);
	}
	if (object->client_id != 0 && object->client_id < VD_WIRE_SERVER_ID_START) {
		send_delete_id(session, object->client_id);
		object->flags |= VD_OBJECT_DELETE_ID_SENT;
		if (object->flags & VD_OBJECT_CLIENT_GONE) {
			vd_object_map_remove(&session->client_map, object->client_id);
			object->client_id = 0;
		}
	}
	object_release_upstream(session, object);
}

static void handle_upstream_display_error(struct vd_session *session, const uint8_t *data,
		uint32_t size) {
	struct vd_wire_message msg;
	char err[256];
	if (!vd_wire_parse(&vd_iface_wl_display.events[DISPLAY_EVENT_ERROR], data, &msg, err,
			sizeof(err))) {
		vd_session_upstream_error(session, "%s", err);
		return;
	}
	struct vd_object *object = vd_object_map_get(&session->upstream_map, msg.args[0].id);
	uint32_t client_id = object != NULL && object->client_id != 0 ?
		object->client_id : DISPLAY_ID;
	const char *text = msg.args[2].str.data ? msg.args[2].str.data : "";
	session_log(session, VD_WARN, "compositor posted error %u on %s: %s", msg.args[1].u,
		object ? object->interface->name : "?", text);
	send_display_error(session, client_id, msg.args[1].u, text);
	snprintf(session->error, sizeof(session->error), "compositor error");
	session->closing = true;
}

/* Checks and translates the object arguments of an event; false: drop it. */
static bool translate_event_args(struct vd_session *session, struct vd_wire_message *msg,
		uint8_t *out, bool *fatal) {
	const struct vd_message *desc = msg->desc;
	for (uint32_t i = 0; i < msg->arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		struct vd_wire_arg *arg = &msg->args[i];
		if (spec->type != VD_ARG_OBJECT || arg->id == 0) {
			continue;
		}
		struct vd_object *target = vd_object_map_get(&session->upstream_map, arg->id);
		if (target == NULL) {
			if (arg->id < VD_WIRE_SERVER_ID_START) {
				vd_session_upstream_error(session, "%s names unknown object %u",
					desc->name, arg->id);
				*fatal = true;
			}
			return false;
		}
		if (spec->interface != NULL && target->interface != spec->interface) {
			vd_session_upstream_error(session, "%s: object %u is a %s, not a %s",
				desc->name, arg->id, target->interface->name, spec->interface->name);
			*fatal = true;
			return false;
		}
		/* the client's own zombies keep their IDs: libwayland turns them
		 * into NULL; an object the client cannot know cannot be named */
		if (target->client_id == 0) {
			return false;
		}
		if (out != NULL) {
			vd_wire_put_u32(out, arg->offset, target->client_id);
		}
	}
	return true;
}

/* Registers the compositor's new objects; visible ones get a client ID. */
static bool create_event_objects(struct vd_session *session, struct vd_object *parent,
		struct vd_wire_message *msg, uint8_t *out, bool visible, struct vd_hook_ctx *ctx) {
	const struct vd_message *desc = msg->desc;
	for (uint32_t i = 0; i < msg->arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		struct vd_wire_arg *arg = &msg->args[i];
		if (spec->type != VD_ARG_NEW_ID) {
			continue;
		}
		if (arg->id < VD_WIRE_SERVER_ID_START || spec->interface == NULL) {
			vd_session_upstream_error(session, "%s: bad new id %u", desc->name, arg->id);
			return false;
		}
		struct vd_object *old = vd_object_map_get(&session->upstream_map, arg->id);
		if (old != NULL) {
			if (!(old->flags & VD_OBJECT_CLIENT_GONE) && old->client_id != 0) {
				vd_session_upstream_error(session, "%s: new id %u in use",
					desc->name, arg->id);
				return false;
			}
			/* the compositor reused a server ID: the old object is gone */
			object_release_upstream(session, old);
		}
		if (!vd_object_map_can_insert(&session->upstream_map, arg->id)) {
			vd_session_upstream_error(session, "%s: invalid new id %u", desc->name,
				arg->id);
			return false;
		}
		struct vd_object *child = object_create(session, spec->interface, parent->version);
		if (child == NULL) {
			goto no_memory;
		}
		child->upstream_id = arg->id;
		if (!vd_object_map_insert(&session->upstream_map, arg->id, child)) {
			child->upstream_id = 0;
			object_maybe_free(session, child);
			goto no_memory;
		}
		if (ctx != NULL && ctx->new_object_count < 4) {
			ctx->new_objects[ctx->new_object_count++] = child;
		}
		if (visible) {
			child->client_id = vd_object_map_alloc(&session->client_map, true, child);
			if (child->client_id == 0) {
				goto no_memory;
			}
			vd_wire_put_u32(out, arg->offset, child->client_id);
		}
	}
	return true;

no_memory:
	vd_session_upstream_error(session, "out of memory");
	return false;
}

static void handle_event(struct vd_session *session, const uint8_t *data,
		const struct vd_wire_header *header) {
	if (header->object == DISPLAY_ID) {
		if (header->opcode == DISPLAY_EVENT_DELETE_ID) {
			handle_delete_id(session, data, header->size);
			return;
		}
		if (header->opcode == DISPLAY_EVENT_ERROR) {
			handle_upstream_display_error(session, data, header->size);
			return;
		}
	}
	struct vd_object *object = vd_object_map_get(&session->upstream_map, header->object);
	if (object == NULL) {
		if (header->object >= VD_WIRE_SERVER_ID_START) {
			/* an event racing the client's destruction of a server object */
			return;
		}
		vd_session_upstream_error(session, "event for unknown object %u", header->object);
		return;
	}
	const struct vd_interface *interface = object->interface;
	if (header->opcode >= interface->event_count) {
		vd_session_upstream_error(session, "invalid event opcode %u for %s",
			header->opcode, interface->name);
		return;
	}
	const struct vd_message *desc = &interface->events[header->opcode];
	struct vd_wire_message msg;
	char err[256];
	if (!vd_wire_parse(desc, data, &msg, err, sizeof(err))) {
		vd_session_upstream_error(session, "%s", err);
		return;
	}
	if (msg.fd_count > vd_connection_in_fd_count(&session->upstream)) {
		vd_session_upstream_error(session, "%s.%s: file descriptor expected",
			interface->name, desc->name);
		return;
	}
	int fds[VD_WIRE_MAX_ARGS];
	for (uint32_t i = 0; i < msg.fd_count; i++) {
		fds[i] = vd_connection_take_fd(&session->upstream);
	}

	if (desc->since > object->version) {
		vd_session_upstream_error(session, "%s.%s needs version %u, object has %u",
			interface->name, desc->name, desc->since, object->version);
		close_fds(fds, msg.fd_count);
		return;
	}
	if (object->flags & VD_OBJECT_PROXY_OWNED) {
		if (!(object->flags & VD_OBJECT_CLIENT_GONE) && object->impl != NULL &&
				object->impl->event != NULL) {
			object->impl->event(session, object, &msg, fds);
		}
		close_fds(fds, msg.fd_count);
		create_event_objects(session, object, &msg, NULL, false, NULL);
		return;
	}

	bool visible = object->client_id != 0 && !(object->flags & VD_OBJECT_CLIENT_GONE);
	uint8_t scratch[VD_WIRE_MAX_MESSAGE_SIZE];
	memcpy(scratch, data, header->size);
	bool fatal = false;
	if (visible && !translate_event_args(session, &msg, scratch, &fatal)) {
		visible = false;
	}
	if (fatal) {
		close_fds(fds, msg.fd_count);
		return;
	}
	hook_func hook = find_hook(event_hooks, HOOK_COUNT(event_hooks), interface,
		header->opcode);
	struct vd_hook_ctx ctx = {
		.session = session, .object = object, .msg = &msg, .data = scratch, .fds = fds,
	};
	if (hook != NULL && !hook(&ctx)) {
		visible = false;
	}
	if (session->closing || !create_event_objects(session, object, &msg, scratch, visible, &ctx)) {
		close_fds(fds, msg.fd_count);
		return;
	}
	if (session->server->trace) {
		trace_message(session, false, object, &msg, !visible);
	}
	if (visible) {
		vd_wire_put_u32(scratch, 0, object->client_id);
		if (!vd_connection_queue(&session->client, scratch, header->size, fds,
				msg.fd_count)) {
			session_log(session, VD_WARN, "cut off: the client does not read its events "
				"(%zu bytes queued)", vd_connection_out_size(&session->client));
			session->closing = true;
			snprintf(session->error, sizeof(session->error),
				"client not reading its events");
			return;
		}
	} else {
		close_fds(fds, msg.fd_count);
	}
	hook = find_hook(event_post_hooks, HOOK_COUNT(event_post_hooks), interface,
		header->opcode);
	if (hook != NULL) {
		ctx.object = object;
		hook(&ctx);
	}
	if (desc->destructor && visible) {
		/* the client destroys the object on this event */
		vd_object_gone(session, object);
		object->flags |= VD_OBJECT_CLIENT_GONE;
	}
}

/* The proxy's own objects */

struct vd_object *vd_session_new_object(struct vd_session *session,
		const struct vd_interface *interface, uint32_t version,
		const struct vd_object_impl *impl, void *data) {
	if (session->closing || session->tearing_down) {
		return NULL;
	}
	struct vd_object *object = object_create(session, interface, version);
	if (object == NULL) {
		return NULL;
	}
	object->flags = VD_OBJECT_PROXY_OWNED;
	object->impl = impl;
	object->data = data;
	object->upstream_id = vd_object_map_alloc(&session->upstream_map, false, object);
	if (object->upstream_id == 0) {
		session->object_count--;
		free(object);
		return NULL;
	}
	return object;
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
	struct vd_connection *conn = to_client ? &session->client : &session->upstream;
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
	if (session->closing || session->tearing_down) {
		return NULL;
	}
	struct vd_object *object = object_create(session, interface, version);
	if (object == NULL) {
		return NULL;
	}
	object->flags = VD_OBJECT_UPSTREAM_GONE;
	object->impl = impl;
	object->data = data;
	object->client_id = vd_object_map_alloc(&session->client_map, true, object);
	if (object->client_id == 0) {
		session->object_count--;
		free(object);
		return NULL;
	}
	return object;
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
			handle_request(session, data, &header);
		} else {
			handle_event(session, data, &header);
		}
		vd_connection_consume(conn, header.size);
	}
	if (!session->closing && vd_connection_in_size(conn) == 0 &&
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

static bool read_side(struct vd_session *session, bool from_client) {
	struct vd_connection *conn = from_client ? &session->client : &session->upstream;
	switch (vd_connection_read(conn, from_client ? CLIENT_READ_SIZE : VD_CONNECTION_IN_SIZE)) {
	case VD_IO_OK:
		process_input(session, from_client);
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
		if (session->error[0] == '\0') {
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
	struct vd_session *session = calloc(1, sizeof(*session));
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
