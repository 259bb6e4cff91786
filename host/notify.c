#define LOG_TAG "notify"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/notify-call.h"
#include "host/notify.h"
#include "protocols/backoff.h"
#include "protocols/clock.h"
#include "protocols/dbus.h"
#include "protocols/log.h"
#include "protocols/names.h"
#include "protocols/rate.h"

#define NAME "org.freedesktop.Notifications"
#define PATH "/org/freedesktop/Notifications"
#define CALL_TIMEOUT_MS 10000

/* One notification of a VM. */
struct note {
	struct vm *vm;
	struct wl_list link; // vm.notes
	uint32_t guest_id; // 0: superseded by a newer one with its guest id
	uint32_t host_id; // the server's, 0 until it answered
	struct vd_dbus_call *call; // Notify, until answered
	bool close_wanted; // the guest closed it before the server answered
};

/* A VM whose link carries notifications. */
struct vm {
	struct vd_host_notify *notify;
	struct wl_list link; // vd_host_notify.vms
	struct vd_channel *channel;
	struct wl_list notes; // note.link
	size_t count;
	struct vd_rate rate;
};

struct vd_host_notify {
	struct vd_host_notify_config config;
	char address[4200];
	struct vd_dbus *bus;
	struct wl_event_source *retry_timer;
	struct vd_backoff backoff;
	char owner[256]; // the server's unique name; "" when there is none
	struct vd_dbus_call *owner_call, *caps_call;
	bool caps_known;
	struct vd_notify_caps server; // what the host's server does
	uint32_t caps; // VD_LINK_NOTIFY_CAP_BITS_*
	struct wl_list vms; // vm.link
};

/* ---- notes ---- */

static const char *vm_name(const struct vm *vm) {
	return vd_channel_conf(vm->channel)->name;
}

static void note_free(struct note *note) {
	vd_dbus_call_cancel(note->call);
	wl_list_remove(&note->link);
	note->vm->count--;
	free(note);
}

static void send_closed(struct vm *vm, uint32_t guest_id, uint32_t reason) {
	if (guest_id == 0) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_NOTIFY_CLOSED, .id = guest_id};
	msg.body.notify_closed.reason = reason;
	vd_channel_send(vm->channel, &msg);
}

static void host_close(struct vd_host_notify *notify, uint32_t host_id) {
	if (notify->bus == NULL || host_id == 0) {
		return;
	}
	DBusMessage *msg = dbus_message_new_method_call(NAME, PATH, NAME, "CloseNotification");
	if (msg == NULL) {
		return;
	}
	dbus_message_set_no_reply(msg, TRUE);
	dbus_message_set_auto_start(msg, FALSE);
	dbus_uint32_t id = host_id;
	if (dbus_message_append_args(msg, DBUS_TYPE_UINT32, &id, DBUS_TYPE_INVALID)) {
		vd_dbus_send(notify->bus, msg);
	}
	dbus_message_unref(msg);
}

static struct note *find_guest(struct vm *vm, uint32_t guest_id) {
	struct note *note;
	wl_list_for_each(note, &vm->notes, link) {
		if (note->guest_id == guest_id) {
			return note;
		}
	}
	return NULL;
}

static struct note *find_host(struct vd_host_notify *notify, uint32_t host_id) {
	struct vm *vm;
	wl_list_for_each(vm, &notify->vms, link) {
		struct note *note;
		wl_list_for_each(note, &vm->notes, link) {
			if (note->host_id == host_id && host_id != 0) {
				return note;
			}
		}
	}
	return NULL;
}

/* Every note is gone on the host's side (server restart, bus lost): tell the guests. */
static void forget_all(struct vd_host_notify *notify) {
	struct vm *vm;
	wl_list_for_each(vm, &notify->vms, link) {
		struct note *note, *tmp;
		wl_list_for_each_safe(note, tmp, &vm->notes, link) {
			send_closed(vm, note->guest_id, VD_LINK_CLOSE_REASON_UNDEFINED);
			note_free(note);
		}
	}
}

/* ---- the guest's messages ---- */

static void handle_notify_reply(DBusMessage *reply, void *data) {
	struct note *note = data;
	struct vm *vm = note->vm;
	note->call = NULL;
	dbus_uint32_t id = 0;
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_METHOD_RETURN ||
			!dbus_message_get_args(reply, NULL, DBUS_TYPE_UINT32, &id, DBUS_TYPE_INVALID) ||
			id == 0) {
		const char *text;
		const char *err = vd_dbus_error_text(reply, &text);
		vd_log(VD_INFO, "vm=%s notification %u not shown: %s %s", vm_name(vm), note->guest_id,
			err, text);
		send_closed(vm, note->guest_id, VD_LINK_CLOSE_REASON_UNDEFINED);
		note_free(note);
		return;
	}
	struct note *other = find_host(vm->notify, id);
	if (other != NULL && other != note) {
		/* the server reused an id we still hold: that one is gone */
		send_closed(other->vm, other->guest_id, VD_LINK_CLOSE_REASON_UNDEFINED);
		note_free(other);
	}
	note->host_id = id;
	if (note->guest_id == 0 || note->close_wanted) {
		host_close(vm->notify, id);
		if (note->close_wanted) {
			send_closed(vm, note->guest_id, VD_LINK_CLOSE_REASON_CLOSED);
		}
		note_free(note);
	}
}

static void refuse(struct vm *vm, uint32_t guest_id, bool replacing) {
	if (!replacing) {
		send_closed(vm, guest_id, VD_LINK_CLOSE_REASON_UNDEFINED);
	}
}

static void handle_notify(struct vm *vm, uint32_t guest_id, const struct vd_link_notify *m) {
	struct vd_host_notify *notify = vm->notify;
	struct note *old = find_guest(vm, guest_id);
	bool new_flood;
	if (!vd_rate_take_or_drop(&vm->rate, vd_now_ms(), &new_flood)) {
		if (new_flood) {
			vd_log(VD_WARN, "vm=%s notifications dropped: over the rate limit (%u at once, "
				"then one per %u ms)", vm_name(vm), notify->config.burst,
				notify->config.interval_ms);
		}
		refuse(vm, guest_id, old != NULL);
		return;
	}
	if (old == NULL && vm->count >= VD_HOST_NOTIFY_MAX_PER_VM) {
		/* the VM's oldest one makes room (notes are inserted at the head) */
		struct note *oldest = wl_container_of(vm->notes.prev, oldest, link);
		host_close(notify, oldest->host_id);
		send_closed(vm, oldest->guest_id, VD_LINK_CLOSE_REASON_UNDEFINED);
		note_free(oldest);
	}
	if (notify->bus == NULL || !vd_dbus_ready(notify->bus)) {
		send_closed(vm, guest_id, VD_LINK_CLOSE_REASON_UNDEFINED);
		if (old != NULL) {
			note_free(old);
		}
		return;
	}
	uint32_t replaces = 0;
	struct note *note = old;
	if (old != NULL && old->host_id == 0) {
		/* still on its way: it is closed when the server answers, this one is new */
		old->guest_id = 0;
		note = NULL;
	} else if (old != NULL) {
		replaces = old->host_id;
	}
	if (note == NULL) {
		note = calloc(1, sizeof(*note));
		if (note == NULL) {
			send_closed(vm, guest_id, VD_LINK_CLOSE_REASON_UNDEFINED);
			return;
		}
		note->vm = vm;
		note->guest_id = guest_id;
		wl_list_insert(&vm->notes, &note->link);
		vm->count++;
	}
	DBusMessage *msg = vd_notify_call_build(&notify->server, vd_channel_conf(vm->channel), m, replaces);
	if (msg != NULL) {
		note->call = vd_dbus_call(notify->bus, msg, CALL_TIMEOUT_MS, handle_notify_reply, note);
		dbus_message_unref(msg);
	}
	if (note->call == NULL) {
		send_closed(vm, guest_id, VD_LINK_CLOSE_REASON_UNDEFINED);
		note_free(note);
	}
}

static void handle_close(struct vm *vm, uint32_t guest_id) {
	struct note *note = find_guest(vm, guest_id);
	if (note == NULL) {
		return; // gone already
	}
	if (note->host_id == 0) {
		note->close_wanted = true;
		return;
	}
	host_close(vm->notify, note->host_id);
	send_closed(vm, guest_id, VD_LINK_CLOSE_REASON_CLOSED);
	note_free(note);
}

/* ---- the channel module ---- */

static struct vm *find_vm(struct vd_host_notify *notify, struct vd_channel *channel) {
	struct vm *vm;
	wl_list_for_each(vm, &notify->vms, link) {
		if (vm->channel == channel) {
			return vm;
		}
	}
	return NULL;
}

static void send_caps(struct vd_host_notify *notify, struct vm *vm) {
	if (!notify->caps_known) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_NOTIFY_CAPS};
	msg.body.notify_caps.caps = notify->caps;
	vd_channel_send(vm->channel, &msg);
}

static void module_up(void *data, struct vd_channel *channel) {
	struct vd_host_notify *notify = data;
	struct vm *vm = calloc(1, sizeof(*vm));
	if (vm == NULL) {
		return;
	}
	vm->notify = notify;
	vm->channel = channel;
	wl_list_init(&vm->notes);
	vd_rate_init(&vm->rate, notify->config.burst, notify->config.interval_ms, vd_now_ms());
	wl_list_insert(&notify->vms, &vm->link);
	send_caps(notify, vm);
}

static void vm_free(struct vm *vm) {
	struct note *note, *tmp;
	wl_list_for_each_safe(note, tmp, &vm->notes, link) {
		host_close(vm->notify, note->host_id); // a VM that goes takes its notifications along
		note_free(note);
	}
	wl_list_remove(&vm->link);
	free(vm);
}

static void module_down(void *data, struct vd_channel *channel) {
	struct vm *vm = find_vm(data, channel);
	if (vm != NULL) {
		if (vm->count > 0) {
			vd_log(VD_INFO, "vm=%s: its link went, closing its %zu notifications",
				vm_name(vm), vm->count);
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
		vd_channel_fail(channel, "%s without a notification id",
			vd_link_type_name(&vd_link_guest, msg->type));
		return;
	}
	switch (msg->type) {
	case VD_LINK_NOTIFY:
		handle_notify(vm, msg->id, &msg->body.notify);
		return;
	case VD_LINK_NOTIFY_CLOSE:
		handle_close(vm, msg->id);
		return;
	default:
		return;
	}
}

struct vd_channel_module vd_host_notify_module(struct vd_host_notify *notify) {
	return (struct vd_channel_module){
		.caps = VD_LINK_CAP_NOTIFY,
		.up = module_up,
		.message = module_message,
		.down = module_down,
		.data = notify,
	};
}

/* ---- the host's server ---- */

static bool has_string(DBusMessageIter *array, const char *want) {
	DBusMessageIter it = *array;
	while (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING) {
		const char *s;
		dbus_message_iter_get_basic(&it, &s);
		if (strcmp(s, want) == 0) {
			return true;
		}
		dbus_message_iter_next(&it);
	}
	return false;
}

static void handle_caps_reply(DBusMessage *reply, void *data) {
	struct vd_host_notify *notify = data;
	notify->caps_call = NULL;
	DBusMessageIter args, array;
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_METHOD_RETURN ||
			!dbus_message_has_signature(reply, "as") ||
			!dbus_message_iter_init(reply, &args)) {
		const char *text;
		const char *err = vd_dbus_error_text(reply, &text);
		vd_log(VD_INFO, "no notification server on the session bus (%s %s): VM notifications "
			"are dropped until one comes", err, text);
		return;
	}
	dbus_message_iter_recurse(&args, &array);
	notify->server.body_markup = has_string(&array, "body-markup");
	notify->server.actions = has_string(&array, "actions");
	notify->server.persistence = has_string(&array, "persistence");
	notify->server.sound = has_string(&array, "sound");
	uint32_t caps = 0;
	caps |= notify->server.actions ? VD_LINK_NOTIFY_CAP_BITS_ACTIONS : 0;
	caps |= has_string(&array, "body") ? VD_LINK_NOTIFY_CAP_BITS_BODY : 0;
	caps |= has_string(&array, "icon-static") ? VD_LINK_NOTIFY_CAP_BITS_ICON_STATIC : 0;
	caps |= notify->server.persistence ? VD_LINK_NOTIFY_CAP_BITS_PERSISTENCE : 0;
	caps |= notify->server.sound ? VD_LINK_NOTIFY_CAP_BITS_SOUND : 0;
	notify->caps = caps;
	notify->caps_known = true;
	vd_log(VD_INFO, "notification server %s: actions %s, body markup %s (escaped)",
		notify->owner[0] ? notify->owner : "(activatable)", notify->server.actions ? "yes" : "no",
		notify->server.body_markup ? "yes" : "no");
	struct vm *vm;
	wl_list_for_each(vm, &notify->vms, link) {
		send_caps(notify, vm);
	}
}

static void ask_caps(struct vd_host_notify *notify) {
	vd_dbus_call_cancel(notify->caps_call);
	notify->caps_call = NULL;
	DBusMessage *msg = dbus_message_new_method_call(NAME, PATH, NAME, "GetCapabilities");
	if (msg != NULL) {
		notify->caps_call = vd_dbus_call(notify->bus, msg, CALL_TIMEOUT_MS, handle_caps_reply,
			notify);
		dbus_message_unref(msg);
	}
}

static void set_owner(struct vd_host_notify *notify, const char *owner) {
	if (strcmp(owner, notify->owner) == 0) {
		return;
	}
	if (notify->owner[0] != '\0') {
		vd_log(VD_INFO, "notification server %s gone%s%s", notify->owner,
			owner[0] ? ", now " : "", owner);
		forget_all(notify); // its ids mean nothing to the next server
	}
	snprintf(notify->owner, sizeof(notify->owner), "%s", owner);
	if (owner[0] != '\0') {
		ask_caps(notify);
	}
}

static void handle_owner_reply(DBusMessage *reply, void *data) {
	struct vd_host_notify *notify = data;
	notify->owner_call = NULL;
	const char *owner = NULL;
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_METHOD_RETURN &&
			dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &owner, DBUS_TYPE_INVALID)) {
		set_owner(notify, owner);
	} else {
		ask_caps(notify); // none yet: maybe activatable
	}
}

static DBusHandlerResult handle_filter(struct vd_dbus *bus, DBusMessage *msg, void *data) {
	struct vd_host_notify *notify = data;
	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_SIGNAL) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	const char *sender = dbus_message_get_sender(msg);
	if (dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged") &&
			sender != NULL && strcmp(sender, DBUS_SERVICE_DBUS) == 0) {
		const char *name, *old_owner, *new_owner;
		if (dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING,
				&old_owner, DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID) &&
				strcmp(name, NAME) == 0) {
			set_owner(notify, new_owner);
		}
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	/* only the server's own signals: no other host program speaks for it */
	if (sender == NULL || notify->owner[0] == '\0' || strcmp(sender, notify->owner) != 0) {
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	dbus_uint32_t id;
	if (dbus_message_is_signal(msg, NAME, "ActionInvoked")) {
		const char *key;
		if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_UINT32, &id, DBUS_TYPE_STRING, &key,
				DBUS_TYPE_INVALID)) {
			return DBUS_HANDLER_RESULT_HANDLED;
		}
		struct note *note = find_host(notify, id);
		if (note != NULL && note->guest_id != 0 && vd_action_key_valid(key, strlen(key))) {
			struct vd_link_msg out = {.type = VD_LINK_NOTIFY_ACTION, .id = note->guest_id};
			out.body.notify_action.key = key;
			vd_channel_send(note->vm->channel, &out);
		}
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	if (dbus_message_is_signal(msg, NAME, "NotificationClosed")) {
		dbus_uint32_t reason;
		if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_UINT32, &id, DBUS_TYPE_UINT32, &reason,
				DBUS_TYPE_INVALID)) {
			return DBUS_HANDLER_RESULT_HANDLED;
		}
		struct note *note = find_host(notify, id);
		if (note != NULL && note->call == NULL) {
			send_closed(note->vm, note->guest_id, reason >= VD_LINK_CLOSE_REASON_EXPIRED &&
				reason <= VD_LINK_CLOSE_REASON_UNDEFINED ? reason :
				VD_LINK_CLOSE_REASON_UNDEFINED);
			note_free(note);
		}
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static void connect_bus(struct vd_host_notify *notify);

static void handle_ready(struct vd_dbus *bus, void *data) {
	struct vd_host_notify *notify = data;
	vd_backoff_connected(&notify->backoff, vd_now_ms());
	vd_dbus_add_match(bus, "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='"
		DBUS_INTERFACE_DBUS "',member='NameOwnerChanged',arg0='" NAME "'");
	vd_dbus_add_match(bus, "type='signal',interface='" NAME "',path='" PATH "'");
	const char *name = NAME;
	DBusMessage *msg = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
		DBUS_INTERFACE_DBUS, "GetNameOwner");
	if (msg != NULL && dbus_message_append_args(msg, DBUS_TYPE_STRING, &name,
			DBUS_TYPE_INVALID)) {
		notify->owner_call = vd_dbus_call(bus, msg, CALL_TIMEOUT_MS, handle_owner_reply,
			notify);
	}
	if (msg != NULL) {
		dbus_message_unref(msg);
	}
}

static void handle_closed(struct vd_dbus *bus, void *data) {
	struct vd_host_notify *notify = data;
	vd_log(VD_WARN, "the session bus went away: VM notifications are dropped until it is back");
	forget_all(notify);
	notify->owner_call = notify->caps_call = NULL; // cancelled with the bus
	vd_dbus_destroy(notify->bus);
	notify->bus = NULL;
	notify->owner[0] = '\0';
	notify->caps_known = false;
	vd_backoff_disconnected(&notify->backoff, vd_now_ms());
	wl_event_source_timer_update(notify->retry_timer, (int)vd_backoff_next(&notify->backoff));
}

static const struct vd_dbus_impl bus_impl = {
	.ready = handle_ready,
	.filter = handle_filter,
	.closed = handle_closed,
};

static void connect_bus(struct vd_host_notify *notify) {
	char err[512];
	notify->bus = vd_dbus_connect(notify->config.loop, notify->address, &bus_impl, notify, err,
		sizeof(err));
	if (notify->bus == NULL) {
		vd_log(VD_WARN, "notifications: %s", err);
		wl_event_source_timer_update(notify->retry_timer,
			(int)vd_backoff_next(&notify->backoff));
	}
}

static int handle_retry(void *data) {
	struct vd_host_notify *notify = data;
	if (notify->bus == NULL) {
		connect_bus(notify);
	}
	return 0;
}

struct vd_host_notify *vd_host_notify_create(const struct vd_host_notify_config *config) {
	char buf[4200];
	const char *address = config->bus_address != NULL ? config->bus_address :
		vd_dbus_session_address(buf, sizeof(buf));
	if (address == NULL) {
		vd_log(VD_INFO, "no session bus: VM notifications are off");
		return NULL;
	}
	struct vd_host_notify *notify = calloc(1, sizeof(*notify));
	if (notify == NULL) {
		return NULL;
	}
	notify->config = *config;
	snprintf(notify->address, sizeof(notify->address), "%s", address);
	wl_list_init(&notify->vms);
	vd_backoff_init(&notify->backoff, 1000, 30000, 10000);
	notify->retry_timer = wl_event_loop_add_timer(config->loop, handle_retry, notify);
	if (notify->retry_timer == NULL) {
		free(notify);
		return NULL;
	}
	connect_bus(notify);
	return notify;
}

void vd_host_notify_destroy(struct vd_host_notify *notify) {
	if (notify == NULL) {
		return;
	}
	struct vm *vm, *tmp;
	wl_list_for_each_safe(vm, tmp, &notify->vms, link) {
		vm_free(vm);
	}
	vd_dbus_call_cancel(notify->owner_call);
	vd_dbus_call_cancel(notify->caps_call);
	vd_dbus_destroy(notify->bus);
	wl_event_source_remove(notify->retry_timer);
	free(notify);
}
