#ifndef GUEST_SCANNER_H
#define GUEST_SCANNER_H

#include <wayland-server-core.h>

#include "guest/apps.h"

/*
 * The application list of the guest, kept current without blocking the
 * agent's loop: scans (parsing .desktop files, rendering up to 1,000 icons)
 * run in a thread, one at a time; inotify on the applications directories
 * asks for a new one, shortly after a change settles. done() gets each
 * finished list that differs from the last (a reference it may keep).
 */

struct vd_scanner;

struct vd_scanner *vd_scanner_create(struct wl_event_loop *loop, int icon_size,
	void (*done)(void *data, struct vd_guest_apps *apps), void *data);
/* Waits for a running scan to end (it stops early), then frees. Accepts NULL. */
void vd_scanner_destroy(struct vd_scanner *scanner);
/* Scans again soon. */
void vd_scanner_request(struct vd_scanner *scanner);

#endif
