#ifndef HOST_NOTIFY_CALL_H
#define HOST_NOTIFY_CALL_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/vmconf.h"
#include "protocols/link.h"

/*
 * The org.freedesktop.Notifications.Notify call a guest's NOTIFY message
 * becomes: app "vmdesk: VM", summary "[VM] summary", the body as plain text
 * (wrapped, cut, markup-escaped when the server shows markup, never
 * parsed), checked action labels, urgency, category, the image framed in
 * the VM's color (or the VM's badge) and the hints x-vmdesk-vm and
 * x-vmdesk-color; the expire timeout capped. Only what the server says it
 * does (caps) is asked of it.
 */

struct vd_notify_caps {
	bool body_markup, actions, persistence, sound;
};

/* NULL if out of memory. */
DBusMessage *vd_notify_call_build(const struct vd_notify_caps *caps,
	const struct vd_vmconf *conf, const struct vd_link_notify *m, uint32_t replaces);

#endif
