#ifndef PROTOCOLS_INTERFACE_H
#define PROTOCOLS_INTERFACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Message tables generated from the protocol XML by protocols/gen-tables.py.
 * They describe every request and event the proxy may see; a message that is
 * not described here can never be forwarded.
 */

enum vd_arg_type {
	VD_ARG_INT,
	VD_ARG_UINT,
	VD_ARG_FIXED,
	VD_ARG_STRING,
	VD_ARG_OBJECT,
	VD_ARG_NEW_ID,
	VD_ARG_ARRAY,
	VD_ARG_FD,
};

struct vd_interface;

struct vd_arg {
	enum vd_arg_type type;
	bool nullable;
	/* object/new_id: the interface; NULL means any (or, for new_id, untyped) */
	const struct vd_interface *interface;
};

struct vd_message {
	const char *name;
	uint32_t since;
	uint8_t arg_count;
	uint8_t fd_count;
	bool destructor;
	const struct vd_arg *args;
};

struct vd_interface {
	const char *name;
	uint16_t index; // in vd_interfaces[]
	const char *protocol; // the XML <protocol name=...>
	uint32_t version;
	uint16_t request_count;
	const struct vd_message *requests;
	uint16_t event_count;
	const struct vd_message *events;
};

extern const struct vd_interface *const vd_interfaces[]; // sorted by name
extern const size_t vd_interface_count;

/* vd_iface_<name> for every interface in the tables */
#include "vd-tables.h"

/* Finds an interface by name; NULL if the tables do not have it. */
const struct vd_interface *vd_interface_find(const char *name);

#endif
