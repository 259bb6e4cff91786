#include <string.h>

#include "guest/tray-watcher.h"

#define WATCHER "org.kde.StatusNotifierWatcher"

static const char introspection[] =
	DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE
	"<node>\n"
	" <interface name=\"" WATCHER "\">\n"
	"  <method name=\"RegisterStatusNotifierItem\"><arg type=\"s\" direction=\"in\"/></method>\n"
	"  <method name=\"RegisterStatusNotifierHost\"><arg type=\"s\" direction=\"in\"/></method>\n"
	"  <property name=\"RegisteredStatusNotifierItems\" type=\"as\" access=\"read\"/>\n"
	"  <property name=\"IsStatusNotifierHostRegistered\" type=\"b\" access=\"read\"/>\n"
	"  <property name=\"ProtocolVersion\" type=\"i\" access=\"read\"/>\n"
	"  <signal name=\"StatusNotifierItemRegistered\"><arg type=\"s\"/></signal>\n"
	"  <signal name=\"StatusNotifierItemUnregistered\"><arg type=\"s\"/></signal>\n"
	"  <signal name=\"StatusNotifierHostRegistered\"/>\n"
	" </interface>\n"
	" <interface name=\"" DBUS_INTERFACE_PROPERTIES "\">\n"
	"  <method name=\"Get\"><arg type=\"s\" direction=\"in\"/><arg type=\"s\" direction=\"in\"/>"
	"<arg type=\"v\" direction=\"out\"/></method>\n"
	"  <method name=\"GetAll\"><arg type=\"s\" direction=\"in\"/>"
	"<arg type=\"a{sv}\" direction=\"out\"/></method>\n"
	" </interface>\n"
	" <interface name=\"" DBUS_INTERFACE_INTROSPECTABLE "\">\n"
	"  <method name=\"Introspect\"><arg type=\"s\" direction=\"out\"/></method>\n"
	" </interface>\n"
	"</node>\n";

static bool append_property(DBusMessageIter *to, const char *const *items, size_t count,
		const char *name) {
	DBusMessageIter v, array;
	if (strcmp(name, "RegisteredStatusNotifierItems") == 0) {
		if (!dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "as", &v) ||
				!dbus_message_iter_open_container(&v, DBUS_TYPE_ARRAY, "s", &array)) {
			return false;
		}
		for (size_t i = 0; i < count; i++) {
			if (!dbus_message_iter_append_basic(&array, DBUS_TYPE_STRING, &items[i])) {
				return false;
			}
		}
		return dbus_message_iter_close_container(&v, &array) &&
			dbus_message_iter_close_container(to, &v);
	}
	if (strcmp(name, "IsStatusNotifierHostRegistered") == 0) {
		dbus_bool_t yes = TRUE;
		return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "b", &v) &&
			dbus_message_iter_append_basic(&v, DBUS_TYPE_BOOLEAN, &yes) &&
			dbus_message_iter_close_container(to, &v);
	}
	dbus_int32_t version = 0;
	return dbus_message_iter_open_container(to, DBUS_TYPE_VARIANT, "i", &v) &&
		dbus_message_iter_append_basic(&v, DBUS_TYPE_INT32, &version) &&
		dbus_message_iter_close_container(to, &v);
}

static void handle_properties(struct vd_dbus *bus, DBusMessage *call, const char *const *items,
		size_t count) {
	static const char *const names[] = {"RegisteredStatusNotifierItems",
		"IsStatusNotifierHostRegistered", "ProtocolVersion"};
	bool all = dbus_message_is_method_call(call, DBUS_INTERFACE_PROPERTIES, "GetAll");
	const char *iface, *name = NULL;
	bool ok = all ? dbus_message_get_args(call, NULL, DBUS_TYPE_STRING, &iface, DBUS_TYPE_INVALID) :
		dbus_message_get_args(call, NULL, DBUS_TYPE_STRING, &iface, DBUS_TYPE_STRING, &name,
			DBUS_TYPE_INVALID);
	size_t which = 3;
	for (size_t i = 0; name != NULL && i < 3; i++) {
		which = strcmp(name, names[i]) == 0 ? i : which;
	}
	if (!ok || (!all && which == 3)) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_UNKNOWN_PROPERTY, "no such property");
		return;
	}
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply == NULL) {
		return;
	}
	DBusMessageIter args, dict, entry;
	dbus_message_iter_init_append(reply, &args);
	if (!all) {
		ok = append_property(&args, items, count, names[which]);
	} else {
		ok = dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "{sv}", &dict);
		for (size_t i = 0; ok && i < 3 && strcmp(iface, WATCHER) == 0; i++) {
			ok = dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
				dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &names[i]) &&
				append_property(&entry, items, count, names[i]) &&
				dbus_message_iter_close_container(&dict, &entry);
		}
		ok = ok && dbus_message_iter_close_container(&args, &dict);
	}
	if (ok) {
		vd_dbus_send(bus, reply);
	}
	dbus_message_unref(reply);
}

bool vd_guest_tray_watcher_handle(struct vd_dbus *bus, DBusMessage *call,
		const char *const *items, size_t count) {
	if (dbus_message_is_method_call(call, DBUS_INTERFACE_PROPERTIES, "Get") ||
			dbus_message_is_method_call(call, DBUS_INTERFACE_PROPERTIES, "GetAll")) {
		handle_properties(bus, call, items, count);
		return true;
	}
	if (!dbus_message_is_method_call(call, DBUS_INTERFACE_INTROSPECTABLE, "Introspect")) {
		return false;
	}
	vd_dbus_reply_introspect(bus, call, introspection);
	return true;
}
