#ifndef GUEST_TRAY_PROPS_H
#define GUEST_TRAY_PROPS_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>

#include "guest/image.h"

/*
 * A tray item's properties (the answer to Properties.GetAll of
 * org.kde.StatusNotifierItem), read as far as they have the spec's types:
 * strings point into the answer; the three icons (icon, attention,
 * overlay) are resolved and rendered here, an icon name that resolves (the
 * item's own theme path first, then the data directories) before pixmaps,
 * of which the smallest at least icon_size (else the largest) of the first
 * 32 that are not lying about their size.
 */

struct vd_guest_tray_props {
	const char *id, *title, *status, *category, *theme_path, *menu;
	const char *tip_title, *tip_body;
	bool item_is_menu;
	struct vd_guest_image images[3];
};

void vd_guest_tray_props_parse(DBusMessageIter *dict, char **icon_dirs, size_t ndirs,
	int icon_size, struct vd_guest_tray_props *props);
void vd_guest_tray_props_finish(struct vd_guest_tray_props *props);

#endif
