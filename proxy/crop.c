#define LOG_TAG "crop"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * The crop: no pixel of a framed window lies outside its frame. Every
 * surface of a framed tree (the window's root and its subsurfaces, at any
 * depth) shows only its part inside the root's window geometry G, through
 * a wp_viewport of the proxy's whose source and destination compose the
 * client's own viewport (proxy/viewport.c) with that crop. A surface whose
 * crop starts at (ox, oy) of its own coordinates has its origin moved by
 * as much: its position, its input region and its damage are translated,
 * and input events are translated back (proxy/input.c). A surface entirely
 * outside G is shrunk to one pixel placed under the frame's title strip,
 * which covers it.
 *
 * The whole tree is laid out again before each commit of its root, from
 * the state that commit applies. A surface whose crop, input region or
 * subsurface positions change is committed by the proxy (with what the
 * client had pending on it) together with its ancestors, so that all of it
 * lands with the root's commit (every subsurface of a framed tree is
 * synchronized on the compositor's side, see proxy/surface.c).
 */

#define FIXED_ONE 256

struct crop_ctx {
	struct vd_session *session;
	struct vd_geometry g; // root coordinates
	bool changed; // a surface's pending state was applied: lay out again
};

static bool rect_equal(const struct vd_viewport_rect *a, const struct vd_viewport_rect *b) {
	if (a->has_src != b->has_src || a->has_dst != b->has_dst) {
		return false;
	}
	if (a->has_src && (a->src_x != b->src_x || a->src_y != b->src_y ||
			a->src_width != b->src_width || a->src_height != b->src_height)) {
		return false;
	}
	return !a->has_dst || (a->dst_width == b->dst_width && a->dst_height == b->dst_height);
}

static int32_t clamp_fixed(int64_t v) {
	return v > INT32_MAX ? INT32_MAX : v < 0 ? 0 : (int32_t)v;
}

/* The source rectangle the client's surface shows, in wl_fixed. */
static void client_source(const struct vd_surface *surface, int64_t *x, int64_t *y,
		int64_t *width, int64_t *height) {
	const struct vd_surface_state *state = &surface->current;
	const struct vd_viewport_rect *vp = &state->viewport;
	if (vp->has_src) {
		*x = vp->src_x;
		*y = vp->src_y;
		*width = vp->src_width;
		*height = vp->src_height;
		return;
	}
	bool swap = state->transform % 2 == 1;
	int64_t scale = state->scale > 0 ? state->scale : 1;
	*x = *y = 0;
	*width = (swap ? state->buffer_height : state->buffer_width) * (int64_t)FIXED_ONE / scale;
	*height = (swap ? state->buffer_width : state->buffer_height) * (int64_t)FIXED_ONE / scale;
}

/* One axis: the part [from, from + size) of a surface length long, into
 * the source [src, src + src_size); never outside it, never empty. */
static void crop_axis(int64_t src, int64_t src_size, int32_t length, int32_t from, int32_t size,
		int32_t *out, int32_t *out_size) {
	int64_t a = src + (int64_t)from * src_size / length;
	int64_t b = src + ((int64_t)from + size) * src_size / length;
	if (b - a < 1) {
		if (a + 1 <= src + src_size) {
			b = a + 1;
		} else {
			a = src + src_size - 1;
			b = src + src_size;
		}
	}
	*out = clamp_fixed(a);
	*out_size = clamp_fixed(b - a);
}

/* The viewport showing (x, y, width, height) of the client's surface. */
static struct vd_viewport_rect compose(const struct vd_surface *surface, int32_t x, int32_t y,
		int32_t width, int32_t height) {
	if (x == 0 && y == 0 && width == surface->width && height == surface->height) {
		return surface->current.viewport; // all of it: the client's own
	}
	int64_t sx, sy, sw, sh;
	client_source(surface, &sx, &sy, &sw, &sh);
	struct vd_viewport_rect rect = { .has_src = true, .has_dst = true,
		.dst_width = width, .dst_height = height };
	crop_axis(sx, sw, surface->width, x, width, &rect.src_x, &rect.src_width);
	crop_axis(sy, sh, surface->height, y, height, &rect.src_y, &rect.src_height);
	return rect;
}

/* One pixel of it, to hide under the frame. */
static struct vd_viewport_rect hidden(const struct vd_surface *surface) {
	int64_t sx, sy, sw, sh;
	client_source(surface, &sx, &sy, &sw, &sh);
	return (struct vd_viewport_rect){ .has_src = true, .has_dst = true,
		.src_x = clamp_fixed(sx), .src_y = clamp_fixed(sy),
		.src_width = clamp_fixed(sw < FIXED_ONE ? sw : FIXED_ONE),
		.src_height = clamp_fixed(sh < FIXED_ONE ? sh : FIXED_ONE),
		.dst_width = 1, .dst_height = 1 };
}

/* Per surface, while laying out: what the compositor should have. */
struct crop_want {
	struct vd_viewport_rect viewport;
	int32_t ox, oy; // the crop's corner in the surface's coordinates
};

static bool input_stale(const struct vd_surface *surface, int32_t ox, int32_t oy) {
	if (surface->input_dirty) {
		return true;
	}
	if (surface->input_region == NULL) {
		return false;
	}
	return !surface->input_sent || surface->input_dx != -ox || surface->input_dy != -oy;
}

static bool surface_mapped(const struct vd_surface *surface) {
	return surface->width > 0 && surface->height > 0;
}

struct crop_node {
	struct vd_surface *surface;
	struct crop_want want;
	bool need_commit;
};

struct crop_list {
	struct crop_node nodes[256];
	size_t count;
};

static struct crop_node *node_for(struct crop_list *list, struct vd_surface *surface) {
	for (size_t i = 0; i < list->count; i++) {
		if (list->nodes[i].surface == surface) {
			return &list->nodes[i];
		}
	}
	if (list->count == sizeof(list->nodes) / sizeof(list->nodes[0])) {
		return NULL;
	}
	struct crop_node *node = &list->nodes[list->count++];
	*node = (struct crop_node){ .surface = surface };
	return node;
}

/*
 * Lays out the subsurfaces of surface, whose client origin is (cx, cy) and
 * whose origin on the compositor's side is (ax, ay), both in root
 * coordinates; marks the surfaces that need a commit. Returns whether
 * surface itself needs one (a child's position, or a descendant, changed).
 */
static bool layout(struct crop_ctx *ctx, struct crop_list *list, struct vd_surface *surface,
		int32_t cx, int32_t cy, int32_t ax, int32_t ay, int depth) {
	bool any = false;
	struct vd_subsurface *child;
	wl_list_for_each(child, &surface->children, link) {
		struct vd_surface *s = child->surface;
		if (s == NULL || depth > 32) {
			continue;
		}
		struct crop_node *node = node_for(list, s);
		if (node == NULL) {
			continue;
		}
		const struct vd_geometry *g = &ctx->g;
		int32_t ccx = cx + child->x, ccy = cy + child->y;
		int32_t x1 = ccx > g->x ? ccx : g->x;
		int32_t y1 = ccy > g->y ? ccy : g->y;
		int64_t right = (int64_t)ccx + s->width, bottom = (int64_t)ccy + s->height;
		int64_t x2 = right < (int64_t)g->x + g->width ? right : (int64_t)g->x + g->width;
		int64_t y2 = bottom < (int64_t)g->y + g->height ? bottom : (int64_t)g->y + g->height;
		int32_t sax, say;
		if (surface_mapped(s) && x2 > x1 && y2 > y1) {
			node->want.ox = x1 - ccx;
			node->want.oy = y1 - ccy;
			node->want.viewport = compose(s, node->want.ox, node->want.oy,
				(int32_t)(x2 - x1), (int32_t)(y2 - y1));
			sax = x1;
			say = y1;
		} else {
			/* outside the geometry: one pixel, under the title strip */
			node->want.ox = node->want.oy = 0;
			node->want.viewport = surface_mapped(s) ? hidden(s) : s->sent;
			sax = g->x - 1;
			say = g->y - 1;
		}
		child->want_x = sax - ax;
		child->want_y = say - ay;
		bool need = !rect_equal(&node->want.viewport, &s->sent) ||
			input_stale(s, node->want.ox, node->want.oy) || !s->opaque_cleared;
		if (layout(ctx, list, s, ccx, ccy, sax, say, depth + 1)) {
			need = true;
		}
		node->need_commit = node->need_commit || need;
		if (need || !child->placed || child->sent_x != child->want_x ||
				child->sent_y != child->want_y) {
			any = true;
		}
	}
	return any;
}

static void send_input_region(struct vd_session *session, struct vd_surface *surface,
		int32_t ox, int32_t oy) {
	if (surface->input_region == NULL) {
		vd_session_request(session, surface->object, VD_WL_SURFACE_REQUEST_SET_INPUT_REGION,
			"o", NULL);
	} else {
		struct vd_object *region = region_create_own(session, surface->input_region, -ox,
			-oy);
		vd_session_request(session, surface->object, VD_WL_SURFACE_REQUEST_SET_INPUT_REGION,
			"o", region);
		region_destroy_own(session, region);
	}
	surface->input_dirty = false;
	surface->input_sent = true;
	surface->input_dx = -ox;
	surface->input_dy = -oy;
}

/* The compositor destroyed the proxy's viewport (with its surface). */
static void own_viewport_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_surface *surface = object->data;
	if (surface != NULL && surface->own_viewport == object) {
		surface->own_viewport = NULL;
	}
}

static const struct vd_object_impl own_viewport_impl = {
	.gone = own_viewport_gone,
};

static bool send_viewport(struct vd_session *session, struct vd_surface *surface,
		const struct vd_viewport_rect *want) {
	struct vd_shell *shell = session->shell;
	if (rect_equal(want, &surface->sent)) {
		return true;
	}
	if (surface->own_viewport == NULL) {
		if (shell->viewporter == NULL) {
			vd_log(VD_ERROR, "vm=%s: the compositor has no wp_viewporter: a window "
				"larger than its frame cannot be shown", session->server->vm);
			vd_session_client_error(session, 1, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
				"vmdesk-proxy: cannot confine this window to its frame");
			return false;
		}
		surface->own_viewport = vd_session_new_object(session, &vd_iface_wp_viewport, 1,
			&own_viewport_impl, surface);
		if (surface->own_viewport == NULL) {
			vd_session_client_error(session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY,
				"out of memory");
			return false;
		}
		vd_session_request(session, shell->viewporter,
			VD_WP_VIEWPORTER_REQUEST_GET_VIEWPORT, "no", surface->own_viewport,
			surface->object);
	}
	struct vd_object *vp = surface->own_viewport;
	vd_log(VD_DEBUG, "vm=%s: wl_surface@%u viewport %s%d,%d %dx%d (fixed) -> %s%dx%d",
		session->server->vm, surface->object->client_id, want->has_src ? "" : "unset ",
		want->src_x, want->src_y, want->src_width, want->src_height,
		want->has_dst ? "" : "unset ", want->dst_width, want->dst_height);
	if (want->has_src) {
		vd_session_request(session, vp, VD_WP_VIEWPORT_REQUEST_SET_SOURCE, "ffff",
			want->src_x, want->src_y, want->src_width, want->src_height);
	} else {
		vd_session_request(session, vp, VD_WP_VIEWPORT_REQUEST_SET_SOURCE, "ffff",
			-FIXED_ONE, -FIXED_ONE, -FIXED_ONE, -FIXED_ONE);
	}
	if (want->has_dst) {
		vd_session_request(session, vp, VD_WP_VIEWPORT_REQUEST_SET_DESTINATION, "ii",
			want->dst_width, want->dst_height);
	} else {
		vd_session_request(session, vp, VD_WP_VIEWPORT_REQUEST_SET_DESTINATION, "ii", -1, -1);
	}
	surface->sent = *want;
	return true;
}

/* Sends what node's surface and its subsurfaces' positions need. */
static void emit_surface(struct vd_session *session, struct crop_list *list,
		struct vd_surface *surface, const struct crop_want *want) {
	if (!send_viewport(session, surface, &want->viewport)) {
		return;
	}
	surface->offset_x = want->ox;
	surface->offset_y = want->oy;
	if (input_stale(surface, want->ox, want->oy)) {
		send_input_region(session, surface, want->ox, want->oy);
	}
	if (!surface->opaque_cleared) {
		vd_session_request(session, surface->object, VD_WL_SURFACE_REQUEST_SET_OPAQUE_REGION,
			"o", NULL);
		surface->opaque_cleared = true;
	}
	struct vd_subsurface *child;
	wl_list_for_each(child, &surface->children, link) {
		if (child->upstream_desync) {
			vd_session_request(session, child->object, VD_WL_SUBSURFACE_REQUEST_SET_SYNC,
				"");
			child->upstream_desync = false;
		}
		if (child->surface == NULL || list == NULL || node_for(list, child->surface) == NULL) {
			continue;
		}
		if (!child->placed || child->sent_x != child->want_x ||
				child->sent_y != child->want_y) {
			vd_session_request(session, child->object,
				VD_WL_SUBSURFACE_REQUEST_SET_POSITION, "ii", child->want_x, child->want_y);
			child->placed = true;
			child->sent_x = child->want_x;
			child->sent_y = child->want_y;
		}
	}
}

/* Which surfaces need a commit: those marked and their ancestors below the
 * root. What the client has pending on them goes with that commit, so it is
 * applied to the model first (and recorded in `applied`, which are
 * committed whatever the next round finds). */
static bool close_upward(struct crop_ctx *ctx, struct crop_list *list, struct vd_surface *root,
		struct crop_list *applied) {
	bool any = false;
	for (size_t i = 0; i < list->count; i++) {
		if (!list->nodes[i].need_commit) {
			continue;
		}
		for (struct vd_surface *s = list->nodes[i].surface; s != NULL && s != root;
				s = s->sub != NULL ? s->sub->parent : NULL) {
			struct crop_node *node = node_for(list, s);
			if (node == NULL) {
				break;
			}
			node->need_commit = true;
			if (s->pending.committed != 0 || s->has_cache) {
				if (!surface_apply_pending(ctx->session, s)) {
					return false;
				}
				node_for(applied, s);
				any = true;
			}
		}
	}
	return any;
}

void crop_tree(struct vd_session *session, struct vd_surface *root,
		const struct vd_geometry *geometry) {
	struct crop_ctx ctx = { .session = session, .g = *geometry };
	struct crop_want root_want = { .ox = ctx.g.x, .oy = ctx.g.y };
	if (wl_list_empty(&root->children)) {
		/* the common case: a window of one surface */
		root_want.viewport = compose(root, ctx.g.x, ctx.g.y, ctx.g.width, ctx.g.height);
		emit_surface(session, NULL, root, &root_want);
		return;
	}
	struct crop_list *list = calloc(2, sizeof(*list));
	if (list == NULL) {
		vd_session_client_error(session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return;
	}
	struct crop_list *applied = &list[1];
	/* lay out; applying what is pending on the surfaces that must be
	 * committed changes them, so again until nothing more is applied
	 * (each round applies at least one surface's pending state) */
	for (int round = 0; round <= 256; round++) {
		list->count = 0;
		root_want.viewport = compose(root, ctx.g.x, ctx.g.y, ctx.g.width, ctx.g.height);
		layout(&ctx, list, root, 0, 0, ctx.g.x, ctx.g.y, 0);
		if (session->closing || !close_upward(&ctx, list, root, applied)) {
			break;
		}
	}
	for (size_t i = 0; i < applied->count; i++) {
		struct crop_node *node = node_for(list, applied->nodes[i].surface);
		if (node != NULL) {
			node->need_commit = true;
		}
	}
	emit_surface(session, list, root, &root_want);
	for (size_t i = 0; i < list->count && !session->closing; i++) {
		emit_surface(session, list, list->nodes[i].surface, &list->nodes[i].want);
	}
	/* children before parents; the root's own commit follows */
	for (size_t i = list->count; i-- > 0 && !session->closing;) {
		if (list->nodes[i].need_commit) {
			vd_session_request(session, list->nodes[i].surface->object,
				VD_WL_SURFACE_REQUEST_COMMIT, "");
		}
	}
	free(list);
}

void crop_mirror(struct vd_session *session, struct vd_surface *surface) {
	struct vd_viewport_rect want = surface->has_cache ?
		surface->cached.viewport : surface->current.viewport;
	if (surface->has_cache && !(surface->cached.committed & SURFACE_STATE_VIEWPORT)) {
		want = surface->current.viewport;
	}
	surface->offset_x = surface->offset_y = 0;
	send_viewport(session, surface, &want);
}
