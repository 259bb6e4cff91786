#ifndef PROXY_WL_TRACKER_H
#define PROXY_WL_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "protocols/wire.h"
#include "proxy/wl/connection.h"
#include "proxy/wl/hooks.h"
#include "proxy/wl/object-map.h"
#include "proxy/wl/object.h"
#include "proxy/wl/parse.h"

/*
 * A tracker follows one Wayland connection without changing it: the
 * client's requests and the events toward it are parsed against the tables
 * and their objects kept in one ID space (the IDs both ends use), so that
 * hooks can find fds, pools, buffers, damage and commits. This is what a
 * bridge that passes messages through needs (vmdesk-guest-wayland); the
 * proxy does not use it, it translates IDs between two spaces.
 *
 * Use: read bytes and fds into a vd_connection (an endpoint's), then for
 * each message call vd_tracker_request (or _event), forward out.data and
 * the fds in out.fds unless out.drop, and call vd_tracker_done. Objects
 * destroyed by a message are freed in vd_tracker_done: until then every
 * pointer in out stays valid.
 *
 * Objects carry client_id == upstream_id (their one ID). A request dropped
 * by a hook still creates its new objects, flagged VD_OBJECT_UPSTREAM_GONE:
 * the server never learns of them.
 */

struct vd_tracker {
	struct vd_object_map map;
	struct vd_objects objects;
	const struct vd_hook_registry *hooks; // may be NULL
	uint32_t max_objects;
	void *data; // the user's
};

struct vd_tracked {
	struct vd_wire_header header;
	uint8_t *data; // the message, in the input: hooks may patch it
	struct vd_object *object; // sender (request) or target (event)
	struct vd_wire_message msg;
	/* msg.fd_count fds taken from the input: the caller's to forward or
	 * close (a hook that kept one put -1 in its place) */
	int fds[VD_WIRE_MAX_ARGS];
	bool drop; // forward nothing
	/* non-zero: the server never knew this destroyed object; answer the
	 * client with wl_display.delete_id(delete_id) */
	uint32_t delete_id;
	/* VD_TRACK_ERROR: a request error to post on error_object (error.code,
	 * error.text), or why the server's event is refused */
	uint32_t error_object;
	struct vd_parse_error error;
};

enum vd_track_result {
	VD_TRACK_MESSAGE, // out describes one message: forward it, then vd_tracker_done
	VD_TRACK_MORE, // no whole message in the input yet
	VD_TRACK_ERROR, // a protocol error: end the connection (out.error)
};

/* The display (ID 1) is created at once; hooks may be NULL. */
bool vd_tracker_init(struct vd_tracker *tracker, const struct vd_hook_registry *hooks,
	uint32_t max_objects);
/* Destroys every object (their addons' destroy runs). */
void vd_tracker_finish(struct vd_tracker *tracker);

/* The next request from the client in `in`. */
enum vd_track_result vd_tracker_request(struct vd_tracker *tracker, struct vd_connection *in,
	struct vd_tracked *out);
/* The next event toward the client in `in`. */
enum vd_track_result vd_tracker_event(struct vd_tracker *tracker, struct vd_connection *in,
	struct vd_tracked *out);
/* The message of out is forwarded (or dropped): consumes it from `in`, and
 * frees what it destroyed. Closes nothing: out.fds are the caller's. */
void vd_tracker_done(struct vd_tracker *tracker, struct vd_connection *in,
	struct vd_tracked *out);

/* A live object (not destroyed by the client), or NULL. */
struct vd_object *vd_tracker_get(const struct vd_tracker *tracker, uint32_t id);

#endif
