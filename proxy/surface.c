#define LOG_TAG "surface"

#include <stdint.h>
#include <stdlib.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * wl_surface tracking: the size of what a surface shows (its buffer, its
 * scale, its viewport), which a frame needs when a client sets no window
 * geometry, and the commit that applies the frame's changes atomically.
 */

static void surface_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_surface *surface = object->data;
	if (surface->xdg != NULL) {
		surface->xdg->surface = NULL;
	}
	free(surface);
	object->data = NULL;
}

static const struct vd_object_impl surface_impl = {
	.gone = surface_gone,
};

struct vd_surface *surface_from(struct vd_object *object) {
	return object != NULL && object->impl == &surface_impl ? object->data : NULL;
}

bool compositor_handle_create_surface(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_surface *surface = calloc(1, sizeof(*surface));
	if (surface == NULL) {
		return true; // an untracked surface only misses its frame
	}
	surface->object = object;
	surface->scale = surface->pending_scale = 1;
	surface->viewport_width = surface->viewport_height = -1;
	object->impl = &surface_impl;
	object->data = surface;
	return true;
}

bool shm_pool_handle_create_buffer_done(struct vd_hook_ctx *ctx) {
	struct vd_object *buffer = ctx->new_objects[0];
	buffer->buffer.width = ctx->msg->args[2].i;
	buffer->buffer.height = ctx->msg->args[3].i;
	return true;
}

bool dmabuf_params_handle_create(struct vd_hook_ctx *ctx) {
	/* the size waits on the params object for the created event */
	ctx->object->buffer.width = ctx->msg->args[0].i;
	ctx->object->buffer.height = ctx->msg->args[1].i;
	return true;
}

bool dmabuf_params_handle_create_immed(struct vd_hook_ctx *ctx) {
	struct vd_object *buffer = ctx->new_objects[0];
	buffer->buffer.width = ctx->msg->args[1].i;
	buffer->buffer.height = ctx->msg->args[2].i;
	return true;
}

bool dmabuf_params_handle_created(struct vd_hook_ctx *ctx) {
	if (ctx->new_object_count > 0) {
		ctx->new_objects[0]->buffer = ctx->object->buffer;
	}
	return true;
}

bool surface_handle_attach(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface == NULL) {
		return true;
	}
	struct vd_object *buffer = vd_session_client_object(ctx->session, ctx->msg->args[0].id);
	surface->pending_attach = true;
	surface->pending_width = buffer != NULL ? buffer->buffer.width : 0;
	surface->pending_height = buffer != NULL ? buffer->buffer.height : 0;
	return true;
}

bool surface_handle_set_buffer_scale(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface != NULL && ctx->msg->args[0].i > 0) {
		surface->pending_scale = ctx->msg->args[0].i;
	}
	return true;
}

/* A viewport remembers its surface by client ID: the surface may go first. */
bool viewporter_handle_get_viewport(struct vd_hook_ctx *ctx) {
	struct vd_object *viewport = ctx->new_objects[0];
	viewport->data = (void *)(uintptr_t)ctx->msg->args[1].id;
	return true;
}

bool viewport_handle_set_destination(struct vd_hook_ctx *ctx) {
	uint32_t surface_id = (uint32_t)(uintptr_t)ctx->object->data;
	struct vd_surface *surface =
		surface_from(vd_session_client_object(ctx->session, surface_id));
	if (surface != NULL) {
		int32_t w = ctx->msg->args[0].i, h = ctx->msg->args[1].i;
		surface->viewport_width = w > 0 ? w : -1;
		surface->viewport_height = h > 0 ? h : -1;
	}
	return true;
}

bool surface_handle_commit(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface == NULL) {
		return true;
	}
	if (surface->pending_attach) {
		surface->buffer_width = surface->pending_width;
		surface->buffer_height = surface->pending_height;
		surface->pending_attach = false;
	}
	surface->scale = surface->pending_scale;
	if (surface->viewport_width > 0) {
		surface->width = surface->viewport_width;
		surface->height = surface->viewport_height;
	} else {
		surface->width = surface->buffer_width / surface->scale;
		surface->height = surface->buffer_height / surface->scale;
	}
	if (surface->xdg != NULL) {
		/* queued before the client's commit, which applies it */
		xdg_surface_commit(ctx->session, surface->xdg);
	}
	return true;
}

bool subcompositor_handle_get_subsurface(struct vd_hook_ctx *ctx) {
	struct vd_surface *parent =
		surface_from(vd_session_client_object(ctx->session, ctx->msg->args[2].id));
	if (parent != NULL && parent->xdg != NULL && parent->xdg->frame != NULL) {
		/* new subsurfaces go on top: put the frame back above them */
		struct vd_object *child = vd_session_client_object(ctx->session,
			ctx->msg->args[1].id);
		if (child != NULL) {
			frame_raise(parent->xdg->frame, child);
		}
	}
	return true;
}
