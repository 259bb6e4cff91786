#define LOG_TAG "frame"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "decoration/render.h"
#include "protocols/log.h"
#include "proxy/clipboard.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * A VM window's frame: five strips around the window geometry, each a
 * subsurface the proxy creates on the client's own compositor connection.
 * The client cannot name these objects, so it cannot move, cover or
 * repaint them. The strips are synchronized subsurfaces: whatever the proxy
 * changes lands atomically with the client's next commit, which the proxy
 * forwards right after its own requests, so no round trip is added.
 */

#define STRIPS VD_FRAME_PART_COUNT
#define STRIP_TOP VD_FRAME_TOP
#define STRIP_LEFT VD_FRAME_LEFT
#define STRIP_RIGHT VD_FRAME_RIGHT
#define STRIP_BOTTOM VD_FRAME_BOTTOM
#define STRIP_CORNER VD_FRAME_CORNER
#define CORNER 16 // px at the ends of a strip that resize diagonally

/* requests */
#define COMPOSITOR_CREATE_SURFACE 0
#define SUBCOMPOSITOR_GET_SUBSURFACE 1
#define SURFACE_DESTROY 0
#define SURFACE_ATTACH 1
#define SURFACE_DAMAGE 2
#define SURFACE_COMMIT 6
#define SURFACE_SET_BUFFER_SCALE 8
#define SURFACE_DAMAGE_BUFFER 9
#define SUBSURFACE_DESTROY 0
#define SUBSURFACE_SET_POSITION 1
#define SUBSURFACE_PLACE_ABOVE 2
#define SHM_CREATE_POOL 0
#define SHM_POOL_CREATE_BUFFER 0
#define SHM_POOL_DESTROY 1
#define BUFFER_DESTROY 0
#define BUFFER_EVENT_RELEASE 0
#define XDG_TOPLEVEL_MOVE 5
#define XDG_TOPLEVEL_RESIZE 6

struct vd_strip {
	struct vd_object *surface, *subsurface;
	struct vd_object *buffer; // attached; its data points back here
	struct vd_frame_rect rect; // relative to the surface origin
	bool placed;
};

struct vd_frame {
	struct vd_session *session;
	struct vd_xdg_surface *xdg;
	bool popup;
	bool hidden, shown_hidden;
	bool title_dirty;
	char *title;
	int32_t x, y, width, height; // geometry laid out last
	int32_t scale; // buffer scale of the strips: the client's own
	struct vd_strip strips[STRIPS];
};

static struct vd_frame_style frame_style(bool popup) {
	return popup ? VD_FRAME_STYLE_POPUP : VD_FRAME_STYLE_TOPLEVEL;
}

void frame_extents(int32_t *left, int32_t *top, int32_t *right, int32_t *bottom) {
	struct vd_frame_style style = VD_FRAME_STYLE_TOPLEVEL;
	struct vd_frame_extents extents = vd_frame_extents(&style);
	*left = extents.left;
	*top = extents.top;
	*right = extents.right;
	*bottom = extents.bottom;
}

/* Buffers */

static void buffer_event(struct vd_session *session, struct vd_object *buffer,
		const struct vd_wire_message *msg, const int *fds) {
	if (msg->header.opcode != BUFFER_EVENT_RELEASE) {
		return;
	}
	struct vd_strip *strip = buffer->data;
	if (strip != NULL) {
		return; // still the strip's current content
	}
	vd_session_destroy_object(session, buffer, BUFFER_DESTROY);
}

static const struct vd_object_impl buffer_impl = {
	.event = buffer_event,
};

/* Draws a strip into a new shm buffer of width x height (buffer pixels);
 * NULL on failure. */
static struct vd_object *render_strip(struct vd_frame *frame, int index, int width,
		int height) {
	struct vd_session *session = frame->session;
	struct vd_shell *shell = session->shell;
	int stride = vd_frame_stride(width);
	size_t size = (size_t)stride * (size_t)height;
	int fd = memfd_create("vmdesk-frame", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		vd_log_errno(VD_ERROR, "memfd_create failed");
		return NULL;
	}
	if (ftruncate(fd, (off_t)size) != 0) {
		vd_log_errno(VD_ERROR, "cannot size a frame buffer");
		close(fd);
		return NULL;
	}
	void *pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pixels == MAP_FAILED) {
		vd_log_errno(VD_ERROR, "cannot map a frame buffer");
		close(fd);
		return NULL;
	}
	struct vd_color color = session->server->color;
	bool drawn = index == STRIP_TOP && !frame->popup ?
		vd_frame_render_title(pixels, width, height, stride, frame->scale, color,
			session->server->vm, frame->title) :
		(vd_frame_render_solid(pixels, width, height, stride, color), true);
	munmap(pixels, size);
	if (!drawn) {
		close(fd);
		return NULL;
	}
	struct vd_object *pool = vd_session_new_object(session, &vd_iface_wl_shm_pool, 1, NULL,
		NULL);
	struct vd_object *buffer = vd_session_new_object(session, &vd_iface_wl_buffer, 1,
		&buffer_impl, NULL);
	if (pool == NULL || buffer == NULL) {
		close(fd);
		vd_session_destroy_object(session, pool, SHM_POOL_DESTROY);
		vd_session_destroy_object(session, buffer, BUFFER_DESTROY);
		return NULL;
	}
	vd_session_request(session, shell->shm, SHM_CREATE_POOL, "nhi", pool, fd, (int32_t)size);
	vd_session_request(session, pool, SHM_POOL_CREATE_BUFFER, "niiiiu", buffer, 0, width,
		height, stride, 0 /* argb8888 */);
	vd_session_destroy_object(session, pool, SHM_POOL_DESTROY);
	return buffer;
}

static void strip_set_buffer(struct vd_frame *frame, struct vd_strip *strip,
		struct vd_object *buffer) {
	struct vd_session *session = frame->session;
	if (strip->buffer != NULL) {
		/* the old one goes when the compositor releases it */
		strip->buffer->data = NULL;
	}
	strip->buffer = buffer;
	if (buffer != NULL) {
		buffer->data = strip;
	}
	vd_session_request(session, strip->surface, SURFACE_ATTACH, "oii", buffer, 0, 0);
	if (buffer != NULL) {
		if (session->shell->compositor->version >= 4) {
			vd_session_request(session, strip->surface, SURFACE_DAMAGE_BUFFER, "iiii", 0,
				0, strip->rect.width * frame->scale, strip->rect.height * frame->scale);
		} else {
			vd_session_request(session, strip->surface, SURFACE_DAMAGE, "iiii", 0, 0,
				strip->rect.width, strip->rect.height);
		}
	}
	vd_session_request(session, strip->surface, SURFACE_COMMIT, "");
}

/* Surfaces */

static const struct vd_object_impl strip_surface_impl = { 0 };

struct vd_frame *frame_create(struct vd_session *session, struct vd_xdg_surface *xdg,
		bool popup) {
	struct vd_shell *shell = session->shell;
	if (xdg->surface == NULL || xdg->surface->object->upstream_id == 0) {
		return NULL; // nothing on the compositor's side to frame
	}
	if (shell == NULL || shell->compositor == NULL || shell->subcompositor == NULL ||
			shell->shm == NULL) {
		vd_log(VD_WARN, "vm=%s: cannot frame a window: the compositor lacks "
			"wl_compositor, wl_subcompositor or wl_shm", session->server->vm);
		return NULL;
	}
	struct vd_frame *frame = calloc(1, sizeof(*frame));
	if (frame == NULL) {
		return NULL;
	}
	frame->session = session;
	frame->xdg = xdg;
	frame->popup = popup;
	frame->title_dirty = true;
	frame->scale = 1;
	for (int i = 0; i < STRIPS; i++) {
		struct vd_strip *strip = &frame->strips[i];
		strip->surface = vd_session_new_object(session, &vd_iface_wl_surface,
			shell->compositor->version, &strip_surface_impl, frame);
		strip->subsurface = vd_session_new_object(session, &vd_iface_wl_subsurface, 1,
			NULL, NULL);
		if (strip->surface == NULL || strip->subsurface == NULL) {
			frame_destroy(frame);
			return NULL;
		}
		vd_session_request(session, shell->compositor, COMPOSITOR_CREATE_SURFACE, "n",
			strip->surface);
		vd_session_request(session, shell->subcompositor, SUBCOMPOSITOR_GET_SUBSURFACE,
			"noo", strip->subsurface, strip->surface, xdg->surface->object);
	}
	return frame;
}

void frame_destroy(struct vd_frame *frame) {
	if (frame == NULL) {
		return;
	}
	struct vd_session *session = frame->session;
	for (int i = 0; i < STRIPS; i++) {
		struct vd_strip *strip = &frame->strips[i];
		vd_session_destroy_object(session, strip->subsurface, SUBSURFACE_DESTROY);
		vd_session_destroy_object(session, strip->surface, SURFACE_DESTROY);
		vd_session_destroy_object(session, strip->buffer, BUFFER_DESTROY);
	}
	free(frame->title);
	free(frame);
}

void frame_set_title(struct vd_frame *frame, const char *title) {
	if (frame == NULL || frame->popup) {
		return;
	}
	free(frame->title);
	frame->title = title != NULL ? strdup(title) : NULL;
	frame->title_dirty = true;
	if (frame->width > 0) {
		/* redraw now; it shows with the client's next commit */
		struct vd_geometry g = { frame->x, frame->y, frame->width, frame->height };
		frame_update(frame, &g, frame->scale);
	}
}

void frame_set_hidden(struct vd_frame *frame, bool hidden) {
	if (frame != NULL) {
		frame->hidden = hidden;
	}
}

void frame_raise(struct vd_frame *frame, struct vd_object *child_surface) {
	for (int i = 0; i < STRIPS; i++) {
		vd_session_request(frame->session, frame->strips[i].subsurface,
			SUBSURFACE_PLACE_ABOVE, "o", child_surface);
	}
}

void frame_update(struct vd_frame *frame, const struct vd_geometry *g, int32_t scale) {
	if (frame == NULL) {
		return;
	}
	struct vd_session *session = frame->session;
	if (frame->hidden) {
		if (!frame->shown_hidden) {
			for (int i = 0; i < STRIPS; i++) {
				strip_set_buffer(frame, &frame->strips[i], NULL);
			}
			frame->shown_hidden = true;
		}
		return;
	}
	int32_t x = g->x, y = g->y, w = g->width, h = g->height;
	if (w <= 0 || h <= 0) {
		return;
	}
	/* draw at the client's scale (its output's), so the frame is as sharp */
	if (scale < 1 || scale > VD_FRAME_MAX_SCALE ||
			session->shell->compositor->version < 3) {
		scale = 1;
	}
	bool rescaled = scale != frame->scale;
	if (rescaled) {
		frame->scale = scale;
		for (int i = 0; i < STRIPS; i++) {
			vd_session_request(session, frame->strips[i].surface,
				SURFACE_SET_BUFFER_SCALE, "i", scale);
		}
	}
	bool resized = w != frame->width || h != frame->height || frame->shown_hidden ||
		rescaled;
	bool moved = x != frame->x || y != frame->y;
	if (!resized && !moved && !frame->title_dirty) {
		return; // the common case: nothing to do on this commit
	}
	struct vd_frame_style style = frame_style(frame->popup);
	struct vd_frame_rect rects[STRIPS];
	vd_frame_layout(&style, w, h, rects);
	for (int i = 0; i < STRIPS; i++) {
		struct vd_strip *strip = &frame->strips[i];
		struct vd_frame_rect rect = rects[i];
		rect.x += x;
		rect.y += y;
		if (!strip->placed || rect.x != strip->rect.x || rect.y != strip->rect.y) {
			vd_session_request(session, strip->subsurface, SUBSURFACE_SET_POSITION,
				"ii", rect.x, rect.y);
			strip->placed = true;
		}
		bool redraw = resized || (i == STRIP_TOP && frame->title_dirty) ||
			strip->buffer == NULL;
		strip->rect = rect;
		if (redraw && rect.width > 0 && rect.height > 0) {
			struct vd_object *buffer = render_strip(frame, i, rect.width * scale,
				rect.height * scale);
			if (buffer != NULL) {
				strip_set_buffer(frame, strip, buffer);
			}
		}
	}
	frame->x = x;
	frame->y = y;
	frame->width = w;
	frame->height = h;
	frame->title_dirty = false;
	frame->shown_hidden = false;
}

/* Input: the client's wl_pointer sees the frame's surfaces; the proxy takes
 * those events and turns a press into an interactive move or resize. */

struct vd_pointer {
	uint32_t seat_id; // client ID of the seat the pointer came from
	uint32_t focus; // upstream ID of the frame strip under the pointer; 0: none
	double x, y;
	bool forwarded; // an event went to the client since the last frame event
};

static void pointer_gone(struct vd_session *session, struct vd_object *object) {
	free(object->data);
	object->data = NULL;
}

static const struct vd_object_impl pointer_impl = {
	.gone = pointer_gone,
};

bool seat_handle_get_pointer(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_pointer *pointer = calloc(1, sizeof(*pointer));
	if (pointer == NULL) {
		return true;
	}
	pointer->seat_id = ctx->object->client_id;
	object->impl = &pointer_impl;
	object->data = pointer;
	return true;
}

static struct vd_frame *strip_frame(struct vd_session *session, uint32_t upstream_id,
		int *index) {
	struct vd_object *surface = vd_object_map_get(&session->upstream_map, upstream_id);
	if (surface == NULL || surface->impl != &strip_surface_impl ||
			(surface->flags & VD_OBJECT_CLIENT_GONE)) {
		return NULL;
	}
	struct vd_frame *frame = surface->data;
	for (int i = 0; i < STRIPS; i++) {
		if (frame->strips[i].surface == surface) {
			*index = i;
			return frame;
		}
	}
	return NULL;
}

static uint32_t resize_edges(const struct vd_frame *frame, int index, double x, double y) {
	enum { TOP = 1, BOTTOM = 2, LEFT = 4, RIGHT = 8 };
	const struct vd_frame_rect *rect = &frame->strips[index].rect;
	switch (index) {
	case STRIP_TOP:
		if (y >= VD_FRAME_BORDER) {
			return 0; // the title bar: move
		}
		return TOP | (x < CORNER ? LEFT : 0) |
			(x >= rect->width - CORNER + VD_FRAME_BORDER ? RIGHT : 0);
	case STRIP_LEFT:
		return LEFT | (y >= rect->height - CORNER ? BOTTOM : 0);
	case STRIP_RIGHT:
		return RIGHT | (y >= rect->height - CORNER ? BOTTOM : 0);
	case STRIP_BOTTOM:
		return BOTTOM | (x < CORNER ? LEFT : 0) | (x >= rect->width - CORNER ? RIGHT : 0);
	case STRIP_CORNER:
		return TOP | RIGHT;
	}
	return 0;
}

static void handle_press(struct vd_session *session, struct vd_pointer *pointer,
		uint32_t serial) {
	int index;
	struct vd_frame *frame = strip_frame(session, pointer->focus, &index);
	if (frame == NULL || frame->popup || frame->xdg->toplevel == NULL) {
		return;
	}
	struct vd_object *seat = vd_session_client_object(session, pointer->seat_id);
	struct vd_object *toplevel = frame->xdg->toplevel->object;
	if (seat == NULL) {
		return;
	}
	uint32_t edges = resize_edges(frame, index, pointer->x, pointer->y);
	if (edges == 0) {
		vd_session_request(session, toplevel, XDG_TOPLEVEL_MOVE, "ou", seat, serial);
	} else {
		vd_session_request(session, toplevel, XDG_TOPLEVEL_RESIZE, "ouu", seat, serial,
			edges);
	}
}

bool pointer_handle_event(struct vd_hook_ctx *ctx) {
	enum { ENTER, LEAVE, MOTION, BUTTON, AXIS, FRAME };
	struct vd_pointer *pointer = ctx->object->impl == &pointer_impl ? ctx->object->data : NULL;
	if (pointer == NULL) {
		return true;
	}
	const struct vd_wire_message *msg = ctx->msg;
	int index;
	switch (msg->header.opcode) {
	case ENTER:
		if (strip_frame(ctx->session, msg->args[1].id, &index) != NULL) {
			pointer->focus = msg->args[1].id;
			pointer->x = msg->args[2].i / 256.0;
			pointer->y = msg->args[3].i / 256.0;
			return false;
		}
		pointer->focus = 0;
		break;
	case LEAVE:
		if (pointer->focus != 0 && msg->args[1].id == pointer->focus) {
			pointer->focus = 0;
			return false;
		}
		break;
	case MOTION:
		if (pointer->focus != 0) {
			pointer->x = msg->args[1].i / 256.0;
			pointer->y = msg->args[2].i / 256.0;
			return false;
		}
		break;
	case BUTTON:
		clipboard_note_serial(ctx->session, msg->args[0].u);
		if (pointer->focus != 0) {
			/* BTN_LEFT pressed */
			if (msg->args[2].u == 0x110 && msg->args[3].u == 1) {
				handle_press(ctx->session, pointer, msg->args[0].u);
			}
			return false;
		}
		break;
	case FRAME:
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
