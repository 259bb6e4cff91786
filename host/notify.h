#ifndef HOST_NOTIFY_H
#define HOST_NOTIFY_H

#include <stdint.h>
#include <wayland-server-core.h>

#include "host/channel.h"

/*
 * VM notifications on the host (vmdesk-hostd's notification module): the
 * guests' NOTIFY messages become calls to the host's
 * org.freedesktop.Notifications on the session bus, as "[VM] summary" from
 * "vmdesk: VM", with the body as plain text, the image framed in the VM's
 * color (or the VM's badge), checked actions, urgency and category, and the
 * hints x-vmdesk-vm and x-vmdesk-color. ActionInvoked and NotificationClosed
 * go back to the VM that owns the notification only: each VM's ids map to
 * the server's through its own table, so no VM can replace, close or learn
 * another's. Rate-limited per VM; a VM whose link goes closes its
 * notifications; a restart of the host's server is followed.
 */

struct vd_host_notify;

struct vd_host_notify_config {
	struct wl_event_loop *loop;
	const char *bus_address; // NULL: the session bus
	uint32_t burst; // notifications a VM may send at once
	uint32_t interval_ms; // then one per interval
};

#define VD_HOST_NOTIFY_BURST 10
#define VD_HOST_NOTIFY_INTERVAL_MS 2000
/* Explicit timeouts are capped here; 0 (until dismissed) and -1 (the server's) pass. */
#define VD_HOST_NOTIFY_MAX_EXPIRE_MS 120000
/* Notifications of one VM the host shows at once; a newer one closes the oldest. */
#define VD_HOST_NOTIFY_MAX_PER_VM 64

/* NULL if there is no session bus (the module is then off). */
struct vd_host_notify *vd_host_notify_create(const struct vd_host_notify_config *config);
void vd_host_notify_destroy(struct vd_host_notify *notify);
/* The channel module (host/channel.h) that feeds it. */
struct vd_channel_module vd_host_notify_module(struct vd_host_notify *notify);

#endif
