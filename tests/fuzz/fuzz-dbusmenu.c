#include <dbus/dbus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/tray-menu.h"
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
	/* header: 'l', method return, no flags, version 1, body length, serial 1, then the
	 * fields REPLY_SERIAL (u 1) and SIGNATURE, padded to 8 */
	uint8_t header[48] = {'l', 2, 0, 1};
	uint32_t body_len = (uint32_t)size, serial = 1;
	memcpy(header + 4, &body_len, 4);
	memcpy(header + 8, &serial, 4);
	uint8_t fields[] = {5, 1, 'u', 0, 1, 0, 0, 0, 8, 1, 'g', 0, (uint8_t)strlen(signature)};
	size_t pos = 16;
	memcpy(header + pos, fields, sizeof(fields));
	pos += sizeof(fields);
	memcpy(header + pos, signature, strlen(signature) + 1);
	pos += strlen(signature) + 1;
	uint32_t fields_len = (uint32_t)(pos - 16);
	memcpy(header + 12, &fields_len, 4);
	size_t header_len = (pos + 7) & ~(size_t)7;
	uint8_t *msg_bytes = calloc(1, header_len + size + 1);
	if (msg_bytes == NULL) {
		return 0;
	}
	memcpy(msg_bytes, header, pos);
	memcpy(msg_bytes + header_len, data, size);
	DBusError error;
	dbus_error_init(&error);
	DBusMessage *reply = dbus_message_demarshal((const char *)msg_bytes,
		(int)(header_len + size), &error);
	dbus_error_free(&error);
	free(msg_bytes);
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
