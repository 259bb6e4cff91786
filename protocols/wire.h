#ifndef PROTOCOLS_WIRE_H
#define PROTOCOLS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocols/interface.h"

/*
 * The Wayland wire format: a message is a header of two 32-bit words (sender
 * object ID; size << 16 | opcode) followed by its arguments, each a multiple
 * of 4 bytes. This module checks that a message is well-formed against its
 * table entry; what the IDs mean is the proxy's business.
 */

#define VD_WIRE_HEADER_SIZE 8
/* libwayland never sends a larger message; a peer that does is broken. */
#define VD_WIRE_MAX_MESSAGE_SIZE 4096
/* An untyped new_id counts as three wire arguments. */
#define VD_WIRE_MAX_ARGS 32
/* libwayland's limit on fds in one sendmsg (MAX_FDS_OUT). */
#define VD_WIRE_MAX_FDS_PER_SEND 28

#define VD_WIRE_SERVER_ID_START 0xff000000u

struct vd_wire_header {
	uint32_t object;
	uint16_t opcode;
	uint16_t size;
};

struct vd_wire_arg {
	enum vd_arg_type type;
	uint32_t offset; // byte offset of the argument's value word in the message
	union {
		int32_t i;
		uint32_t u;
		uint32_t id; // object, new_id (0 = null)
		struct {
			const char *data; // NULL for a null string; NUL-terminated
			uint32_t length; // including the NUL
		} str;
		struct {
			const void *data;
			uint32_t size;
		} array;
	};
	/* new_id only: the interface and version of an untyped new_id
	 * (wl_registry.bind), or the table's interface for a typed one */
	const char *new_interface;
	uint32_t new_version;
};

struct vd_wire_message {
	struct vd_wire_header header;
	const struct vd_message *desc;
	uint32_t arg_count;
	uint32_t fd_count;
	struct vd_wire_arg args[VD_WIRE_MAX_ARGS];
};

/* Reads the header of the message at data (at least 8 bytes, any alignment). */
static inline void vd_wire_header_read(const void *data, struct vd_wire_header *header) {
	uint32_t words[2];
	memcpy(words, data, sizeof(words));
	header->object = words[0];
	header->opcode = words[1] & 0xffff;
	header->size = words[1] >> 16;
}

/*
 * Parses and checks the message at data (header.size bytes) against desc.
 * On failure returns false and writes a reason to err.
 */
bool vd_wire_parse(const struct vd_message *desc, const uint8_t *data,
	struct vd_wire_message *msg, char *err, size_t err_size);

static inline uint32_t vd_wire_get_u32(const uint8_t *data, uint32_t offset) {
	uint32_t v;
	memcpy(&v, data + offset, sizeof(v));
	return v;
}

static inline void vd_wire_put_u32(uint8_t *data, uint32_t offset, uint32_t value) {
	memcpy(data + offset, &value, sizeof(value));
}

/* Builds a message in a caller-provided buffer of VD_WIRE_MAX_MESSAGE_SIZE. */
struct vd_wire_writer {
	uint8_t *data;
	uint32_t size;
	bool overflow;
};

void vd_wire_writer_init(struct vd_wire_writer *writer, uint8_t *data, uint32_t object,
	uint16_t opcode);
void vd_wire_writer_put_u32(struct vd_wire_writer *writer, uint32_t value);
void vd_wire_writer_put_string(struct vd_wire_writer *writer, const char *str);
void vd_wire_writer_put_array(struct vd_wire_writer *writer, const void *data, uint32_t size);
/* Writes the size into the header; false if the message did not fit. */
bool vd_wire_writer_finish(struct vd_wire_writer *writer);

const char *vd_wire_arg_type_name(enum vd_arg_type type);

#endif
