#ifndef PROTOCOLS_LINK_MUX_H
#define PROTOCOLS_LINK_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <wayland-server-core.h>

#include "protocols/link-conn.h"

/*
 * Fair sharing of one link among many streams (the Wayland channels and
 * their pipes, protocols/link.md "Wayland channels"). Each stream is a
 * source that queues its own frames when its turn comes; the mux gives the
 * sources with something to send turns in a circle, a quantum of bytes each,
 * and only while the link's queue is below high_water. So what one stream
 * has to send (a 30 MB buffer) waits in that stream, never in the link's
 * queue, and a frame of another stream queued now has at most high_water
 * plus one frame ahead of it.
 *
 * Sources decide themselves when they are blocked (no credit, nothing
 * read): produce() returns false and the source leaves the circle until
 * vd_mux_wake. produce() may send through the link, leave the circle or
 * wake others, but never destroys a source (its owner removes and frees it
 * from elsewhere, vd_mux_remove first).
 */

struct vd_mux_source;

typedef bool (*vd_mux_produce_func)(struct vd_mux_source *source, struct vd_link_conn *conn,
	size_t budget);

struct vd_mux_source {
	struct vd_mux *mux;
	vd_mux_produce_func produce; // queues about budget bytes at most; true: has more now
	struct wl_list link; // vd_mux.ready while waiting for a turn
	bool queued;
};

struct vd_mux {
	struct wl_event_loop *loop;
	struct vd_link_conn *conn; // NULL while there is no ready link
	struct wl_list ready; // vd_mux_source.link
	struct wl_event_source *idle;
	size_t high_water, quantum;
	bool pumping;
};

void vd_mux_init(struct vd_mux *mux, struct wl_event_loop *loop, size_t high_water,
	size_t quantum);
void vd_mux_finish(struct vd_mux *mux);
/* The link to send on (ready), or NULL (gone). */
void vd_mux_set_conn(struct vd_mux *mux, struct vd_link_conn *conn);
/* The link's queue emptied (its drained callback): more turns. */
void vd_mux_drained(struct vd_mux *mux);

void vd_mux_source_init(struct vd_mux_source *source, struct vd_mux *mux,
	vd_mux_produce_func produce);
/* The source has something to send: it gets a turn soon (from an idle callback). */
void vd_mux_wake(struct vd_mux_source *source);
/* Out of the circle (before the source is freed). */
void vd_mux_remove(struct vd_mux_source *source);

#endif
