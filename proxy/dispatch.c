#define LOG_TAG "client"

#include <stdio.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/clipboard.h"
#include "proxy/server.h"
#include "proxy/session-private.h"
#include "proxy/shell.h"

/*
 * The message path: every request and event is parsed against the tables,
 * its object arguments checked (proxy/wl/parse.h) and translated into the
 * other side's IDs, and passed through the hooks of the interfaces the
 * proxy watches.
 */

/* Run for every opcode of their interface, before the opcode's own hooks. */
static const struct vd_hook request_gates[] = {
	SHELL_REQUEST_GATES
};

static const struct vd_hook request_hooks[] = {
	{ &vd_iface_wl_registry, VD_WL_REGISTRY_REQUEST_BIND, registry_handle_bind },
	{ &vd_iface_wl_shm, VD_WL_SHM_REQUEST_CREATE_POOL, shm_handle_create_pool },
	{ &vd_iface_wl_shm_pool, VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER,
		shm_pool_handle_create_buffer },
	{ &vd_iface_wl_shm_pool, VD_WL_SHM_POOL_REQUEST_RESIZE, shm_pool_handle_resize },
	SHELL_REQUEST_HOOKS
	CLIPBOARD_REQUEST_HOOKS
};

static const struct vd_hook request_post_hooks[] = {
	{ &vd_iface_wl_shm, VD_WL_SHM_REQUEST_CREATE_POOL, shm_handle_create_pool_done },
	SHELL_REQUEST_POST_HOOKS
	CLIPBOARD_REQUEST_POST_HOOKS
};

static const struct vd_hook event_hooks[] = {
	{ &vd_iface_wl_registry, VD_WL_REGISTRY_EVENT_GLOBAL, registry_handle_global },
	{ &vd_iface_wl_registry, VD_WL_REGISTRY_EVENT_GLOBAL_REMOVE,
		registry_handle_global_remove },
	{ &vd_iface_wl_shm, VD_WL_SHM_EVENT_FORMAT, shm_handle_format },
	SHELL_EVENT_HOOKS
	CLIPBOARD_EVENT_HOOKS
};

static const struct vd_hook event_post_hooks[] = {
	SHELL_EVENT_POST_HOOKS
};

#define HOOK_COUNT(hooks) (sizeof(hooks) / sizeof((hooks)[0]))

struct vd_hook_registry *dispatch_hooks_create(void) {
	struct vd_hook_registry *registry = vd_hook_registry_create();
	if (registry == NULL || !dispatch_hooks_add(registry)) {
		vd_hook_registry_destroy(registry);
		return NULL;
	}
	return registry;
}

bool dispatch_hooks_add(struct vd_hook_registry *registry) {
	return vd_hook_registry_add(registry, VD_HOOK_GATE, request_gates,
			HOOK_COUNT(request_gates)) &&
		vd_hook_registry_add(registry, VD_HOOK_REQUEST, request_hooks,
			HOOK_COUNT(request_hooks)) &&
		vd_hook_registry_add(registry, VD_HOOK_REQUEST_POST, request_post_hooks,
			HOOK_COUNT(request_post_hooks)) &&
		vd_hook_registry_add(registry, VD_HOOK_EVENT, event_hooks,
			HOOK_COUNT(event_hooks)) &&
		vd_hook_registry_add(registry, VD_HOOK_EVENT_POST, event_post_hooks,
			HOOK_COUNT(event_post_hooks));
}

/* Requests: client to compositor */

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
	vd_session_client_error(session, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
		"out of memory");
	return false;
}

static void handle_client_destructor(struct vd_session *session, struct vd_object *object) {
	vd_object_gone(session, object);
	if (object->flags & VD_OBJECT_UPSTREAM_GONE) {
		/* nothing upstream will confirm: answer for the compositor */
		if (object->client_id < VD_WIRE_SERVER_ID_START &&
				!(object->flags & VD_OBJECT_DELETE_ID_SENT)) {
			session_send_delete_id(session, object->client_id);
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

void dispatch_request(struct vd_session *session, const uint8_t *data,
		const struct vd_wire_header *header) {
	struct vd_connection *in = &session->client->conn;
	struct vd_wire_message msg;
	struct vd_parsed_request parsed;
	struct vd_parse_error error;
	if (!vd_parse_request(&session->client_map, data, vd_connection_in_fd_count(in), &msg,
			&parsed, &error)) {
		vd_session_client_error(session, VD_DISPLAY_ID, error.code, "%s", error.text);
		return;
	}
	struct vd_object *object = parsed.object;
	uint32_t max_objects = session->server->limits.max_objects;
	if (session->objects.count + parsed.new_ids > max_objects) {
		vd_session_client_error(session, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"too many objects (limit %u)", max_objects);
		return;
	}
	const struct vd_message *desc = msg.desc;
	bool forward = !(object->flags & VD_OBJECT_UPSTREAM_GONE) && !parsed.names_upstream_gone;

	int fds[VD_WIRE_MAX_ARGS];
	for (uint32_t i = 0; i < msg.fd_count; i++) {
		fds[i] = vd_connection_take_fd(in);
	}
	/* the message is checked and rewritten in a copy; hooks may queue
	 * messages of their own ahead of it */
	uint8_t out[VD_WIRE_MAX_MESSAGE_SIZE];
	memcpy(out, data, header->size);

	const struct vd_interface_hooks *hooks =
		vd_hook_registry_get(session->hooks, object->interface);
	vd_hook_func *gate = vd_interface_hooks_find(hooks, VD_HOOK_GATE, 0);
	vd_hook_func *hook = vd_interface_hooks_find(hooks, VD_HOOK_REQUEST, header->opcode);
	struct vd_hook_ctx ctx = {
		.session = session, .object = object, .msg = &msg, .data = out, .fds = fds,
	};
	if (gate != NULL && !vd_hooks_run(gate, &ctx)) {
		hook = NULL;
		forward = false;
	}
	if (hook != NULL && !vd_hooks_run(hook, &ctx)) {
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
		session->unfenced += size;
		if (!vd_connection_queue(&session->upstream->conn, out, size, fds, msg.fd_count)) {
			vd_session_client_error(session, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
				"out of memory");
			return;
		}
	} else {
		close_fds(fds, msg.fd_count);
	}
	hook = vd_interface_hooks_find(hooks, VD_HOOK_REQUEST_POST, header->opcode);
	if (hook != NULL) {
		ctx.forwarded = forward;
		vd_hooks_run_all(hook, &ctx);
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
	if (id == VD_DISPLAY_ID) {
		/* the display is never destroyed: releasing its upstream ID would
		 * hand ID 1 to the next new object */
		vd_session_upstream_error(session, "wl_display.delete_id of the display");
		return;
	}
	struct vd_object *object = vd_object_map_get(&session->upstream_map, id);
	if (object == NULL || id >= VD_WIRE_SERVER_ID_START) {
		session_log(session, VD_DEBUG, "delete_id for unknown object %u", id);
		return;
	}
	if ((object->flags & VD_OBJECT_PROXY_OWNED) && !(object->flags & VD_OBJECT_CLIENT_GONE)) {
		/* found by fuzz-proxy: the session's own wl_compositor freed under the
		 * shell that holds it; a compositor deletes only what was destroyed */
		vd_session_upstream_error(session, "wl_display.delete_id of the proxy's %s@%u, "
			"which it never destroyed", object->interface->name, id);
		return;
	}
	if (!(object->flags & VD_OBJECT_CLIENT_GONE)) {
		vd_object_gone(session, object);
	}
	if (object->client_id != 0 && object->client_id < VD_WIRE_SERVER_ID_START) {
		session_send_delete_id(session, object->client_id);
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
	if (!vd_wire_parse(&vd_iface_wl_display.events[VD_WL_DISPLAY_EVENT_ERROR], data, &msg,
			err, sizeof(err))) {
		vd_session_upstream_error(session, "%s", err);
		return;
	}
	struct vd_object *object = vd_object_map_get(&session->upstream_map, msg.args[0].id);
	uint32_t client_id = object != NULL && object->client_id != 0 ?
		object->client_id : VD_DISPLAY_ID;
	const char *text = msg.args[2].str.data ? msg.args[2].str.data : "";
	session_log(session, VD_WARN, "compositor posted error %u on %s: %s", msg.args[1].u,
		object ? object->interface->name : "?", text);
	session_send_display_error(session, client_id, msg.args[1].u, text);
	session_set_closing(session, "compositor error");
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

void dispatch_event(struct vd_session *session, const uint8_t *data,
		const struct vd_wire_header *header) {
	if (header->object == VD_DISPLAY_ID) {
		if (header->opcode == VD_WL_DISPLAY_EVENT_DELETE_ID) {
			handle_delete_id(session, data, header->size);
			return;
		}
		if (header->opcode == VD_WL_DISPLAY_EVENT_ERROR) {
			handle_upstream_display_error(session, data, header->size);
			return;
		}
	}
	struct vd_connection *in = &session->upstream->conn;
	struct vd_object *object;
	struct vd_wire_message msg;
	struct vd_parse_error error;
	switch (vd_parse_event(&session->upstream_map, data, vd_connection_in_fd_count(in), &msg,
			&object, &error)) {
	case VD_PARSE_EVENT_OK:
		break;
	case VD_PARSE_EVENT_IGNORE:
		return;
	case VD_PARSE_EVENT_ERROR:
		vd_session_upstream_error(session, "%s", error.text);
		return;
	}
	const struct vd_message *desc = msg.desc;
	int fds[VD_WIRE_MAX_ARGS];
	for (uint32_t i = 0; i < msg.fd_count; i++) {
		fds[i] = vd_connection_take_fd(in);
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
	const struct vd_interface_hooks *hooks =
		vd_hook_registry_get(session->hooks, object->interface);
	vd_hook_func *hook = vd_interface_hooks_find(hooks, VD_HOOK_EVENT, header->opcode);
	struct vd_hook_ctx ctx = {
		.session = session, .object = object, .msg = &msg, .data = scratch, .fds = fds,
	};
	if (hook != NULL && !vd_hooks_run(hook, &ctx)) {
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
		if (!vd_connection_queue(&session->client->conn, scratch, header->size, fds,
				msg.fd_count)) {
			session_log(session, VD_WARN, "cut off: the client does not read its events "
				"(%zu bytes queued)", vd_connection_out_size(&session->client->conn));
			session_set_closing(session, "client not reading its events");
			return;
		}
	} else {
		close_fds(fds, msg.fd_count);
	}
	hook = vd_interface_hooks_find(hooks, VD_HOOK_EVENT_POST, header->opcode);
	if (hook != NULL) {
		ctx.object = object;
		vd_hooks_run_all(hook, &ctx);
	}
	if (desc->destructor && visible) {
		/* the client destroys the object on this event */
		vd_object_gone(session, object);
		object->flags |= VD_OBJECT_CLIENT_GONE;
	} else if (desc->destructor && (object->flags & VD_OBJECT_PROXY_OWNED)) {
		object->flags |= VD_OBJECT_CLIENT_GONE; // the proxy's own, destroyed by this event
	}
}
