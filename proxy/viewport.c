#define LOG_TAG "viewport"

#include <stdlib.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * The client's wp_viewport objects are served by the proxy and never reach
 * the compositor: a surface can have one viewport, and on a framed surface
 * that one is the proxy's, which shows the client's source and destination
 * composed with the crop to the window geometry (proxy/crop.c). The checks
 * are the protocol's, with its errors.
 */

#define FIXED_MINUS_ONE (-256) // wl_fixed -1.0

struct vd_viewport {
	struct vd_object *object;
	struct vd_surface *surface; // NULL once the surface is gone
};

static void viewport_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_viewport *viewport = object->data;
	if (viewport->surface != NULL && viewport->surface->viewport == viewport) {
		viewport->surface->viewport = NULL;
	}
	free(viewport);
	object->data = NULL;
}

static const struct vd_object_impl viewport_impl = {
	.gone = viewport_gone,
};

void viewport_surface_gone(struct vd_viewport *viewport) {
	if (viewport != NULL) {
		viewport->surface = NULL;
	}
}

bool viewporter_handle_get_viewport(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface =
		surface_from(vd_session_client_object(ctx->session, ctx->msg->args[1].id));
	if (surface != NULL && surface->viewport != NULL) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_WP_VIEWPORTER_ERROR_VIEWPORT_EXISTS,
			"wl_surface@%u already has a viewport", ctx->msg->args[1].id);
	}
	return false; // served here
}

bool viewporter_handle_get_viewport_done(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_viewport *viewport = calloc(1, sizeof(*viewport));
	if (viewport == NULL) {
		vd_session_client_error(ctx->session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	viewport->object = object;
	viewport->surface =
		surface_from(vd_session_client_object(ctx->session, ctx->msg->args[1].id));
	if (viewport->surface != NULL) {
		viewport->surface->viewport = viewport;
	}
	object->impl = &viewport_impl;
	object->data = viewport;
	return true;
}

static struct vd_surface *viewport_surface(struct vd_hook_ctx *ctx) {
	struct vd_viewport *viewport = ctx->object->impl == &viewport_impl ?
		ctx->object->data : NULL;
	if (viewport == NULL || viewport->surface == NULL) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_WP_VIEWPORT_ERROR_NO_SURFACE, "the wl_surface of wp_viewport@%u is gone",
			ctx->object->client_id);
		return NULL;
	}
	return viewport->surface;
}

bool viewport_handle_set_source(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = viewport_surface(ctx);
	if (surface == NULL) {
		return false;
	}
	const struct vd_wire_message *msg = ctx->msg;
	int32_t x = msg->args[0].i, y = msg->args[1].i, w = msg->args[2].i, h = msg->args[3].i;
	struct vd_viewport_rect *vp = &surface->pending.viewport;
	if (x == FIXED_MINUS_ONE && y == FIXED_MINUS_ONE && w == FIXED_MINUS_ONE &&
			h == FIXED_MINUS_ONE) {
		vp->has_src = false;
	} else if (x < 0 || y < 0 || w <= 0 || h <= 0) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_WP_VIEWPORT_ERROR_BAD_VALUE, "invalid source rectangle");
		return false;
	} else {
		vp->has_src = true;
		vp->src_x = x;
		vp->src_y = y;
		vp->src_width = w;
		vp->src_height = h;
	}
	surface->pending.committed |= SURFACE_STATE_VIEWPORT;
	return false;
}

bool viewport_handle_set_destination(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = viewport_surface(ctx);
	if (surface == NULL) {
		return false;
	}
	int32_t w = ctx->msg->args[0].i, h = ctx->msg->args[1].i;
	struct vd_viewport_rect *vp = &surface->pending.viewport;
	if (w == -1 && h == -1) {
		vp->has_dst = false;
	} else if (w <= 0 || h <= 0) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_WP_VIEWPORT_ERROR_BAD_VALUE, "invalid destination size %dx%d", w, h);
		return false;
	} else {
		vp->has_dst = true;
		vp->dst_width = w;
		vp->dst_height = h;
	}
	surface->pending.committed |= SURFACE_STATE_VIEWPORT;
	return false;
}

bool viewport_handle_destroy(struct vd_hook_ctx *ctx) {
	struct vd_viewport *viewport = ctx->object->impl == &viewport_impl ?
		ctx->object->data : NULL;
	if (viewport != NULL && viewport->surface != NULL) {
		/* the crop and scale go with the surface's next commit */
		viewport->surface->pending.viewport = (struct vd_viewport_rect){ 0 };
		viewport->surface->pending.committed |= SURFACE_STATE_VIEWPORT;
	}
	return false;
}

bool viewport_check_commit(struct vd_session *session, struct vd_surface *surface,
		const struct vd_surface_state *state) {
	const struct vd_viewport_rect *vp = &state->viewport;
	uint32_t id = surface->viewport != NULL ? surface->viewport->object->client_id : 0;
	if (!vp->has_src || id == 0) {
		return true;
	}
	if (!vp->has_dst && (vp->src_width % 256 != 0 || vp->src_height % 256 != 0)) {
		vd_session_client_error(session, id, VD_WP_VIEWPORT_ERROR_BAD_SIZE,
			"source size must be integer without a destination");
		return false;
	}
	if (state->buffer_width <= 0 || state->buffer_height <= 0) {
		return true;
	}
	/* in surface coordinates: the buffer transformed and scaled down */
	bool swap = state->transform % 2 == 1;
	int64_t bw = swap ? state->buffer_height : state->buffer_width;
	int64_t bh = swap ? state->buffer_width : state->buffer_height;
	int64_t scale = state->scale > 0 ? state->scale : 1;
	if (((int64_t)vp->src_x + vp->src_width) * scale > bw * 256 ||
			((int64_t)vp->src_y + vp->src_height) * scale > bh * 256) {
		vd_session_client_error(session, id, VD_WP_VIEWPORT_ERROR_OUT_OF_BUFFER,
			"source rectangle out of buffer");
		return false;
	}
	return true;
}
