#include <stdarg.h>
#include <stdio.h>

#include "proxy/wl/object.h"
#include "proxy/wl/parse.h"

static bool fail(struct vd_parse_error *error, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), cold));

static bool fail(struct vd_parse_error *error, uint32_t code, const char *fmt, ...) {
	error->code = code;
	va_list args;
	va_start(args, fmt);
	vsnprintf(error->text, sizeof(error->text), fmt, args);
	va_end(args);
	return false;
}

/* The arguments of a parsed request, against the client's objects. */
static bool check_request_args(const struct vd_object_map *map, const struct vd_object *object,
		const struct vd_wire_message *msg, struct vd_parsed_request *out,
		struct vd_parse_error *error) {
	const struct vd_message *desc = msg->desc;
	uint32_t new_ids = 0;
	bool names_upstream_gone = false;
	for (uint32_t i = 0; i < msg->arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		const struct vd_wire_arg *arg = &msg->args[i];
		if (spec->type == VD_ARG_OBJECT) {
			if (arg->id == 0) {
				continue;
			}
			const struct vd_object *target = vd_object_map_get(map, arg->id);
			if (target == NULL || (target->flags & VD_OBJECT_CLIENT_GONE)) {
				return fail(error, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
					"invalid object %u in %s.%s", arg->id,
					object->interface->name, desc->name);
			}
			if (spec->interface != NULL && target->interface != spec->interface) {
				return fail(error, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
					"object %u is a %s, %s.%s wants a %s", arg->id,
					target->interface->name, object->interface->name,
					desc->name, spec->interface->name);
			}
			if (target->flags & VD_OBJECT_UPSTREAM_GONE) {
				names_upstream_gone = true;
			}
		} else if (spec->type == VD_ARG_NEW_ID) {
			/* the map's own cap bounds what IDs a client can spread over */
			if (arg->id >= VD_WIRE_SERVER_ID_START ||
					!vd_object_map_can_insert(map, arg->id)) {
				return fail(error, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
					"invalid new id %u in %s.%s", arg->id,
					object->interface->name, desc->name);
			}
			for (uint32_t j = 0; j < i; j++) {
				if (desc->args[j].type == VD_ARG_NEW_ID && msg->args[j].id == arg->id) {
					return fail(error, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
						"new id %u used twice", arg->id);
				}
			}
			if (spec->interface == NULL &&
					vd_interface_find(arg->new_interface) == NULL) {
				return fail(error, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
					"unknown interface %s", arg->new_interface);
			}
			new_ids++;
		}
	}
	out->new_ids = new_ids;
	out->names_upstream_gone = names_upstream_gone;
	return true;
}

bool vd_parse_request(const struct vd_object_map *map, const uint8_t *data,
		size_t fds_available, struct vd_wire_message *msg, struct vd_parsed_request *out,
		struct vd_parse_error *error) {
	struct vd_wire_header header;
	vd_wire_header_read(data, &header);
	struct vd_object *sender = vd_object_map_get(map, header.object);
	if (sender == NULL || (sender->flags & VD_OBJECT_CLIENT_GONE)) {
		return fail(error, VD_WL_DISPLAY_ERROR_INVALID_OBJECT, "invalid object %u",
			header.object);
	}
	const struct vd_interface *interface = sender->interface;
	if (header.opcode >= interface->request_count) {
		return fail(error, VD_WL_DISPLAY_ERROR_INVALID_METHOD,
			"invalid opcode %u for %s@%u", header.opcode, interface->name,
			header.object);
	}
	const struct vd_message *desc = &interface->requests[header.opcode];
	if (desc->since > sender->version) {
		return fail(error, VD_WL_DISPLAY_ERROR_INVALID_METHOD,
			"%s.%s needs version %u, %s@%u has version %u", interface->name,
			desc->name, desc->since, interface->name, header.object, sender->version);
	}
	char err[256];
	if (!vd_wire_parse(desc, data, msg, err, sizeof(err))) {
		return fail(error, VD_WL_DISPLAY_ERROR_INVALID_METHOD, "%s@%u: %s",
			interface->name, header.object, err);
	}
	if (msg->fd_count > fds_available) {
		return fail(error, VD_WL_DISPLAY_ERROR_INVALID_METHOD,
			"%s.%s: file descriptor expected", interface->name, desc->name);
	}
	out->object = sender;
	return check_request_args(map, sender, msg, out, error);
}

enum vd_parse_event_result vd_parse_event(const struct vd_object_map *map,
		const uint8_t *data, size_t fds_available, struct vd_wire_message *msg,
		struct vd_object **object, struct vd_parse_error *error) {
	struct vd_wire_header header;
	vd_wire_header_read(data, &header);
	struct vd_object *target = vd_object_map_get(map, header.object);
	if (target == NULL) {
		if (header.object >= VD_WIRE_SERVER_ID_START) {
			/* an event racing the client's destruction of a server object */
			return VD_PARSE_EVENT_IGNORE;
		}
		fail(error, 0, "event for unknown object %u", header.object);
		return VD_PARSE_EVENT_ERROR;
	}
	const struct vd_interface *interface = target->interface;
	if (header.opcode >= interface->event_count) {
		fail(error, 0, "invalid event opcode %u for %s", header.opcode, interface->name);
		return VD_PARSE_EVENT_ERROR;
	}
	const struct vd_message *desc = &interface->events[header.opcode];
	if (!vd_wire_parse(desc, data, msg, error->text, sizeof(error->text))) {
		return VD_PARSE_EVENT_ERROR;
	}
	if (msg->fd_count > fds_available) {
		fail(error, 0, "%s.%s: file descriptor expected", interface->name, desc->name);
		return VD_PARSE_EVENT_ERROR;
	}
	if (desc->since > target->version) {
		fail(error, 0, "%s.%s needs version %u, object has %u", interface->name,
			desc->name, desc->since, target->version);
		return VD_PARSE_EVENT_ERROR;
	}
	*object = target;
	return VD_PARSE_EVENT_OK;
}
