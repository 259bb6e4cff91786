#define LOG_TAG "xdg"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/render.h"
#include "decoration/title.h"
#include "protocols/log.h"
#include "proxy/policy.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * xdg-shell windows: what the proxy tracks and rewrites (popups are in
 * proxy/popup.c).
 *
 * Titles become "[vm] title" and app IDs "vmdesk.vm.app_id". A framed
 * window's geometry is the proxy's to send: at each commit of its root the
 * client's geometry (clamped to its surface, as the compositor would) is
 * what the tree is cropped to (proxy/crop.c), so that the compositor's
 * surface starts at its corner; for a toplevel it is enlarged by the frame,
 * so the compositor sees the frame as part of the window, and configure
 * sizes shrink by the frame on the way back. Fullscreen keeps the frame
 * unless the policy allows a frameless one. Role objects whose wl_surface
 * is gone are made inert: compositors are known to crash on their requests.
 */

#define MAX_SIZE 32767

/* Replacement messages are built here (single-threaded). */
static uint8_t replacement[VD_WIRE_MAX_MESSAGE_SIZE];

/* xdg_surface */

static void xdg_surface_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_xdg_surface *xdg = object->data;
	frame_destroy(xdg->frame);
	xdg->frame = NULL;
	struct vd_popup *popup, *tmp;
	wl_list_for_each_safe(popup, tmp, &xdg->popups, link) {
		wl_list_remove(&popup->link);
		wl_list_init(&popup->link);
		popup->parent = NULL;
	}
	if (xdg->toplevel != NULL) {
		xdg->toplevel->xdg = NULL;
	}
	if (xdg->popup != NULL) {
		popup_detach(session, xdg->popup);
		xdg->popup->xdg = NULL;
	}
	if (xdg->surface != NULL) {
		xdg->surface->xdg = NULL;
		surface_tree_sync_mode(session, xdg->surface);
	}
	free(xdg);
	object->data = NULL;
}

static const struct vd_object_impl xdg_surface_impl = {
	.gone = xdg_surface_gone,
};

struct vd_xdg_surface *xdg_surface_from(struct vd_object *object) {
	return object != NULL && object->impl == &xdg_surface_impl ? object->data : NULL;
}

bool xdg_wm_base_handle_get_xdg_surface(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface =
		surface_from(vd_session_client_object(ctx->session, ctx->msg->args[1].id));
	if (surface != NULL && (surface->xdg != NULL || surface->sub != NULL)) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_XDG_WM_BASE_ERROR_ROLE, "wl_surface@%u already has a role",
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
		vd_session_client_error(ctx->session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	xdg->object = object;
	xdg->wm_base_id = ctx->object->client_id;
	wl_list_init(&xdg->popups);
	if (surface != NULL && surface->xdg == NULL) {
		xdg->surface = surface;
		surface->xdg = xdg;
	}
	object->impl = &xdg_surface_impl;
	object->data = xdg;
	return true;
}

bool xdg_gate_role_request(struct vd_hook_ctx *ctx) {
	uint16_t opcode = ctx->msg->header.opcode;
	if (opcode == VD_XDG_SURFACE_REQUEST_DESTROY) { // 0 for all three interfaces
		return true;
	}
	const struct vd_xdg_surface *xdg;
	if (ctx->object->interface == &vd_iface_xdg_surface) {
		if (opcode != VD_XDG_SURFACE_REQUEST_GET_TOPLEVEL &&
				opcode != VD_XDG_SURFACE_REQUEST_GET_POPUP) {
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

bool xdg_effective_geometry(const struct vd_xdg_surface *xdg, struct vd_geometry *g) {
	const struct vd_surface *surface = xdg->surface;
	struct vd_geometry bounds = { 0, 0, surface->width, surface->height };
	*g = bounds;
	if (xdg->has_geometry && bounds.width > 0 && bounds.height > 0) {
		const struct vd_geometry *c = &xdg->geometry;
		int32_t x1 = c->x > 0 ? c->x : 0;
		int32_t y1 = c->y > 0 ? c->y : 0;
		int64_t x2 = (int64_t)c->x + c->width, y2 = (int64_t)c->y + c->height;
		x2 = x2 < bounds.width ? x2 : bounds.width;
		y2 = y2 < bounds.height ? y2 : bounds.height;
		if (x2 > x1 && y2 > y1) {
			/* else the compositor ignores an empty intersection */
			*g = (struct vd_geometry){ x1, y1, (int32_t)(x2 - x1), (int32_t)(y2 - y1) };
		}
	}
	int32_t max_width = VD_FRAME_MAX_SIZE, max_height = VD_FRAME_MAX_SIZE;
	if (xdg->popup != NULL) {
		/* a popup shows no more than the compositor placed */
		popup_configured_size(xdg->popup, &max_width, &max_height);
	}
	g->width = g->width < max_width ? g->width : max_width;
	g->height = g->height < max_height ? g->height : max_height;
	return g->width > 0 && g->height > 0;
}

static bool toplevel_framed(const struct vd_toplevel *toplevel) {
	return toplevel != NULL && toplevel->xdg != NULL && toplevel->xdg->frame != NULL &&
		!toplevel->frameless;
}

void xdg_surface_commit(struct vd_session *session, struct vd_xdg_surface *xdg) {
	if (xdg == NULL || xdg->frame == NULL || xdg->surface == NULL) {
		return;
	}
	struct vd_geometry g;
	if (!xdg_effective_geometry(xdg, &g)) {
		return; // unmapped: nothing shows
	}
	xdg->shown = g;
	/* popups that the new frame would put under theirs go first */
	popup_check_tree(session, xdg);
	crop_tree(session, xdg->surface, &g);
	if (session->closing) {
		return;
	}
	/* the compositor's surface now starts at the geometry's corner */
	struct vd_geometry want = { 0, 0, g.width, g.height };
	if (toplevel_framed(xdg->toplevel)) {
		int32_t left, top, right, bottom;
		frame_extents(false, &left, &top, &right, &bottom);
		want = (struct vd_geometry){ -left, -top, g.width + left + right,
			g.height + top + bottom };
	}
	if (!xdg->sent || memcmp(&want, &xdg->sent_geometry, sizeof(want)) != 0) {
		vd_session_request(session, xdg->object, VD_XDG_SURFACE_REQUEST_SET_WINDOW_GEOMETRY,
			"iiii", want.x, want.y, want.width, want.height);
		xdg->sent = true;
		xdg->sent_geometry = want;
	}
	frame_update(xdg->frame, &(struct vd_geometry){ 0, 0, g.width, g.height },
		xdg->surface->current.scale);
}

bool xdg_surface_handle_set_window_geometry(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	const struct vd_wire_message *msg = ctx->msg;
	int32_t x = msg->args[0].i, y = msg->args[1].i;
	int32_t w = msg->args[2].i, h = msg->args[3].i;
	if (w <= 0 || h <= 0 || w > MAX_SIZE || h > MAX_SIZE || x < -MAX_SIZE ||
			x > MAX_SIZE || y < -MAX_SIZE || y > MAX_SIZE) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_XDG_SURFACE_ERROR_INVALID_SIZE, "invalid window geometry %dx%d%+d%+d",
			w, h, x, y);
		return false;
	}
	if (xdg == NULL) {
		return true;
	}
	xdg->has_geometry = true;
	xdg->geometry = (struct vd_geometry){ x, y, w, h };
	/* a framed window's geometry is sent at commit, cropped */
	return xdg->frame == NULL;
}

bool xdg_surface_handle_configure(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	if (xdg != NULL && xdg->popup != NULL && xdg->popup->drop_configure) {
		xdg->popup->drop_configure = false;
		return false; // the popup was dismissed on its xdg_popup.configure
	}
	return true;
}

/* xdg_toplevel */

static void toplevel_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_toplevel *toplevel = object->data;
	server_windows_changed(session->server, -1);
	decoration_toplevel_destroyed(session, toplevel);
	if (toplevel->xdg != NULL) {
		toplevel->xdg->toplevel = NULL;
		frame_destroy(toplevel->xdg->frame);
		toplevel->xdg->frame = NULL;
		if (toplevel->xdg->surface != NULL) {
			surface_tree_sync_mode(session, toplevel->xdg->surface);
		}
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

struct vd_toplevel *xdg_toplevel_from(struct vd_object *object) {
	return toplevel_from(object);
}

static bool has_role(const struct vd_xdg_surface *xdg) {
	return xdg->toplevel != NULL || xdg->popup != NULL;
}

bool xdg_surface_handle_get_toplevel(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	if (xdg != NULL && has_role(xdg)) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_XDG_SURFACE_ERROR_ALREADY_CONSTRUCTED, "xdg_surface@%u already has a role",
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
		vd_session_client_error(ctx->session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	toplevel->object = object;
	toplevel->xdg = xdg;
	object->impl = &toplevel_impl;
	object->data = toplevel;
	xdg->toplevel = toplevel;
	server_windows_changed(ctx->session->server, +1);
	/* every window reads "[vm]" even if it never sets a title */
	char *title = vd_title_format(ctx->session->server->vm, NULL);
	if (title != NULL) {
		vd_session_request(ctx->session, object, VD_XDG_TOPLEVEL_REQUEST_SET_TITLE, "s",
			title);
		free(title);
	}
	if (ctx->session->server->frames && xdg->frame == NULL) {
		xdg->frame = frame_create(ctx->session, xdg, false);
		if (xdg->frame != NULL && xdg->surface != NULL) {
			surface_tree_sync_mode(ctx->session, xdg->surface);
		}
		decoration_toplevel_created(ctx->session, toplevel);
	}
	return true;
}

bool xdg_toplevel_handle_destroy(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel != NULL) {
		/* the decoration must go before its toplevel */
		decoration_toplevel_destroyed(ctx->session, toplevel);
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

bool xdg_toplevel_handle_show_window_menu(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel_framed(toplevel)) {
		/* relative to the window geometry, which the frame enlarged */
		int32_t left, top, right, bottom;
		frame_extents(false, &left, &top, &right, &bottom);
		const struct vd_wire_message *msg = ctx->msg;
		vd_wire_put_u32(ctx->data, msg->args[2].offset, (uint32_t)(msg->args[2].i + left));
		vd_wire_put_u32(ctx->data, msg->args[3].offset, (uint32_t)(msg->args[3].i + top));
	}
	return true;
}

static bool grow_size(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel == NULL || toplevel->xdg == NULL || toplevel->xdg->frame == NULL) {
		return true;
	}
	int32_t left, top, right, bottom;
	frame_extents(false, &left, &top, &right, &bottom);
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

bool xdg_toplevel_handle_set_fullscreen(struct vd_hook_ctx *ctx) {
	/* the compositor makes it fullscreen; unless the policy allows a
	 * frameless one, the client gets the output less the frame and the
	 * frame stays around it (xdg_toplevel_handle_configure) */
	if (!ctx->session->server->policy->allow_fullscreen) {
		vd_log(VD_DEBUG, "vm=%s: fullscreen with the frame kept", ctx->session->server->vm);
	}
	return true;
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
	frame_extents(false, &left, &top, &right, &bottom);
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
	bool frameless = states_have(&ctx->msg->args[2], VD_XDG_TOPLEVEL_STATE_FULLSCREEN) &&
		ctx->session->server->policy->allow_fullscreen;
	toplevel->frameless = frameless;
	frame_set_hidden(toplevel->xdg->frame, frameless);
	if (!frameless) {
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
