#ifndef PROXY_WL_PARSE_H
#define PROXY_WL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/interface.h"
#include "protocols/wire.h"
#include "proxy/wl/object-map.h"

/*
 * One message parsed against the tables with the objects of the side that
 * sends it: protocols/wire.c checks its shape; this checks what its IDs
 * name. Nothing changes here: objects are created and IDs written by the
 * caller, once every check has passed.
 */

/* The wl_display object, on every connection. */
#define VD_DISPLAY_ID 1

struct vd_parse_error {
	uint32_t code; // a wl_display error (VD_WL_DISPLAY_ERROR_*), for requests
	char text[256];
};

enum vd_parse_next {
	VD_PARSE_NEXT_MESSAGE, // a whole message is there: header filled in
	VD_PARSE_NEXT_MORE, // wait for more bytes
	VD_PARSE_NEXT_BAD_SIZE, // the header's size is invalid: header filled in
};

/* Looks at the next message of an input of avail bytes. */
static inline enum vd_parse_next vd_parse_next(const uint8_t *data, size_t avail,
		struct vd_wire_header *header) {
	if (avail < VD_WIRE_HEADER_SIZE) {
		return VD_PARSE_NEXT_MORE;
	}
	vd_wire_header_read(data, header);
	if (header->size < VD_WIRE_HEADER_SIZE || header->size % 4 != 0 ||
			header->size > VD_WIRE_MAX_MESSAGE_SIZE) {
		return VD_PARSE_NEXT_BAD_SIZE;
	}
	return avail < header->size ? VD_PARSE_NEXT_MORE : VD_PARSE_NEXT_MESSAGE;
}

/* What a request's checks found besides its message. */
struct vd_parsed_request {
	struct vd_object *object; // the sender
	uint32_t new_ids; // how many objects it creates
	bool names_upstream_gone; // an object argument has no server counterpart
};

/*
 * A request (data: a whole message, as vd_parse_next found it) sent by the
 * client on map, the client's ID space. Checks that its sender is live (not
 * CLIENT_GONE), its opcode exists at the sender's version, it is well
 * formed, fds_available covers its fds, every object argument is live in
 * map with the table's interface, and every new_id is a client-range ID map
 * can take now, used once, of a known interface. Fills msg and out
 * (VD_OBJECT_UPSTREAM_GONE of an object argument: out->names_upstream_gone).
 * False: error says why.
 */
bool vd_parse_request(const struct vd_object_map *map, const uint8_t *data,
	size_t fds_available, struct vd_wire_message *msg, struct vd_parsed_request *out,
	struct vd_parse_error *error);

enum vd_parse_event_result {
	VD_PARSE_EVENT_OK,
	/* for a server-range object the server does not know the client
	 * destroyed yet: drop it */
	VD_PARSE_EVENT_IGNORE,
	VD_PARSE_EVENT_ERROR, // the server misbehaved: error says why
};

/*
 * An event (data: a whole message, as vd_parse_next found it) sent by the
 * server on map, the server's ID space (wl_display events included: they
 * are the caller's to handle first). Checks its sender exists, its opcode
 * exists at the object's version, it is well formed and fds_available
 * covers its fds. Object arguments are left to the caller (what a missing
 * one means depends on the caller's IDs).
 */
enum vd_parse_event_result vd_parse_event(const struct vd_object_map *map,
	const uint8_t *data, size_t fds_available, struct vd_wire_message *msg,
	struct vd_object **object, struct vd_parse_error *error);

#endif
