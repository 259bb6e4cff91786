#ifndef GUEST_TRAY_EVENT_H
#define GUEST_TRAY_EVENT_H

#include <dbus/dbus.h>

#include "protocols/link.h"

/*
 * The calls a host's click becomes on a guest's tray item (no auto-start,
 * no reply wanted): TRAY_EVENT is Activate, SecondaryActivate or
 * ContextMenu at (0, 0) (the host's coordinates mean nothing in the VM) or
 * Scroll; TRAY_MENU_EVENT is com.canonical.dbusmenu's Event (clicked,
 * hovered, opened, closed) or AboutToShow. The codec checked the kinds; the
 * caller that the menu id is one of the item's. NULL if out of memory.
 */

DBusMessage *vd_guest_tray_event_call(const char *bus_name, const char *path,
	const struct vd_link_tray_event *ev);
DBusMessage *vd_guest_tray_menu_event_call(const char *bus_name, const char *menu_path,
	const struct vd_link_tray_menu_event *ev);

#endif
