#ifndef GUEST_TRAY_WATCHER_H
#define GUEST_TRAY_WATCHER_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>

#include "protocols/dbus.h"

/*
 * The read-only side of guestd's org.kde.StatusNotifierWatcher object:
 * Properties.Get/GetAll (RegisteredStatusNotifierItems, a host always
 * registered, protocol version 0) and Introspect. items: the services
 * registered, as RegisterStatusNotifierItem named them. False if call is
 * none of these (guest/tray.c answers the Register* methods).
 */

bool vd_guest_tray_watcher_handle(struct vd_dbus *bus, DBusMessage *call,
	const char *const *items, size_t count);

#endif
