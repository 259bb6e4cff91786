#define LOG_TAG "popup"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * Popups (menus, tooltips). A popup of a framed window gets a frame of its
 * own, and its tree is cropped to its window geometry, no larger than the
 * compositor configured it (proxy/crop.c), so it shows nothing outside
 * the rectangle it was placed in.
 *
 * A popup must not cover a frame beneath it: its own framed rectangle lies
 * either inside the content of every window and popup below it (its
 * ancestors and the older popups of the same toplevel) or wholly outside
 * their frames. The proxy predicts where the compositor puts a popup from
 * its positioner and moves it off a frame it would cover (the nearest
 * place inside or outside, through the positioner's offset); a popup that
 * the compositor places on a frame anyway (constraints at the screen's
 * edge), or that a frame grows under later, is dismissed: popup_done to
 * the client, and unmapped on the compositor's side for good.
 *
 * Anchor rectangles and configured positions are relative to the parent's
 * window geometry, which the frame of a toplevel enlarges: they are shifted
 * by the frame on the way in and out.
 */

#define POPUP_MAX 64
/*
 * Positions and sizes past this are passed on as they are, never placed: no
 * desktop is a million pixels across, and sums of a few such numbers stay
 * far inside int32_t (a client's positioner or a compositor's configure of
 * INT32_MAX would overflow them otherwise).
 */
#define COORD_MAX (1 << 20)

struct positioner {
	int32_t width, height;
	bool has_anchor;
	struct vd_geometry anchor;
	uint32_t anchor_edge, gravity;
	int32_t offset_x, offset_y;
};

static bool coord_ok(int64_t v) {
	return v >= -COORD_MAX && v <= COORD_MAX;
}

static bool geometry_ok(const struct vd_geometry *g) {
	return coord_ok(g->x) && coord_ok(g->y) && g->width >= 0 && g->width <= COORD_MAX &&
		g->height >= 0 && g->height <= COORD_MAX;
}

static int32_t clamp32(int64_t v) {
	return v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

static bool positioner_ok(const struct positioner *p) {
	return p->width <= COORD_MAX && p->height <= COORD_MAX && geometry_ok(&p->anchor) &&
		coord_ok(p->offset_x) && coord_ok(p->offset_y);
}

static void positioner_gone(struct vd_session *session, struct vd_object *object) {
	free(object->data);
	object->data = NULL;
}

static const struct vd_object_impl positioner_impl = {
	.gone = positioner_gone,
};

static struct positioner *positioner_from(struct vd_object *object) {
	return object != NULL && object->impl == &positioner_impl ? object->data : NULL;
}

bool xdg_wm_base_handle_create_positioner_done(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct positioner *positioner = calloc(1, sizeof(*positioner));
	if (positioner != NULL) {
		object->impl = &positioner_impl;
		object->data = positioner;
	}
	return true;
}

bool xdg_positioner_handle_set_size(struct vd_hook_ctx *ctx) {
	struct positioner *positioner = positioner_from(ctx->object);
	if (positioner != NULL && ctx->msg->args[0].i > 0 && ctx->msg->args[1].i > 0) {
		positioner->width = ctx->msg->args[0].i;
		positioner->height = ctx->msg->args[1].i;
	}
	return true;
}

bool xdg_positioner_handle_set_anchor_rect(struct vd_hook_ctx *ctx) {
	struct positioner *positioner = positioner_from(ctx->object);
	const struct vd_wire_message *msg = ctx->msg;
	if (positioner != NULL && msg->args[2].i > 0 && msg->args[3].i > 0) {
		positioner->has_anchor = true;
		positioner->anchor = (struct vd_geometry){ msg->args[0].i, msg->args[1].i,
			msg->args[2].i, msg->args[3].i };
	}
	return true;
}

bool xdg_positioner_handle_set_anchor(struct vd_hook_ctx *ctx) {
	struct positioner *positioner = positioner_from(ctx->object);
	if (positioner != NULL) {
		positioner->anchor_edge = ctx->msg->args[0].u;
	}
	return true;
}

bool xdg_positioner_handle_set_gravity(struct vd_hook_ctx *ctx) {
	struct positioner *positioner = positioner_from(ctx->object);
	if (positioner != NULL) {
		positioner->gravity = ctx->msg->args[0].u;
	}
	return true;
}

bool xdg_positioner_handle_set_offset(struct vd_hook_ctx *ctx) {
	struct positioner *positioner = positioner_from(ctx->object);
	if (positioner != NULL) {
		positioner->offset_x = ctx->msg->args[0].i;
		positioner->offset_y = ctx->msg->args[1].i;
	}
	return true;
}

/* Where xdg-shell puts a popup before any constraint, relative to the
 * parent's window geometry. */
static struct vd_geometry positioner_place(const struct positioner *p) {
	const struct vd_geometry *a = &p->anchor;
	int32_t x = a->x + a->width / 2, y = a->y + a->height / 2;
	switch (p->anchor_edge) {
	case VD_XDG_POSITIONER_ANCHOR_TOP: y = a->y; break;
	case VD_XDG_POSITIONER_ANCHOR_BOTTOM: y = a->y + a->height; break;
	case VD_XDG_POSITIONER_ANCHOR_LEFT: x = a->x; break;
	case VD_XDG_POSITIONER_ANCHOR_RIGHT: x = a->x + a->width; break;
	case VD_XDG_POSITIONER_ANCHOR_TOP_LEFT: x = a->x; y = a->y; break;
	case VD_XDG_POSITIONER_ANCHOR_BOTTOM_LEFT: x = a->x; y = a->y + a->height; break;
	case VD_XDG_POSITIONER_ANCHOR_TOP_RIGHT: x = a->x + a->width; y = a->y; break;
	case VD_XDG_POSITIONER_ANCHOR_BOTTOM_RIGHT:
		x = a->x + a->width;
		y = a->y + a->height;
		break;
	}
	int32_t w = p->width, h = p->height;
	int32_t px = x - w / 2, py = y - h / 2;
	switch (p->gravity) {
	case VD_XDG_POSITIONER_GRAVITY_TOP: py = y - h; break;
	case VD_XDG_POSITIONER_GRAVITY_BOTTOM: py = y; break;
	case VD_XDG_POSITIONER_GRAVITY_LEFT: px = x - w; break;
	case VD_XDG_POSITIONER_GRAVITY_RIGHT: px = x; break;
	case VD_XDG_POSITIONER_GRAVITY_TOP_LEFT: px = x - w; py = y - h; break;
	case VD_XDG_POSITIONER_GRAVITY_BOTTOM_LEFT: px = x - w; py = y; break;
	case VD_XDG_POSITIONER_GRAVITY_TOP_RIGHT: px = x; py = y - h; break;
	case VD_XDG_POSITIONER_GRAVITY_BOTTOM_RIGHT: px = x; py = y; break;
	}
	return (struct vd_geometry){ px + p->offset_x, py + p->offset_y, w, h };
}

/* Frames and the tree of a toplevel's popups */

/* A frame below a popup: the content rectangle and the frame around it. */
struct ring {
	struct vd_geometry inner, outer;
};

static struct vd_geometry grow(struct vd_geometry g, int32_t left, int32_t top, int32_t right,
		int32_t bottom) {
	return (struct vd_geometry){ g.x - left, g.y - top, g.width + left + right,
		g.height + top + bottom };
}

static bool contains(const struct vd_geometry *outer, const struct vd_geometry *inner) {
	return inner->x >= outer->x && inner->y >= outer->y &&
		(int64_t)inner->x + inner->width <= (int64_t)outer->x + outer->width &&
		(int64_t)inner->y + inner->height <= (int64_t)outer->y + outer->height;
}

static bool overlaps(const struct vd_geometry *a, const struct vd_geometry *b) {
	return (int64_t)a->x < (int64_t)b->x + b->width && (int64_t)b->x < (int64_t)a->x + a->width &&
		(int64_t)a->y < (int64_t)b->y + b->height && (int64_t)b->y < (int64_t)a->y + a->height;
}

/* The popup's framed rectangle (content, border) covers no part of ring. */
static bool clear_of(const struct vd_geometry *framed, const struct ring *ring) {
	return contains(&ring->inner, framed) || !overlaps(framed, &ring->outer);
}

static struct vd_xdg_surface *tree_toplevel(struct vd_xdg_surface *xdg) {
	for (int depth = 0; xdg != NULL && xdg->popup != NULL && depth < POPUP_MAX; depth++) {
		xdg = xdg->popup->parent;
	}
	return xdg != NULL && xdg->popup == NULL ? xdg : NULL;
}

/* The popup's configured rectangle in the toplevel's geometry coordinates. */
static bool popup_abs(const struct vd_popup *popup, struct vd_geometry *out) {
	int64_t x = 0, y = 0;
	const struct vd_popup *p = popup;
	for (int depth = 0; p != NULL; depth++) {
		if (!p->configured || p->parent == NULL || depth >= POPUP_MAX ||
				!geometry_ok(&p->rect)) {
			return false;
		}
		x += p->rect.x;
		y += p->rect.y;
		p = p->parent->popup;
	}
	if (!coord_ok(x) || !coord_ok(y)) {
		return false;
	}
	*out = (struct vd_geometry){ (int32_t)x, (int32_t)y, popup->rect.width,
		popup->rect.height };
	return true;
}

static bool ring_of_toplevel(const struct vd_xdg_surface *top, struct ring *ring) {
	if (top->frame == NULL || frame_is_hidden(top->frame) || top->surface == NULL ||
			top->surface->width <= 0) {
		return false;
	}
	int32_t l, t, r, b;
	frame_extents(false, &l, &t, &r, &b);
	ring->inner = (struct vd_geometry){ 0, 0, top->shown.width, top->shown.height };
	if (!geometry_ok(&ring->inner)) {
		return false;
	}
	ring->outer = grow(ring->inner, l, t, r, b);
	return true;
}

static bool ring_of_popup(const struct vd_popup *popup, struct ring *ring) {
	if (popup->dismissed || popup->xdg == NULL || popup->xdg->frame == NULL ||
			!popup_abs(popup, &ring->inner)) {
		return false;
	}
	const struct vd_surface *surface = popup->xdg->surface;
	if (surface != NULL && surface->width > 0) {
		/* drawn around what the client committed (no more than configured) */
		ring->inner.width = popup->xdg->shown.width;
		ring->inner.height = popup->xdg->shown.height;
		if (!geometry_ok(&ring->inner)) {
			return false;
		}
	}
	int32_t l, t, r, b;
	frame_extents(true, &l, &t, &r, &b);
	ring->outer = grow(ring->inner, l, t, r, b);
	return true;
}

static void collect(struct vd_xdg_surface *xdg, struct vd_popup **out, size_t *count,
		int depth) {
	struct vd_popup *popup;
	wl_list_for_each(popup, &xdg->popups, link) {
		if (*count < POPUP_MAX) {
			out[(*count)++] = popup;
		}
		if (popup->xdg != NULL && depth < POPUP_MAX) {
			collect(popup->xdg, out, count, depth + 1);
		}
	}
}

static bool is_ancestor(const struct vd_popup *ancestor, const struct vd_popup *popup) {
	for (int depth = 0; popup != NULL && popup->parent != NULL && depth < POPUP_MAX; depth++) {
		popup = popup->parent->popup;
		if (popup == ancestor) {
			return true;
		}
	}
	return false;
}

/* The rings below a popup of `top` created after every popup present (or
 * below `popup`, if given), into rings; returns how many. */
static size_t rings_below(struct vd_xdg_surface *top, const struct vd_popup *popup,
		struct ring *rings) {
	size_t n = 0;
	if (ring_of_toplevel(top, &rings[n])) {
		n++;
	}
	struct vd_popup *popups[POPUP_MAX];
	size_t count = 0;
	collect(top, popups, &count, 0);
	for (size_t i = 0; i < count; i++) {
		struct vd_popup *other = popups[i];
		if (other == popup) {
			continue;
		}
		bool below = popup == NULL || is_ancestor(other, popup) ||
			(other->sequence < popup->sequence && !is_ancestor(popup, other));
		if (below && ring_of_popup(other, &rings[n])) {
			n++;
		}
	}
	return n;
}

static struct vd_geometry framed_rect(const struct vd_geometry *content) {
	int32_t l, t, r, b;
	frame_extents(true, &l, &t, &r, &b);
	return grow(*content, l, t, r, b);
}

static bool placement_clear(const struct vd_geometry *framed, const struct ring *rings,
		size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (!clear_of(framed, &rings[i])) {
			return false;
		}
	}
	return true;
}

/* The moves that take framed off ring i: inside it, or beside it. */
static size_t moves_off(const struct vd_geometry *f, const struct ring *ring,
		struct vd_geometry *out) {
	size_t n = 0;
	const struct vd_geometry *in = &ring->inner, *o = &ring->outer;
	if (f->width <= in->width && f->height <= in->height) {
		struct vd_geometry g = *f;
		g.x = g.x < in->x ? in->x : g.x + g.width > in->x + in->width ?
			in->x + in->width - g.width : g.x;
		g.y = g.y < in->y ? in->y : g.y + g.height > in->y + in->height ?
			in->y + in->height - g.height : g.y;
		out[n++] = g;
	}
	out[n] = *f;
	out[n++].x = o->x - f->width;
	out[n] = *f;
	out[n++].x = o->x + o->width;
	out[n] = *f;
	out[n++].y = o->y - f->height;
	out[n] = *f;
	out[n++].y = o->y + o->height;
	return n;
}

static int64_t distance(const struct vd_geometry *a, const struct vd_geometry *b) {
	return llabs((int64_t)a->x - b->x) + llabs((int64_t)a->y - b->y);
}

/* The nearest placement of framed clear of every ring: one or two moves. */
static bool nearest_clear(const struct vd_geometry *framed, const struct ring *rings, size_t n,
		struct vd_geometry *best) {
	if (placement_clear(framed, rings, n)) {
		*best = *framed;
		return true;
	}
	bool found = false;
	int64_t best_distance = 0;
	struct vd_geometry first[5], second[5];
	for (size_t i = 0; i < n; i++) {
		if (clear_of(framed, &rings[i])) {
			continue;
		}
		size_t m = moves_off(framed, &rings[i], first);
		for (size_t j = 0; j < m; j++) {
			struct vd_geometry candidates[1 + 5 * 8];
			size_t c = 0;
			candidates[c++] = first[j];
			for (size_t k = 0; k < n && k < 8; k++) {
				if (!clear_of(&first[j], &rings[k])) {
					size_t mm = moves_off(&first[j], &rings[k], second);
					for (size_t l = 0; l < mm; l++) {
						candidates[c++] = second[l];
					}
				}
			}
			for (size_t k = 0; k < c; k++) {
				if (placement_clear(&candidates[k], rings, n) &&
						(!found || distance(&candidates[k], framed) < best_distance)) {
					*best = candidates[k];
					best_distance = distance(&candidates[k], framed);
					found = true;
				}
			}
		}
	}
	return found;
}

/* Where the compositor's origin of a popup parent's geometry lies,
 * relative to the client's. */
static void parent_offset(const struct vd_xdg_surface *parent, int32_t *dx, int32_t *dy) {
	*dx = *dy = 0;
	if (parent != NULL && parent->toplevel != NULL && parent->frame != NULL &&
			!parent->toplevel->frameless) {
		int32_t right, bottom;
		frame_extents(false, dx, dy, &right, &bottom);
	}
}

/*
 * Sends the positioner as the compositor must see it for a popup of parent
 * (sign 1): the anchor shifted by the parent's frame, the offset moved so
 * that the popup clears every frame below it; or back as the client set it
 * (sign -1).
 */
static void positioner_adjust(struct vd_session *session, struct vd_object *object,
		struct vd_xdg_surface *parent, const struct vd_popup *popup, int sign) {
	struct positioner *p = positioner_from(object);
	if (p == NULL || !p->has_anchor || parent == NULL || !positioner_ok(p)) {
		return;
	}
	int32_t dx, dy;
	parent_offset(parent, &dx, &dy);
	int32_t move_x = 0, move_y = 0;
	struct vd_xdg_surface *top = tree_toplevel(parent);
	struct vd_geometry base = { 0, 0, 0, 0 };
	bool known = top != NULL && (parent->popup == NULL || popup_abs(parent->popup, &base));
	if (known && p->width > 0 && p->height > 0) {
		struct ring rings[POPUP_MAX + 1];
		size_t n = rings_below(top, popup, rings);
		struct vd_geometry place = positioner_place(p);
		place.x += base.x;
		place.y += base.y;
		struct vd_geometry framed = framed_rect(&place), best;
		if (nearest_clear(&framed, rings, n, &best)) {
			move_x = best.x - framed.x;
			move_y = best.y - framed.y;
		}
	}
	if (dx != 0 || dy != 0) {
		const struct vd_geometry *a = &p->anchor;
		vd_session_request(session, object, VD_XDG_POSITIONER_REQUEST_SET_ANCHOR_RECT,
			"iiii", sign > 0 ? a->x + dx : a->x, sign > 0 ? a->y + dy : a->y, a->width,
			a->height);
	}
	if (move_x != 0 || move_y != 0) {
		vd_session_request(session, object, VD_XDG_POSITIONER_REQUEST_SET_OFFSET, "ii",
			sign > 0 ? p->offset_x + move_x : p->offset_x,
			sign > 0 ? p->offset_y + move_y : p->offset_y);
	}
}

/* xdg_popup */

void popup_detach(struct vd_session *session, struct vd_popup *popup) {
	wl_list_remove(&popup->link);
	wl_list_init(&popup->link);
	popup->parent = NULL;
}

static void popup_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_popup *popup = object->data;
	popup_detach(session, popup);
	if (popup->xdg != NULL) {
		popup->xdg->popup = NULL;
		frame_destroy(popup->xdg->frame);
		popup->xdg->frame = NULL;
		if (popup->xdg->surface != NULL) {
			surface_tree_sync_mode(session, popup->xdg->surface);
		}
	}
	free(popup);
	object->data = NULL;
}

static const struct vd_object_impl popup_impl = {
	.gone = popup_gone,
};

static struct vd_popup *popup_from(struct vd_object *object) {
	return object != NULL && object->impl == &popup_impl ? object->data : NULL;
}

bool popup_configured_size(const struct vd_popup *popup, int32_t *width, int32_t *height) {
	if (!popup->configured) {
		return false;
	}
	*width = popup->rect.width < *width ? popup->rect.width : *width;
	*height = popup->rect.height < *height ? popup->rect.height : *height;
	return true;
}

/* Unmaps a popup (and its popups) for good and tells its client. */
static void popup_dismiss(struct vd_session *session, struct vd_popup *popup, int depth) {
	if (popup->dismissed || depth > POPUP_MAX) {
		return;
	}
	popup->dismissed = true;
	vd_log(VD_INFO, "vm=%s pid=%d: a popup over a frame was dismissed", session->server->vm,
		(int)session->pid);
	if (popup->xdg != NULL) {
		struct vd_popup *child;
		wl_list_for_each(child, &popup->xdg->popups, link) {
			popup_dismiss(session, child, depth + 1);
		}
		struct vd_surface *surface = popup->xdg->surface;
		if (surface != NULL) {
			if (surface->width > 0) {
				vd_session_request(session, surface->object,
					VD_WL_SURFACE_REQUEST_ATTACH, "oii", NULL, 0, 0);
				surface->pending.buffer_width = surface->pending.buffer_height = 0;
				surface->pending.committed |= SURFACE_STATE_BUFFER;
				surface_commit_for_client(session, surface);
			}
			surface->dismissed = true;
		}
	}
	vd_session_event(session, popup->object, VD_XDG_POPUP_EVENT_POPUP_DONE, "");
}

void popup_check_tree(struct vd_session *session, struct vd_xdg_surface *xdg) {
	struct vd_xdg_surface *top = tree_toplevel(xdg);
	if (top == NULL || wl_list_empty(&top->popups)) {
		return;
	}
	struct vd_popup *popups[POPUP_MAX];
	size_t count = 0;
	collect(top, popups, &count, 0);
	for (size_t i = 0; i < count; i++) {
		struct vd_popup *popup = popups[i];
		struct vd_geometry rect;
		if (popup->dismissed || !popup_abs(popup, &rect)) {
			continue;
		}
		struct ring rings[POPUP_MAX + 1];
		size_t n = rings_below(top, popup, rings);
		struct vd_geometry framed = framed_rect(&rect);
		if (!placement_clear(&framed, rings, n)) {
			popup_dismiss(session, popup, 0);
		}
	}
}

bool xdg_surface_handle_get_popup(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	const struct vd_wire_message *msg = ctx->msg;
	if (xdg != NULL && (xdg->toplevel != NULL || xdg->popup != NULL)) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_XDG_SURFACE_ERROR_ALREADY_CONSTRUCTED, "xdg_surface@%u already has a role",
			ctx->object->client_id);
		return false;
	}
	if (msg->args[1].id == ctx->object->client_id) {
		vd_session_client_error(ctx->session, xdg != NULL ? xdg->wm_base_id : 1,
			xdg != NULL ? VD_XDG_WM_BASE_ERROR_INVALID_POPUP_PARENT : 0,
			"xdg_popup cannot be its own parent");
		return false;
	}
	struct vd_xdg_surface *parent =
		xdg_surface_from(vd_session_client_object(ctx->session, msg->args[1].id));
	positioner_adjust(ctx->session, vd_session_client_object(ctx->session, msg->args[2].id),
		parent, NULL, 1);
	return true;
}

bool xdg_surface_handle_get_popup_done(struct vd_hook_ctx *ctx) {
	struct vd_session *session = ctx->session;
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	const struct vd_wire_message *msg = ctx->msg;
	struct vd_xdg_surface *parent =
		xdg_surface_from(vd_session_client_object(session, msg->args[1].id));
	positioner_adjust(session, vd_session_client_object(session, msg->args[2].id), parent,
		NULL, -1);
	if (!ctx->forwarded || xdg == NULL) {
		return true;
	}
	struct vd_popup *popup = calloc(1, sizeof(*popup));
	if (popup == NULL) {
		vd_session_client_error(session, 1, VD_WL_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return true;
	}
	struct vd_object *object = ctx->new_objects[0];
	popup->object = object;
	popup->xdg = xdg;
	popup->parent = parent;
	popup->sequence = ++session->shell->popup_sequence;
	parent_offset(parent, &popup->dx, &popup->dy);
	if (parent != NULL) {
		wl_list_insert(parent->popups.prev, &popup->link);
	} else {
		wl_list_init(&popup->link);
	}
	object->impl = &popup_impl;
	object->data = popup;
	xdg->popup = popup;
	if (session->server->frames && xdg->frame == NULL) {
		xdg->frame = frame_create(session, xdg, true);
		if (xdg->frame != NULL && xdg->surface != NULL) {
			surface_tree_sync_mode(session, xdg->surface);
		}
	}
	return true;
}

bool xdg_popup_handle_reposition(struct vd_hook_ctx *ctx) {
	struct vd_popup *popup = popup_from(ctx->object);
	if (popup != NULL && popup->dismissed) {
		return false;
	}
	if (popup != NULL) {
		positioner_adjust(ctx->session,
			vd_session_client_object(ctx->session, ctx->msg->args[0].id), popup->parent,
			popup, 1);
	}
	return true;
}

bool xdg_popup_handle_reposition_done(struct vd_hook_ctx *ctx) {
	struct vd_popup *popup = popup_from(ctx->object);
	if (popup != NULL && ctx->forwarded) {
		positioner_adjust(ctx->session,
			vd_session_client_object(ctx->session, ctx->msg->args[0].id), popup->parent,
			popup, -1);
	}
	return true;
}

bool xdg_popup_handle_configure(struct vd_hook_ctx *ctx) {
	struct vd_popup *popup = popup_from(ctx->object);
	if (popup == NULL) {
		return true;
	}
	if (popup->dismissed) {
		popup->drop_configure = true;
		return false;
	}
	const struct vd_wire_message *msg = ctx->msg;
	int32_t x = clamp32((int64_t)msg->args[0].i - popup->dx);
	int32_t y = clamp32((int64_t)msg->args[1].i - popup->dy);
	vd_wire_put_u32(ctx->data, msg->args[0].offset, (uint32_t)x);
	vd_wire_put_u32(ctx->data, msg->args[1].offset, (uint32_t)y);
	popup->configured = true;
	popup->rect = (struct vd_geometry){ x, y, msg->args[2].i, msg->args[3].i };
	struct vd_xdg_surface *top = tree_toplevel(popup->parent);
	struct vd_geometry rect;
	if (top != NULL && popup->xdg != NULL && popup->xdg->frame != NULL &&
			popup_abs(popup, &rect)) {
		struct ring rings[POPUP_MAX + 1];
		size_t n = rings_below(top, popup, rings);
		struct vd_geometry framed = framed_rect(&rect);
		if (!placement_clear(&framed, rings, n)) {
			/* placed on a frame: never shown */
			popup->drop_configure = true;
			popup_dismiss(ctx->session, popup, 0);
			return false;
		}
	}
	return true;
}
