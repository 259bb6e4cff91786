#define LOG_TAG "tray"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decoration/title.h"
#include "host/tray-menu.h"
#include "host/tray-props.h"
#include "host/tray.h"
#include "protocols/clock.h"
#include "protocols/dbus.h"
#include "protocols/log.h"
#include "protocols/rate.h"

#define ITEM_IFACE "org.kde.StatusNotifierItem"
#define WATCHER "org.kde.StatusNotifierWatcher"
#define WATCHER_PATH "/StatusNotifierWatcher"
#define ITEM_PATH "/StatusNotifierItem"
#define MENU_PATH "/MenuBar"
#define FLUSH_MS 100
#define CALL_TIMEOUT_MS 5000
/* Tray messages of one VM: a burst, then one per 10 ms; the rest is dropped. */
#define MSG_BURST 500
#define MSG_INTERVAL_MS 10
#define MAX_SCROLL 1200
#define TOOLTIP_LINES 10
#define TOOLTIP_MAX 4096

enum dirty {
	DIRTY_TITLE = 1 << 0,
	DIRTY_ICON = 1 << 1, // then attention (<< 2) and overlay (<< 3)
	DIRTY_TOOLTIP = 1 << 4,
	DIRTY_STATUS = 1 << 5,
	DIRTY_MENU = 1 << 6,
};

struct item {
	struct vm *vm;
	struct wl_list link; // vm.items
	uint32_t guest_id;
	char name[96]; // org.kde.StatusNotifierItem-PID-N
	struct vd_dbus *bus; // its own connection: closing it takes the item off every watcher
	struct vd_dbus_call *name_call, *register_call;
	bool owned;
	struct vd_tray_props props;
	struct vd_tray_menu menu;
	uint32_t dirty;
	uint64_t flushed_at;
	struct wl_event_source *flush_timer;
};

struct vm {
	struct vd_host_tray *tray;
	struct wl_list link; // vd_host_tray.vms
	struct vd_channel *channel;
	struct wl_list items; // item.link
	size_t count;
	struct vd_rate rate;
	bool full; // logged that it has too many items
};

struct vd_host_tray {
	struct vd_host_tray_config config;
	char address[4200];
	unsigned serial;
	struct wl_list vms; // vm.link
};

static const char *vm_name(const struct vm *vm) {
	return vd_channel_conf(vm->channel)->name;
}

static void item_free(struct item *item) {
	vd_log(VD_DEBUG, "vm=%s item %s (guest item %u) removed", vm_name(item->vm), item->name,
		item->guest_id);
	vd_dbus_call_cancel(item->name_call);
	vd_dbus_call_cancel(item->register_call);
	vd_dbus_destroy(item->bus);
	if (item->flush_timer != NULL) {
		wl_event_source_remove(item->flush_timer);
	}
	vd_tray_props_finish(&item->props);
	vd_tray_menu_finish(&item->menu);
	wl_list_remove(&item->link);
	item->vm->count--;
	free(item);
}

/* ---- signals, at most every FLUSH_MS ---- */

static void emit(struct item *item, const char *path, const char *iface, const char *member,
		const char *arg) {
	DBusMessage *msg = dbus_message_new_signal(path, iface, member);
	if (msg == NULL) {
		return;
	}
	if (arg == NULL || dbus_message_append_args(msg, DBUS_TYPE_STRING, &arg, DBUS_TYPE_INVALID)) {
		vd_dbus_send(item->bus, msg);
	}
	dbus_message_unref(msg);
}

static void flush(struct item *item) {
	uint32_t dirty = item->dirty;
	item->dirty = 0;
	item->flushed_at = vd_now_ms();
	if (!item->owned) {
		return; // no one can know it yet
	}
	static const char *const icon_signals[3] = {"NewIcon", "NewAttentionIcon", "NewOverlayIcon"};
	if (dirty & DIRTY_TITLE) {
		emit(item, ITEM_PATH, ITEM_IFACE, "NewTitle", NULL);
	}
	for (int k = 0; k < 3; k++) {
		if (dirty & (DIRTY_ICON << k)) {
			emit(item, ITEM_PATH, ITEM_IFACE, icon_signals[k], NULL);
		}
	}
	if (dirty & DIRTY_TOOLTIP) {
		emit(item, ITEM_PATH, ITEM_IFACE, "NewToolTip", NULL);
	}
	if (dirty & DIRTY_STATUS) {
		emit(item, ITEM_PATH, ITEM_IFACE, "NewStatus", vd_tray_status_name(item->props.status));
	}
	if (dirty & DIRTY_MENU) {
		DBusMessage *msg = dbus_message_new_signal(MENU_PATH, "com.canonical.dbusmenu",
			"LayoutUpdated");
		dbus_uint32_t revision = item->menu.revision;
		dbus_int32_t parent = 0;
		if (msg != NULL && dbus_message_append_args(msg, DBUS_TYPE_UINT32, &revision,
				DBUS_TYPE_INT32, &parent, DBUS_TYPE_INVALID)) {
			vd_dbus_send(item->bus, msg);
		}
		if (msg != NULL) {
			dbus_message_unref(msg);
		}
	}
}

static int handle_flush_timer(void *data) {
	flush(data);
	return 0;
}

static void mark(struct item *item, uint32_t dirty) {
	bool armed = item->dirty != 0;
	item->dirty |= dirty;
	if (armed) {
		return;
	}
	uint64_t now = vd_now_ms();
	if (now - item->flushed_at >= FLUSH_MS) {
		flush(item);
	} else {
		wl_event_source_timer_update(item->flush_timer,
			(int)(item->flushed_at + FLUSH_MS - now));
	}
}

/* ---- the host's clicks, back to the guest ---- */

static void send_event(struct item *item, uint8_t kind, int32_t delta) {
	struct vd_link_msg msg = {.type = VD_LINK_TRAY_EVENT, .id = item->guest_id};
	msg.body.tray_event = (struct vd_link_tray_event){.kind = kind, .delta = (uint32_t)delta};
	vd_channel_send(item->vm->channel, &msg);
}

static void handle_menu_event(void *data, uint32_t id, uint8_t kind) {
	struct item *item = data;
	struct vd_link_msg msg = {.type = VD_LINK_TRAY_MENU_EVENT, .id = item->guest_id};
	msg.body.tray_menu_event = (struct vd_link_tray_menu_event){.menu_id = id, .event = kind};
	vd_channel_send(item->vm->channel, &msg);
}

static void reply_empty(struct item *item, DBusMessage *call) {
	if (dbus_message_get_no_reply(call)) {
		return;
	}
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply != NULL) {
		vd_dbus_send(item->bus, reply);
		dbus_message_unref(reply);
	}
}

static DBusHandlerResult handle_item_object(DBusConnection *conn, DBusMessage *call, void *data) {
	struct item *item = data;
	if (dbus_message_get_type(call) != DBUS_MESSAGE_TYPE_METHOD_CALL) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	static const char *const clicks[] = {"Activate", "SecondaryActivate", "ContextMenu"};
	for (uint8_t i = 0; i < 3; i++) {
		if (dbus_message_is_method_call(call, ITEM_IFACE, clicks[i])) {
			send_event(item, (uint8_t)(VD_LINK_TRAY_EVENT_KIND_ACTIVATE + i), 0);
			reply_empty(item, call);
			return DBUS_HANDLER_RESULT_HANDLED;
		}
	}
	if (dbus_message_is_method_call(call, ITEM_IFACE, "Scroll")) {
		dbus_int32_t delta;
		const char *orientation;
		if (!dbus_message_get_args(call, NULL, DBUS_TYPE_INT32, &delta, DBUS_TYPE_STRING,
				&orientation, DBUS_TYPE_INVALID)) {
			vd_dbus_reply_error(item->bus, call, DBUS_ERROR_INVALID_ARGS, "takes (is)");
			return DBUS_HANDLER_RESULT_HANDLED;
		}
		delta = delta > MAX_SCROLL ? MAX_SCROLL : delta < -MAX_SCROLL ? -MAX_SCROLL : delta;
		send_event(item, strcmp(orientation, "horizontal") == 0 ?
			VD_LINK_TRAY_EVENT_KIND_SCROLL_HORIZONTAL : VD_LINK_TRAY_EVENT_KIND_SCROLL_VERTICAL,
			delta);
		reply_empty(item, call);
	} else if (dbus_message_is_method_call(call, ITEM_IFACE, "ProvideXdgActivationToken")) {
		reply_empty(item, call); // tokens of the host mean nothing in the VM
	} else if (!vd_tray_props_handle(&item->props, item->bus, call)) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	return DBUS_HANDLER_RESULT_HANDLED;
}

static DBusHandlerResult handle_menu_object(DBusConnection *conn, DBusMessage *call, void *data) {
	struct item *item = data;
	if (dbus_message_get_type(call) != DBUS_MESSAGE_TYPE_METHOD_CALL || !item->props.has_menu) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	return vd_tray_menu_handle(&item->menu, item->bus, call);
}

static const DBusObjectPathVTable item_vtable = {.message_function = handle_item_object};
static const DBusObjectPathVTable menu_vtable = {.message_function = handle_menu_object};

/* ---- the item's connection ---- */

static void handle_register_reply(DBusMessage *reply, void *data) {
	struct item *item = data;
	item->register_call = NULL;
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_METHOD_RETURN) {
		const char *text;
		const char *err = vd_dbus_error_text(reply, &text);
		vd_log(VD_INFO, "vm=%s item %s: no tray to show it (%s %s); it waits for one",
			vm_name(item->vm), item->name, err, text);
	}
}

static void register_with_watcher(struct item *item) {
	vd_dbus_call_cancel(item->register_call);
	item->register_call = NULL;
	DBusMessage *msg = dbus_message_new_method_call(WATCHER, WATCHER_PATH, WATCHER,
		"RegisterStatusNotifierItem");
	const char *name = item->name;
	if (msg != NULL && dbus_message_append_args(msg, DBUS_TYPE_STRING, &name,
			DBUS_TYPE_INVALID)) {
		dbus_message_set_auto_start(msg, FALSE);
		item->register_call = vd_dbus_call(item->bus, msg, CALL_TIMEOUT_MS,
			handle_register_reply, item);
	}
	if (msg != NULL) {
		dbus_message_unref(msg);
	}
}

static void handle_name(int code, void *data) {
	struct item *item = data;
	item->name_call = NULL;
	if (code != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
		vd_log(VD_WARN, "vm=%s: cannot own %s (%d)", vm_name(item->vm), item->name, code);
		return;
	}
	item->owned = true;
	register_with_watcher(item);
}

static void handle_item_ready(struct vd_dbus *bus, void *data) {
	struct item *item = data;
	DBusConnection *conn = vd_dbus_connection(bus);
	if (!dbus_connection_register_object_path(conn, ITEM_PATH, &item_vtable, item) ||
			!dbus_connection_register_object_path(conn, MENU_PATH, &menu_vtable, item)) {
		vd_log(VD_ERROR, "vm=%s: cannot register the item's objects", vm_name(item->vm));
		return;
	}
	vd_dbus_add_match(bus, "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='"
		DBUS_INTERFACE_DBUS "',member='NameOwnerChanged',arg0='" WATCHER "'");
	item->name_call = vd_dbus_request_name(bus, item->name, DBUS_NAME_FLAG_DO_NOT_QUEUE,
		handle_name, item);
}

/* A watcher that appears (the panel restarted) learns of the item again. */
static DBusHandlerResult handle_item_filter(struct vd_dbus *bus, DBusMessage *msg, void *data) {
	struct item *item = data;
	const char *name, *old_owner, *new_owner;
	const char *sender = dbus_message_get_sender(msg);
	if (sender != NULL && strcmp(sender, DBUS_SERVICE_DBUS) == 0 &&
			dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged") &&
			dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING,
				&old_owner, DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID) &&
			strcmp(name, WATCHER) == 0 && new_owner[0] != '\0' && item->owned) {
		register_with_watcher(item);
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static void handle_item_closed(struct vd_dbus *bus, void *data) {
	struct item *item = data;
	vd_log(VD_WARN, "vm=%s item %s: the session bus went away", vm_name(item->vm), item->name);
	item->name_call = item->register_call = NULL; // cancelled with the bus
	item_free(item);
}

static const struct vd_dbus_impl item_bus_impl = {
	.ready = handle_item_ready,
	.filter = handle_item_filter,
	.closed = handle_item_closed,
};

/* ---- the guest's messages ---- */

static struct item *find_item(struct vm *vm, uint32_t guest_id) {
	struct item *item;
	wl_list_for_each(item, &vm->items, link) {
		if (item->guest_id == guest_id) {
			return item;
		}
	}
	return NULL;
}

static struct item *item_create(struct vm *vm, uint32_t guest_id) {
	struct vd_host_tray *tray = vm->tray;
	if (vm->count >= VD_LINK_MAX_TRAY_ITEMS) {
		if (!vm->full) {
			vd_log(VD_WARN, "vm=%s tray items beyond %d ignored", vm_name(vm),
				VD_LINK_MAX_TRAY_ITEMS);
			vm->full = true;
		}
		return NULL;
	}
	struct item *item = calloc(1, sizeof(*item));
	if (item == NULL) {
		return NULL;
	}
	item->vm = vm;
	item->guest_id = guest_id;
	item->props.category = VD_LINK_TRAY_CATEGORY_APPLICATION_STATUS;
	item->props.status = VD_LINK_TRAY_STATUS_ACTIVE;
	item->menu.event = handle_menu_event;
	item->menu.data = item;
	snprintf(item->name, sizeof(item->name), "org.kde.StatusNotifierItem-%d-%u", (int)getpid(),
		++tray->serial);
	wl_list_insert(vm->items.prev, &item->link);
	vm->count++;
	item->flush_timer = wl_event_loop_add_timer(tray->config.loop, handle_flush_timer, item);
	char err[512];
	item->bus = item->flush_timer != NULL ? vd_dbus_connect(tray->config.loop, tray->address,
		&item_bus_impl, item, err, sizeof(err)) : NULL;
	if (item->bus == NULL) {
		vd_log(VD_WARN, "vm=%s: tray item not shown: %s", vm_name(vm),
			item->flush_timer != NULL ? err : "out of memory");
		item_free(item);
		return NULL;
	}
	vd_log(VD_DEBUG, "vm=%s item %s for guest item %u", vm_name(vm), item->name, guest_id);
	vd_tray_props_set_icon(&item->props, 0, NULL, 0, 0, vd_channel_conf(vm->channel),
		tray->config.mode); // the VM's badge until the guest's icon comes
	return item;
}

static void replace(char **field, char *value, uint32_t *dirty, uint32_t bit) {
	if (value == NULL) {
		return;
	}
	if (*field == NULL || strcmp(*field, value) != 0) {
		*dirty |= bit;
	}
	free(*field);
	*field = value;
}

static void handle_item(struct vm *vm, uint32_t guest_id, const struct vd_link_tray_item *m) {
	struct item *item = find_item(vm, guest_id);
	if (item == NULL && (item = item_create(vm, guest_id)) == NULL) {
		return;
	}
	const char *name = vm_name(vm);
	uint32_t dirty = 0;
	replace(&item->props.id, vd_title_format(name, m->item_id), &dirty, 0);
	replace(&item->props.title, vd_title_format(name, m->title[0] ? m->title : m->item_id), &dirty,
		DIRTY_TITLE);
	/* hosts read tooltips as markup: escaped, never parsed */
	char *tip = vd_title_format(name, m->tooltip_title[0] ? m->tooltip_title : m->title);
	replace(&item->props.tip_title, tip != NULL ? vd_text_markup_escape(tip) : NULL, &dirty,
		DIRTY_TOOLTIP);
	free(tip);
	char *body = vd_text_block_sanitize(m->tooltip_body, TOOLTIP_LINES, TOOLTIP_MAX);
	replace(&item->props.tip_body, body != NULL ? vd_text_markup_escape(body) : NULL, &dirty,
		DIRTY_TOOLTIP);
	free(body);
	if (item->props.status != m->status) {
		dirty |= DIRTY_STATUS;
	}
	item->props.category = m->category;
	item->props.status = m->status;
	item->props.item_is_menu = m->item_is_menu;
	if (item->props.has_menu != (bool)m->has_menu) {
		dirty |= DIRTY_MENU;
	}
	item->props.has_menu = m->has_menu;
	if (dirty != 0) {
		mark(item, dirty);
	}
}

static bool take(struct vm *vm) {
	bool new_flood;
	if (vd_rate_take_or_drop(&vm->rate, vd_now_ms(), &new_flood)) {
		return true;
	}
	if (new_flood) {
		vd_log(VD_WARN, "vm=%s tray updates dropped: over %d at once, then one per %d ms",
			vm_name(vm), MSG_BURST, MSG_INTERVAL_MS);
	}
	return false;
}

/* ---- the channel module ---- */

static struct vm *find_vm(struct vd_host_tray *tray, struct vd_channel *channel) {
	struct vm *vm;
	wl_list_for_each(vm, &tray->vms, link) {
		if (vm->channel == channel) {
			return vm;
		}
	}
	return NULL;
}

static void module_up(void *data, struct vd_channel *channel) {
	struct vd_host_tray *tray = data;
	struct vm *vm = calloc(1, sizeof(*vm));
	if (vm == NULL) {
		return;
	}
	vm->tray = tray;
	vm->channel = channel;
	wl_list_init(&vm->items);
	vd_rate_init(&vm->rate, MSG_BURST, MSG_INTERVAL_MS, vd_now_ms());
	wl_list_insert(&tray->vms, &vm->link);
}

static void vm_free(struct vm *vm) {
	struct item *item, *tmp;
	wl_list_for_each_safe(item, tmp, &vm->items, link) {
		item_free(item);
	}
	wl_list_remove(&vm->link);
	free(vm);
}

static void module_down(void *data, struct vd_channel *channel) {
	struct vm *vm = find_vm(data, channel);
	if (vm != NULL) {
		if (vm->count > 0) {
			vd_log(VD_INFO, "vm=%s: its link went, removing its %zu tray items", vm_name(vm),
				vm->count);
		}
		vm_free(vm);
	}
}

static void module_message(void *data, struct vd_channel *channel, const struct vd_link_msg *msg) {
	struct vm *vm = find_vm(data, channel);
	if (vm == NULL) {
		return;
	}
	if (msg->id == 0) {
		vd_channel_fail(channel, "%s without an item id",
			vd_link_type_name(&vd_link_guest, msg->type));
		return;
	}
	struct item *item = find_item(vm, msg->id);
	if (msg->type == VD_LINK_TRAY_REMOVE) {
		if (item != NULL) {
			item_free(item); // never rate-limited: an item may always go
		}
		return;
	}
	if (!take(vm)) {
		return;
	}
	switch (msg->type) {
	case VD_LINK_TRAY_ITEM:
		handle_item(vm, msg->id, &msg->body.tray_item);
		return;
	case VD_LINK_TRAY_ICON:
		if (item != NULL) {
			const struct vd_link_tray_icon *m = &msg->body.tray_icon;
			int k = m->kind - VD_LINK_TRAY_ICON_KIND_ICON;
			vd_tray_props_set_icon(&item->props, k, m->data_len > 0 ? m->data : NULL,
				m->width, m->height, vd_channel_conf(vm->channel), vm->tray->config.mode);
			mark(item, DIRTY_ICON << k);
		}
		return;
	case VD_LINK_TRAY_MENU:
		if (item != NULL && vd_tray_menu_set(&item->menu, &msg->body.tray_menu)) {
			mark(item, DIRTY_MENU);
		}
		return;
	default:
		return;
	}
}

struct vd_channel_module vd_host_tray_module(struct vd_host_tray *tray) {
	return (struct vd_channel_module){
		.caps = VD_LINK_CAP_TRAY,
		.up = module_up,
		.message = module_message,
		.down = module_down,
		.data = tray,
	};
}

struct vd_host_tray *vd_host_tray_create(const struct vd_host_tray_config *config) {
	char buf[4200];
	const char *address = config->bus_address != NULL ? config->bus_address :
		vd_dbus_session_address(buf, sizeof(buf));
	if (address == NULL) {
		vd_log(VD_INFO, "no session bus: VM tray items are off");
		return NULL;
	}
	struct vd_host_tray *tray = calloc(1, sizeof(*tray));
	if (tray == NULL) {
		return NULL;
	}
	tray->config = *config;
	snprintf(tray->address, sizeof(tray->address), "%s", address);
	wl_list_init(&tray->vms);
	return tray;
}

void vd_host_tray_destroy(struct vd_host_tray *tray) {
	if (tray == NULL) {
		return;
	}
	struct vm *vm, *tmp;
	wl_list_for_each_safe(vm, tmp, &tray->vms, link) {
		vm_free(vm);
	}
	free(tray);
}
