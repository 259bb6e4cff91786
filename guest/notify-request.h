#ifndef GUEST_NOTIFY_REQUEST_H
#define GUEST_NOTIFY_REQUEST_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/image.h"
#include "protocols/link.h"

/*
 * One org.freedesktop.Notifications.Notify call (susssasa{sv}i), read and
 * cut down to what a NOTIFY message carries: app name, summary and body
 * sanitized; actions whose keys pass the rule, labels sanitized, at most
 * VD_LINK_MAX_ACTIONS; urgency and category checked; transient, resident
 * and suppress-sound; the expire timeout capped; the image decoded here
 * (image-data, else image-path or the app icon: an icon name, a path or a
 * file:// URI looked up in dirs) to RGBA of at most image_size a side.
 * Strings it does not copy (category) point into the call.
 */

struct vd_guest_notify_request {
	char *app_name, *summary, *body;
	uint32_t replaces_id;
	struct vd_link_notify_actions actions[VD_LINK_MAX_ACTIONS];
	char *labels[VD_LINK_MAX_ACTIONS];
	uint32_t nactions;
	uint8_t urgency;
	const char *category;
	uint32_t flags;
	uint32_t expire_ms;
	struct vd_guest_image image;
	bool have_image_data;
	const char *image_path;
};

/*
 * False with err set if the call breaks the spec (its signature, an expire
 * timeout below -1), false with err "" if out of memory. req needs
 * vd_guest_notify_request_finish only after true.
 */
bool vd_guest_notify_request_parse(DBusMessage *call, int image_size, char **dirs, size_t ndirs,
	struct vd_guest_notify_request *req, char *err, size_t err_len);
void vd_guest_notify_request_finish(struct vd_guest_notify_request *req);

#endif
