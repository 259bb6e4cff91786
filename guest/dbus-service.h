#ifndef GUEST_DBUS_SERVICE_H
#define GUEST_DBUS_SERVICE_H

#include <stdbool.h>
#include <wayland-server-core.h>

#include "protocols/dbus.h"

/*
 * A service of vmdesk-guestd on the guest's session bus: connects (and
 * reconnects with the backoff when the bus goes), and owns its well-known
 * name when no one else holds it (VD_GUEST_SERVICE_AUTO: it takes the name
 * when it is free, and yields it to a server that asks to replace it) or
 * takes it over (VD_GUEST_SERVICE_REPLACE).
 */

enum vd_guest_service_mode {
	VD_GUEST_SERVICE_OFF,
	VD_GUEST_SERVICE_AUTO,
	VD_GUEST_SERVICE_REPLACE,
};

/* Parses "auto", "replace" or "off". */
bool vd_guest_service_mode_parse(const char *s, enum vd_guest_service_mode *mode);

struct vd_guest_service;

struct vd_guest_service_impl {
	/* Connected: register the objects on bus here. */
	void (*connected)(void *data, struct vd_dbus *bus);
	/* The name was won or lost. */
	void (*owned)(void *data, bool owned);
	/* Every other message the bus sends (optional). */
	DBusHandlerResult (*filter)(void *data, DBusMessage *msg);
	/* The bus went: drop what hangs on it (it is reconnected later). */
	void (*disconnected)(void *data);
};

struct vd_guest_service *vd_guest_service_create(struct wl_event_loop *loop, const char *address,
	const char *name, enum vd_guest_service_mode mode, const struct vd_guest_service_impl *impl,
	void *data);
void vd_guest_service_destroy(struct vd_guest_service *service);
/* NULL while disconnected. */
struct vd_dbus *vd_guest_service_bus(struct vd_guest_service *service);
bool vd_guest_service_owned(const struct vd_guest_service *service);

#endif
