#include <dbus/dbus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/tray-props.h"
#include "tests/fuzz/dbus-reply.h"

/*
 * The guest's reader of a tray item's properties (guest/tray-props.c) on
 * arbitrary Properties.GetAll answers (a{sv}, through libdbus's
 * demarshaller, tests/fuzz/dbus-reply.h): pixmaps that lie about their
 * size, too many of them, huge ones, strings where pixmaps belong and the
 * reverse. No icon directories: names resolve only through IconThemePath.
 * What it reads must be images of at most ICON_SIZE a side whose bytes are
 * exactly width x height x 4.
 */

#define MAX_BODY (4 * 1024 * 1024)
#define ICON_SIZE 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size > MAX_BODY) {
		return 0;
	}
	DBusMessage *reply = fuzz_dbus_reply("a{sv}", data, size);
	if (reply == NULL) {
		return 0;
	}
	DBusMessageIter args, dict;
	dbus_message_iter_init(reply, &args);
	dbus_message_iter_recurse(&args, &dict);
	struct vd_guest_tray_props props;
	vd_guest_tray_props_parse(&dict, NULL, 0, ICON_SIZE, &props);
	for (int k = 0; k < 3; k++) {
		const struct vd_guest_image *image = &props.images[k];
		if (image->rgba == NULL) {
			continue;
		}
		if (image->width < 1 || image->height < 1 || image->width > ICON_SIZE ||
				image->height > ICON_SIZE ||
				image->len != (size_t)image->width * image->height * 4) {
			abort();
		}
	}
	vd_guest_tray_props_finish(&props);
	dbus_message_unref(reply);
	return 0;
}
