#include <dbus/dbus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/notify-request.h"
#include "protocols/link.h"
#include "tests/fuzz/dbus-reply.h"

/*
 * The guest's reader of a Notify call (guest/notify-request.c) on arbitrary
 * arguments (susssasa{sv}i through libdbus's demarshaller,
 * tests/fuzz/dbus-reply.h): odd action lists, bad keys, hints of the wrong
 * types, image-data that lies about its size, huge texts. No icon
 * directories: image-path and app_icon resolve only as absolute paths.
 * What it reads must pass the link's rules for NOTIFY, or the guest would
 * send what the host refuses.
 */

#define MAX_BODY (4 * 1024 * 1024)
#define IMAGE_SIZE 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size > MAX_BODY) {
		return 0;
	}
	DBusMessage *call = fuzz_dbus_reply("susssasa{sv}i", data, size);
	if (call == NULL) {
		return 0;
	}
	struct vd_guest_notify_request req;
	char err[128];
	if (vd_guest_notify_request_parse(call, IMAGE_SIZE, NULL, 0, &req, err, sizeof(err))) {
		struct vd_link_msg msg = {.type = VD_LINK_NOTIFY, .id = 1};
		msg.body.notify = (struct vd_link_notify){
			.flags = req.flags,
			.app_name = req.app_name,
			.summary = req.summary,
			.body = req.body,
			.actions_count = req.nactions,
			.actions = req.actions,
			.urgency = req.urgency,
			.category = req.category,
			.expire_ms = req.expire_ms,
			.image = req.image.rgba,
			.image_len = (uint32_t)req.image.len,
			.image_width = req.image.width,
			.image_height = req.image.height,
		};
		if (!vd_link_validate(&vd_link_guest, &msg, err, sizeof(err))) {
			abort();
		}
		vd_guest_notify_request_finish(&req);
	}
	dbus_message_unref(call);
	return 0;
}
