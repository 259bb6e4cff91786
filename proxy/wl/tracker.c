#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proxy/wl/tracker.h"

bool vd_tracker_init(struct vd_tracker *tracker, const struct vd_hook_registry *hooks,
		uint32_t max_objects) {
	*tracker = (struct vd_tracker){ .hooks = hooks, .max_objects = max_objects };
	vd_objects_init(&tracker->objects);
	vd_object_map_init(&tracker->map, false, false);
	struct vd_object *display =
		vd_object_create(&tracker->objects, &vd_iface_wl_display, 1);
	if (display == NULL) {
		return false;
	}
	display->client_id = display->upstream_id = VD_DISPLAY_ID;
	if (!vd_object_map_insert(&tracker->map, VD_DISPLAY_ID, display)) {
		vd_object_destroy(&tracker->objects, display);
		vd_object_map_finish(&tracker->map);
		return false;
	}
	return true;
}

static void destroy_one(struct vd_object *object, uint32_t id, void *data) {
	vd_object_destroy(data, object);
}

void vd_tracker_finish(struct vd_tracker *tracker) {
	vd_object_map_for_each(&tracker->map, destroy_one, &tracker->objects);
	vd_object_map_finish(&tracker->map);
	vd_objects_finish(&tracker->objects);
}

struct vd_object *vd_tracker_get(const struct vd_tracker *tracker, uint32_t id) {
	struct vd_object *object = vd_object_map_get(&tracker->map, id);
	return object != NULL && !(object->flags & VD_OBJECT_CLIENT_GONE) ? object : NULL;
}

static enum vd_track_result fail(struct vd_tracked *out, uint32_t object, uint32_t code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum vd_track_result fail(struct vd_tracked *out, uint32_t object, uint32_t code,
		const char *fmt, ...) {
	out->error_object = object;
	out->error.code = code;
	va_list args;
	va_start(args, fmt);
	vsnprintf(out->error.text, sizeof(out->error.text), fmt, args);
	va_end(args);
	return VD_TRACK_ERROR;
}

/* Removes an object from the map and destroys it (freed in vd_tracker_done). */
static void release(struct vd_tracker *tracker, struct vd_object *object) {
	vd_object_map_remove(&tracker->map, object->client_id);
	vd_object_destroy(&tracker->objects, object);
}

/* The next message's header, in out. */
static enum vd_track_result next(struct vd_connection *in, struct vd_tracked *out) {
	out->object = NULL;
	out->drop = false;
	out->delete_id = 0;
	out->msg.fd_count = 0;
	out->data = in->in + in->in_start;
	switch (vd_parse_next(out->data, vd_connection_in_size(in), &out->header)) {
	case VD_PARSE_NEXT_MORE:
		return VD_TRACK_MORE;
	case VD_PARSE_NEXT_BAD_SIZE:
		return fail(out, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_INVALID_METHOD,
			"invalid message size %u for object %u", out->header.size,
			out->header.object);
	case VD_PARSE_NEXT_MESSAGE:
		break;
	}
	return VD_TRACK_MESSAGE;
}

static void take_fds(struct vd_connection *in, struct vd_tracked *out) {
	for (uint32_t i = 0; i < out->msg.fd_count; i++) {
		out->fds[i] = vd_connection_take_fd(in);
	}
}

/* Creates the objects a request's new_ids name, at the client's IDs. */
static bool create_request_objects(struct vd_tracker *tracker, struct vd_tracked *out,
		struct vd_hook_ctx *ctx) {
	const struct vd_message *desc = out->msg.desc;
	for (uint32_t i = 0; i < out->msg.arg_count; i++) {
		const struct vd_wire_arg *arg = &out->msg.args[i];
		if (desc->args[i].type != VD_ARG_NEW_ID) {
			continue;
		}
		const struct vd_interface *interface = desc->args[i].interface;
		uint32_t version = out->object->version;
		if (interface == NULL) {
			interface = vd_interface_find(arg->new_interface);
			version = arg->new_version;
		}
		struct vd_object *child = vd_object_create(&tracker->objects, interface, version);
		if (child == NULL) {
			return false;
		}
		child->client_id = child->upstream_id = arg->id;
		if (out->drop) {
			child->flags |= VD_OBJECT_UPSTREAM_GONE;
		}
		if (!vd_object_map_insert(&tracker->map, arg->id, child)) {
			vd_object_destroy(&tracker->objects, child);
			return false;
		}
		if (ctx->new_object_count < sizeof(ctx->new_objects) / sizeof(ctx->new_objects[0])) {
			ctx->new_objects[ctx->new_object_count++] = child;
		}
	}
	return true;
}

static enum vd_track_result track_request(struct vd_tracker *tracker,
		struct vd_connection *in, struct vd_tracked *out) {
	struct vd_parsed_request parsed;
	if (!vd_parse_request(&tracker->map, out->data, in->in_fd_count, &out->msg, &parsed,
			&out->error)) {
		out->msg.fd_count = 0;
		out->error_object = VD_DISPLAY_ID;
		return VD_TRACK_ERROR;
	}
	out->object = parsed.object;
	if (tracker->objects.count + parsed.new_ids > tracker->max_objects) {
		out->msg.fd_count = 0;
		return fail(out, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"too many objects (limit %u)", tracker->max_objects);
	}
	take_fds(in, out);
	struct vd_object *object = out->object;
	out->drop = (object->flags & VD_OBJECT_UPSTREAM_GONE) || parsed.names_upstream_gone;
	struct vd_hook_ctx ctx = {
		.tracker = tracker, .object = object, .msg = &out->msg, .data = out->data,
		.fds = out->fds,
	};
	const struct vd_interface *interface = object->interface;
	uint16_t opcode = out->header.opcode;
	if (tracker->hooks != NULL && (!vd_hooks_run(
			vd_hook_registry_find(tracker->hooks, interface, VD_HOOK_GATE, 0), &ctx) ||
			!vd_hooks_run(vd_hook_registry_find(tracker->hooks, interface,
				VD_HOOK_REQUEST, opcode), &ctx))) {
		out->drop = true;
	}
	if (!create_request_objects(tracker, out, &ctx)) {
		return fail(out, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY, "out of memory");
	}
	if (tracker->hooks != NULL) {
		ctx.forwarded = !out->drop;
		vd_hooks_run_all(vd_hook_registry_find(tracker->hooks, interface,
			VD_HOOK_REQUEST_POST, opcode), &ctx);
	}
	if (out->msg.desc->destructor) {
		vd_object_addons_destroy(object);
		if (object->client_id >= VD_WIRE_SERVER_ID_START) {
			/* the server sends no delete_id for its own IDs */
			release(tracker, object);
		} else if (object->flags & VD_OBJECT_UPSTREAM_GONE) {
			/* no delete_id will come: the client needs one */
			if (!(object->flags & VD_OBJECT_DELETE_ID_SENT)) {
				out->delete_id = object->client_id;
			}
			release(tracker, object);
		} else {
			object->flags |= VD_OBJECT_CLIENT_GONE;
		}
	}
	return VD_TRACK_MESSAGE;
}

enum vd_track_result vd_tracker_request(struct vd_tracker *tracker, struct vd_connection *in,
		struct vd_tracked *out) {
	enum vd_track_result result = next(in, out);
	if (result != VD_TRACK_MESSAGE) {
		return result;
	}
	vd_objects_dispatch_begin(&tracker->objects);
	result = track_request(tracker, in, out);
	if (result == VD_TRACK_ERROR) {
		vd_objects_dispatch_end(&tracker->objects);
	}
	return result;
}

/* wl_display.delete_id: the server is done with a client-range ID. */
static enum vd_track_result handle_delete_id(struct vd_tracker *tracker,
		struct vd_tracked *out) {
	uint32_t id = out->msg.args[0].u;
	struct vd_object *object = vd_object_map_get(&tracker->map, id);
	if (object == NULL || id >= VD_WIRE_SERVER_ID_START || id == VD_DISPLAY_ID ||
			(object->flags & VD_OBJECT_DELETE_ID_SENT)) {
		out->drop = true; // nothing the client knows of
		return VD_TRACK_MESSAGE;
	}
	if (object->flags & VD_OBJECT_CLIENT_GONE) {
		release(tracker, object);
	} else {
		/* the server went first: the client keeps the ID until it
		 * destroys the object, and its requests go nowhere */
		vd_object_addons_destroy(object);
		object->flags |= VD_OBJECT_UPSTREAM_GONE | VD_OBJECT_DELETE_ID_SENT;
	}
	return VD_TRACK_MESSAGE;
}

/* The object arguments of an event, and the objects its new_ids create. */
static enum vd_track_result track_event_args(struct vd_tracker *tracker,
		struct vd_tracked *out, struct vd_hook_ctx *ctx) {
	const struct vd_message *desc = out->msg.desc;
	for (uint32_t i = 0; i < out->msg.arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		const struct vd_wire_arg *arg = &out->msg.args[i];
		if (spec->type == VD_ARG_OBJECT && arg->id != 0) {
			struct vd_object *target = vd_object_map_get(&tracker->map, arg->id);
			if (target == NULL) {
				if (arg->id >= VD_WIRE_SERVER_ID_START) {
					out->drop = true; // the client destroyed it already
					continue;
				}
				return fail(out, 0, 0, "%s names unknown object %u", desc->name,
					arg->id);
			}
			if (spec->interface != NULL && target->interface != spec->interface) {
				return fail(out, 0, 0, "%s: object %u is a %s, not a %s", desc->name,
					arg->id, target->interface->name, spec->interface->name);
			}
		} else if (spec->type == VD_ARG_NEW_ID) {
			if (arg->id < VD_WIRE_SERVER_ID_START || spec->interface == NULL) {
				return fail(out, 0, 0, "%s: bad new id %u", desc->name, arg->id);
			}
			struct vd_object *old = vd_object_map_get(&tracker->map, arg->id);
			if (old != NULL) {
				return fail(out, 0, 0, "%s: new id %u in use", desc->name, arg->id);
			}
			if (!vd_object_map_can_insert(&tracker->map, arg->id)) {
				return fail(out, 0, 0, "%s: invalid new id %u", desc->name, arg->id);
			}
			struct vd_object *child = vd_object_create(&tracker->objects,
				spec->interface, out->object->version);
			if (child == NULL) {
				return fail(out, 0, 0, "out of memory");
			}
			child->client_id = child->upstream_id = arg->id;
			if (!vd_object_map_insert(&tracker->map, arg->id, child)) {
				vd_object_destroy(&tracker->objects, child);
				return fail(out, 0, 0, "out of memory");
			}
			if (ctx->new_object_count < 4) {
				ctx->new_objects[ctx->new_object_count++] = child;
			}
		}
	}
	return VD_TRACK_MESSAGE;
}

static enum vd_track_result track_event(struct vd_tracker *tracker, struct vd_connection *in,
		struct vd_tracked *out) {
	switch (vd_parse_event(&tracker->map, out->data, in->in_fd_count, &out->msg, &out->object,
			&out->error)) {
	case VD_PARSE_EVENT_OK:
		break;
	case VD_PARSE_EVENT_IGNORE:
		out->drop = true;
		return VD_TRACK_MESSAGE;
	case VD_PARSE_EVENT_ERROR:
		out->error_object = 0;
		return VD_TRACK_ERROR;
	}
	take_fds(in, out);
	struct vd_object *object = out->object;
	if (object->client_id == VD_DISPLAY_ID &&
			out->header.opcode == VD_WL_DISPLAY_EVENT_DELETE_ID) {
		return handle_delete_id(tracker, out);
	}
	struct vd_hook_ctx ctx = {
		.tracker = tracker, .object = object, .msg = &out->msg, .data = out->data,
		.fds = out->fds,
	};
	/* a client that destroyed the object ignores its events */
	out->drop = (object->flags & VD_OBJECT_CLIENT_GONE) != 0;
	const struct vd_interface *interface = object->interface;
	uint16_t opcode = out->header.opcode;
	if (tracker->hooks != NULL && !out->drop && !vd_hooks_run(vd_hook_registry_find(
			tracker->hooks, interface, VD_HOOK_EVENT, opcode), &ctx)) {
		out->drop = true;
	}
	/* the objects exist whether or not the client sees the event: the
	 * server has them */
	enum vd_track_result result = track_event_args(tracker, out, &ctx);
	if (result != VD_TRACK_MESSAGE) {
		return result;
	}
	if (tracker->hooks != NULL) {
		ctx.forwarded = !out->drop;
		vd_hooks_run_all(vd_hook_registry_find(tracker->hooks, interface,
			VD_HOOK_EVENT_POST, opcode), &ctx);
	}
	if (out->msg.desc->destructor && !(object->flags & VD_OBJECT_CLIENT_GONE)) {
		/* the client destroys it on this event; delete_id follows */
		vd_object_addons_destroy(object);
		object->flags |= VD_OBJECT_CLIENT_GONE;
	}
	return VD_TRACK_MESSAGE;
}

enum vd_track_result vd_tracker_event(struct vd_tracker *tracker, struct vd_connection *in,
		struct vd_tracked *out) {
	enum vd_track_result result = next(in, out);
	if (result != VD_TRACK_MESSAGE) {
		return result;
	}
	vd_objects_dispatch_begin(&tracker->objects);
	result = track_event(tracker, in, out);
	if (result == VD_TRACK_ERROR) {
		vd_objects_dispatch_end(&tracker->objects);
	}
	return result;
}

void vd_tracker_done(struct vd_tracker *tracker, struct vd_connection *in,
		struct vd_tracked *out) {
	vd_connection_consume(in, out->header.size);
	vd_objects_dispatch_end(&tracker->objects);
}
