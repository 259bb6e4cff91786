#define LOG_TAG "clipboard"

#include <dbus/dbus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/clipboard/notify.h"
#include "protocols/log.h"

struct vd_clip_notify {
	struct wl_event_loop *loop;
	DBusConnection *conn;
	struct wl_event_source *dispatch_idle;
};

/* ---- libdbus on the event loop ---- */

static void handle_dispatch_idle(void *data) {
	struct vd_clip_notify *notify = data;
	notify->dispatch_idle = NULL; // the loop removes it
	/* Whatever the bus sent (NameAcquired, errors) has no handler: it is dropped. */
	while (dbus_connection_dispatch(notify->conn) == DBUS_DISPATCH_DATA_REMAINS) {
	}
}

static void schedule_dispatch(struct vd_clip_notify *notify) {
	if (notify->dispatch_idle == NULL) {
		notify->dispatch_idle = wl_event_loop_add_idle(notify->loop, handle_dispatch_idle,
			notify);
	}
}

static void handle_dispatch_status(DBusConnection *conn, DBusDispatchStatus status, void *data) {
	if (status == DBUS_DISPATCH_DATA_REMAINS) {
		schedule_dispatch(data);
	}
}

struct watch {
	struct vd_clip_notify *notify;
	DBusWatch *watch;
	struct wl_event_source *source;
};

static int handle_watch(int fd, uint32_t mask, void *data) {
	struct watch *w = data;
	unsigned flags = 0;
	if (mask & WL_EVENT_READABLE) {
		flags |= DBUS_WATCH_READABLE;
	}
	if (mask & WL_EVENT_WRITABLE) {
		flags |= DBUS_WATCH_WRITABLE;
	}
	if (mask & WL_EVENT_HANGUP) {
		flags |= DBUS_WATCH_HANGUP;
	}
	if (mask & WL_EVENT_ERROR) {
		flags |= DBUS_WATCH_ERROR;
	}
	struct vd_clip_notify *notify = w->notify;
	dbus_watch_handle(w->watch, flags);
	schedule_dispatch(notify);
	return 0;
}

static void watch_update(struct watch *w) {
	if (w->source != NULL) {
		wl_event_source_remove(w->source);
		w->source = NULL;
	}
	if (!dbus_watch_get_enabled(w->watch)) {
		return;
	}
	unsigned flags = dbus_watch_get_flags(w->watch);
	uint32_t mask = 0;
	if (flags & DBUS_WATCH_READABLE) {
		mask |= WL_EVENT_READABLE;
	}
	if (flags & DBUS_WATCH_WRITABLE) {
		mask |= WL_EVENT_WRITABLE;
	}
	w->source = wl_event_loop_add_fd(w->notify->loop, dbus_watch_get_unix_fd(w->watch), mask,
		handle_watch, w);
}

static void watch_free(void *data) {
	struct watch *w = data;
	if (w->source != NULL) {
		wl_event_source_remove(w->source);
	}
	free(w);
}

static dbus_bool_t add_watch(DBusWatch *watch, void *data) {
	struct watch *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return FALSE;
	}
	w->notify = data;
	w->watch = watch;
	dbus_watch_set_data(watch, w, watch_free);
	watch_update(w);
	return TRUE;
}

static void remove_watch(DBusWatch *watch, void *data) {
	struct watch *w = dbus_watch_get_data(watch);
	if (w != NULL && w->source != NULL) {
		wl_event_source_remove(w->source);
		w->source = NULL;
	}
}

static void toggle_watch(DBusWatch *watch, void *data) {
	struct watch *w = dbus_watch_get_data(watch);
	if (w != NULL) {
		watch_update(w);
	}
}

struct timeout {
	DBusTimeout *timeout;
	struct wl_event_source *timer;
};

static int handle_timeout(void *data) {
	struct timeout *t = data;
	dbus_timeout_handle(t->timeout);
	return 0;
}

static void timeout_free(void *data) {
	struct timeout *t = data;
	wl_event_source_remove(t->timer);
	free(t);
}

static dbus_bool_t add_timeout(DBusTimeout *timeout, void *data) {
	struct vd_clip_notify *notify = data;
	struct timeout *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return FALSE;
	}
	t->timeout = timeout;
	t->timer = wl_event_loop_add_timer(notify->loop, handle_timeout, t);
	if (t->timer == NULL) {
		free(t);
		return FALSE;
	}
	dbus_timeout_set_data(timeout, t, timeout_free);
	if (dbus_timeout_get_enabled(timeout)) {
		wl_event_source_timer_update(t->timer, dbus_timeout_get_interval(timeout));
	}
	return TRUE;
}

static void remove_timeout(DBusTimeout *timeout, void *data) {
	struct timeout *t = dbus_timeout_get_data(timeout);
	if (t != NULL) {
		wl_event_source_timer_update(t->timer, 0);
	}
}

static void toggle_timeout(DBusTimeout *timeout, void *data) {
	struct timeout *t = dbus_timeout_get_data(timeout);
	if (t != NULL) {
		wl_event_source_timer_update(t->timer, dbus_timeout_get_enabled(timeout) ?
			dbus_timeout_get_interval(timeout) : 0);
	}
}

/* ---- notifications ---- */

struct vd_clip_notify *clip_notify_create(struct wl_event_loop *loop) {
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
	notify->loop = loop;
	notify->conn = conn;
	if (!dbus_connection_set_watch_functions(conn, add_watch, remove_watch, toggle_watch,
			notify, NULL) ||
			!dbus_connection_set_timeout_functions(conn, add_timeout, remove_timeout,
				toggle_timeout, notify, NULL)) {
		clip_notify_destroy(notify);
		return NULL;
	}
	dbus_connection_set_dispatch_status_function(conn, handle_dispatch_status, notify, NULL);
	schedule_dispatch(notify);
	return notify;
}

void clip_notify_destroy(struct vd_clip_notify *notify) {
	if (notify == NULL) {
		return;
	}
	dbus_connection_close(notify->conn);
	dbus_connection_set_watch_functions(notify->conn, NULL, NULL, NULL, NULL, NULL);
	dbus_connection_set_timeout_functions(notify->conn, NULL, NULL, NULL, NULL, NULL);
	dbus_connection_set_dispatch_status_function(notify->conn, NULL, NULL, NULL);
	dbus_connection_unref(notify->conn);
	if (notify->dispatch_idle != NULL) {
		wl_event_source_remove(notify->dispatch_idle);
	}
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
		dbus_connection_send(notify->conn, msg, NULL); // written by the loop's watch
	}
	dbus_message_unref(msg);
}
