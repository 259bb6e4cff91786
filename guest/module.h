#ifndef GUEST_MODULE_H
#define GUEST_MODULE_H

#include <stdint.h>

#include "protocols/link-conn.h"

/*
 * A module of vmdesk-guestd that rides on the host links (notifications,
 * tray): told when a host link is up with its capabilities (caps) in use and
 * when it goes, handed the host's messages of those capabilities. Called
 * from the link's handlers; it may send on the link, never destroy it.
 */
struct vd_guest_module {
	uint32_t caps;
	void (*host_up)(void *data, struct vd_link_conn *conn);
	void (*message)(void *data, struct vd_link_conn *conn, const struct vd_link_msg *msg);
	void (*host_down)(void *data, struct vd_link_conn *conn);
	void *data;
};

#endif
