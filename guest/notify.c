#define LOG_TAG "notify"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "guest/apps.h"
#include "guest/image.h"
#include "guest/notify-request.h"
#include "guest/notify.h"
#include "protocols/log.h"
#include "protocols/names.h"

#define NAME "org.freedesktop.Notifications"
#define PATH "/org/freedesktop/Notifications"
/* Notifications the guest remembers (for replaces_id, close, signals); the oldest goes first. */
#define MAX_NOTES 256

static const char introspection[] =
	DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE
	"<node>\n"
	" <interface name=\"" NAME "\">\n"
	"  <method name=\"GetCapabilities\"><arg type=\"as\" direction=\"out\"/></method>\n"
	"  <method name=\"Notify\">\n"
	"   <arg type=\"s\" direction=\"in\"/><arg type=\"u\" direction=\"in\"/>\n"
	"   <arg type=\"s\" direction=\"in\"/><arg type=\"s\" direction=\"in\"/>\n"
	"   <arg type=\"s\" direction=\"in\"/><arg type=\"as\" direction=\"in\"/>\n"
	"   <arg type=\"a{sv}\" direction=\"in\"/><arg type=\"i\" direction=\"in\"/>\n"
	"   <arg type=\"u\" direction=\"out\"/>\n"
	"  </method>\n"
	"  <method name=\"CloseNotification\"><arg type=\"u\" direction=\"in\"/></method>\n"
	"  <method name=\"GetServerInformation\">\n"
	"   <arg type=\"s\" direction=\"out\"/><arg type=\"s\" direction=\"out\"/>\n"
	"   <arg type=\"s\" direction=\"out\"/><arg type=\"s\" direction=\"out\"/>\n"
	"  </method>\n"
	"  <signal name=\"NotificationClosed\"><arg type=\"u\"/><arg type=\"u\"/></signal>\n"
	"  <signal name=\"ActionInvoked\"><arg type=\"u\"/><arg type=\"s\"/></signal>\n"
	" </interface>\n"
	" <interface name=\"" DBUS_INTERFACE_INTROSPECTABLE "\">\n"
	"  <method name=\"Introspect\"><arg type=\"s\" direction=\"out\"/></method>\n"
	" </interface>\n"
	"</node>\n";

struct host_ref {
	struct wl_list link; // vd_guest_notify.hosts, oldest first
	struct vd_link_conn *conn;
};

struct note {
	struct wl_list link; // vd_guest_notify.notes, newest first
	uint32_t id;
	struct vd_link_conn *conn; // the host that shows it
};

struct vd_guest_notify {
	struct vd_guest_service *service;
	int image_size;
	char **data_dirs;
	size_t ndirs;
	struct wl_list hosts; // host_ref.link
	struct wl_list notes; // note.link
	size_t count;
	uint32_t next_id;
	uint32_t caps; // VD_LINK_NOTIFY_CAP_BITS_*, from the host
};

/* ---- signals ---- */

static struct vd_dbus *bus_of(struct vd_guest_notify *notify) {
	return vd_guest_service_bus(notify->service);
}

static void emit(struct vd_guest_notify *notify, const char *member, int type2, const void *arg2,
		uint32_t id) {
	struct vd_dbus *bus = bus_of(notify);
	if (bus == NULL) {
		return;
	}
	DBusMessage *msg = dbus_message_new_signal(PATH, NAME, member);
	dbus_uint32_t nid = id;
	if (msg != NULL && dbus_message_append_args(msg, DBUS_TYPE_UINT32, &nid, type2, arg2,
			DBUS_TYPE_INVALID)) {
		vd_dbus_send(bus, msg);
	}
	if (msg != NULL) {
		dbus_message_unref(msg);
	}
}

static void emit_closed(struct vd_guest_notify *notify, uint32_t id, uint32_t reason) {
	dbus_uint32_t r = reason;
	emit(notify, "NotificationClosed", DBUS_TYPE_UINT32, &r, id);
}

static void note_free(struct vd_guest_notify *notify, struct note *note) {
	wl_list_remove(&note->link);
	notify->count--;
	free(note);
}

static struct note *find_note(struct vd_guest_notify *notify, uint32_t id) {
	struct note *note;
	wl_list_for_each(note, &notify->notes, link) {
		if (note->id == id) {
			return note;
		}
	}
	return NULL;
}

/* ---- Notify ---- */

static struct host_ref *primary_host(struct vd_guest_notify *notify) {
	if (wl_list_empty(&notify->hosts)) {
		return NULL;
	}
	struct host_ref *host = wl_container_of(notify->hosts.next, host, link);
	return host;
}

static uint32_t new_id(struct vd_guest_notify *notify) {
	for (;;) {
		if (++notify->next_id == 0) {
			notify->next_id = 1;
		}
		if (find_note(notify, notify->next_id) == NULL) {
			return notify->next_id;
		}
	}
}

static void handle_notify(struct vd_guest_notify *notify, struct vd_dbus *bus, DBusMessage *call) {
	if (!dbus_message_has_signature(call, "susssasa{sv}i")) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "Notify takes (susssasa{sv}i)");
		return;
	}
	struct host_ref *host = primary_host(notify);
	if (host == NULL) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_FAILED, "no host is connected");
		return;
	}
	struct vd_guest_notify_request req;
	char err[128];
	if (!vd_guest_notify_request_parse(call, notify->image_size, notify->data_dirs,
			notify->ndirs, &req, err, sizeof(err))) {
		vd_dbus_reply_error(bus, call, err[0] != '\0' ? DBUS_ERROR_INVALID_ARGS :
			DBUS_ERROR_NO_MEMORY, "%s", err[0] != '\0' ? err : "out of memory");
		return;
	}
	uint32_t replaces_id = req.replaces_id;
	struct note *note = replaces_id != 0 ? find_note(notify, replaces_id) : NULL;
	if (note != NULL && note->conn != host->conn) {
		note = NULL; // shown by a host that is gone
	}
	if (note != NULL) {
		req.flags |= VD_LINK_NOTIFY_FLAGS_REPLACE;
	} else {
		if (notify->count >= MAX_NOTES) {
			struct note *oldest = wl_container_of(notify->notes.prev, oldest, link);
			struct vd_link_msg close = {.type = VD_LINK_NOTIFY_CLOSE, .id = oldest->id};
			vd_link_conn_send(oldest->conn, &close);
			emit_closed(notify, oldest->id, VD_LINK_CLOSE_REASON_UNDEFINED);
			note_free(notify, oldest);
		}
		note = calloc(1, sizeof(*note));
		if (note == NULL) {
			vd_dbus_reply_error(bus, call, DBUS_ERROR_NO_MEMORY, "out of memory");
			vd_guest_notify_request_finish(&req);
			return;
		}
		note->id = new_id(notify);
		note->conn = host->conn;
		wl_list_insert(&notify->notes, &note->link);
		notify->count++;
	}
	struct vd_link_msg msg = {.type = VD_LINK_NOTIFY, .id = note->id};
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
	};
	if (req.image.rgba != NULL) {
		msg.body.notify.image = req.image.rgba;
		msg.body.notify.image_len = (uint32_t)req.image.len;
		msg.body.notify.image_width = req.image.width;
		msg.body.notify.image_height = req.image.height;
	}
	uint32_t id = note->id;
	if (!vd_link_conn_send(host->conn, &msg)) {
		note_free(notify, note);
		vd_dbus_reply_error(bus, call, DBUS_ERROR_FAILED, "the host link is closing");
		vd_guest_notify_request_finish(&req);
		return;
	}
	vd_guest_notify_request_finish(&req);
	DBusMessage *reply = dbus_message_new_method_return(call);
	dbus_uint32_t rid = id;
	if (reply != NULL && dbus_message_append_args(reply, DBUS_TYPE_UINT32, &rid,
			DBUS_TYPE_INVALID)) {
		vd_dbus_send(bus, reply);
	}
	if (reply != NULL) {
		dbus_message_unref(reply);
	}
}

/* ---- the object ---- */

static void reply_strings(struct vd_dbus *bus, DBusMessage *call, const char *const *strings,
		size_t n, bool array) {
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply == NULL) {
		return;
	}
	DBusMessageIter args, sub;
	dbus_message_iter_init_append(reply, &args);
	DBusMessageIter *to = &args;
	bool ok = true;
	if (array) {
		ok = dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "s", &sub);
		to = &sub;
	}
	for (size_t i = 0; ok && i < n; i++) {
		ok = dbus_message_iter_append_basic(to, DBUS_TYPE_STRING, &strings[i]);
	}
	if (ok && array) {
		ok = dbus_message_iter_close_container(&args, &sub);
	}
	if (ok) {
		vd_dbus_send(bus, reply);
	}
	dbus_message_unref(reply);
}

static void handle_get_caps(struct vd_guest_notify *notify, struct vd_dbus *bus, DBusMessage *call) {
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{VD_LINK_NOTIFY_CAP_BITS_ACTIONS, "actions"},
		{VD_LINK_NOTIFY_CAP_BITS_BODY, "body"},
		{VD_LINK_NOTIFY_CAP_BITS_ICON_STATIC, "icon-static"},
		{VD_LINK_NOTIFY_CAP_BITS_PERSISTENCE, "persistence"},
		{VD_LINK_NOTIFY_CAP_BITS_SOUND, "sound"},
	};
	const char *caps[5];
	size_t n = 0;
	for (size_t i = 0; i < 5; i++) {
		if (notify->caps & names[i].bit) {
			caps[n++] = names[i].name;
		}
	}
	reply_strings(bus, call, caps, n, true);
}

static DBusHandlerResult handle_object(DBusConnection *conn, DBusMessage *call, void *data) {
	struct vd_guest_notify *notify = data;
	struct vd_dbus *bus = bus_of(notify);
	if (bus == NULL || dbus_message_get_type(call) != DBUS_MESSAGE_TYPE_METHOD_CALL) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	if (dbus_message_is_method_call(call, NAME, "Notify")) {
		handle_notify(notify, bus, call);
	} else if (dbus_message_is_method_call(call, NAME, "CloseNotification")) {
		dbus_uint32_t id;
		if (!dbus_message_get_args(call, NULL, DBUS_TYPE_UINT32, &id, DBUS_TYPE_INVALID)) {
			vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "takes (u)");
			return DBUS_HANDLER_RESULT_HANDLED;
		}
		struct note *note = find_note(notify, id);
		if (note != NULL) {
			/* the host answers with NOTIFY_CLOSED, which becomes NotificationClosed */
			struct vd_link_msg msg = {.type = VD_LINK_NOTIFY_CLOSE, .id = id};
			vd_link_conn_send(note->conn, &msg);
		}
		reply_strings(bus, call, NULL, 0, false);
	} else if (dbus_message_is_method_call(call, NAME, "GetCapabilities")) {
		handle_get_caps(notify, bus, call);
	} else if (dbus_message_is_method_call(call, NAME, "GetServerInformation")) {
		static const char *const info[] = {"vmdesk-guestd", "vmdesk", VD_VERSION, "1.2"};
		reply_strings(bus, call, info, 4, false);
	} else if (dbus_message_is_method_call(call, DBUS_INTERFACE_INTROSPECTABLE, "Introspect")) {
		vd_dbus_reply_introspect(bus, call, introspection);
	} else {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	return DBUS_HANDLER_RESULT_HANDLED;
}

static const DBusObjectPathVTable object_vtable = {
	.message_function = handle_object,
};

static void handle_connected(void *data, struct vd_dbus *bus) {
	if (!dbus_connection_register_object_path(vd_dbus_connection(bus), PATH, &object_vtable,
			data)) {
		vd_log(VD_ERROR, "cannot register %s", PATH);
	}
}

static void handle_owned(void *data, bool owned) {
}

static void handle_disconnected(void *data) {
	/* the applications that knew the ids are gone with the bus */
	struct vd_guest_notify *notify = data;
	struct note *note, *tmp;
	wl_list_for_each_safe(note, tmp, &notify->notes, link) {
		note_free(notify, note);
	}
}

static const struct vd_guest_service_impl service_impl = {
	.connected = handle_connected,
	.owned = handle_owned,
	.disconnected = handle_disconnected,
};

/* ---- the host links ---- */

static void host_up(void *data, struct vd_link_conn *conn) {
	struct vd_guest_notify *notify = data;
	struct host_ref *host = calloc(1, sizeof(*host));
	if (host == NULL) {
		return;
	}
	host->conn = conn;
	wl_list_insert(notify->hosts.prev, &host->link);
}

static void host_down(void *data, struct vd_link_conn *conn) {
	struct vd_guest_notify *notify = data;
	struct host_ref *host, *htmp;
	wl_list_for_each_safe(host, htmp, &notify->hosts, link) {
		if (host->conn == conn) {
			wl_list_remove(&host->link);
			free(host);
		}
	}
	struct note *note, *tmp;
	wl_list_for_each_safe(note, tmp, &notify->notes, link) {
		if (note->conn == conn) {
			emit_closed(notify, note->id, VD_LINK_CLOSE_REASON_UNDEFINED);
			note_free(notify, note);
		}
	}
}

static void host_message(void *data, struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct vd_guest_notify *notify = data;
	struct note *note = find_note(notify, msg->id);
	switch (msg->type) {
	case VD_LINK_NOTIFY_CAPS:
		if (primary_host(notify) != NULL && primary_host(notify)->conn == conn) {
			notify->caps = msg->body.notify_caps.caps;
		}
		return;
	case VD_LINK_NOTIFY_CLOSED:
		if (note != NULL && note->conn == conn) {
			emit_closed(notify, note->id, msg->body.notify_closed.reason);
			note_free(notify, note);
		}
		return;
	case VD_LINK_NOTIFY_ACTION:
		if (note != NULL && note->conn == conn) {
			const char *key = msg->body.notify_action.key;
			emit(notify, "ActionInvoked", DBUS_TYPE_STRING, &key, note->id);
		}
		return;
	default:
		return;
	}
}

struct vd_guest_module vd_guest_notify_module(struct vd_guest_notify *notify) {
	return (struct vd_guest_module){
		.caps = VD_LINK_CAP_NOTIFY,
		.host_up = host_up,
		.message = host_message,
		.host_down = host_down,
		.data = notify,
	};
}

struct vd_guest_notify *vd_guest_notify_create(struct wl_event_loop *loop, const char *bus_address,
		enum vd_guest_service_mode mode, int image_size) {
	struct vd_guest_notify *notify = calloc(1, sizeof(*notify));
	if (notify == NULL) {
		return NULL;
	}
	notify->image_size = image_size;
	notify->caps = VD_LINK_NOTIFY_CAP_BITS_BODY;
	wl_list_init(&notify->hosts);
	wl_list_init(&notify->notes);
	notify->data_dirs = vd_guest_data_dirs(&notify->ndirs);
	notify->service = vd_guest_service_create(loop, bus_address, NAME, mode, &service_impl,
		notify);
	if (notify->service == NULL) {
		vd_guest_notify_destroy(notify);
		return NULL;
	}
	return notify;
}

void vd_guest_notify_destroy(struct vd_guest_notify *notify) {
	if (notify == NULL) {
		return;
	}
	vd_guest_service_destroy(notify->service);
	struct note *note, *tmp;
	wl_list_for_each_safe(note, tmp, &notify->notes, link) {
		note_free(notify, note);
	}
	struct host_ref *host, *htmp;
	wl_list_for_each_safe(host, htmp, &notify->hosts, link) {
		wl_list_remove(&host->link);
		free(host);
	}
	vd_guest_data_dirs_free(notify->data_dirs, notify->ndirs);
	free(notify);
}
