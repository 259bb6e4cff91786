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
enum vd_parse_next vd_parse_next(const uint8_t *data, size_t avail,
	struct vd_wire_header *header);

/*
 * A request (data: header->size bytes) sent by the client on map, the
 * client's ID space. Checks that its sender is live (not CLIENT_GONE), its
 * opcode exists at the sender's version, it is well formed, fds_available
 * covers its fds, every object argument is live in map with the table's
 * interface, and every new_id is a client-range ID map can take now, used
 * once, of a known interface. Sets *object and msg; *new_ids counts the
 * new_ids; *names_upstream_gone tells whether an object argument has no
 * server counterpart (VD_OBJECT_UPSTREAM_GONE). False: error says why.
 */
bool vd_parse_request(const struct vd_object_map *map, const uint8_t *data,
	const struct vd_wire_header *header, size_t fds_available, struct vd_object **object,
	struct vd_wire_message *msg, uint32_t *new_ids, bool *names_upstream_gone,
	struct vd_parse_error *error);

enum vd_parse_event_result {
	VD_PARSE_EVENT_OK,
	/* for a server-range object the server does not know the client
	 * destroyed yet: drop it */
	VD_PARSE_EVENT_IGNORE,
	VD_PARSE_EVENT_ERROR, // the server misbehaved: error says why
};

/*
 * An event sent by the server on map, the server's ID space (wl_display
 * events included: they are the caller's to handle first). Checks its
 * sender exists, its opcode exists at the object's version, it is well
 * formed and fds_available covers its fds. Object arguments are left to
 * the caller (what a missing one means depends on the caller's IDs).
 */
enum vd_parse_event_result vd_parse_event(const struct vd_object_map *map,
	const uint8_t *data, const struct vd_wire_header *header, size_t fds_available,
	struct vd_object **object, struct vd_wire_message *msg, struct vd_parse_error *error);

#endif
