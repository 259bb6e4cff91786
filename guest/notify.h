#ifndef GUEST_NOTIFY_H
#define GUEST_NOTIFY_H

#include <wayland-server-core.h>

#include "guest/dbus-service.h"
#include "guest/module.h"

/*
 * The guest's notification server (vmdesk-guestd's notification module):
 * owns org.freedesktop.Notifications on the guest's session bus and
 * forwards each Notify as a NOTIFY message to the host, with everything
 * checked and cut down here (text sanitized, actions and category by their
 * rules, the image decoded in the guest to RGBA pixels); carries the host's
 * NotificationClosed and ActionInvoked back as the spec's signals.
 */

struct vd_guest_notify;

struct vd_guest_notify *vd_guest_notify_create(struct wl_event_loop *loop, const char *bus_address,
	enum vd_guest_service_mode mode, int image_size);
void vd_guest_notify_destroy(struct vd_guest_notify *notify);
struct vd_guest_module vd_guest_notify_module(struct vd_guest_notify *notify);

#endif
