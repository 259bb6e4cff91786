#define LOG_TAG "tray"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "guest/apps.h"
#include "guest/image.h"
#include "guest/tray-menu.h"
#include "guest/tray-event.h"
#include "guest/tray-props.h"
#include "guest/tray-watcher.h"
#include "guest/tray.h"
#include "protocols/clock.h"
#include "protocols/log.h"

#define WATCHER "org.kde.StatusNotifierWatcher"
#define WATCHER_PATH "/StatusNotifierWatcher"
#define ITEM_IFACE "org.kde.StatusNotifierItem"
#define MENU_IFACE "com.canonical.dbusmenu"
#define FETCH_TIMEOUT_MS 2000
#define FETCH_INTERVAL_MS 200
#define ICON_SIZE 48
#define TEXT_MAX 256
#define TOOLTIP_LINES 10
#define TOOLTIP_MAX 4096

struct item {
	struct vd_guest_tray *tray;
	struct wl_list link; // vd_guest_tray.items
	uint32_t id; // on the link
	char *service; // as registered, as RegisteredStatusNotifierItems lists it
	char *bus_name; // where its methods are called
	char *owner; // its unique name (signals come from it); NULL until known
	char *path;
	char *menu_path; // NULL: no menu
	char rule[600], menu_rule[600];
	struct vd_dbus_call *owner_call, *props_call, *menu_call;
	struct wl_event_source *timer;
	bool props_wanted, menu_wanted;
	uint64_t props_at, menu_at;
	bool known; // its properties were read once: the host has it
	uint64_t item_hash, icon_hash[3];
	struct vd_guest_tray_menu menu;
	bool menu_sent;
};

struct host_ref {
	struct wl_list link; // vd_guest_tray.hosts, oldest first
	struct vd_link_conn *conn;
};

struct vd_guest_tray {
	struct wl_event_loop *loop;
	struct vd_guest_service *service;
	struct wl_list items; // item.link
	size_t count;
	uint32_t next_id;
	struct wl_list hosts; // host_ref.link
	char **data_dirs;
	size_t ndirs;
};

static struct vd_dbus *bus_of(struct vd_guest_tray *tray) {
	return vd_guest_service_bus(tray->service);
}

static struct vd_link_conn *host_conn(struct vd_guest_tray *tray) {
	if (wl_list_empty(&tray->hosts)) {
		return NULL;
	}
	struct host_ref *host = wl_container_of(tray->hosts.next, host, link);
	return host->conn;
}

static void send_host(struct vd_guest_tray *tray, const struct vd_link_msg *msg) {
	struct vd_link_conn *conn = host_conn(tray);
	if (conn != NULL) {
		vd_link_conn_send(conn, msg);
	}
}

static void emit_watcher(struct vd_guest_tray *tray, const char *member, const char *service) {
	struct vd_dbus *bus = bus_of(tray);
	DBusMessage *msg = bus != NULL ? dbus_message_new_signal(WATCHER_PATH, WATCHER, member) : NULL;
	if (msg == NULL) {
		return;
	}
	if (service == NULL || dbus_message_append_args(msg, DBUS_TYPE_STRING, &service,
			DBUS_TYPE_INVALID)) {
		vd_dbus_send(bus, msg);
	}
	dbus_message_unref(msg);
}

/* ---- items ---- */

static void item_free(struct item *item, bool tell) {
	struct vd_guest_tray *tray = item->tray;
	struct vd_dbus *bus = bus_of(tray);
	if (tell && item->known) {
		struct vd_link_msg msg = {.type = VD_LINK_TRAY_REMOVE, .id = item->id};
		send_host(tray, &msg);
	}
	if (tell) {
		emit_watcher(tray, "StatusNotifierItemUnregistered", item->service);
	}
	if (bus != NULL && item->rule[0] != '\0') {
		vd_dbus_remove_match(bus, item->rule);
	}
	if (bus != NULL && item->menu_rule[0] != '\0') {
		vd_dbus_remove_match(bus, item->menu_rule);
	}
	vd_dbus_call_cancel(item->owner_call);
	vd_dbus_call_cancel(item->props_call);
	vd_dbus_call_cancel(item->menu_call);
	wl_event_source_remove(item->timer);
	vd_guest_tray_menu_finish(&item->menu);
	wl_list_remove(&item->link);
	tray->count--;
	free(item->service);
	free(item->bus_name);
	free(item->owner);
	free(item->path);
	free(item->menu_path);
	free(item);
}

static DBusMessage *item_call(struct item *item, const char *path, const char *iface,
		const char *method) {
	DBusMessage *msg = dbus_message_new_method_call(item->bus_name, path, iface, method);
	if (msg != NULL) {
		dbus_message_set_auto_start(msg, FALSE);
	}
	return msg;
}

static uint8_t enum_of(const char *s, const char *const *names, size_t n, uint8_t dflt) {
	for (size_t i = 0; s != NULL && i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			return (uint8_t)(i + 1);
		}
	}
	return dflt;
}

static void send_item(struct item *item, const struct vd_guest_tray_props *p) {
	static const char *const categories[] = {"ApplicationStatus", "Communications",
		"SystemServices", "Hardware"};
	static const char *const statuses[] = {"Passive", "Active", "NeedsAttention"};
	char *id = vd_title_sanitize(p->id, TEXT_MAX);
	char *title = vd_title_sanitize(p->title, TEXT_MAX);
	char *tip_title = vd_title_sanitize(p->tip_title, TEXT_MAX);
	char *tip_body = vd_text_block_sanitize(p->tip_body, TOOLTIP_LINES, TOOLTIP_MAX);
	if (id != NULL && title != NULL && tip_title != NULL && tip_body != NULL) {
		struct vd_link_msg msg = {.type = VD_LINK_TRAY_ITEM, .id = item->id};
		msg.body.tray_item = (struct vd_link_tray_item){
			.item_id = id,
			.title = title,
			.category = enum_of(p->category, categories, 4,
				VD_LINK_TRAY_CATEGORY_APPLICATION_STATUS),
			.status = enum_of(p->status, statuses, 3, VD_LINK_TRAY_STATUS_ACTIVE),
			.tooltip_title = tip_title,
			.tooltip_body = tip_body,
			.item_is_menu = p->item_is_menu,
			.has_menu = item->menu_path != NULL,
		};
		const struct vd_link_tray_item *t = &msg.body.tray_item;
		uint8_t fixed[] = {t->category, t->status, t->item_is_menu, t->has_menu};
		uint64_t h = vd_guest_hash(VD_GUEST_HASH_INIT, fixed, sizeof(fixed));
		const char *strings[] = {id, title, tip_title, tip_body};
		for (int i = 0; i < 4; i++) {
			h = vd_guest_hash(h, strings[i], strlen(strings[i]) + 1);
		}
		if (!item->known || h != item->item_hash) {
			send_host(item->tray, &msg);
			item->item_hash = h;
		}
	}
	free(id);
	free(title);
	free(tip_title);
	free(tip_body);
	for (int k = 0; k < 3; k++) {
		const struct vd_guest_image *image = &p->images[k];
		uint64_t h = vd_guest_hash(VD_GUEST_HASH_INIT, image->rgba, image->len);
		h = vd_guest_hash(h, &image->width, sizeof(image->width));
		if (item->known && h == item->icon_hash[k]) {
			continue;
		}
		item->icon_hash[k] = h;
		struct vd_link_msg msg = {.type = VD_LINK_TRAY_ICON, .id = item->id};
		msg.body.tray_icon = (struct vd_link_tray_icon){.kind = (uint8_t)(k + 1),
			.width = image->width, .height = image->height, .data = image->rgba,
			.data_len = (uint32_t)image->len};
		send_host(item->tray, &msg);
	}
	item->known = true;
}

static void send_menu(struct item *item) {
	if (item->menu_sent || !item->known) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_TRAY_MENU, .id = item->id};
	msg.body.tray_menu.items = item->menu.items;
	msg.body.tray_menu.items_count = item->menu.count;
	send_host(item->tray, &msg);
	item->menu_sent = true;
}

/* ---- fetching, at most once per FETCH_INTERVAL_MS per kind ---- */

static void pump(struct item *item);

static void set_menu_path(struct item *item, const char *path) {
	struct vd_dbus *bus = bus_of(item->tray);
	bool same = (path == NULL && item->menu_path == NULL) ||
		(path != NULL && item->menu_path != NULL && strcmp(path, item->menu_path) == 0);
	if (same || bus == NULL) {
		return;
	}
	if (item->menu_rule[0] != '\0') {
		vd_dbus_remove_match(bus, item->menu_rule);
		item->menu_rule[0] = '\0';
	}
	free(item->menu_path);
	item->menu_path = NULL;
	vd_dbus_call_cancel(item->menu_call);
	item->menu_call = NULL;
	if (path != NULL && dbus_validate_path(path, NULL) && strcmp(path, "/") != 0) {
		item->menu_path = strdup(path);
		snprintf(item->menu_rule, sizeof(item->menu_rule),
			"type='signal',sender='%s',path='%s',interface='" MENU_IFACE "'", item->bus_name,
			path);
		vd_dbus_add_match(bus, item->menu_rule);
		item->menu_wanted = true;
	}
}

static void handle_props(DBusMessage *reply, void *data) {
	struct item *item = data;
	item->props_call = NULL;
	DBusMessageIter args, dict;
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_METHOD_RETURN ||
			!dbus_message_has_signature(reply, "a{sv}") ||
			!dbus_message_iter_init(reply, &args)) {
		const char *text;
		const char *err = vd_dbus_error_text(reply, &text);
		vd_log(VD_INFO, "item %s: its properties cannot be read: %s %s", item->service, err,
			text);
		pump(item);
		return;
	}
	dbus_message_iter_recurse(&args, &dict);
	struct vd_guest_tray_props p;
	vd_guest_tray_props_parse(&dict, item->tray->data_dirs, item->tray->ndirs, ICON_SIZE, &p);
	bool was_known = item->known;
	set_menu_path(item, p.menu);
	send_item(item, &p);
	vd_guest_tray_props_finish(&p);
	if (!was_known) {
		send_menu(item); // one parsed before the properties came
	}
	pump(item);
}

static void handle_menu(DBusMessage *reply, void *data) {
	struct item *item = data;
	item->menu_call = NULL;
	uint64_t old = item->menu.count > 0 || item->menu_sent ? item->menu.hash : 0;
	if (!vd_guest_tray_menu_parse(reply, item->tray->data_dirs, item->tray->ndirs,
			&item->menu)) {
		const char *text;
		const char *err = vd_dbus_error_text(reply, &text);
		vd_log(VD_INFO, "item %s: its menu cannot be read: %s %s", item->service, err, text);
	} else if (!item->menu_sent || item->menu.hash != old) {
		item->menu_sent = false;
		send_menu(item);
	}
	pump(item);
}

static void start_props(struct item *item) {
	DBusMessage *msg = item_call(item, item->path, DBUS_INTERFACE_PROPERTIES, "GetAll");
	const char *iface = ITEM_IFACE;
	if (msg != NULL && dbus_message_append_args(msg, DBUS_TYPE_STRING, &iface,
			DBUS_TYPE_INVALID)) {
		item->props_call = vd_dbus_call(bus_of(item->tray), msg, FETCH_TIMEOUT_MS,
			handle_props, item);
	}
	if (msg != NULL) {
		dbus_message_unref(msg);
	}
}

static void start_menu(struct item *item) {
	DBusMessage *msg = item_call(item, item->menu_path, MENU_IFACE, "GetLayout");
	dbus_int32_t parent = 0, depth = -1;
	DBusMessageIter args, names;
	if (msg != NULL) {
		dbus_message_iter_init_append(msg, &args);
		if (dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &parent) &&
				dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &depth) &&
				dbus_message_iter_open_container(&args, DBUS_TYPE_ARRAY, "s", &names) &&
				dbus_message_iter_close_container(&args, &names)) {
			item->menu_call = vd_dbus_call(bus_of(item->tray), msg, FETCH_TIMEOUT_MS,
				handle_menu, item);
		}
		dbus_message_unref(msg);
	}
}

static void pump(struct item *item) {
	if (bus_of(item->tray) == NULL) {
		return;
	}
	uint64_t now = vd_now_ms();
	uint64_t wait = 0;
	if (item->props_wanted && item->props_call == NULL) {
		if (now - item->props_at >= FETCH_INTERVAL_MS) {
			item->props_wanted = false;
			item->props_at = now;
			start_props(item);
		} else {
			wait = item->props_at + FETCH_INTERVAL_MS - now;
		}
	}
	if (item->menu_wanted && item->menu_call == NULL && item->menu_path != NULL) {
		if (now - item->menu_at >= FETCH_INTERVAL_MS) {
			item->menu_wanted = false;
			item->menu_at = now;
			start_menu(item);
		} else {
			uint64_t w = item->menu_at + FETCH_INTERVAL_MS - now;
			wait = wait == 0 || w < wait ? w : wait;
		}
	}
	if (wait > 0) {
		wl_event_source_timer_update(item->timer, (int)wait);
	}
}

static int handle_timer(void *data) {
	pump(data);
	return 0;
}

static void handle_owner(DBusMessage *reply, void *data) {
	struct item *item = data;
	item->owner_call = NULL;
	const char *owner;
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_METHOD_RETURN &&
			dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &owner, DBUS_TYPE_INVALID)) {
		free(item->owner);
		item->owner = strdup(owner);
		return;
	}
	item_free(item, true); // registered a name no one holds
}

/* ---- the watcher ---- */

static struct item *find_item(struct vd_guest_tray *tray, const char *service) {
	struct item *item;
	wl_list_for_each(item, &tray->items, link) {
		if (strcmp(item->service, service) == 0) {
			return item;
		}
	}
	return NULL;
}

static void register_item(struct vd_guest_tray *tray, struct vd_dbus *bus, DBusMessage *call) {
	const char *arg, *sender = dbus_message_get_sender(call);
	if (!dbus_message_get_args(call, NULL, DBUS_TYPE_STRING, &arg, DBUS_TYPE_INVALID) ||
			sender == NULL) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "takes (s)");
		return;
	}
	/* libappindicator registers an object path: the item is the caller's, at that path */
	const char *bus_name = arg[0] == '/' ? sender : arg;
	const char *path = arg[0] == '/' ? arg : "/StatusNotifierItem";
	if (!dbus_validate_bus_name(bus_name, NULL) || !dbus_validate_path(path, NULL)) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_INVALID_ARGS, "not a bus name or path");
		return;
	}
	char service[600];
	snprintf(service, sizeof(service), "%s%s", bus_name, arg[0] == '/' ? path : "");
	if (find_item(tray, service) == NULL) {
		if (tray->count >= VD_LINK_MAX_TRAY_ITEMS) {
			vd_dbus_reply_error(bus, call, DBUS_ERROR_LIMITS_EXCEEDED, "%d items already",
				VD_LINK_MAX_TRAY_ITEMS);
			return;
		}
		struct item *item = calloc(1, sizeof(*item));
		if (item != NULL) {
			item->service = strdup(service);
			item->bus_name = strdup(bus_name);
			item->path = strdup(path);
			item->timer = wl_event_loop_add_timer(tray->loop, handle_timer, item);
		}
		if (item == NULL || item->service == NULL || item->bus_name == NULL ||
				item->path == NULL || item->timer == NULL) {
			if (item != NULL) {
				if (item->timer != NULL) {
					wl_event_source_remove(item->timer);
				}
				free(item->service);
				free(item->bus_name);
				free(item->path);
				free(item);
			}
			vd_dbus_reply_error(bus, call, DBUS_ERROR_NO_MEMORY, "out of memory");
			return;
		}
		item->tray = tray;
		if (++tray->next_id == 0) {
			tray->next_id = 1;
		}
		item->id = tray->next_id;
		wl_list_insert(tray->items.prev, &item->link);
		tray->count++;
		snprintf(item->rule, sizeof(item->rule),
			"type='signal',sender='%s',path='%s',interface='" ITEM_IFACE "'", bus_name, path);
		vd_dbus_add_match(bus, item->rule);
		if (bus_name[0] == ':') {
			item->owner = strdup(bus_name);
		} else {
			DBusMessage *msg = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
				DBUS_INTERFACE_DBUS, "GetNameOwner");
			if (msg != NULL && dbus_message_append_args(msg, DBUS_TYPE_STRING, &bus_name,
					DBUS_TYPE_INVALID)) {
				item->owner_call = vd_dbus_call(bus, msg, FETCH_TIMEOUT_MS, handle_owner, item);
			}
			if (msg != NULL) {
				dbus_message_unref(msg);
			}
		}
		vd_log(VD_INFO, "item %s registered", service);
		item->props_wanted = true;
		pump(item);
		emit_watcher(tray, "StatusNotifierItemRegistered", service);
	}
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply != NULL) {
		vd_dbus_send(bus, reply);
		dbus_message_unref(reply);
	}
}

static DBusHandlerResult handle_object(DBusConnection *conn, DBusMessage *call, void *data) {
	struct vd_guest_tray *tray = data;
	struct vd_dbus *bus = bus_of(tray);
	if (bus == NULL || dbus_message_get_type(call) != DBUS_MESSAGE_TYPE_METHOD_CALL) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	if (dbus_message_is_method_call(call, WATCHER, "RegisterStatusNotifierItem")) {
		register_item(tray, bus, call);
	} else if (dbus_message_is_method_call(call, WATCHER, "RegisterStatusNotifierHost")) {
		DBusMessage *reply = dbus_message_new_method_return(call);
		if (reply != NULL) {
			vd_dbus_send(bus, reply);
			dbus_message_unref(reply);
		}
	} else {
		const char *services[VD_LINK_MAX_TRAY_ITEMS];
		size_t count = 0;
		struct item *item;
		wl_list_for_each(item, &tray->items, link) {
			if (count < VD_LINK_MAX_TRAY_ITEMS) { // register_item keeps to it
				services[count++] = item->service;
			}
		}
		if (!vd_guest_tray_watcher_handle(bus, call, services, count)) {
			return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
		}
	}
	return DBUS_HANDLER_RESULT_HANDLED;
}

static const DBusObjectPathVTable object_vtable = {
	.message_function = handle_object,
};

/* Items vanish with their owner; their signals ask for a refresh. */
static DBusHandlerResult handle_filter(void *data, DBusMessage *msg) {
	struct vd_guest_tray *tray = data;
	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_SIGNAL) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	const char *sender = dbus_message_get_sender(msg), *path = dbus_message_get_path(msg);
	const char *name, *old_owner, *new_owner;
	if (sender != NULL && strcmp(sender, DBUS_SERVICE_DBUS) == 0 &&
			dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged") &&
			dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING,
				&old_owner, DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID)) {
		struct item *item, *tmp;
		wl_list_for_each_safe(item, tmp, &tray->items, link) {
			bool gone = strcmp(name, item->bus_name) == 0 ||
				(item->owner != NULL && strcmp(name, item->owner) == 0);
			if (gone && (new_owner[0] == '\0' || item->bus_name[0] != ':')) {
				vd_log(VD_INFO, "item %s gone", item->service);
				item_free(item, true);
			}
		}
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	if (sender == NULL || path == NULL) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	struct item *item;
	wl_list_for_each(item, &tray->items, link) {
		if (item->owner == NULL || strcmp(item->owner, sender) != 0) {
			continue;
		}
		if (strcmp(path, item->path) == 0 && dbus_message_has_interface(msg, ITEM_IFACE)) {
			item->props_wanted = true;
			pump(item);
			return DBUS_HANDLER_RESULT_HANDLED;
		}
		if (item->menu_path != NULL && strcmp(path, item->menu_path) == 0 &&
				dbus_message_has_interface(msg, MENU_IFACE)) {
			item->menu_wanted = true;
			pump(item);
			return DBUS_HANDLER_RESULT_HANDLED;
		}
	}
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static void handle_connected(void *data, struct vd_dbus *bus) {
	vd_dbus_add_match(bus, "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='"
		DBUS_INTERFACE_DBUS "',member='NameOwnerChanged'");
	if (!dbus_connection_register_object_path(vd_dbus_connection(bus), WATCHER_PATH,
			&object_vtable, data)) {
		vd_log(VD_ERROR, "cannot register %s", WATCHER_PATH);
	}
}

static void handle_owned(void *data, bool owned) {
	if (owned) {
		emit_watcher(data, "StatusNotifierHostRegistered", NULL); // applets register now
	}
}

static void handle_disconnected(void *data) {
	struct vd_guest_tray *tray = data;
	struct item *item, *tmp;
	wl_list_for_each_safe(item, tmp, &tray->items, link) {
		if (item->known) {
			struct vd_link_msg msg = {.type = VD_LINK_TRAY_REMOVE, .id = item->id};
			send_host(tray, &msg);
		}
		item->rule[0] = item->menu_rule[0] = '\0'; // gone with the bus
		item_free(item, false);
	}
}

static const struct vd_guest_service_impl service_impl = {
	.connected = handle_connected,
	.owned = handle_owned,
	.filter = handle_filter,
	.disconnected = handle_disconnected,
};

/* ---- the host links ---- */

static void resend_all(struct vd_guest_tray *tray) {
	struct item *item;
	wl_list_for_each(item, &tray->items, link) {
		vd_log(VD_DEBUG, "item %s: %s", item->service,
			item->known ? "again, to the host" : "not read yet");
		if (item->known) {
			item->known = false; // everything again, to the new host
			item->menu_sent = false;
			item->props_wanted = item->menu_wanted = true;
			item->props_at = item->menu_at = 0;
			pump(item);
		}
	}
}

static void host_up(void *data, struct vd_link_conn *conn) {
	struct vd_guest_tray *tray = data;
	struct host_ref *host = calloc(1, sizeof(*host));
	if (host == NULL) {
		return;
	}
	bool first = wl_list_empty(&tray->hosts);
	host->conn = conn;
	wl_list_insert(tray->hosts.prev, &host->link);
	if (first) {
		resend_all(tray);
	}
}

static void host_down(void *data, struct vd_link_conn *conn) {
	struct vd_guest_tray *tray = data;
	bool was_primary = host_conn(tray) == conn;
	struct host_ref *host, *tmp;
	wl_list_for_each_safe(host, tmp, &tray->hosts, link) {
		if (host->conn == conn) {
			wl_list_remove(&host->link);
			free(host);
		}
	}
	if (was_primary) {
		resend_all(tray);
	}
}

static struct item *item_by_id(struct vd_guest_tray *tray, uint32_t id) {
	struct item *item;
	wl_list_for_each(item, &tray->items, link) {
		if (item->id == id && item->known) {
			return item;
		}
	}
	return NULL;
}

static void host_message(void *data, struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct vd_guest_tray *tray = data;
	struct item *item = item_by_id(tray, msg->id);
	if (item == NULL || host_conn(tray) != conn || bus_of(tray) == NULL) {
		return; // gone meanwhile
	}
	DBusMessage *call = NULL;
	if (msg->type == VD_LINK_TRAY_EVENT) {
		call = vd_guest_tray_event_call(item->bus_name, item->path, &msg->body.tray_event);
	} else if (msg->type == VD_LINK_TRAY_MENU_EVENT) {
		const struct vd_link_tray_menu_event *ev = &msg->body.tray_menu_event;
		if (item->menu_path == NULL ||
				(ev->menu_id != 0 && !vd_guest_tray_menu_has(&item->menu, ev->menu_id))) {
			return; // not an item of its menu
		}
		call = vd_guest_tray_menu_event_call(item->bus_name, item->menu_path, ev);
	}
	if (call != NULL) {
		dbus_message_set_no_reply(call, TRUE);
		vd_dbus_send(bus_of(tray), call);
		dbus_message_unref(call);
	}
}

struct vd_guest_module vd_guest_tray_module(struct vd_guest_tray *tray) {
	return (struct vd_guest_module){
		.caps = VD_LINK_CAP_TRAY,
		.host_up = host_up,
		.message = host_message,
		.host_down = host_down,
		.data = tray,
	};
}

struct vd_guest_tray *vd_guest_tray_create(struct wl_event_loop *loop, const char *bus_address,
		enum vd_guest_service_mode mode) {
	struct vd_guest_tray *tray = calloc(1, sizeof(*tray));
	if (tray == NULL) {
		return NULL;
	}
	tray->loop = loop;
	wl_list_init(&tray->items);
	wl_list_init(&tray->hosts);
	tray->data_dirs = vd_guest_data_dirs(&tray->ndirs);
	tray->service = vd_guest_service_create(loop, bus_address, WATCHER, mode, &service_impl,
		tray);
	if (tray->service == NULL) {
		vd_guest_tray_destroy(tray);
		return NULL;
	}
	return tray;
}

void vd_guest_tray_destroy(struct vd_guest_tray *tray) {
	if (tray == NULL) {
		return;
	}
	struct item *item, *tmp;
	wl_list_for_each_safe(item, tmp, &tray->items, link) {
		item_free(item, false);
	}
	vd_guest_service_destroy(tray->service);
	struct host_ref *host, *htmp;
	wl_list_for_each_safe(host, htmp, &tray->hosts, link) {
		wl_list_remove(&host->link);
		free(host);
	}
	vd_guest_data_dirs_free(tray->data_dirs, tray->ndirs);
	free(tray);
}
