#define LOG_TAG "notify"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "guest/apps.h"
#include "guest/image.h"
#include "guest/notify.h"
#include "protocols/log.h"
#include "protocols/names.h"

#define NAME "org.freedesktop.Notifications"
#define PATH "/org/freedesktop/Notifications"
/* Notifications the guest remembers (for replaces_id, close, signals); the oldest goes first. */
#define MAX_NOTES 256
#define APP_NAME_MAX 128
#define SUMMARY_MAX 1024
#define LABEL_MAX 256

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

/* What one Notify call asks, checked and cut down to what the link carries. */
struct request {
	char *app_name, *summary, *body;
	struct vd_link_notify_actions actions[VD_LINK_MAX_ACTIONS];
	char *labels[VD_LINK_MAX_ACTIONS];
	uint32_t nactions;
	uint8_t urgency;
	const char *category;
	uint32_t flags;
	uint32_t expire_ms;
	struct vd_guest_image image;
	bool have_image_data;
	const char *image_path;
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

static void request_finish(struct request *req) {
	free(req->app_name);
	free(req->summary);
	free(req->body);
	for (uint32_t i = 0; i < req->nactions; i++) {
		free(req->labels[i]);
	}
	vd_guest_image_finish(&req->image);
}

static void parse_actions(struct request *req, DBusMessageIter *array) {
	DBusMessageIter it = *array;
	while (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING &&
			req->nactions < VD_LINK_MAX_ACTIONS) {
		const char *key, *label;
		dbus_message_iter_get_basic(&it, &key);
		if (!dbus_message_iter_next(&it)) {
			break; // an odd count: the last key has no label
		}
		dbus_message_iter_get_basic(&it, &label);
		dbus_message_iter_next(&it);
		if (!vd_action_key_valid(key, strlen(key))) {
			vd_log(VD_DEBUG, "action key \"%s\" dropped", key);
			continue;
		}
		char *clean = vd_title_sanitize(label, LABEL_MAX);
		if (clean == NULL) {
			continue;
		}
		req->labels[req->nactions] = clean;
		req->actions[req->nactions++] = (struct vd_link_notify_actions){key, clean};
	}
}

/* image-data (iiibiiay), decoded here: the host gets pixels or nothing. */
static void parse_image_data(struct vd_guest_notify *notify, struct request *req,
		DBusMessageIter *variant) {
	char *sig = dbus_message_iter_get_signature(variant);
	bool ok = sig != NULL && strcmp(sig, "(iiibiiay)") == 0;
	dbus_free(sig);
	if (!ok || req->have_image_data) {
		return;
	}
	DBusMessageIter st, bytes;
	dbus_message_iter_recurse(variant, &st);
	dbus_int32_t v[6];
	dbus_bool_t alpha = FALSE;
	for (int i = 0; i < 6; i++) { // width, height, rowstride, has_alpha, bits, channels
		if (i == 3) {
			dbus_message_iter_get_basic(&st, &alpha);
		} else {
			dbus_message_iter_get_basic(&st, &v[i < 3 ? i : i - 1]);
		}
		dbus_message_iter_next(&st);
	}
	dbus_message_iter_recurse(&st, &bytes);
	const uint8_t *data = NULL;
	int len = 0;
	dbus_message_iter_get_fixed_array(&bytes, &data, &len);
	if (vd_guest_image_from_data(v[0], v[1], v[2], alpha, v[3], v[4], data, (size_t)len,
			notify->image_size, &req->image)) {
		req->have_image_data = true;
	} else {
		vd_log(VD_DEBUG, "image-data %dx%d (rowstride %d, %d bits, %d channels, %d bytes) "
			"refused", v[0], v[1], v[2], v[3], v[4], len);
	}
}

static void parse_hints(struct vd_guest_notify *notify, struct request *req,
		DBusMessageIter *array) {
	DBusMessageIter it = *array;
	while (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter entry, variant;
		const char *key;
		dbus_message_iter_recurse(&it, &entry);
		dbus_message_iter_get_basic(&entry, &key);
		dbus_message_iter_next(&entry);
		dbus_message_iter_recurse(&entry, &variant);
		int type = dbus_message_iter_get_arg_type(&variant);
		if (strcmp(key, "urgency") == 0 && type == DBUS_TYPE_BYTE) {
			uint8_t u;
			dbus_message_iter_get_basic(&variant, &u);
			if (u <= VD_LINK_URGENCY_CRITICAL) {
				req->urgency = u;
			}
		} else if (strcmp(key, "category") == 0 && type == DBUS_TYPE_STRING) {
			const char *c;
			dbus_message_iter_get_basic(&variant, &c);
			if (vd_notify_category_valid(c, strlen(c))) {
				req->category = c;
			}
		} else if (type == DBUS_TYPE_BOOLEAN && (strcmp(key, "transient") == 0 ||
				strcmp(key, "resident") == 0 || strcmp(key, "suppress-sound") == 0)) {
			dbus_bool_t b;
			dbus_message_iter_get_basic(&variant, &b);
			uint32_t flag = key[0] == 't' ? VD_LINK_NOTIFY_FLAGS_TRANSIENT :
				key[0] == 'r' ? VD_LINK_NOTIFY_FLAGS_RESIDENT :
				VD_LINK_NOTIFY_FLAGS_SUPPRESS_SOUND;
			req->flags = b ? req->flags | flag : req->flags & ~flag;
		} else if (strcmp(key, "image-data") == 0 || strcmp(key, "image_data") == 0 ||
				strcmp(key, "icon_data") == 0) {
			parse_image_data(notify, req, &variant);
		} else if ((strcmp(key, "image-path") == 0 || strcmp(key, "image_path") == 0) &&
				type == DBUS_TYPE_STRING) {
			dbus_message_iter_get_basic(&variant, &req->image_path);
		}
		dbus_message_iter_next(&it);
	}
}

/* An icon name, an absolute path or a file:// URI of a PNG or SVG, rendered here. */
static void load_image_path(struct vd_guest_notify *notify, struct request *req,
		const char *path) {
	if (path == NULL || path[0] == '\0') {
		return;
	}
	if (strncmp(path, "file://", 7) == 0) {
		path += 7;
	}
	char *file = vd_guest_icon_lookup(path, notify->image_size, notify->data_dirs, notify->ndirs);
	if (file == NULL) {
		vd_log(VD_DEBUG, "image %s not found", path);
		return;
	}
	uint8_t *rgba;
	size_t len;
	uint16_t w, h;
	if (vd_guest_icon_render(file, notify->image_size, &rgba, &len, &w, &h)) {
		vd_guest_image_finish(&req->image);
		req->image = (struct vd_guest_image){rgba, len, w, h};
	}
	free(file);
}

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
	DBusMessageIter args, sub;
	dbus_message_iter_init(call, &args);
	const char *app_name, *app_icon, *summary, *body;
	dbus_uint32_t replaces_id;
	dbus_int32_t expire;
	dbus_message_iter_get_basic(&args, &app_name);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &replaces_id);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &app_icon);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &summary);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &body);
	dbus_message_iter_next(&args);
	struct request req = {.urgency = VD_LINK_URGENCY_NORMAL, .category = "",
		.expire_ms = VD_LINK_NOTIFY_EXPIRE_DEFAULT};
	dbus_message_iter_recurse(&args, &sub);
	parse_actions(&req, &sub);
	dbus_message_iter_next(&args);
	dbus_message_iter_recurse(&args, &sub);
	parse_hints(notify, &req, &sub);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &expire);
	if (expire < -1) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "expire_timeout %d", expire);
		request_finish(&req);
		return;
	}
	if (expire >= 0) {
		req.expire_ms = (uint32_t)expire > VD_LINK_MAX_EXPIRE_MS ? VD_LINK_MAX_EXPIRE_MS :
			(uint32_t)expire;
	}
	if (!req.have_image_data) {
		load_image_path(notify, &req, req.image_path != NULL ? req.image_path : app_icon);
	}
	req.app_name = vd_title_sanitize(app_name, APP_NAME_MAX);
	req.summary = vd_title_sanitize(summary, SUMMARY_MAX);
	req.body = vd_text_block_sanitize(body, VD_TEXT_MAX_LINES, VD_LINK_MAX_NOTIFY_BODY);
	if (req.app_name == NULL || req.summary == NULL || req.body == NULL) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_NO_MEMORY, "out of memory");
		request_finish(&req);
		return;
	}
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
			request_finish(&req);
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
		request_finish(&req);
		return;
	}
	request_finish(&req);
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
		const char *xml = introspection;
		reply_strings(bus, call, &xml, 1, false);
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
