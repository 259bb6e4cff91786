#define LOG_TAG "frame"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "decoration/render.h"
#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * A VM window's frame: five strips around the window geometry, each a
 * subsurface the proxy creates on the client's own compositor connection.
 * The client cannot name these objects, so it cannot move, cover or
 * repaint them; they stay above every subsurface it adds. The strips are
 * synchronized subsurfaces: whatever the proxy changes lands atomically
 * with the root's next commit, which the proxy forwards right after its own
 * requests, so no round trip is added. A new title alone is shown at once
 * instead: the title strip is desynchronized for that one commit.
 *
 * A frame that cannot be drawn ends its client: a window is never shown
 * without its frame.
 */

#define STRIPS VD_FRAME_PART_COUNT
#define CORNER 16 // px at the ends of a strip that resize diagonally
#define CAIRO_MAX_SIZE 32767 // cairo's largest image side

struct vd_strip {
	struct vd_object *surface, *subsurface;
	struct vd_object *buffer; // attached; its data points back here
	bool buffer_released; // the compositor released it while still attached
	struct vd_frame_rect rect; // relative to the window geometry's corner
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
	int32_t scale; // buffer scale of the strips
	struct wl_event_source *title_idle; // a title-only redraw is due
	struct vd_strip strips[STRIPS];
};

/* Frame buffers alive in this process, for the debug log (and the tests
 * that check that none leak). */
static size_t live_buffers;

static struct vd_frame_style frame_style(bool popup) {
	return popup ? VD_FRAME_STYLE_POPUP : VD_FRAME_STYLE_TOPLEVEL;
}

void frame_extents(bool popup, int32_t *left, int32_t *top, int32_t *right, int32_t *bottom) {
	struct vd_frame_style style = frame_style(popup);
	struct vd_frame_extents extents = vd_frame_extents(&style);
	*left = extents.left;
	*top = extents.top;
	*right = extents.right;
	*bottom = extents.bottom;
}

/* Buffers: each is destroyed once it is neither attached nor in use by the
 * compositor. A compositor may release a buffer while it is still attached
 * (GPU renderers release shm buffers once uploaded); such a buffer goes as
 * soon as it is replaced. */

static void buffer_destroy(struct vd_session *session, struct vd_object *buffer) {
	if (buffer == NULL) {
		return;
	}
	live_buffers--;
	vd_session_destroy_object(session, buffer, VD_WL_BUFFER_REQUEST_DESTROY);
}

static void buffer_event(struct vd_session *session, struct vd_object *buffer,
		const struct vd_wire_message *msg, const int *fds) {
	if (msg->header.opcode != VD_WL_BUFFER_EVENT_RELEASE) {
		return;
	}
	struct vd_strip *strip = buffer->data;
	if (strip != NULL) {
		strip->buffer_released = true; // still attached: goes when replaced
		return;
	}
	buffer_destroy(session, buffer);
}

static void buffer_gone(struct vd_session *session, struct vd_object *buffer) {
	/* the session ends with the buffer still waiting */
	struct vd_strip *strip = buffer->data;
	if (strip != NULL && strip->buffer == buffer) {
		strip->buffer = NULL;
	}
	live_buffers--;
}

static const struct vd_object_impl buffer_impl = {
	.event = buffer_event,
	.gone = buffer_gone,
};

/* Draws a strip into a new shm buffer of width x height (buffer pixels);
 * NULL on failure. */
static struct vd_object *render_strip(struct vd_frame *frame, int index, int width,
		int height) {
	struct vd_session *session = frame->session;
	struct vd_shell *shell = session->shell;
	int stride = vd_frame_stride(width);
	if (stride <= 0 || height <= 0) {
		return NULL;
	}
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
	bool drawn = index == VD_FRAME_TOP && !frame->popup ?
		vd_frame_render_title(pixels, width, height, stride, frame->scale, color,
			session->server->vm, frame->title) :
		vd_frame_render_solid(pixels, width, height, stride, color);
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
		vd_session_destroy_object(session, pool, VD_WL_SHM_POOL_REQUEST_DESTROY);
		vd_session_destroy_object(session, buffer, VD_WL_BUFFER_REQUEST_DESTROY);
		return NULL;
	}
	live_buffers++;
	vd_session_request(session, shell->shm, VD_WL_SHM_REQUEST_CREATE_POOL, "nhi", pool, fd,
		(int32_t)size);
	vd_session_request(session, pool, VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER, "niiiiu", buffer, 0,
		width, height, stride, VD_WL_SHM_FORMAT_ARGB8888);
	vd_session_destroy_object(session, pool, VD_WL_SHM_POOL_REQUEST_DESTROY);
	vd_log(VD_DEBUG, "vm=%s: frame buffers alive: %zu", session->server->vm, live_buffers);
	return buffer;
}

static void strip_set_buffer(struct vd_frame *frame, struct vd_strip *strip,
		struct vd_object *buffer) {
	struct vd_session *session = frame->session;
	if (strip->buffer != NULL) {
		if (strip->buffer_released) {
			buffer_destroy(session, strip->buffer); // the compositor is done with it
		} else {
			strip->buffer->data = NULL; // goes when the compositor releases it
		}
	}
	strip->buffer = buffer;
	strip->buffer_released = false;
	if (buffer != NULL) {
		buffer->data = strip;
	}
	vd_session_request(session, strip->surface, VD_WL_SURFACE_REQUEST_ATTACH, "oii", buffer,
		0, 0);
	if (buffer != NULL) {
		if (session->shell->compositor->version >= 4) {
			vd_session_request(session, strip->surface, VD_WL_SURFACE_REQUEST_DAMAGE_BUFFER,
				"iiii", 0, 0, strip->rect.width * frame->scale,
				strip->rect.height * frame->scale);
		} else {
			vd_session_request(session, strip->surface, VD_WL_SURFACE_REQUEST_DAMAGE, "iiii",
				0, 0, strip->rect.width, strip->rect.height);
		}
	}
	vd_session_request(session, strip->surface, VD_WL_SURFACE_REQUEST_COMMIT, "");
}

/* The frame cannot be drawn: the window must not show without it. */
static void frame_fail(struct vd_frame *frame, int width, int height) {
	struct vd_session *session = frame->session;
	vd_log(VD_ERROR, "vm=%s pid=%d: cannot draw a window frame (%dx%d at scale %d): "
		"closing the client", session->server->vm, (int)session->pid, width, height,
		frame->scale);
	vd_session_client_error(session, 1, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
		"vmdesk-proxy: cannot draw this window's frame");
}

/* Surfaces: the compositor could destroy a strip's objects (as some do a
 * role object with its surface); the frame then forgets them. */

static void strip_object_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_frame *frame = object->data;
	for (int i = 0; frame != NULL && i < STRIPS; i++) {
		if (frame->strips[i].surface == object) {
			frame->strips[i].surface = NULL;
		}
		if (frame->strips[i].subsurface == object) {
			frame->strips[i].subsurface = NULL;
		}
	}
}

static const struct vd_object_impl strip_surface_impl = {
	.gone = strip_object_gone,
};
static const struct vd_object_impl strip_subsurface_impl = {
	.gone = strip_object_gone,
};

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
		vd_session_client_error(session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY, "out of memory");
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
			&strip_subsurface_impl, frame);
		if (strip->surface == NULL || strip->subsurface == NULL) {
			frame_destroy(frame);
			vd_session_client_error(session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY,
				"out of memory");
			return NULL;
		}
		vd_session_request(session, shell->compositor,
			VD_WL_COMPOSITOR_REQUEST_CREATE_SURFACE, "n", strip->surface);
		vd_session_request(session, shell->subcompositor,
			VD_WL_SUBCOMPOSITOR_REQUEST_GET_SUBSURFACE, "noo", strip->subsurface,
			strip->surface, xdg->surface->object);
	}
	return frame;
}

void frame_destroy(struct vd_frame *frame) {
	if (frame == NULL) {
		return;
	}
	struct vd_session *session = frame->session;
	if (frame->title_idle != NULL) {
		wl_event_source_remove(frame->title_idle);
	}
	for (int i = 0; i < STRIPS; i++) {
		struct vd_strip *strip = &frame->strips[i];
		vd_session_destroy_object(session, strip->subsurface,
			VD_WL_SUBSURFACE_REQUEST_DESTROY);
		vd_session_destroy_object(session, strip->surface, VD_WL_SURFACE_REQUEST_DESTROY);
		buffer_destroy(session, strip->buffer);
	}
	free(frame->title);
	free(frame);
}

/* Draws the title strip alone and shows it now, without waiting for the
 * client's next commit: desynchronized for one commit of its own. */
static void handle_title_idle(void *data) {
	struct vd_frame *frame = data;
	struct vd_session *session = frame->session;
	frame->title_idle = NULL;
	struct vd_strip *strip = &frame->strips[VD_FRAME_TOP];
	if (!frame->title_dirty || frame->hidden || frame->width <= 0 || !strip->placed ||
			session->closing) {
		return;
	}
	int width = strip->rect.width * frame->scale, height = strip->rect.height * frame->scale;
	struct vd_object *buffer = render_strip(frame, VD_FRAME_TOP, width, height);
	if (buffer == NULL) {
		frame_fail(frame, width, height);
		vd_session_schedule_flush(session);
		return;
	}
	vd_session_request(session, strip->subsurface, VD_WL_SUBSURFACE_REQUEST_SET_DESYNC, "");
	strip_set_buffer(frame, strip, buffer);
	vd_session_request(session, strip->subsurface, VD_WL_SUBSURFACE_REQUEST_SET_SYNC, "");
	frame->title_dirty = false;
	vd_session_schedule_flush(session);
}

void frame_set_title(struct vd_frame *frame, const char *title) {
	if (frame == NULL || frame->popup) {
		return;
	}
	free(frame->title);
	frame->title = title != NULL ? strdup(title) : NULL;
	frame->title_dirty = true;
	if (frame->width > 0 && frame->title_idle == NULL) {
		/* once the messages read so far are handled, so that a burst of
		 * titles is drawn once */
		frame->title_idle = wl_event_loop_add_idle(frame->session->server->loop,
			handle_title_idle, frame);
	}
}

void frame_set_hidden(struct vd_frame *frame, bool hidden) {
	if (frame != NULL) {
		frame->hidden = hidden;
	}
}

bool frame_is_hidden(const struct vd_frame *frame) {
	return frame->hidden;
}

void frame_raise(struct vd_frame *frame, struct vd_object *child_surface) {
	for (int i = 0; i < STRIPS; i++) {
		vd_session_request(frame->session, frame->strips[i].subsurface,
			VD_WL_SUBSURFACE_REQUEST_PLACE_ABOVE, "o", child_surface);
	}
}

/* The scale the strips are drawn at: the client's, less if a strip would
 * be too wide for cairo at it. */
static int32_t render_scale(int32_t scale, const struct vd_frame_rect *rects,
		uint32_t compositor_version) {
	if (scale < 1 || compositor_version < 3) {
		scale = 1;
	}
	if (scale > VD_FRAME_MAX_SCALE) {
		scale = VD_FRAME_MAX_SCALE;
	}
	for (int i = 0; i < STRIPS; i++) {
		int32_t side = rects[i].width > rects[i].height ? rects[i].width : rects[i].height;
		while (scale > 1 && (int64_t)side * scale > CAIRO_MAX_SIZE) {
			scale--;
		}
	}
	return scale;
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
	struct vd_frame_style style = frame_style(frame->popup);
	struct vd_frame_rect rects[STRIPS];
	vd_frame_layout(&style, w, h, rects);
	scale = render_scale(scale, rects, session->shell->compositor->version);
	bool rescaled = scale != frame->scale;
	if (rescaled) {
		frame->scale = scale;
		for (int i = 0; i < STRIPS; i++) {
			vd_session_request(session, frame->strips[i].surface,
				VD_WL_SURFACE_REQUEST_SET_BUFFER_SCALE, "i", scale);
		}
	}
	bool resized = w != frame->width || h != frame->height || frame->shown_hidden ||
		rescaled;
	bool moved = x != frame->x || y != frame->y;
	if (!resized && !moved && !frame->title_dirty) {
		return; // the common case: nothing to do on this commit
	}
	for (int i = 0; i < STRIPS; i++) {
		struct vd_strip *strip = &frame->strips[i];
		struct vd_frame_rect rect = rects[i];
		rect.x += x;
		rect.y += y;
		if (!strip->placed || rect.x != strip->rect.x || rect.y != strip->rect.y) {
			vd_session_request(session, strip->subsurface,
				VD_WL_SUBSURFACE_REQUEST_SET_POSITION, "ii", rect.x, rect.y);
			strip->placed = true;
		}
		bool redraw = resized || (i == VD_FRAME_TOP && frame->title_dirty) ||
			strip->buffer == NULL;
		strip->rect = rect;
		if (redraw && rect.width > 0 && rect.height > 0) {
			struct vd_object *buffer = render_strip(frame, i, rect.width * scale,
				rect.height * scale);
			if (buffer == NULL) {
				frame_fail(frame, rect.width * scale, rect.height * scale);
				return;
			}
			strip_set_buffer(frame, strip, buffer);
		}
	}
	frame->x = x;
	frame->y = y;
	frame->width = w;
	frame->height = h;
	frame->title_dirty = false;
	frame->shown_hidden = false;
}

/* Input on the strips (proxy/input.c finds them) */

struct vd_frame *frame_from_strip(struct vd_session *session, uint32_t upstream_id, int *index) {
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
	const struct vd_frame_rect *rect = &frame->strips[index].rect;
	const uint32_t top = VD_XDG_TOPLEVEL_RESIZE_EDGE_TOP;
	const uint32_t bottom = VD_XDG_TOPLEVEL_RESIZE_EDGE_BOTTOM;
	const uint32_t left = VD_XDG_TOPLEVEL_RESIZE_EDGE_LEFT;
	const uint32_t right = VD_XDG_TOPLEVEL_RESIZE_EDGE_RIGHT;
	switch (index) {
	case VD_FRAME_TOP:
		if (y >= VD_FRAME_BORDER) {
			return 0; // the title bar: move
		}
		return top | (x < CORNER ? left : 0) |
			(x >= rect->width - CORNER + VD_FRAME_BORDER ? right : 0);
	case VD_FRAME_LEFT:
		return left | (y >= rect->height - CORNER ? bottom : 0);
	case VD_FRAME_RIGHT:
		return right | (y >= rect->height - CORNER ? bottom : 0);
	case VD_FRAME_BOTTOM:
		return bottom | (x < CORNER ? left : 0) | (x >= rect->width - CORNER ? right : 0);
	case VD_FRAME_CORNER:
		return top | right;
	}
	return 0;
}

void frame_handle_press(struct vd_frame *frame, int index, double x, double y,
		struct vd_object *seat, uint32_t serial) {
	if (frame->popup || frame->xdg == NULL || frame->xdg->toplevel == NULL) {
		return;
	}
	struct vd_object *toplevel = frame->xdg->toplevel->object;
	uint32_t edges = resize_edges(frame, index, x, y);
	if (edges == 0) {
		vd_session_request(frame->session, toplevel, VD_XDG_TOPLEVEL_REQUEST_MOVE, "ou", seat,
			serial);
	} else {
		vd_session_request(frame->session, toplevel, VD_XDG_TOPLEVEL_REQUEST_RESIZE, "ouu",
			seat, serial, edges);
	}
}
