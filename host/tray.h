#ifndef HOST_TRAY_H
#define HOST_TRAY_H

#include <wayland-server-core.h>

#include "decoration/icon.h"
#include "host/channel.h"

/*
 * VM tray items on the host (vmdesk-hostd's tray module): for each item a
 * guest sends (TRAY_*), one StatusNotifierItem on the host's session bus,
 * on a connection of its own (so that it vanishes from any watcher when it
 * goes), registered with the host's org.kde.StatusNotifierWatcher (again
 * whenever a watcher appears): Id and Title "[VM] ...", the icons framed (or
 * tinted) in the VM's color, the VM's badge when it has none, the tooltip
 * sanitized and escaped, and its menu served as com.canonical.dbusmenu from
 * the host's own copy (host/tray-menu.h). Activate, SecondaryActivate,
 * ContextMenu, Scroll and menu events go back to the guest's item. The
 * items' New* and LayoutUpdated signals are sent at most every 100 ms, and
 * each VM's tray messages are rate-limited. Items go with their VM, its
 * link or the guest's item; a VM whose definition says tray = no is never
 * offered the tray capability.
 */

struct vd_host_tray;

struct vd_host_tray_config {
	struct wl_event_loop *loop;
	const char *bus_address; // NULL: the session bus
	enum vd_icon_mode mode; // VD_ICON_BORDER or VD_ICON_TINT
};

struct vd_host_tray *vd_host_tray_create(const struct vd_host_tray_config *config);
void vd_host_tray_destroy(struct vd_host_tray *tray);
struct vd_channel_module vd_host_tray_module(struct vd_host_tray *tray);

#endif
