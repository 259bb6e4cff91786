#include <stdio.h>
#include <string.h>

#include "protocols/wire.h"

const char *vd_wire_arg_type_name(enum vd_arg_type type) {
	switch (type) {
	case VD_ARG_INT:
		return "int";
	case VD_ARG_UINT:
		return "uint";
	case VD_ARG_FIXED:
		return "fixed";
	case VD_ARG_STRING:
		return "string";
	case VD_ARG_OBJECT:
		return "object";
	case VD_ARG_NEW_ID:
		return "new_id";
	case VD_ARG_ARRAY:
		return "array";
	case VD_ARG_FD:
		return "fd";
	}
	return "?";
}

static inline uint32_t padded(uint32_t length) {
	return (length + 3) & ~3u;
}

/* Reads a length-prefixed blob (string or array) at *pos. */
static bool read_blob(const uint8_t *data, uint32_t size, uint32_t *pos,
		const uint8_t **blob, uint32_t *length) {
	if (size - *pos < 4) {
		return false;
	}
	*length = vd_wire_get_u32(data, *pos);
	*pos += 4;
	/* compare without overflow: length may be up to 2^32-1 */
	if (*length > size - *pos || padded(*length) > size - *pos) {
		return false;
	}
	*blob = data + *pos;
	*pos += padded(*length);
	return true;
}

static bool parse_string(const uint8_t *data, uint32_t size, uint32_t *pos, bool nullable,
		struct vd_wire_arg *arg, const char *what, char *err, size_t err_size) {
	const uint8_t *blob;
	uint32_t length;
	if (!read_blob(data, size, pos, &blob, &length)) {
		snprintf(err, err_size, "%s: string length past the end of the message", what);
		return false;
	}
	if (length == 0) {
		if (!nullable) {
			snprintf(err, err_size, "%s: null string where none is allowed", what);
			return false;
		}
		arg->str.data = NULL;
		arg->str.length = 0;
		return true;
	}
	if (blob[length - 1] != '\0') {
		snprintf(err, err_size, "%s: string not NUL-terminated", what);
		return false;
	}
	if (memchr(blob, '\0', length - 1) != NULL) {
		snprintf(err, err_size, "%s: string with an embedded NUL", what);
		return false;
	}
	arg->str.data = (const char *)blob;
	arg->str.length = length;
	return true;
}

bool vd_wire_parse(const struct vd_message *desc, const uint8_t *data,
		struct vd_wire_message *msg, char *err, size_t err_size) {
	vd_wire_header_read(data, &msg->header);
	const uint32_t size = msg->header.size;
	msg->desc = desc;
	msg->arg_count = 0;
	msg->fd_count = 0;
	if (size < VD_WIRE_HEADER_SIZE || size % 4 != 0) {
		snprintf(err, err_size, "%s: invalid message size %u", desc->name, size);
		return false;
	}
	uint32_t pos = VD_WIRE_HEADER_SIZE;
	for (uint32_t i = 0; i < desc->arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		if (msg->arg_count >= VD_WIRE_MAX_ARGS) {
			snprintf(err, err_size, "%s: too many arguments", desc->name);
			return false;
		}
		struct vd_wire_arg *arg = &msg->args[msg->arg_count++];
		memset(arg, 0, sizeof(*arg));
		arg->type = spec->type;
		arg->offset = pos;
		switch (spec->type) {
		case VD_ARG_FD:
			msg->fd_count++;
			continue; // fds are not in the byte stream
		case VD_ARG_STRING:
			if (!parse_string(data, size, &pos, spec->nullable, arg, desc->name,
					err, err_size)) {
				return false;
			}
			continue;
		case VD_ARG_ARRAY: {
			const uint8_t *blob;
			uint32_t length;
			if (!read_blob(data, size, &pos, &blob, &length)) {
				snprintf(err, err_size, "%s: array past the end of the message",
					desc->name);
				return false;
			}
			arg->array.data = blob;
			arg->array.size = length;
			continue;
		}
		case VD_ARG_NEW_ID:
			if (spec->interface == NULL) {
				/* untyped: string interface, uint version, then the id */
				struct vd_wire_arg name = {0};
				if (!parse_string(data, size, &pos, false, &name, desc->name,
						err, err_size)) {
					return false;
				}
				if (size - pos < 8) {
					snprintf(err, err_size, "%s: message too short", desc->name);
					return false;
				}
				arg->new_interface = name.str.data;
				arg->new_version = vd_wire_get_u32(data, pos);
				pos += 4;
				arg->offset = pos;
			} else {
				arg->new_interface = spec->interface->name;
			}
			break;
		default:
			break;
		}
		if (size - pos < 4) {
			snprintf(err, err_size, "%s: message too short for its arguments",
				desc->name);
			return false;
		}
		arg->u = vd_wire_get_u32(data, pos);
		pos += 4;
		if (spec->type == VD_ARG_NEW_ID && arg->id == 0) {
			snprintf(err, err_size, "%s: null new_id", desc->name);
			return false;
		}
		if (spec->type == VD_ARG_OBJECT && arg->id == 0 && !spec->nullable) {
			snprintf(err, err_size, "%s: null object where none is allowed", desc->name);
			return false;
		}
	}
	if (pos != size) {
		snprintf(err, err_size, "%s: %u bytes past the last argument", desc->name,
			size - pos);
		return false;
	}
	return true;
}

void vd_wire_writer_init(struct vd_wire_writer *writer, uint8_t *data, uint32_t object,
		uint16_t opcode) {
	writer->data = data;
	writer->size = VD_WIRE_HEADER_SIZE;
	writer->overflow = false;
	vd_wire_put_u32(data, 0, object);
	vd_wire_put_u32(data, 4, opcode);
}

void vd_wire_writer_put_u32(struct vd_wire_writer *writer, uint32_t value) {
	if (VD_WIRE_MAX_MESSAGE_SIZE - writer->size < 4) {
		writer->overflow = true;
		return;
	}
	vd_wire_put_u32(writer->data, writer->size, value);
	writer->size += 4;
}

void vd_wire_writer_put_array(struct vd_wire_writer *writer, const void *data, uint32_t size) {
	if (VD_WIRE_MAX_MESSAGE_SIZE - writer->size < 4 + padded(size) || size > 0xffff) {
		writer->overflow = true;
		return;
	}
	vd_wire_writer_put_u32(writer, size);
	if (size > 0) {
		memcpy(writer->data + writer->size, data, size);
		memset(writer->data + writer->size + size, 0, padded(size) - size);
	}
	writer->size += padded(size);
}

void vd_wire_writer_put_string(struct vd_wire_writer *writer, const char *str) {
	if (str == NULL) {
		vd_wire_writer_put_u32(writer, 0);
		return;
	}
	size_t len = strlen(str) + 1;
	if (len > VD_WIRE_MAX_MESSAGE_SIZE) {
		writer->overflow = true;
		return;
	}
	vd_wire_writer_put_array(writer, str, (uint32_t)len);
}

bool vd_wire_writer_finish(struct vd_wire_writer *writer) {
	if (writer->overflow) {
		return false;
	}
	uint32_t opcode = vd_wire_get_u32(writer->data, 4) & 0xffff;
	vd_wire_put_u32(writer->data, 4, (uint32_t)writer->size << 16 | opcode);
	return true;
}
