#define LOG_TAG "xdg"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "protocols/log.h"
#include "proxy/policy.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * xdg-shell: what the proxy tracks and rewrites for the VM's windows.
 *
 * Titles become "[vm] title" and app IDs "vmdesk.vm.app_id". A framed
 * toplevel's window geometry is the proxy's to send: at each commit the
 * client's geometry (clamped to its surface, as the compositor would) is
 * enlarged by the frame, so the compositor sees the frame as part of the
 * window; configure sizes shrink by the frame on the way back. Popups of a
 * framed toplevel are positioned relative to its enlarged geometry, so the
 * proxy shifts their anchor rectangles and configured positions by the
 * frame. Role objects whose wl_surface is gone are made inert: compositors
 * are known to crash on their requests.
 */

enum {
	XDG_WM_BASE_ERROR_ROLE = 0,
	XDG_WM_BASE_ERROR_INVALID_POPUP_PARENT = 3,
	XDG_SURFACE_ERROR_ALREADY_CONSTRUCTED = 2,
	XDG_SURFACE_ERROR_INVALID_SIZE = 5,
	XDG_SURFACE_SET_WINDOW_GEOMETRY = 3,
	XDG_POSITIONER_SET_ANCHOR_RECT = 2,
	XDG_TOPLEVEL_SET_TITLE = 2,
	XDG_TOPLEVEL_SET_MAXIMIZED = 9,
	XDG_TOPLEVEL_UNSET_MAXIMIZED = 10,
	XDG_TOPLEVEL_STATE_FULLSCREEN = 2,
};

#define MAX_SIZE 32767

/* Replacement messages are built here (single-threaded). */
static uint8_t replacement[VD_WIRE_MAX_MESSAGE_SIZE];

/* xdg_surface */

static void xdg_surface_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_xdg_surface *xdg = object->data;
	frame_destroy(xdg->frame);
	if (xdg->surface != NULL) {
		xdg->surface->xdg = NULL;
	}
	if (xdg->toplevel != NULL) {
		xdg->toplevel->xdg = NULL;
	}
	if (xdg->popup != NULL) {
		xdg->popup->xdg = NULL;
	}
	free(xdg);
	object->data = NULL;
}

static const struct vd_object_impl xdg_surface_impl = {
	.gone = xdg_surface_gone,
};

static struct vd_xdg_surface *xdg_surface_from(struct vd_object *object) {
	return object != NULL && object->impl == &xdg_surface_impl ? object->data : NULL;
}

bool xdg_wm_base_handle_get_xdg_surface(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface =
		surface_from(vd_session_client_object(ctx->session, ctx->msg->args[1].id));
	if (surface != NULL && surface->xdg != NULL) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			XDG_WM_BASE_ERROR_ROLE, "wl_surface@%u already has an xdg_surface",
			ctx->msg->args[1].id);
		return false;
	}
	return true;
}

bool xdg_wm_base_handle_get_xdg_surface_done(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_surface *surface =
		surface_from(vd_session_client_object(ctx->session, ctx->msg->args[1].id));
	struct vd_xdg_surface *xdg = calloc(1, sizeof(*xdg));
	if (xdg == NULL) {
		return true;
	}
	xdg->object = object;
	xdg->wm_base_id = ctx->object->client_id;
	if (surface != NULL && surface->xdg == NULL) {
		xdg->surface = surface;
		surface->xdg = xdg;
	}
	object->impl = &xdg_surface_impl;
	object->data = xdg;
	return true;
}

bool xdg_gate_role_request(struct vd_hook_ctx *ctx) {
	enum { DESTROY = 0, GET_TOPLEVEL = 1, GET_POPUP = 2 };
	uint16_t opcode = ctx->msg->header.opcode;
	if (opcode == DESTROY) {
		return true;
	}
	const struct vd_xdg_surface *xdg;
	if (ctx->object->interface == &vd_iface_xdg_surface) {
		if (opcode != GET_TOPLEVEL && opcode != GET_POPUP) {
			return true; // harmless without a surface
		}
		xdg = xdg_surface_from(ctx->object);
	} else if (ctx->object->interface == &vd_iface_xdg_toplevel) {
		const struct vd_toplevel *toplevel = ctx->object->data;
		xdg = toplevel != NULL ? toplevel->xdg : NULL;
	} else {
		const struct vd_popup *popup = ctx->object->data;
		xdg = popup != NULL ? popup->xdg : NULL;
	}
	if (xdg != NULL && xdg->surface != NULL) {
		return true;
	}
	vd_log(VD_DEBUG, "vm=%s: %s.%s on an object whose surface is gone: dropped",
		ctx->session->server->vm, ctx->object->interface->name, ctx->msg->desc->name);
	return false;
}

/* The window geometry the compositor applies: the client's, clamped to the
 * surface as xdg-shell says, or the surface's bounds when it set none. */
static bool effective_geometry(const struct vd_xdg_surface *xdg, struct vd_geometry *g) {
	const struct vd_surface *surface = xdg->surface;
	struct vd_geometry bounds = { 0, 0, surface->width, surface->height };
	if (!xdg->has_geometry) {
		*g = bounds;
		return g->width > 0 && g->height > 0;
	}
	*g = xdg->geometry;
	if (bounds.width > 0 && bounds.height > 0) {
		int32_t x1 = g->x > 0 ? g->x : 0;
		int32_t y1 = g->y > 0 ? g->y : 0;
		int32_t x2 = g->x + g->width < bounds.width ? g->x + g->width : bounds.width;
		int32_t y2 = g->y + g->height < bounds.height ? g->y + g->height : bounds.height;
		if (x2 > x1 && y2 > y1) {
			*g = (struct vd_geometry){ x1, y1, x2 - x1, y2 - y1 };
		} else {
			*g = bounds; // the compositor ignores an empty intersection
		}
	}
	return g->width > 0 && g->height > 0;
}

void xdg_surface_commit(struct vd_session *session, struct vd_xdg_surface *xdg) {
	if (xdg->frame == NULL || xdg->surface == NULL) {
		return;
	}
	struct vd_geometry g;
	if (!effective_geometry(xdg, &g)) {
		return;
	}
	if (xdg->toplevel != NULL) {
		struct vd_geometry want = g;
		if (!xdg->toplevel->fullscreen) {
			int32_t left, top, right, bottom;
			frame_extents(&left, &top, &right, &bottom);
			want = (struct vd_geometry){ g.x - left, g.y - top,
				g.width + left + right, g.height + top + bottom };
		}
		if (!xdg->sent || memcmp(&want, &xdg->sent_geometry, sizeof(want)) != 0) {
			vd_session_request(session, xdg->object, XDG_SURFACE_SET_WINDOW_GEOMETRY,
				"iiii", want.x, want.y, want.width, want.height);
			xdg->sent = true;
			xdg->sent_geometry = want;
		}
	}
	frame_update(xdg->frame, &g, xdg->surface->scale);
}

bool xdg_surface_handle_set_window_geometry(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	const struct vd_wire_message *msg = ctx->msg;
	int32_t x = msg->args[0].i, y = msg->args[1].i;
	int32_t w = msg->args[2].i, h = msg->args[3].i;
	if (w <= 0 || h <= 0 || w > MAX_SIZE || h > MAX_SIZE || x < -MAX_SIZE ||
			x > MAX_SIZE || y < -MAX_SIZE || y > MAX_SIZE) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			XDG_SURFACE_ERROR_INVALID_SIZE, "invalid window geometry %dx%d%+d%+d",
			w, h, x, y);
		return false;
	}
	if (xdg == NULL) {
		return true;
	}
	xdg->has_geometry = true;
	xdg->geometry = (struct vd_geometry){ x, y, w, h };
	/* a framed toplevel's geometry is sent at commit, enlarged */
	return xdg->toplevel == NULL || xdg->frame == NULL;
}

static bool has_role(const struct vd_xdg_surface *xdg) {
	return xdg->toplevel != NULL || xdg->popup != NULL;
}

/* Positioners: the anchor rectangle, to shift it for framed parents. */

struct positioner {
	bool has_anchor;
	struct vd_geometry anchor;
};

static void positioner_gone(struct vd_session *session, struct vd_object *object) {
	free(object->data);
	object->data = NULL;
}

static const struct vd_object_impl positioner_impl = {
	.gone = positioner_gone,
};

bool xdg_wm_base_handle_create_positioner_done(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct positioner *positioner = calloc(1, sizeof(*positioner));
	if (positioner != NULL) {
		object->impl = &positioner_impl;
		object->data = positioner;
	}
	return true;
}

bool xdg_positioner_handle_set_anchor_rect(struct vd_hook_ctx *ctx) {
	struct positioner *positioner = ctx->object->impl == &positioner_impl ?
		ctx->object->data : NULL;
	const struct vd_wire_message *msg = ctx->msg;
	if (positioner != NULL && msg->args[2].i > 0 && msg->args[3].i > 0) {
		positioner->has_anchor = true;
		positioner->anchor = (struct vd_geometry){ msg->args[0].i, msg->args[1].i,
			msg->args[2].i, msg->args[3].i };
	}
	return true;
}

/* Where the compositor puts the origin of a popup parent's geometry,
 * relative to the client's idea of it. */
static void parent_offset(const struct vd_xdg_surface *parent, int32_t *dx, int32_t *dy) {
	*dx = *dy = 0;
	if (parent != NULL && parent->toplevel != NULL && parent->frame != NULL &&
			!parent->toplevel->fullscreen) {
		int32_t right, bottom;
		frame_extents(dx, dy, &right, &bottom);
	}
}

/* Sends the positioner's anchor shifted by (dx, dy): 1 before, -1 after. */
static void shift_anchor(struct vd_session *session, struct vd_object *object, int32_t dx,
		int32_t dy, int sign) {
	struct positioner *positioner = object != NULL && object->impl == &positioner_impl ?
		object->data : NULL;
	if (positioner == NULL || !positioner->has_anchor || (dx == 0 && dy == 0)) {
		return;
	}
	const struct vd_geometry *a = &positioner->anchor;
	int32_t x = sign > 0 ? a->x + dx : a->x;
	int32_t y = sign > 0 ? a->y + dy : a->y;
	vd_session_request(session, object, XDG_POSITIONER_SET_ANCHOR_RECT, "iiii", x, y,
		a->width, a->height);
}

/* xdg_popup */

static void popup_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_popup *popup = object->data;
	if (popup->xdg != NULL) {
		popup->xdg->popup = NULL;
		frame_destroy(popup->xdg->frame);
		popup->xdg->frame = NULL;
	}
	free(popup);
	object->data = NULL;
}

static const struct vd_object_impl popup_impl = {
	.gone = popup_gone,
};

bool xdg_surface_handle_get_popup(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	const struct vd_wire_message *msg = ctx->msg;
	if (xdg != NULL && has_role(xdg)) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			XDG_SURFACE_ERROR_ALREADY_CONSTRUCTED, "xdg_surface@%u already has a role",
			ctx->object->client_id);
		return false;
	}
	if (msg->args[1].id == ctx->object->client_id) {
		vd_session_client_error(ctx->session, xdg != NULL ? xdg->wm_base_id : 1,
			xdg != NULL ? XDG_WM_BASE_ERROR_INVALID_POPUP_PARENT : 0,
			"xdg_popup cannot be its own parent");
		return false;
	}
	struct vd_xdg_surface *parent =
		xdg_surface_from(vd_session_client_object(ctx->session, msg->args[1].id));
	int32_t dx, dy;
	parent_offset(parent, &dx, &dy);
	shift_anchor(ctx->session, vd_session_client_object(ctx->session, msg->args[2].id),
		dx, dy, 1);
	return true;
}

bool xdg_surface_handle_get_popup_done(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	const struct vd_wire_message *msg = ctx->msg;
	struct vd_xdg_surface *parent =
		xdg_surface_from(vd_session_client_object(ctx->session, msg->args[1].id));
	int32_t dx, dy;
	parent_offset(parent, &dx, &dy);
	shift_anchor(ctx->session, vd_session_client_object(ctx->session, msg->args[2].id),
		dx, dy, -1);
	if (!ctx->forwarded || xdg == NULL) {
		return true;
	}
	struct vd_popup *popup = calloc(1, sizeof(*popup));
	if (popup == NULL) {
		return true;
	}
	struct vd_object *object = ctx->new_objects[0];
	popup->object = object;
	popup->xdg = xdg;
	popup->dx = dx;
	popup->dy = dy;
	object->impl = &popup_impl;
	object->data = popup;
	xdg->popup = popup;
	if (ctx->session->server->frames && xdg->frame == NULL) {
		xdg->frame = frame_create(ctx->session, xdg, true);
	}
	return true;
}

static struct vd_popup *popup_from(struct vd_object *object) {
	return object != NULL && object->impl == &popup_impl ? object->data : NULL;
}

bool xdg_popup_handle_reposition(struct vd_hook_ctx *ctx) {
	struct vd_popup *popup = popup_from(ctx->object);
	if (popup != NULL) {
		shift_anchor(ctx->session,
			vd_session_client_object(ctx->session, ctx->msg->args[0].id), popup->dx,
			popup->dy, 1);
	}
	return true;
}

bool xdg_popup_handle_reposition_done(struct vd_hook_ctx *ctx) {
	struct vd_popup *popup = popup_from(ctx->object);
	if (popup != NULL) {
		shift_anchor(ctx->session,
			vd_session_client_object(ctx->session, ctx->msg->args[0].id), popup->dx,
			popup->dy, -1);
	}
	return true;
}

bool xdg_popup_handle_configure(struct vd_hook_ctx *ctx) {
	struct vd_popup *popup = popup_from(ctx->object);
	if (popup != NULL && (popup->dx != 0 || popup->dy != 0)) {
		const struct vd_wire_message *msg = ctx->msg;
		vd_wire_put_u32(ctx->data, msg->args[0].offset, (uint32_t)(msg->args[0].i - popup->dx));
		vd_wire_put_u32(ctx->data, msg->args[1].offset, (uint32_t)(msg->args[1].i - popup->dy));
	}
	return true;
}

/* xdg_toplevel */

static void toplevel_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_toplevel *toplevel = object->data;
	if (toplevel->xdg != NULL) {
		toplevel->xdg->toplevel = NULL;
		frame_destroy(toplevel->xdg->frame);
		toplevel->xdg->frame = NULL;
	}
	free(toplevel->title);
	free(toplevel);
	object->data = NULL;
}

static const struct vd_object_impl toplevel_impl = {
	.gone = toplevel_gone,
};

static struct vd_toplevel *toplevel_from(struct vd_object *object) {
	return object != NULL && object->impl == &toplevel_impl ? object->data : NULL;
}

bool xdg_surface_handle_get_toplevel(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	if (xdg != NULL && has_role(xdg)) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			XDG_SURFACE_ERROR_ALREADY_CONSTRUCTED, "xdg_surface@%u already has a role",
			ctx->object->client_id);
		return false;
	}
	return true;
}

bool xdg_surface_handle_get_toplevel_done(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	struct vd_object *object = ctx->new_objects[0];
	if (!ctx->forwarded || xdg == NULL) {
		return true;
	}
	struct vd_toplevel *toplevel = calloc(1, sizeof(*toplevel));
	if (toplevel == NULL) {
		return true;
	}
	toplevel->object = object;
	toplevel->xdg = xdg;
	object->impl = &toplevel_impl;
	object->data = toplevel;
	xdg->toplevel = toplevel;
	/* every window reads "[vm]" even if it never sets a title */
	char *title = vd_title_format(ctx->session->server->vm, NULL);
	if (title != NULL) {
		vd_session_request(ctx->session, object, XDG_TOPLEVEL_SET_TITLE, "s", title);
		free(title);
	}
	if (ctx->session->server->frames && xdg->frame == NULL) {
		xdg->frame = frame_create(ctx->session, xdg, false);
	}
	return true;
}

/* Replaces the message with one string argument. */
static bool replace_with_string(struct vd_hook_ctx *ctx, const char *str) {
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, replacement, 0, ctx->msg->header.opcode);
	vd_wire_writer_put_string(&writer, str);
	if (!vd_wire_writer_finish(&writer)) {
		return false;
	}
	ctx->replacement = replacement;
	ctx->replacement_size = writer.size;
	return true;
}

bool xdg_toplevel_handle_set_title(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	const char *vm = ctx->session->server->vm;
	char *title = vd_title_format(vm, ctx->msg->args[0].str.data);
	if (title == NULL || !replace_with_string(ctx, title)) {
		free(title);
		return false;
	}
	free(title);
	if (toplevel != NULL) {
		free(toplevel->title);
		toplevel->title = vd_title_sanitize(ctx->msg->args[0].str.data,
			VD_TITLE_MAX_BYTES);
		if (toplevel->xdg != NULL && toplevel->xdg->frame != NULL) {
			frame_set_title(toplevel->xdg->frame, toplevel->title);
		}
	}
	return true;
}

bool xdg_toplevel_handle_set_app_id(struct vd_hook_ctx *ctx) {
	char *app_id = vd_app_id_format(ctx->session->server->vm, ctx->msg->args[0].str.data);
	bool ok = app_id != NULL && replace_with_string(ctx, app_id);
	free(app_id);
	return ok;
}

static bool grow_size(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel == NULL || toplevel->xdg == NULL || toplevel->xdg->frame == NULL) {
		return true;
	}
	int32_t left, top, right, bottom;
	frame_extents(&left, &top, &right, &bottom);
	const struct vd_wire_message *msg = ctx->msg;
	int32_t w = msg->args[0].i, h = msg->args[1].i;
	if (w > 0 && w <= MAX_SIZE) {
		vd_wire_put_u32(ctx->data, msg->args[0].offset, (uint32_t)(w + left + right));
	}
	if (h > 0 && h <= MAX_SIZE) {
		vd_wire_put_u32(ctx->data, msg->args[1].offset, (uint32_t)(h + top + bottom));
	}
	return true;
}

bool xdg_toplevel_handle_set_max_size(struct vd_hook_ctx *ctx) {
	return grow_size(ctx);
}

bool xdg_toplevel_handle_set_min_size(struct vd_hook_ctx *ctx) {
	return grow_size(ctx);
}

static bool replace_with_empty(struct vd_hook_ctx *ctx, uint16_t opcode) {
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, replacement, 0, opcode);
	vd_wire_writer_finish(&writer);
	ctx->replacement = replacement;
	ctx->replacement_size = writer.size;
	return true;
}

bool xdg_toplevel_handle_set_fullscreen(struct vd_hook_ctx *ctx) {
	if (ctx->session->server->policy->allow_fullscreen) {
		return true;
	}
	/* a fullscreen window could paint a fake desktop without a frame:
	 * maximize it instead, frame visible */
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel != NULL) {
		toplevel->fullscreen_requested = true;
	}
	vd_log(VD_DEBUG, "vm=%s: fullscreen request turned into maximize",
		ctx->session->server->vm);
	return replace_with_empty(ctx, XDG_TOPLEVEL_SET_MAXIMIZED);
}

bool xdg_toplevel_handle_unset_fullscreen(struct vd_hook_ctx *ctx) {
	if (ctx->session->server->policy->allow_fullscreen) {
		return true;
	}
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel == NULL || !toplevel->fullscreen_requested) {
		return false; // it never was fullscreen: nothing to undo
	}
	toplevel->fullscreen_requested = false;
	return replace_with_empty(ctx, XDG_TOPLEVEL_UNSET_MAXIMIZED);
}

static bool states_have(const struct vd_wire_arg *states, uint32_t state) {
	const uint8_t *data = states->array.data;
	for (uint32_t off = 0; off + 4 <= states->array.size; off += 4) {
		uint32_t v;
		memcpy(&v, data + off, sizeof(v));
		if (v == state) {
			return true;
		}
	}
	return false;
}

static void shrink_size(struct vd_hook_ctx *ctx, int width_arg, int height_arg) {
	int32_t left, top, right, bottom;
	frame_extents(&left, &top, &right, &bottom);
	const struct vd_wire_message *msg = ctx->msg;
	int32_t w = msg->args[width_arg].i, h = msg->args[height_arg].i;
	if (w > 0) {
		w = w - left - right > 1 ? w - left - right : 1;
		vd_wire_put_u32(ctx->data, msg->args[width_arg].offset, (uint32_t)w);
	}
	if (h > 0) {
		h = h - top - bottom > 1 ? h - top - bottom : 1;
		vd_wire_put_u32(ctx->data, msg->args[height_arg].offset, (uint32_t)h);
	}
}

bool xdg_toplevel_handle_configure(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel == NULL || toplevel->xdg == NULL || toplevel->xdg->frame == NULL) {
		return true;
	}
	bool fullscreen = states_have(&ctx->msg->args[2], XDG_TOPLEVEL_STATE_FULLSCREEN);
	toplevel->fullscreen = fullscreen;
	frame_set_hidden(toplevel->xdg->frame, fullscreen);
	if (!fullscreen) {
		shrink_size(ctx, 0, 1);
	}
	return true;
}

bool xdg_toplevel_handle_configure_bounds(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel != NULL && toplevel->xdg != NULL && toplevel->xdg->frame != NULL) {
		shrink_size(ctx, 0, 1);
	}
	return true;
}
