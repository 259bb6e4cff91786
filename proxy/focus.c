#define LOG_TAG "focus"

#include <stdlib.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/clipboard.h"
#include "proxy/focus.h"
#include "proxy/server.h"

/* A wl_seat the proxy bound for itself on a session's compositor connection. */
struct focus_seat {
	struct focus_session *owner;
	struct wl_list link; // focus_session.seats
	uint32_t name; // the compositor's global name
	struct vd_object *seat; // NULL once released or gone
	struct vd_object *keyboard; // the proxy's own; NULL without one
	bool focused; // the keyboard is in one of the session's surfaces
};

/* Kept in the session's clipboard_serials slot (proxy/session.h). */
struct focus_session {
	struct vd_session *session;
	struct wl_list seats; // focus_seat.link
	size_t seat_count;
	bool focused; // some seat is focused
	uint32_t serials[FOCUS_SERIALS]; // since focus was gained; 0: none
	size_t next_serial;
};

static struct focus_session *focus_of(struct vd_session *session, bool create) {
	struct focus_session *focus = session->clipboard_serials;
	if (focus == NULL && create && !session->tearing_down) {
		focus = calloc(1, sizeof(*focus));
		if (focus != NULL) {
			focus->session = session;
			wl_list_init(&focus->seats);
			session->clipboard_serials = focus;
		}
	}
	return focus;
}

static void note_serial(struct focus_session *focus, uint32_t serial) {
	if (!focus->focused || serial == 0) {
		return; // only serials of the current focus count
	}
	focus->serials[focus->next_serial] = serial;
	focus->next_serial = (focus->next_serial + 1) % FOCUS_SERIALS;
}

/* Recomputes the session's focus from its seats; tells the clipboard. */
static void update_focus(struct focus_session *focus) {
	bool focused = false;
	struct focus_seat *seat;
	wl_list_for_each(seat, &focus->seats, link) {
		focused = focused || seat->focused;
	}
	if (focused == focus->focused) {
		return;
	}
	focus->focused = focused;
	if (focused) {
		clipboard_focus_in(focus->session);
	} else {
		/* serials given under this focus expire with it */
		memset(focus->serials, 0, sizeof(focus->serials));
		focus->next_serial = 0;
		clipboard_focus_out(focus->session);
	}
}

/* Keyboards */

static void keyboard_event(struct vd_session *session, struct vd_object *object,
		const struct vd_wire_message *msg, const int *fds) {
	struct focus_seat *seat = object->data;
	switch (msg->header.opcode) {
	case VD_WL_KEYBOARD_EVENT_ENTER:
		seat->focused = true;
		update_focus(seat->owner);
		note_serial(seat->owner, msg->args[0].u);
		break;
	case VD_WL_KEYBOARD_EVENT_LEAVE:
		seat->focused = false;
		update_focus(seat->owner);
		break;
	case VD_WL_KEYBOARD_EVENT_KEY:
	case VD_WL_KEYBOARD_EVENT_MODIFIERS:
		if (seat->focused) {
			note_serial(seat->owner, msg->args[0].u);
		}
		break;
	default: // keymap (its fd is closed by the caller), repeat_info
		break;
	}
}

static void keyboard_gone(struct vd_session *session, struct vd_object *object) {
	struct focus_seat *seat = object->data;
	object->data = NULL;
	seat->keyboard = NULL;
	seat->focused = false;
	update_focus(seat->owner);
}

static const struct vd_object_impl keyboard_impl = {
	.event = keyboard_event,
	.gone = keyboard_gone,
};

/* Drops the proxy's keyboard of a seat: a leave if it was focused. */
static void seat_drop_keyboard(struct focus_seat *seat) {
	struct vd_object *keyboard = seat->keyboard;
	if (keyboard == NULL) {
		return;
	}
	seat->keyboard = NULL;
	seat->focused = false;
	struct vd_session *session = seat->owner->session;
	if (keyboard->version >= 3) {
		vd_session_destroy_object(session, keyboard, VD_WL_KEYBOARD_REQUEST_RELEASE);
	} else {
		/* no release before version 3: it stays, deaf, until the session ends */
		keyboard->impl = NULL;
		keyboard->data = NULL;
	}
	update_focus(seat->owner);
}

/* Seats */

static void seat_event(struct vd_session *session, struct vd_object *object,
		const struct vd_wire_message *msg, const int *fds) {
	struct focus_seat *seat = object->data;
	if (msg->header.opcode != VD_WL_SEAT_EVENT_CAPABILITIES) {
		return;
	}
	bool has_keyboard = (msg->args[0].u & VD_WL_SEAT_CAPABILITY_KEYBOARD) != 0;
	if (!has_keyboard) {
		seat_drop_keyboard(seat);
		return;
	}
	if (seat->keyboard != NULL) {
		return;
	}
	/* a compositor sends enter to a new keyboard of a client that has focus */
	seat->keyboard = vd_session_new_object(session, &vd_iface_wl_keyboard, object->version,
		&keyboard_impl, seat);
	if (seat->keyboard == NULL ||
			!vd_session_request(session, object, VD_WL_SEAT_REQUEST_GET_KEYBOARD, "n",
				seat->keyboard)) {
		vd_log(VD_WARN, "vm=%s pid=%d: cannot follow the keyboard focus of a seat",
			session->server->vm, (int)session->pid);
		if (seat->keyboard != NULL) {
			seat->keyboard->impl = NULL; // freed with the session
			seat->keyboard->data = NULL;
			seat->keyboard = NULL;
		}
	}
}

static void seat_gone(struct vd_session *session, struct vd_object *object) {
	struct focus_seat *seat = object->data;
	object->data = NULL;
	seat->seat = NULL;
}

static const struct vd_object_impl seat_impl = {
	.event = seat_event,
	.gone = seat_gone,
};

static void seat_destroy(struct focus_seat *seat) {
	struct focus_session *focus = seat->owner;
	struct vd_session *session = focus->session;
	seat_drop_keyboard(seat);
	if (seat->seat != NULL) {
		struct vd_object *object = seat->seat;
		seat->seat = NULL;
		if (object->version >= 5) {
			vd_session_destroy_object(session, object, VD_WL_SEAT_REQUEST_RELEASE);
		} else {
			object->impl = NULL;
			object->data = NULL;
		}
	}
	wl_list_remove(&seat->link);
	focus->seat_count--;
	free(seat);
	update_focus(focus);
}

void focus_handle_global(struct vd_session *session, struct vd_object *registry,
		uint32_t name, const char *interface, uint32_t version) {
	if (strcmp(interface, vd_iface_wl_seat.name) != 0 || version == 0) {
		return;
	}
	struct focus_session *focus = focus_of(session, true);
	if (focus == NULL || focus->seat_count >= FOCUS_MAX_SEATS) {
		vd_log(VD_WARN, "vm=%s pid=%d: seat %u not followed", session->server->vm,
			(int)session->pid, name);
		return;
	}
	struct focus_seat *seat = calloc(1, sizeof(*seat));
	if (seat == NULL) {
		return;
	}
	seat->owner = focus;
	seat->name = name;
	if (version > vd_iface_wl_seat.version) {
		version = vd_iface_wl_seat.version;
	}
	seat->seat = vd_session_new_object(session, &vd_iface_wl_seat, version, &seat_impl, seat);
	if (seat->seat == NULL) {
		free(seat);
		return;
	}
	wl_list_insert(focus->seats.prev, &seat->link);
	focus->seat_count++;
	vd_session_request(session, registry, VD_WL_REGISTRY_REQUEST_BIND, "usun", name,
		vd_iface_wl_seat.name, version, seat->seat);
}

void focus_handle_global_remove(struct vd_session *session, uint32_t name) {
	struct focus_session *focus = focus_of(session, false);
	if (focus == NULL) {
		return;
	}
	struct focus_seat *seat, *tmp;
	wl_list_for_each_safe(seat, tmp, &focus->seats, link) {
		if (seat->name == name) {
			seat_destroy(seat);
		}
	}
}

void focus_note_serial(struct vd_session *session, uint32_t serial) {
	struct focus_session *focus = focus_of(session, false);
	if (focus != NULL) {
		note_serial(focus, serial);
	}
}

bool focus_serial_valid(struct vd_session *session, uint32_t serial) {
	struct focus_session *focus = focus_of(session, false);
	if (focus == NULL || !focus->focused || serial == 0) {
		return false;
	}
	for (size_t i = 0; i < FOCUS_SERIALS; i++) {
		if (focus->serials[i] == serial) {
			return true;
		}
	}
	return false;
}

bool focus_session_has_focus(struct vd_session *session) {
	struct focus_session *focus = focus_of(session, false);
	return focus != NULL && focus->focused;
}

void focus_session_finish(struct vd_session *session) {
	struct focus_session *focus = focus_of(session, false);
	if (focus == NULL) {
		return;
	}
	struct focus_seat *seat, *tmp;
	wl_list_for_each_safe(seat, tmp, &focus->seats, link) {
		seat_destroy(seat);
	}
	if (focus->focused) {
		focus->focused = false;
		clipboard_focus_out(session);
	}
	session->clipboard_serials = NULL;
	free(focus);
}
