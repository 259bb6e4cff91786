#include <dbus/dbus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/tray-menu.h"
#include "tests/fuzz/dbus-reply.h"
#include "protocols/link.h"

/*
 * The guest's reader of a tray item's menu (guest/tray-menu.c) on arbitrary
 * GetLayout answers: the input is the body of a method return whose
 * signature is u(ia{sv}av), wrapped here in a fixed header and given to
 * libdbus's own demarshaller, which refuses what is not valid D-Bus. What
 * the reader makes of a valid one must pass the link's rules for TRAY_MENU
 * (ids, parents, depth, labels, icons), or the guest would send what the
 * host refuses.
 */

#define MAX_BODY (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char signature[] = "u(ia{sv}av)";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size > MAX_BODY) {
		return 0;
	}
	DBusMessage *reply = fuzz_dbus_reply(signature, data, size);
	if (reply == NULL) {
		return 0;
	}
	struct vd_guest_tray_menu *menu = calloc(1, sizeof(*menu));
	if (menu != NULL && vd_guest_tray_menu_parse(reply, NULL, 0, menu)) {
		struct vd_link_msg msg = {.type = VD_LINK_TRAY_MENU, .id = 1};
		msg.body.tray_menu.items = menu->items;
		msg.body.tray_menu.items_count = menu->count;
		char err[256];
		if (!vd_link_validate(&vd_link_guest, &msg, err, sizeof(err))) {
			abort();
		}
	}
	if (menu != NULL) {
		vd_guest_tray_menu_finish(menu);
		free(menu);
	}
	dbus_message_unref(reply);
	return 0;
}
