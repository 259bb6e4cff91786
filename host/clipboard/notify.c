#define LOG_TAG "clipboard"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/clipboard/notify.h"
#include "protocols/dbus.h"
#include "protocols/log.h"

struct vd_clip_notify {
	struct vd_dbus *bus;
};

static void handle_closed(struct vd_dbus *bus, void *data) {
	struct vd_clip_notify *notify = data;
	vd_log(VD_WARN, "the session bus went away: clipboard notifications are only logged");
	vd_dbus_destroy(notify->bus);
	notify->bus = NULL;
}

static const struct vd_dbus_impl bus_impl = {
	.closed = handle_closed,
};

struct vd_clip_notify *clip_notify_create(struct wl_event_loop *loop) {
	char buf[4200];
	const char *address = vd_dbus_session_address(buf, sizeof(buf));
	if (address == NULL) {
		vd_log(VD_INFO, "no session bus: clipboard notifications are only logged");
		return NULL;
	}
	struct vd_clip_notify *notify = calloc(1, sizeof(*notify));
	if (notify == NULL) {
		return NULL;
	}
	char err[512];
	/* Hello and everything after it run on the loop: nothing here waits for the bus. */
	notify->bus = vd_dbus_connect(loop, address, &bus_impl, notify, err, sizeof(err));
	if (notify->bus == NULL) {
		vd_log(VD_WARN, "%s: clipboard notifications are only logged", err);
		free(notify);
		return NULL;
	}
	return notify;
}

void clip_notify_destroy(struct vd_clip_notify *notify) {
	if (notify == NULL) {
		return;
	}
	vd_dbus_destroy(notify->bus);
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
	if (notify == NULL || notify->bus == NULL) {
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
		vd_dbus_send(notify->bus, msg); // written by the loop's watch
	}
	dbus_message_unref(msg);
}
