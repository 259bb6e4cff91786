#ifndef GUEST_TRAY_MENU_H
#define GUEST_TRAY_MENU_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/link.h"

/*
 * A tray item's com.canonical.dbusmenu layout (the answer to GetLayout(0, -1,
 * [])) cut down to what the link carries: at most VD_LINK_MAX_MENU_ITEMS
 * items, VD_LINK_MAX_MENU_DEPTH levels, positive ids each once, labels
 * sanitized, only the properties the host shows (type, label, enabled,
 * visible, toggle, children), icons decoded here to small RGBA. What does
 * not fit is left out; a property of the wrong type takes its default.
 */

struct vd_guest_tray_menu {
	struct vd_link_tray_menu_items items[VD_LINK_MAX_MENU_ITEMS];
	uint32_t count;
	uint64_t hash; // of everything in it: unchanged menus are not sent again
};

/* icon_dirs: where icon names are looked up (guest/apps.h). */
bool vd_guest_tray_menu_parse(DBusMessage *reply, char **icon_dirs, size_t ndirs,
	struct vd_guest_tray_menu *menu);
void vd_guest_tray_menu_finish(struct vd_guest_tray_menu *menu);
bool vd_guest_tray_menu_has(const struct vd_guest_tray_menu *menu, uint32_t id);

/* FNV-1a, for change detection. */
uint64_t vd_guest_hash(uint64_t hash, const void *data, size_t len);
#define VD_GUEST_HASH_INIT 0xcbf29ce484222325ull

#endif
