#define LOG_TAG "input"

#include <stdlib.h>

#include "protocols/log.h"
#include "proxy/clipboard.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * Pointer and touch input on the VM's windows. The client's wl_pointer
 * also sees the frame's surfaces: the proxy takes those events and turns a
 * press into an interactive move or resize (proxy/frame.c). Coordinates on
 * the client's own surfaces are translated back from the cropped surface
 * the compositor shows to the client's (proxy/crop.c).
 */

#define TOUCH_POINTS 16

struct vd_pointer {
	uint32_t seat_id; // client ID of the seat the pointer came from
	uint32_t focus; // upstream ID of the frame strip under the pointer; 0: none
	uint32_t surface; // upstream ID of the client surface under it; 0: none
	double x, y;
	bool forwarded; // an event went to the client since the last frame event
};

static void input_gone(struct vd_session *session, struct vd_object *object) {
	free(object->data);
	object->data = NULL;
}

static const struct vd_object_impl pointer_impl = {
	.gone = input_gone,
};

bool seat_handle_get_pointer(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_pointer *pointer = calloc(1, sizeof(*pointer));
	if (pointer == NULL) {
		vd_session_client_error(ctx->session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	pointer->seat_id = ctx->object->client_id;
	object->impl = &pointer_impl;
	object->data = pointer;
	return true;
}

/* Adds the crop's corner of the client surface (upstream ID) to the
 * wl_fixed coordinates at args x and y. */
static void translate(struct vd_hook_ctx *ctx, uint32_t surface_id, int x, int y) {
	struct vd_surface *surface =
		surface_from(vd_object_map_get(&ctx->session->upstream_map, surface_id));
	if (surface == NULL || (surface->offset_x == 0 && surface->offset_y == 0)) {
		return;
	}
	const struct vd_wire_message *msg = ctx->msg;
	vd_wire_put_u32(ctx->data, msg->args[x].offset,
		(uint32_t)(msg->args[x].i + surface->offset_x * 256));
	vd_wire_put_u32(ctx->data, msg->args[y].offset,
		(uint32_t)(msg->args[y].i + surface->offset_y * 256));
}

static void handle_press(struct vd_session *session, struct vd_pointer *pointer,
		uint32_t serial) {
	int index;
	struct vd_frame *frame = frame_from_strip(session, pointer->focus, &index);
	struct vd_object *seat = vd_session_client_object(session, pointer->seat_id);
	if (frame != NULL && seat != NULL) {
		frame_handle_press(frame, index, pointer->x, pointer->y, seat, serial);
	}
}

bool pointer_handle_event(struct vd_hook_ctx *ctx) {
	struct vd_pointer *pointer = ctx->object->impl == &pointer_impl ? ctx->object->data : NULL;
	if (pointer == NULL) {
		return true;
	}
	const struct vd_wire_message *msg = ctx->msg;
	int index;
	switch (msg->header.opcode) {
	case VD_WL_POINTER_EVENT_ENTER:
		if (frame_from_strip(ctx->session, msg->args[1].id, &index) != NULL) {
			pointer->focus = msg->args[1].id;
			pointer->x = msg->args[2].i / 256.0;
			pointer->y = msg->args[3].i / 256.0;
			return false;
		}
		pointer->focus = 0;
		pointer->surface = msg->args[1].id;
		translate(ctx, pointer->surface, 2, 3);
		break;
	case VD_WL_POINTER_EVENT_LEAVE:
		if (pointer->focus != 0 && msg->args[1].id == pointer->focus) {
			pointer->focus = 0;
			return false;
		}
		if (msg->args[1].id == pointer->surface) {
			pointer->surface = 0;
		}
		break;
	case VD_WL_POINTER_EVENT_MOTION:
		if (pointer->focus != 0) {
			pointer->x = msg->args[1].i / 256.0;
			pointer->y = msg->args[2].i / 256.0;
			return false;
		}
		if (pointer->surface != 0) {
			translate(ctx, pointer->surface, 1, 2);
		}
		break;
	case VD_WL_POINTER_EVENT_BUTTON:
		clipboard_note_serial(ctx->session, msg->args[0].u);
		if (pointer->focus != 0) {
			if (msg->args[2].u == 0x110 /* BTN_LEFT */ &&
					msg->args[3].u == VD_WL_POINTER_BUTTON_STATE_PRESSED) {
				handle_press(ctx->session, pointer, msg->args[0].u);
			}
			return false;
		}
		break;
	case VD_WL_POINTER_EVENT_FRAME:
		if (pointer->focus != 0 && !pointer->forwarded) {
			return false;
		}
		pointer->forwarded = false;
		return true;
	default: // axis and its details
		if (pointer->focus != 0) {
			return false;
		}
		break;
	}
	pointer->forwarded = true;
	return true;
}

/* Touch: each point remembers the surface it went down on. */

struct touch_point {
	bool used;
	int32_t id;
	uint32_t surface; // upstream ID; 0: a frame strip (its events are dropped)
};

struct vd_touch {
	struct touch_point points[TOUCH_POINTS];
};

static const struct vd_object_impl touch_impl = {
	.gone = input_gone,
};

bool seat_handle_get_touch(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_touch *touch = calloc(1, sizeof(*touch));
	if (touch == NULL) {
		vd_session_client_error(ctx->session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	object->impl = &touch_impl;
	object->data = touch;
	return true;
}

static struct touch_point *touch_find(struct vd_touch *touch, int32_t id) {
	for (int i = 0; i < TOUCH_POINTS; i++) {
		if (touch->points[i].used && touch->points[i].id == id) {
			return &touch->points[i];
		}
	}
	return NULL;
}

bool touch_handle_event(struct vd_hook_ctx *ctx) {
	struct vd_touch *touch = ctx->object->impl == &touch_impl ? ctx->object->data : NULL;
	if (touch == NULL) {
		return true;
	}
	const struct vd_wire_message *msg = ctx->msg;
	int index;
	struct touch_point *point;
	switch (msg->header.opcode) {
	case VD_WL_TOUCH_EVENT_DOWN: {
		/* serial, time, surface, id, x, y */
		bool strip = frame_from_strip(ctx->session, msg->args[2].id, &index) != NULL;
		point = touch_find(touch, msg->args[3].i);
		for (int i = 0; point == NULL && i < TOUCH_POINTS; i++) {
			if (!touch->points[i].used) {
				point = &touch->points[i];
			}
		}
		if (point != NULL) {
			*point = (struct touch_point){ true, msg->args[3].i,
				strip ? 0 : msg->args[2].id };
		}
		if (strip) {
			return false;
		}
		translate(ctx, msg->args[2].id, 4, 5);
		return true;
	}
	case VD_WL_TOUCH_EVENT_UP: // serial, time, id
		point = touch_find(touch, msg->args[2].i);
		if (point != NULL) {
			point->used = false;
			return point->surface != 0;
		}
		return true;
	case VD_WL_TOUCH_EVENT_MOTION: // time, id, x, y
		point = touch_find(touch, msg->args[1].i);
		if (point != NULL && point->surface == 0) {
			return false;
		}
		if (point != NULL) {
			translate(ctx, point->surface, 2, 3);
		}
		return true;
	case VD_WL_TOUCH_EVENT_CANCEL:
		for (int i = 0; i < TOUCH_POINTS; i++) {
			touch->points[i].used = false;
		}
		return true;
	}
	return true;
}
