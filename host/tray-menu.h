#ifndef HOST_TRAY_MENU_H
#define HOST_TRAY_MENU_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/dbus.h"
#include "protocols/link.h"

/*
 * The com.canonical.dbusmenu object of a host tray item, served from the
 * host's own copy of a VM's menu: labels sanitized again here, icons
 * encoded as PNG from checked RGBA (the codec checked ids, parents, depth
 * and sizes). GetLayout, GetGroupProperties, GetProperty, Event,
 * EventGroup, AboutToShow, AboutToShowGroup and the Version, TextDirection,
 * Status and IconThemePath properties; events for items that exist go to
 * the item's event callback.
 */

struct vd_tray_menu_item {
	int32_t id, parent;
	uint8_t type, flags, toggle, toggle_state;
	char *label;
	uint8_t *png; // NULL: no icon
	size_t png_len;
};

struct vd_tray_menu {
	struct vd_tray_menu_item *items;
	uint32_t count;
	uint32_t revision;
	/* a host program's event on an item of the menu (enum vd_link_menu_event_kind) */
	void (*event)(void *data, uint32_t id, uint8_t kind);
	void *data;
};

/* Replaces the items (the revision goes up). */
bool vd_tray_menu_set(struct vd_tray_menu *menu, const struct vd_link_tray_menu *msg);
void vd_tray_menu_finish(struct vd_tray_menu *menu);
/* Handles a method call to the menu's object. */
DBusHandlerResult vd_tray_menu_handle(struct vd_tray_menu *menu, struct vd_dbus *bus,
	DBusMessage *call);

#endif
