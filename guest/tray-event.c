#include <stdbool.h>

#include "guest/tray-event.h"

#define ITEM_IFACE "org.kde.StatusNotifierItem"
#define MENU_IFACE "com.canonical.dbusmenu"

static DBusMessage *new_call(const char *bus_name, const char *path, const char *iface,
		const char *method) {
	DBusMessage *msg = dbus_message_new_method_call(bus_name, path, iface, method);
	if (msg != NULL) {
		dbus_message_set_auto_start(msg, FALSE);
		dbus_message_set_no_reply(msg, TRUE);
	}
	return msg;
}

DBusMessage *vd_guest_tray_event_call(const char *bus_name, const char *path,
		const struct vd_link_tray_event *ev) {
	static const char *const methods[] = {"Activate", "SecondaryActivate", "ContextMenu",
		"Scroll", "Scroll"};
	if (ev->kind < VD_LINK_TRAY_EVENT_KIND_ACTIVATE ||
			ev->kind > VD_LINK_TRAY_EVENT_KIND_SCROLL_HORIZONTAL) {
		return NULL;
	}
	DBusMessage *msg = new_call(bus_name, path, ITEM_IFACE, methods[ev->kind - 1]);
	if (msg == NULL) {
		return NULL;
	}
	bool ok;
	if (ev->kind == VD_LINK_TRAY_EVENT_KIND_SCROLL_VERTICAL ||
			ev->kind == VD_LINK_TRAY_EVENT_KIND_SCROLL_HORIZONTAL) {
		dbus_int32_t delta = (dbus_int32_t)ev->delta;
		const char *orientation = ev->kind == VD_LINK_TRAY_EVENT_KIND_SCROLL_VERTICAL ?
			"vertical" : "horizontal";
		ok = dbus_message_append_args(msg, DBUS_TYPE_INT32, &delta, DBUS_TYPE_STRING,
			&orientation, DBUS_TYPE_INVALID);
	} else {
		dbus_int32_t x = 0, y = 0;
		ok = dbus_message_append_args(msg, DBUS_TYPE_INT32, &x, DBUS_TYPE_INT32, &y,
			DBUS_TYPE_INVALID);
	}
	if (!ok) {
		dbus_message_unref(msg);
		return NULL;
	}
	return msg;
}

DBusMessage *vd_guest_tray_menu_event_call(const char *bus_name, const char *menu_path,
		const struct vd_link_tray_menu_event *ev) {
	static const char *const events[] = {"clicked", "hovered", "opened", "closed"};
	dbus_int32_t id = (dbus_int32_t)ev->menu_id;
	if (ev->event == VD_LINK_MENU_EVENT_KIND_ABOUT_TO_SHOW) {
		DBusMessage *msg = new_call(bus_name, menu_path, MENU_IFACE, "AboutToShow");
		if (msg != NULL && !dbus_message_append_args(msg, DBUS_TYPE_INT32, &id,
				DBUS_TYPE_INVALID)) {
			dbus_message_unref(msg);
			return NULL;
		}
		return msg;
	}
	if (ev->event < 1 || ev->event > sizeof(events) / sizeof(events[0])) {
		return NULL;
	}
	DBusMessage *msg = new_call(bus_name, menu_path, MENU_IFACE, "Event");
	if (msg == NULL) {
		return NULL;
	}
	const char *name = events[ev->event - 1];
	dbus_int32_t zero = 0;
	dbus_uint32_t timestamp = 0;
	DBusMessageIter args, v;
	dbus_message_iter_init_append(msg, &args);
	bool ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &id) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &name) &&
		dbus_message_iter_open_container(&args, DBUS_TYPE_VARIANT, "i", &v) &&
		dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &zero) &&
		dbus_message_iter_close_container(&args, &v) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_UINT32, &timestamp);
	if (!ok) {
		dbus_message_unref(msg);
		return NULL;
	}
	return msg;
}
