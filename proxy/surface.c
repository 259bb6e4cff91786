#define LOG_TAG "surface"

#include <stdint.h>
#include <stdlib.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * wl_surface and wl_subsurface: the proxy's model of what the compositor
 * shows of each surface (buffer, scale, transform, the client's viewport),
 * with the protocol's double-buffering (pending, cached while synchronized,
 * current), and of the trees subsurfaces make.
 *
 * A tree whose root is a framed window is confined to its frame
 * (proxy/crop.c). In such a tree every subsurface is synchronized on the
 * compositor's side, whatever the client asked, so that nothing the client
 * commits reaches the screen except with a commit of the root, which the
 * proxy precedes with the crop and the frame for exactly that state. A
 * client commit of a surface the client made desynchronized is therefore
 * followed by commits of its ancestors, up to the root, made by the proxy.
 * Positions of subsurfaces, input regions and opaque regions of such trees
 * are the proxy's to send (translated by the crop); the client's own are
 * recorded and dropped.
 */

/* A tree deeper or larger than this is refused, so that walking it stays
 * cheap and recursion shallow. */
#define MAX_DEPTH 16
#define MAX_TREE_SURFACES 256

static void surface_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_surface *surface = object->data;
	if (surface->xdg != NULL) {
		surface->xdg->surface = NULL;
	}
	if (surface->sub != NULL) {
		wl_list_remove(&surface->sub->link);
		wl_list_init(&surface->sub->link);
		surface->sub->surface = NULL;
		surface->sub->parent = NULL;
	}
	struct vd_subsurface *child, *tmp;
	wl_list_for_each_safe(child, tmp, &surface->children, link) {
		wl_list_remove(&child->link);
		wl_list_init(&child->link);
		child->parent = NULL;
	}
	viewport_surface_gone(surface->viewport);
	vd_session_destroy_object(session, surface->own_viewport, VD_WP_VIEWPORT_REQUEST_DESTROY);
	region_ops_free(surface->input_region);
	free(surface);
	object->data = NULL;
}

static const struct vd_object_impl surface_impl = {
	.gone = surface_gone,
};

struct vd_surface *surface_from(struct vd_object *object) {
	return object != NULL && object->impl == &surface_impl ? object->data : NULL;
}

struct vd_surface *surface_root(struct vd_surface *surface) {
	while (surface->sub != NULL && surface->sub->parent != NULL) {
		surface = surface->sub->parent;
	}
	return surface;
}

struct vd_frame *surface_tree_frame(struct vd_surface *root) {
	return root->xdg != NULL ? root->xdg->frame : NULL;
}

static bool surface_framed(struct vd_surface *surface) {
	return surface_tree_frame(surface_root(surface)) != NULL;
}

bool compositor_handle_create_surface(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_surface *surface = calloc(1, sizeof(*surface));
	if (surface == NULL) {
		vd_session_client_error(ctx->session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"out of memory");
		return true;
	}
	surface->object = object;
	surface->pending.scale = surface->cached.scale = surface->current.scale = 1;
	wl_list_init(&surface->children);
	object->impl = &surface_impl;
	object->data = surface;
	return true;
}

/* Buffer sizes, from every factory the policy can allow */

bool shm_pool_handle_create_buffer_done(struct vd_hook_ctx *ctx) {
	struct vd_object *buffer = ctx->new_objects[0];
	buffer->buffer.width = ctx->msg->args[2].i;
	buffer->buffer.height = ctx->msg->args[3].i;
	return true;
}

bool single_pixel_handle_create_buffer_done(struct vd_hook_ctx *ctx) {
	struct vd_object *buffer = ctx->new_objects[0];
	buffer->buffer.width = buffer->buffer.height = 1;
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

/* Pending state */

bool surface_handle_attach(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface == NULL) {
		return true;
	}
	if (surface->dismissed) {
		return false; // a dismissed popup stays unmapped
	}
	const struct vd_wire_message *msg = ctx->msg;
	struct vd_object *buffer = vd_session_client_object(ctx->session, msg->args[0].id);
	int32_t width = buffer != NULL ? buffer->buffer.width : 0;
	int32_t height = buffer != NULL ? buffer->buffer.height : 0;
	bool framed = (surface->xdg != NULL || surface->sub != NULL) && surface_framed(surface);
	if (buffer != NULL && (width <= 0 || height <= 0) && framed) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_WL_DISPLAY_ERROR_INVALID_OBJECT, "buffer of unknown size");
		return false;
	}
	surface->pending.buffer_width = buffer != NULL ? width : 0;
	surface->pending.buffer_height = buffer != NULL ? height : 0;
	surface->pending.committed |= SURFACE_STATE_BUFFER;
	if (framed) {
		/* a framed surface does not move by its buffer offset */
		vd_wire_put_u32(ctx->data, msg->args[1].offset, 0);
		vd_wire_put_u32(ctx->data, msg->args[2].offset, 0);
	}
	return true;
}

bool surface_handle_offset(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	return surface == NULL || surface->dismissed ||
		!((surface->xdg != NULL || surface->sub != NULL) && surface_framed(surface));
}

bool surface_handle_damage(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface != NULL && (surface->offset_x != 0 || surface->offset_y != 0)) {
		/* into the compositor's coordinates of the cropped surface */
		const struct vd_wire_message *msg = ctx->msg;
		vd_wire_put_u32(ctx->data, msg->args[0].offset,
			(uint32_t)(msg->args[0].i - surface->offset_x));
		vd_wire_put_u32(ctx->data, msg->args[1].offset,
			(uint32_t)(msg->args[1].i - surface->offset_y));
	}
	return true;
}

bool surface_handle_set_buffer_scale(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface != NULL && ctx->msg->args[0].i > 0) {
		surface->pending.scale = ctx->msg->args[0].i;
		surface->pending.committed |= SURFACE_STATE_SCALE;
	}
	return true;
}

bool surface_handle_set_buffer_transform(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	int32_t transform = ctx->msg->args[0].i;
	if (surface != NULL && transform >= 0 && transform <= 7) {
		surface->pending.transform = transform;
		surface->pending.committed |= SURFACE_STATE_TRANSFORM;
	}
	return true;
}

bool surface_handle_set_input_region(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface == NULL) {
		return true;
	}
	uint32_t id = ctx->msg->args[0].id;
	region_ops_free(surface->input_region);
	surface->input_region = id != 0 ?
		region_copy(vd_session_client_object(ctx->session, id)) : NULL;
	if (surface_framed(surface)) {
		surface->input_dirty = true;
		return false; // sent translated with the root's next commit
	}
	surface->input_dirty = false;
	surface->input_sent = false; // the compositor has the client's own
	return true;
}

bool surface_handle_set_opaque_region(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface == NULL) {
		return true;
	}
	if (surface_framed(surface)) {
		return false; // a cropped surface is never declared opaque
	}
	surface->opaque_cleared = false;
	return true;
}

/* Commits */

static bool effectively_sync(const struct vd_surface *surface) {
	for (; surface->sub != NULL && surface->sub->parent != NULL;
			surface = surface->sub->parent) {
		if (!surface->sub->desync) {
			return true;
		}
	}
	return false;
}

static void state_merge(struct vd_surface_state *into, const struct vd_surface_state *from) {
	if (from->committed & SURFACE_STATE_BUFFER) {
		into->buffer_width = from->buffer_width;
		into->buffer_height = from->buffer_height;
	}
	if (from->committed & SURFACE_STATE_SCALE) {
		into->scale = from->scale;
	}
	if (from->committed & SURFACE_STATE_TRANSFORM) {
		into->transform = from->transform;
	}
	if (from->committed & SURFACE_STATE_VIEWPORT) {
		into->viewport = from->viewport;
	}
	into->committed |= from->committed;
}

/* The surface's size in its client's coordinates, as a compositor makes it. */
static void surface_update_size(struct vd_surface *surface) {
	const struct vd_surface_state *state = &surface->current;
	surface->width = surface->height = 0;
	if (state->buffer_width <= 0 || state->buffer_height <= 0) {
		return;
	}
	bool swap = state->transform % 2 == 1;
	int32_t scale = state->scale > 0 ? state->scale : 1;
	int32_t width = (swap ? state->buffer_height : state->buffer_width) / scale;
	int32_t height = (swap ? state->buffer_width : state->buffer_height) / scale;
	const struct vd_viewport_rect *vp = &state->viewport;
	if (vp->has_dst) {
		width = vp->dst_width;
		height = vp->dst_height;
	} else if (vp->has_src) {
		width = vp->src_width / 256;
		height = vp->src_height / 256;
	}
	surface->width = width;
	surface->height = height;
}

static void surface_apply_state(struct vd_surface *surface,
	const struct vd_surface_state *state);

/* Applies state, then what the subsurfaces hold for this moment: their
 * positions and, for those that waited on this one, their cached state. */
static void surface_apply_state(struct vd_surface *surface,
		const struct vd_surface_state *state) {
	state_merge(&surface->current, state);
	surface_update_size(surface);
	struct vd_subsurface *child;
	wl_list_for_each(child, &surface->children, link) {
		if (child->has_pending_position) {
			child->x = child->pending_x;
			child->y = child->pending_y;
			child->has_pending_position = false;
		}
		struct vd_surface *child_surface = child->surface;
		if (child_surface != NULL && child_surface->has_cache) {
			struct vd_surface_state cached = child_surface->cached;
			child_surface->cached.committed = 0;
			child_surface->has_cache = false;
			surface_apply_state(child_surface, &cached);
		}
	}
}

/* The client's commit, in the model. */
static void model_commit(struct vd_surface *surface) {
	struct vd_surface_state pending = surface->pending;
	surface->pending.committed = 0;
	if (effectively_sync(surface)) {
		state_merge(&surface->cached, &pending);
		surface->has_cache = true;
	} else {
		surface_apply_state(surface, &pending);
	}
}

bool surface_apply_pending(struct vd_session *session, struct vd_surface *surface) {
	struct vd_surface_state state = surface->current;
	if (surface->has_cache) {
		state_merge(&state, &surface->cached);
	}
	state_merge(&state, &surface->pending);
	if (!viewport_check_commit(session, surface, &state)) {
		return false;
	}
	state = surface->cached;
	if (!surface->has_cache) {
		state.committed = 0;
	}
	state_merge(&state, &surface->pending);
	surface->pending.committed = 0;
	surface->cached.committed = 0;
	surface->has_cache = false;
	surface_apply_state(surface, &state);
	return true;
}

/* A commit of surface, the client's or the proxy's; false if it is refused
 * (an error was posted). */
static bool surface_commit(struct vd_session *session, struct vd_surface *surface) {
	struct vd_surface_state next = surface->current;
	if (surface->has_cache) {
		state_merge(&next, &surface->cached); // the cache merges over current
	}
	state_merge(&next, &surface->pending);
	if (!viewport_check_commit(session, surface, &next)) {
		return false;
	}
	model_commit(surface);
	struct vd_surface *root = surface_root(surface);
	if (surface_tree_frame(root) == NULL) {
		crop_mirror(session, surface);
	} else if (surface == root) {
		/* queued before the commit, which applies it */
		xdg_surface_commit(session, root->xdg);
	}
	return true;
}

void surface_commit_for_client(struct vd_session *session, struct vd_surface *surface) {
	if (surface_commit(session, surface)) {
		vd_session_request(session, surface->object, VD_WL_SURFACE_REQUEST_COMMIT, "");
	}
}

/* A desynchronized surface of a framed tree committed: its ancestors are
 * committed up to the root, which applies it on the compositor's side. */
static void commit_ancestors(struct vd_session *session, struct vd_surface *surface) {
	struct vd_surface *root = surface_root(surface);
	if (surface == root || root->width <= 0 || surface_tree_frame(root) == NULL) {
		return; // nothing of an unmapped tree shows
	}
	for (struct vd_surface *p = surface->sub->parent; p != NULL;
			p = p->sub != NULL ? p->sub->parent : NULL) {
		surface_commit_for_client(session, p);
		if (session->closing) {
			return;
		}
	}
}

bool surface_handle_commit(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	return surface == NULL || surface_commit(ctx->session, surface);
}

bool surface_handle_commit_done(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface != NULL && ctx->forwarded && surface->sub != NULL &&
			!effectively_sync(surface)) {
		commit_ancestors(ctx->session, surface);
	}
	return true;
}

/* Subsurfaces */

static void subsurface_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_subsurface *sub = object->data;
	if (sub->surface != NULL) {
		sub->surface->sub = NULL;
		/* its children stay with it: a tree of its own, not shown */
		surface_tree_sync_mode(session, sub->surface);
	}
	wl_list_remove(&sub->link);
	free(sub);
	object->data = NULL;
}

static const struct vd_object_impl subsurface_impl = {
	.gone = subsurface_gone,
};

static struct vd_subsurface *subsurface_from(struct vd_object *object) {
	return object != NULL && object->impl == &subsurface_impl ? object->data : NULL;
}

static void tree_walk(struct vd_surface *surface, int depth, int *max_depth, int *count) {
	(*count)++;
	if (depth > *max_depth) {
		*max_depth = depth;
	}
	struct vd_subsurface *child;
	wl_list_for_each(child, &surface->children, link) {
		if (child->surface != NULL && depth < MAX_DEPTH + 1 && *count <= MAX_TREE_SURFACES) {
			tree_walk(child->surface, depth + 1, max_depth, count);
		}
	}
}

bool subcompositor_handle_get_subsurface(struct vd_hook_ctx *ctx) {
	struct vd_session *session = ctx->session;
	const struct vd_wire_message *msg = ctx->msg;
	struct vd_surface *surface = surface_from(vd_session_client_object(session, msg->args[1].id));
	struct vd_surface *parent = surface_from(vd_session_client_object(session, msg->args[2].id));
	if (surface == NULL || parent == NULL) {
		return true; // untracked: out of memory earlier
	}
	const char *problem = NULL;
	if (surface->sub != NULL || surface->xdg != NULL) {
		problem = "already has a role";
	} else {
		int depth = 1;
		for (struct vd_surface *p = parent; p != NULL;
				p = p->sub != NULL ? p->sub->parent : NULL) {
			if (p == surface) {
				problem = "would be its own ancestor";
				break;
			}
			depth++;
		}
		int subtree_depth = 0, count = 0, tree_depth = 0, tree_count = 0;
		tree_walk(surface, 0, &subtree_depth, &count);
		tree_walk(surface_root(parent), 0, &tree_depth, &tree_count);
		if (problem == NULL && (depth + subtree_depth > MAX_DEPTH ||
				count + tree_count > MAX_TREE_SURFACES)) {
			problem = "would make a tree too deep or too large";
		}
	}
	if (problem != NULL) {
		vd_session_client_error(session, ctx->object->client_id,
			VD_WL_SUBCOMPOSITOR_ERROR_BAD_SURFACE, "wl_surface@%u %s", msg->args[1].id,
			problem);
		return false;
	}
	return true;
}

bool subcompositor_handle_get_subsurface_done(struct vd_hook_ctx *ctx) {
	struct vd_session *session = ctx->session;
	const struct vd_wire_message *msg = ctx->msg;
	struct vd_surface *surface = surface_from(vd_session_client_object(session, msg->args[1].id));
	struct vd_surface *parent = surface_from(vd_session_client_object(session, msg->args[2].id));
	if (surface == NULL || parent == NULL || !ctx->forwarded) {
		return true;
	}
	struct vd_subsurface *sub = calloc(1, sizeof(*sub));
	if (sub == NULL) {
		vd_session_client_error(session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return true;
	}
	struct vd_object *object = ctx->new_objects[0];
	sub->object = object;
	sub->surface = surface;
	sub->parent = parent;
	/* new subsurfaces go on top of their siblings */
	wl_list_insert(parent->children.prev, &sub->link);
	surface->sub = sub;
	object->impl = &subsurface_impl;
	object->data = sub;
	struct vd_surface *root = surface_root(parent);
	struct vd_frame *frame = surface_tree_frame(root);
	if (frame != NULL) {
		if (parent == root) {
			/* new subsurfaces go on top: put the frame back above them */
			frame_raise(frame, surface->object);
		}
		surface_tree_sync_mode(session, root);
	}
	return true;
}

static void sync_walk(struct vd_session *session, struct vd_surface *surface, bool framed,
		int depth) {
	struct vd_subsurface *child;
	wl_list_for_each(child, &surface->children, link) {
		bool want = framed ? false : child->desync;
		if (want != child->upstream_desync) {
			vd_session_request(session, child->object,
				want ? VD_WL_SUBSURFACE_REQUEST_SET_DESYNC :
				VD_WL_SUBSURFACE_REQUEST_SET_SYNC, "");
			child->upstream_desync = want;
		}
		if (child->surface != NULL && depth < MAX_DEPTH) {
			sync_walk(session, child->surface, framed, depth + 1);
		}
	}
}

void surface_tree_sync_mode(struct vd_session *session, struct vd_surface *root) {
	if (session->tearing_down) {
		return;
	}
	sync_walk(session, root, surface_tree_frame(root) != NULL, 0);
}

bool subsurface_handle_set_position(struct vd_hook_ctx *ctx) {
	struct vd_subsurface *sub = subsurface_from(ctx->object);
	if (sub == NULL) {
		return true;
	}
	sub->has_pending_position = true;
	sub->pending_x = ctx->msg->args[0].i;
	sub->pending_y = ctx->msg->args[1].i;
	if (sub->parent != NULL && surface_framed(sub->parent)) {
		return false; // the proxy sends where it puts the cropped surface
	}
	sub->placed = true;
	sub->sent_x = sub->pending_x;
	sub->sent_y = sub->pending_y;
	return true;
}

bool subsurface_handle_place(struct vd_hook_ctx *ctx) {
	return true; // stacking among the client's own surfaces: the frame stays above
}

bool subsurface_handle_set_sync(struct vd_hook_ctx *ctx) {
	struct vd_subsurface *sub = subsurface_from(ctx->object);
	if (sub == NULL) {
		return true;
	}
	sub->desync = false;
	if (sub->surface != NULL && surface_framed(sub->surface)) {
		return false; // always synchronized on the compositor's side
	}
	sub->upstream_desync = false;
	return true;
}

bool subsurface_handle_set_desync(struct vd_hook_ctx *ctx) {
	struct vd_subsurface *sub = subsurface_from(ctx->object);
	if (sub == NULL) {
		return true;
	}
	sub->desync = true;
	struct vd_surface *surface = sub->surface;
	if (surface == NULL || !surface_framed(surface)) {
		sub->upstream_desync = true;
		if (surface != NULL && surface->has_cache && !effectively_sync(surface)) {
			struct vd_surface_state cached = surface->cached;
			surface->cached.committed = 0;
			surface->has_cache = false;
			surface_apply_state(surface, &cached);
		}
		return true;
	}
	if (surface->has_cache && !effectively_sync(surface)) {
		/* the cached state applies now, for the client: on the
		 * compositor's side with a commit of every ancestor */
		struct vd_surface_state cached = surface->cached;
		surface->cached.committed = 0;
		surface->has_cache = false;
		surface_apply_state(surface, &cached);
		commit_ancestors(ctx->session, surface);
	}
	return false;
}
