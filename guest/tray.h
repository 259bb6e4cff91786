#ifndef GUEST_TRAY_H
#define GUEST_TRAY_H

#include <wayland-server-core.h>

#include "guest/dbus-service.h"
#include "guest/module.h"

/*
 * The guest's tray (vmdesk-guestd's tray module): serves
 * org.kde.StatusNotifierWatcher on the guest's session bus, so that ordinary
 * applets register with it; reads each item's properties and its
 * com.canonical.dbusmenu menu (pending calls with a timeout: an item that
 * never answers costs a timeout, nothing more), resolves and renders its
 * icons here, and sends it all to the host as TRAY_* messages, at most one
 * refresh of an item per 200 ms whatever it signals. Clicks, scrolls and
 * menu events from the host come back to the item.
 */

struct vd_guest_tray;

struct vd_guest_tray *vd_guest_tray_create(struct wl_event_loop *loop, const char *bus_address,
	enum vd_guest_service_mode mode);
void vd_guest_tray_destroy(struct vd_guest_tray *tray);
struct vd_guest_module vd_guest_tray_module(struct vd_guest_tray *tray);

#endif
