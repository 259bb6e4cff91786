#define LOG_TAG "clipboard"

#include <dbus/dbus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/clipboard/notify.h"
#include "protocols/log.h"

struct vd_clip_notify {
	DBusConnection *conn;
};

struct vd_clip_notify *clip_notify_create(void) {
	const char *address = getenv("DBUS_SESSION_BUS_ADDRESS");
	if (address == NULL || address[0] == '\0') {
		vd_log(VD_INFO, "no session bus: clipboard notifications are only logged");
		return NULL;
	}
	DBusError error;
	dbus_error_init(&error);
	DBusConnection *conn = dbus_bus_get_private(DBUS_BUS_SESSION, &error);
	if (conn == NULL) {
		vd_log(VD_WARN, "cannot connect to the session bus (%s): clipboard notifications "
			"are only logged", error.message);
		dbus_error_free(&error);
		return NULL;
	}
	dbus_connection_set_exit_on_disconnect(conn, FALSE);
	struct vd_clip_notify *notify = calloc(1, sizeof(*notify));
	if (notify == NULL) {
		dbus_connection_close(conn);
		dbus_connection_unref(conn);
		return NULL;
	}
	notify->conn = conn;
	return notify;
}

void clip_notify_destroy(struct vd_clip_notify *notify) {
	if (notify == NULL) {
		return;
	}
	dbus_connection_close(notify->conn);
	dbus_connection_unref(notify->conn);
	free(notify);
}

static bool append_hints(DBusMessageIter *args, bool critical) {
	DBusMessageIter dict, entry, variant;
	const char *key = "urgency";
	uint8_t urgency = critical ? 2 : 1;
	return dbus_message_iter_open_container(args, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
		dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
		dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
		dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "y", &variant) &&
		dbus_message_iter_append_basic(&variant, DBUS_TYPE_BYTE, &urgency) &&
		dbus_message_iter_close_container(&entry, &variant) &&
		dbus_message_iter_close_container(&dict, &entry) &&
		dbus_message_iter_close_container(args, &dict);
}

void clip_notify_send(struct vd_clip_notify *notify, bool critical, const char *summary,
		const char *body) {
	vd_log(critical ? VD_WARN : VD_INFO, "notification: %s: %s", summary, body);
	if (notify == NULL || !dbus_connection_get_is_connected(notify->conn)) {
		return;
	}
	DBusMessage *msg = dbus_message_new_method_call("org.freedesktop.Notifications",
		"/org/freedesktop/Notifications", "org.freedesktop.Notifications", "Notify");
	if (msg == NULL) {
		return;
	}
	/* No server: the bus answers with an error we never read. Never start one. */
	dbus_message_set_no_reply(msg, TRUE);
	dbus_message_set_auto_start(msg, FALSE);
	const char *app = "vmdesk";
	const char *icon = critical ? "dialog-warning" : "edit-paste";
	dbus_uint32_t replaces = 0;
	dbus_int32_t expire = -1;
	DBusMessageIter args, actions;
	dbus_message_iter_init_append(msg, &args);
	bool ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &app) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_UINT32, &replaces) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &icon) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &summary) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &body) &&
		dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "s", &actions) &&
		dbus_message_iter_close_container(&args, &actions) &&
		append_hints(&args, critical) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &expire);
	if (ok) {
		dbus_connection_send(notify->conn, msg, NULL);
		dbus_connection_flush(notify->conn);
	}
	dbus_message_unref(msg);
}

int clip_notify_fd(struct vd_clip_notify *notify) {
	int fd;
	if (notify == NULL || !dbus_connection_get_socket(notify->conn, &fd)) {
		return -1;
	}
	return fd;
}

void clip_notify_dispatch(struct vd_clip_notify *notify) {
	if (notify == NULL) {
		return;
	}
	/* Read and drop whatever the bus sent (NameAcquired, errors). */
	dbus_connection_read_write(notify->conn, 0);
	DBusMessage *msg;
	while ((msg = dbus_connection_pop_message(notify->conn)) != NULL) {
		dbus_message_unref(msg);
	}
}
