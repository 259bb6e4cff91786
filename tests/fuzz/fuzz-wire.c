#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/interface.h"
#include "protocols/wire.h"

/*
 * vd_wire_parse against every message of the tables.
 *
 * Input: byte 0 picks the interface (index into vd_interfaces, modulo the
 * count), byte 1 the message (bit 0: 0 request, 1 event; the other bits the
 * opcode, modulo the count); the rest is the message. A size field larger
 * than the input is replaced by the input's length, as the proxy only parses
 * whole messages; the message gets a buffer of exactly its size so that the
 * sanitizers see any read past its end.
 *
 * An accepted message must be consistent (every argument inside the message,
 * strings terminated where their length says) and must serialize back to the
 * same bytes with the writer, padding aside.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t padded(uint32_t len) {
	return (len + 3) & ~3u;
}

static bool inside(const uint8_t *msg, uint32_t size, const void *ptr, uint32_t len) {
	const uint8_t *p = ptr;
	return p >= msg && p <= msg + size && len <= (uint32_t)(msg + size - p);
}

/* Zeroes the padding after a string or array, in a copy of the message. */
static void zero_padding(uint8_t *copy, const uint8_t *msg, const void *blob, uint32_t len) {
	uint32_t start = (uint32_t)((const uint8_t *)blob - msg);
	memset(copy + start + len, 0, padded(len) - len);
}

static void check_string(const uint8_t *msg, uint32_t size, const char *str, uint32_t len) {
	if (!inside(msg, size, str, padded(len)) || len == 0 || str[len - 1] != '\0' ||
			strlen(str) + 1 != len) {
		abort();
	}
}

static void check_message(const struct vd_message *desc, const uint8_t *buf,
		const struct vd_wire_message *msg) {
	const uint32_t size = msg->header.size;
	if (size < VD_WIRE_HEADER_SIZE || size % 4 != 0 || msg->desc != desc ||
			msg->arg_count != desc->arg_count || msg->fd_count != desc->fd_count) {
		abort();
	}
	uint8_t out[VD_WIRE_MAX_MESSAGE_SIZE];
	uint8_t *copy = malloc(size);
	if (copy == NULL) {
		return;
	}
	memcpy(copy, buf, size);
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, out, msg->header.object, msg->header.opcode);
	for (uint32_t i = 0; i < msg->arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		const struct vd_wire_arg *arg = &msg->args[i];
		if (arg->type != spec->type || arg->offset > size) {
			abort();
		}
		switch (arg->type) {
		case VD_ARG_FD:
			continue;
		case VD_ARG_STRING:
			if (arg->str.data == NULL) {
				if (!spec->nullable || arg->str.length != 0) {
					abort();
				}
			} else {
				check_string(buf, size, arg->str.data, arg->str.length);
				zero_padding(copy, buf, arg->str.data, arg->str.length);
			}
			vd_wire_writer_put_string(&w, arg->str.data);
			continue;
		case VD_ARG_ARRAY:
			if (!inside(buf, size, arg->array.data, padded(arg->array.size))) {
				abort();
			}
			zero_padding(copy, buf, arg->array.data, arg->array.size);
			vd_wire_writer_put_array(&w, arg->array.data, arg->array.size);
			continue;
		case VD_ARG_NEW_ID:
			if (arg->id == 0 || arg->new_interface == NULL) {
				abort();
			}
			if (spec->interface == NULL) {
				uint32_t len = (uint32_t)strlen(arg->new_interface) + 1;
				check_string(buf, size, arg->new_interface, len);
				zero_padding(copy, buf, arg->new_interface, len);
				vd_wire_writer_put_string(&w, arg->new_interface);
				vd_wire_writer_put_u32(&w, arg->new_version);
			} else if (strcmp(arg->new_interface, spec->interface->name) != 0) {
				abort();
			}
			break;
		case VD_ARG_OBJECT:
			if (arg->id == 0 && !spec->nullable) {
				abort();
			}
			break;
		default:
			break;
		}
		if (!inside(buf, size, buf + arg->offset, 4) ||
				vd_wire_get_u32(buf, arg->offset) != arg->u) {
			abort();
		}
		vd_wire_writer_put_u32(&w, arg->u);
	}
	/* the writer builds messages of at most VD_WIRE_MAX_MESSAGE_SIZE */
	bool fits = vd_wire_writer_finish(&w);
	if (size <= VD_WIRE_MAX_MESSAGE_SIZE &&
			(!fits || w.size != size || memcmp(copy, out, size) != 0)) {
		abort();
	}
	free(copy);
}

static const struct vd_message *pick_message(uint8_t iface_byte, uint8_t msg_byte) {
	const struct vd_interface *iface = vd_interfaces[iface_byte % vd_interface_count];
	bool event = msg_byte & 1;
	uint16_t count = event ? iface->event_count : iface->request_count;
	if (count == 0) {
		return NULL;
	}
	const struct vd_message *msgs = event ? iface->events : iface->requests;
	return &msgs[(msg_byte >> 1) % count];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size < 2) {
		return 0;
	}
	const struct vd_message *desc = pick_message(data[0], data[1]);
	data += 2;
	size -= 2;

	struct vd_wire_header header;
	if (size < VD_WIRE_HEADER_SIZE) {
		uint8_t short_header[VD_WIRE_HEADER_SIZE] = { 0 };
		memcpy(short_header, data, size);
		vd_wire_header_read(short_header, &header);
		return 0;
	}
	vd_wire_header_read(data, &header);
	if (desc == NULL || size > 0xffff) {
		return 0;
	}
	uint32_t msg_size = header.size;
	if (msg_size > size) {
		msg_size = (uint32_t)size;
	}
	uint32_t alloc = msg_size < VD_WIRE_HEADER_SIZE ? VD_WIRE_HEADER_SIZE : msg_size;
	uint8_t *buf = malloc(alloc);
	if (buf == NULL) {
		return 0;
	}
	memcpy(buf, data, alloc);
	vd_wire_put_u32(buf, 4, msg_size << 16 | header.opcode);

	struct vd_wire_message msg;
	char err[256];
	memset(err, 'x', sizeof(err));
	if (vd_wire_parse(desc, buf, &msg, err, sizeof(err))) {
		check_message(desc, buf, &msg);
	} else if (strnlen(err, sizeof(err)) == sizeof(err) || err[0] == '\0') {
		abort(); // a refusal must say why
	}
	free(buf);
	return 0;
}
