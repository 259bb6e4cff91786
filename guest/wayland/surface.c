#define LOG_TAG "surface"

#include <stdlib.h>

#include "guest/wayland/shm.h"
#include "protocols/log.h"

/*
 * Surfaces and their viewports as the bridge follows them: the pending
 * attach, damage, scale and transform, so that at wl_surface.commit the
 * bytes of the attached buffer the host may not have become a job (shm.h),
 * queued before the commit's own bytes.
 */

/* A buffer that accumulates more rectangles than this keeps their extents. */
#define MAX_RECTS 64

struct surface {
	struct vd_object_addon addon;
	struct client *client;
	/* buffers by ID: one the client destroys is simply not found */
	bool attached; // an attach is pending
	uint32_t pending_buffer; // its buffer (0: none)
	uint32_t current; // the buffer committed
	pixman_region32_t damage, damage_buffer; // pending
	int32_t scale, pending_scale;
	uint32_t transform, pending_transform;
	bool scale_set, transform_set;
	struct viewport *viewport;
	struct wl_list buffers; // buffer.surface_link: committed on it
	int32_t last_width, last_height; // of the last buffer committed
};

struct viewport {
	struct vd_object_addon addon;
	struct surface *surface; // NULL once the surface is gone
	bool source, destination; // set: damage cannot be mapped simply
};

static struct client *client_of(struct vd_hook_ctx *ctx) {
	return ctx->tracker->data;
}

static void surface_addon_destroy(struct vd_object_addon *addon) {
	struct surface *surface = wl_container_of(addon, surface, addon);
	struct buffer *buffer, *tmp;
	wl_list_for_each_safe(buffer, tmp, &surface->buffers, surface_link) {
		wl_list_remove(&buffer->surface_link);
		wl_list_init(&buffer->surface_link);
		buffer->surface = NULL;
	}
	if (surface->viewport != NULL) {
		surface->viewport->surface = NULL;
	}
	pixman_region32_fini(&surface->damage);
	pixman_region32_fini(&surface->damage_buffer);
	free(surface);
}

static const struct vd_object_addon_impl surface_addon_impl = {
	.name = "bridge surface",
	.destroy = surface_addon_destroy,
};

static struct surface *surface_of(const struct vd_object *object) {
	struct vd_object_addon *addon = object != NULL ?
		vd_object_addon_find(object, &surface_addon_impl) : NULL;
	struct surface *surface = addon != NULL ? wl_container_of(addon, surface, addon) : NULL;
	return surface;
}

static bool handle_create_surface_done(struct vd_hook_ctx *ctx) {
	if (ctx->new_object_count == 0) {
		return true;
	}
	struct surface *surface = calloc(1, sizeof(*surface));
	if (surface == NULL) {
		client_fail(client_of(ctx), VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	surface->client = client_of(ctx);
	surface->scale = surface->pending_scale = 1;
	pixman_region32_init(&surface->damage);
	pixman_region32_init(&surface->damage_buffer);
	wl_list_init(&surface->buffers);
	vd_object_addon_init(&surface->addon, ctx->new_objects[0], &surface_addon_impl);
	return true;
}

static bool handle_attach(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		surface->attached = true;
		surface->pending_buffer = ctx->msg->args[0].id;
	}
	return true;
}

static void add_damage(pixman_region32_t *region, int32_t x, int32_t y, int32_t width,
		int32_t height) {
	if (width <= 0 || height <= 0) {
		return;
	}
	/* clamped: damage far outside any buffer is clipped at commit anyway */
	int64_t x1 = (int64_t)x + width, y1 = (int64_t)y + height;
	x = x < -65536 ? -65536 : x;
	y = y < -65536 ? -65536 : y;
	x1 = x1 > 65536 ? 65536 : x1;
	y1 = y1 > 65536 ? 65536 : y1;
	if (x1 > x && y1 > y) {
		pixman_region32_union_rect(region, region, x, y, (uint32_t)(x1 - x),
			(uint32_t)(y1 - y));
	}
	if (pixman_region32_n_rects(region) > MAX_RECTS) {
		pixman_box32_t box = *pixman_region32_extents(region);
		pixman_region32_reset(region, &box);
	}
}

static bool handle_damage(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		const struct vd_wire_message *m = ctx->msg;
		add_damage(&surface->damage, m->args[0].i, m->args[1].i, m->args[2].i, m->args[3].i);
	}
	return true;
}

static bool handle_damage_buffer(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		const struct vd_wire_message *m = ctx->msg;
		add_damage(&surface->damage_buffer, m->args[0].i, m->args[1].i, m->args[2].i,
			m->args[3].i);
	}
	return true;
}

static bool handle_set_buffer_scale(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		surface->pending_scale = ctx->msg->args[0].i;
		surface->scale_set = true;
	}
	return true;
}

static bool handle_set_buffer_transform(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface != NULL) {
		surface->pending_transform = (uint32_t)ctx->msg->args[0].i;
		surface->transform_set = true;
	}
	return true;
}

static void accumulate(pixman_region32_t *into, const pixman_region32_t *damage) {
	pixman_region32_union(into, into, (pixman_region32_t *)damage);
	if (pixman_region32_n_rects(into) > MAX_RECTS) {
		pixman_box32_t box = *pixman_region32_extents(into);
		pixman_region32_reset(into, &box);
	}
}

/* Applies the commit's pending state; true if its scale or transform changed. */
static bool commit_state(struct surface *surface) {
	if (surface->attached) {
		surface->current = surface->pending_buffer;
		surface->pending_buffer = 0;
		surface->attached = false;
	}
	bool changed = surface->scale_set && surface->pending_scale != surface->scale;
	if (surface->scale_set) {
		surface->scale = surface->pending_scale;
		surface->scale_set = false;
	}
	if (surface->transform_set) {
		changed = changed || surface->pending_transform != surface->transform;
		surface->transform = surface->pending_transform;
		surface->transform_set = false;
	}
	return changed;
}

/* The commit's damage in buffer coordinates, into damage (initialised); clears the pending. */
static void commit_damage(struct surface *surface, const struct buffer *buffer,
		bool scale_changed, pixman_region32_t *damage) {
	bool simple = surface->transform == VD_WL_OUTPUT_TRANSFORM_NORMAL && surface->scale > 0 &&
		(surface->viewport == NULL ||
			(!surface->viewport->source && !surface->viewport->destination));
	if (pixman_region32_not_empty(&surface->damage)) {
		if (simple && !scale_changed) {
			int n;
			const pixman_box32_t *boxes = pixman_region32_rectangles(&surface->damage, &n);
			int32_t s = surface->scale;
			for (int i = 0; i < n; i++) {
				add_damage(damage, boxes[i].x1 * s, boxes[i].y1 * s,
					(boxes[i].x2 - boxes[i].x1) * s, (boxes[i].y2 - boxes[i].y1) * s);
			}
		} else {
			pixman_region32_union_rect(damage, damage, 0, 0, (uint32_t)buffer->width,
				(uint32_t)buffer->height);
		}
	}
	pixman_region32_union(damage, damage, &surface->damage_buffer);
	pixman_region32_intersect_rect(damage, damage, 0, 0, (uint32_t)buffer->width,
		(uint32_t)buffer->height);
	pixman_region32_clear(&surface->damage);
	pixman_region32_clear(&surface->damage_buffer);
}

/*
 * What the host may not have of buffer, into send (initialised); buffer
 * becomes the surface's, and its other buffers miss damage from now on.
 */
static void commit_take(struct surface *surface, struct buffer *buffer,
		const pixman_region32_t *damage, pixman_region32_t *send) {
	bool whole = !buffer->sent || buffer->surface != surface ||
		buffer->width != surface->last_width || buffer->height != surface->last_height;
	if (whole) {
		pixman_region32_union_rect(send, send, 0, 0, (uint32_t)buffer->width,
			(uint32_t)buffer->height);
	} else {
		pixman_region32_union(send, &buffer->pending, (pixman_region32_t *)damage);
	}
	struct buffer *other;
	wl_list_for_each(other, &surface->buffers, surface_link) {
		if (other != buffer) {
			accumulate(&other->pending, damage);
		}
	}
	if (buffer->surface != surface) {
		if (buffer->surface != NULL) {
			wl_list_remove(&buffer->surface_link);
		}
		buffer->surface = surface;
		wl_list_insert(&surface->buffers, &buffer->surface_link);
	}
	buffer->sent = true;
	pixman_region32_clear(&buffer->pending);
	surface->last_width = buffer->width;
	surface->last_height = buffer->height;
}

/*
 * The surface showed another buffer like it (last): what may differ from it
 * is taken from there on both ends (what the client left alone is that, as
 * the protocol wants). Returns false where last cannot serve.
 */
static bool commit_copy_last(struct client *client, const struct buffer *last,
		const struct buffer *buffer, const pixman_region32_t *send) {
	if (last == NULL || last == buffer || buffer->stat->raw || last->pool->broken ||
			last->width != buffer->width || last->height != buffer->height ||
			last->stride != buffer->stride || last->bpp != buffer->bpp ||
			!pixman_region32_not_empty((pixman_region32_t *)send) ||
			pool_stale(last->pool, last->offset,
				last->offset + (size_t)last->stride * (size_t)last->height)) {
		return false;
	}
	int n;
	const pixman_box32_t *boxes = pixman_region32_rectangles((pixman_region32_t *)send, &n);
	for (int i = 0; i < n; i++) {
		size_t at = (size_t)boxes[i].y1 * (size_t)buffer->stride +
			(size_t)boxes[i].x1 * buffer->bpp;
		struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_COPY};
		msg.body.wl_pool_copy = (struct vd_link_wl_pool_copy){
			.src_pool = last->pool->id, .src_offset = (uint32_t)(last->offset + at),
			.src_stride = (uint32_t)last->stride,
			.dst_pool = buffer->pool->id, .dst_offset = (uint32_t)(buffer->offset + at),
			.dst_stride = (uint32_t)buffer->stride,
			.width = (uint32_t)(boxes[i].x2 - boxes[i].x1) * buffer->bpp,
			.rows = (uint32_t)(boxes[i].y2 - boxes[i].y1)};
		client_queue_copy(client, last->pool, buffer->pool, &msg);
	}
	return true;
}

static bool handle_commit(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(ctx->object);
	if (surface == NULL) {
		return true;
	}
	struct client *client = surface->client;
	uint32_t previous = surface->current; // the buffer the host shows now
	bool scale_changed = commit_state(surface);
	struct buffer *buffer = surface->current != 0 ?
		buffer_of(vd_tracker_get(ctx->tracker, surface->current)) : NULL;
	if (buffer == NULL || buffer->pool->broken) {
		pixman_region32_clear(&surface->damage);
		pixman_region32_clear(&surface->damage_buffer);
		return true;
	}
	pixman_region32_t damage, send;
	pixman_region32_init(&damage);
	pixman_region32_init(&send);
	commit_damage(surface, buffer, scale_changed, &damage);
	commit_take(surface, buffer, &damage, &send);
	/* after a copy from the last frame, only the damage is compared (with it) */
	struct buffer *last = previous != 0 && previous != surface->current ?
		buffer_of(vd_tracker_get(ctx->tracker, previous)) : NULL;
	if (commit_copy_last(client, last, buffer, &send)) {
		pixman_region32_copy(&send, &damage);
	}
	if (pixman_region32_not_empty(&send)) {
		struct job *job = job_create(buffer->pool, buffer->stat, buffer->offset,
			buffer->stride, buffer->width, buffer->height, buffer->bpp, &send);
		if (job == NULL) {
			client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
				"out of memory");
		} else {
			client_queue_job(client, job, job_size(job));
		}
	}
	pixman_region32_fini(&send);
	pixman_region32_fini(&damage);
	return true;
}

/* ---- viewports ---- */

static void viewport_addon_destroy(struct vd_object_addon *addon) {
	struct viewport *viewport = wl_container_of(addon, viewport, addon);
	if (viewport->surface != NULL && viewport->surface->viewport == viewport) {
		viewport->surface->viewport = NULL;
	}
	free(viewport);
}

static const struct vd_object_addon_impl viewport_addon_impl = {
	.name = "bridge viewport",
	.destroy = viewport_addon_destroy,
};

static struct viewport *viewport_of(const struct vd_object *object) {
	struct vd_object_addon *addon = vd_object_addon_find(object, &viewport_addon_impl);
	struct viewport *viewport = addon != NULL ? wl_container_of(addon, viewport, addon) : NULL;
	return viewport;
}

static bool handle_get_viewport_done(struct vd_hook_ctx *ctx) {
	struct surface *surface = surface_of(vd_tracker_get(ctx->tracker, ctx->msg->args[1].id));
	if (surface == NULL || ctx->new_object_count == 0 || surface->viewport != NULL) {
		return true;
	}
	struct viewport *viewport = calloc(1, sizeof(*viewport));
	if (viewport == NULL) {
		return true;
	}
	viewport->surface = surface;
	surface->viewport = viewport;
	vd_object_addon_init(&viewport->addon, ctx->new_objects[0], &viewport_addon_impl);
	return true;
}

static bool handle_set_source(struct vd_hook_ctx *ctx) {
	struct viewport *viewport = viewport_of(ctx->object);
	if (viewport != NULL) {
		viewport->source = ctx->msg->args[0].i != -256 || ctx->msg->args[2].i != -256;
	}
	return true;
}

static bool handle_set_destination(struct vd_hook_ctx *ctx) {
	struct viewport *viewport = viewport_of(ctx->object);
	if (viewport != NULL) {
		viewport->destination = ctx->msg->args[0].i != -1 || ctx->msg->args[1].i != -1;
	}
	return true;
}

static const struct vd_hook request_hooks[] = {
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_ATTACH, handle_attach },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_DAMAGE, handle_damage },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_DAMAGE_BUFFER, handle_damage_buffer },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_SET_BUFFER_SCALE, handle_set_buffer_scale },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_SET_BUFFER_TRANSFORM,
		handle_set_buffer_transform },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_COMMIT, handle_commit },
	{ &vd_iface_wp_viewport, VD_WP_VIEWPORT_REQUEST_SET_SOURCE, handle_set_source },
	{ &vd_iface_wp_viewport, VD_WP_VIEWPORT_REQUEST_SET_DESTINATION, handle_set_destination },
};

static const struct vd_hook request_post_hooks[] = {
	{ &vd_iface_wl_compositor, VD_WL_COMPOSITOR_REQUEST_CREATE_SURFACE,
		handle_create_surface_done },
	{ &vd_iface_wp_viewporter, VD_WP_VIEWPORTER_REQUEST_GET_VIEWPORT,
		handle_get_viewport_done },
};

bool surface_hooks_add(struct vd_hook_registry *registry) {
	return vd_hook_registry_add(registry, VD_HOOK_REQUEST, request_hooks,
			sizeof(request_hooks) / sizeof(request_hooks[0])) &&
		vd_hook_registry_add(registry, VD_HOOK_REQUEST_POST, request_post_hooks,
			sizeof(request_post_hooks) / sizeof(request_post_hooks[0]));
}
