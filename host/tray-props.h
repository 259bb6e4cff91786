#ifndef HOST_TRAY_PROPS_H
#define HOST_TRAY_PROPS_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoration/icon.h"
#include "host/vmconf.h"
#include "protocols/dbus.h"
#include "protocols/link.h"

/*
 * What a host StatusNotifierItem shows of a guest's item (host/tray.h), and
 * its object's org.freedesktop.DBus.Properties and Introspect: the strings
 * are the host's own sanitized copies, the icons ARGB32 pixmaps (big
 * endian, as the spec says) rendered here in the VM's color at each of
 * vd_tray_pixmap_sizes.
 */

#define VD_TRAY_PIXMAP_SIZES 2
extern const int vd_tray_pixmap_sizes[VD_TRAY_PIXMAP_SIZES];

struct vd_tray_pixmaps {
	uint8_t *argb[VD_TRAY_PIXMAP_SIZES]; // NULL: none
	size_t len[VD_TRAY_PIXMAP_SIZES];
};

struct vd_tray_props {
	char *id, *title, *tip_title, *tip_body; // sanitized; the tooltip escaped too
	uint8_t category, status; // VD_LINK_TRAY_CATEGORY_*, VD_LINK_TRAY_STATUS_*
	bool item_is_menu, has_menu; // has_menu: the Menu property is /MenuBar
	struct vd_tray_pixmaps icons[3]; // icon, attention, overlay
};

void vd_tray_props_finish(struct vd_tray_props *props);

/*
 * Icon k (0 icon, 1 attention, 2 overlay) from the guest's RGBA, framed or
 * tinted in the VM's color; NULL rgba: none (the VM's badge for the icon).
 */
void vd_tray_props_set_icon(struct vd_tray_props *props, int k, const uint8_t *rgba,
	uint32_t width, uint32_t height, const struct vd_vmconf *conf, enum vd_icon_mode mode);

/* Answers Properties.Get/GetAll and Introspect; false if call is neither. */
bool vd_tray_props_handle(const struct vd_tray_props *props, struct vd_dbus *bus,
	DBusMessage *call);

const char *vd_tray_status_name(uint8_t status);

#endif
