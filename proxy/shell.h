#ifndef PROXY_SHELL_H
#define PROXY_SHELL_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/session.h"

/*
 * Windows of the VM: what the proxy tracks of wl_surface and xdg-shell
 * objects to draw frames (proxy/frame.c), rewrite titles and app IDs, keep
 * fullscreen from hiding the frame, and adjust sizes for the frame.
 */

struct vd_frame;

struct vd_geometry {
	int32_t x, y, width, height;
};

/* Data of a client wl_surface. */
struct vd_surface {
	struct vd_object *object;
	struct vd_xdg_surface *xdg; // may be NULL
	bool pending_attach;
	int32_t pending_width, pending_height; // of the attached buffer; 0: none
	int32_t pending_scale;
	int32_t width, height; // committed size in surface coordinates
	int32_t buffer_width, buffer_height, scale;
	int32_t viewport_width, viewport_height; // -1: no destination
};

/* Data of a client xdg_surface. */
struct vd_xdg_surface {
	struct vd_object *object;
	struct vd_surface *surface; // NULL once the wl_surface is gone
	uint32_t wm_base_id; // client ID of the xdg_wm_base that made it
	struct vd_toplevel *toplevel; // may be NULL
	struct vd_popup *popup; // may be NULL
	struct vd_frame *frame; // toplevels and popups; may be NULL
	bool has_geometry;
	struct vd_geometry geometry; // as the client set it
	bool sent;
	struct vd_geometry sent_geometry; // what the compositor was given
};

/* Data of a client xdg_toplevel. */
struct vd_toplevel {
	struct vd_object *object;
	struct vd_xdg_surface *xdg; // may be NULL
	char *title; // sanitized, without the VM prefix
	bool fullscreen_requested; // and turned into maximize
	bool fullscreen; // the compositor made it fullscreen (policy allows it)
};

/* Data of a client xdg_popup. */
struct vd_popup {
	struct vd_object *object;
	struct vd_xdg_surface *xdg; // may be NULL
	int32_t dx, dy; // its parent's frame: where the compositor's origin lies
};

/* Per session: the proxy's own globals on the compositor connection. */
struct vd_shell {
	struct vd_object *registry;
	struct vd_object *compositor;
	struct vd_object *subcompositor;
	struct vd_object *shm;
};

bool shell_session_init(struct vd_session *session);
void shell_session_finish(struct vd_session *session);

/* proxy/surface.c */
struct vd_surface *surface_from(struct vd_object *object);
bool surface_handle_attach(struct vd_hook_ctx *ctx);
bool surface_handle_set_buffer_scale(struct vd_hook_ctx *ctx);
bool surface_handle_commit(struct vd_hook_ctx *ctx);
bool viewport_handle_set_destination(struct vd_hook_ctx *ctx);
bool compositor_handle_create_surface(struct vd_hook_ctx *ctx);
bool shm_pool_handle_create_buffer_done(struct vd_hook_ctx *ctx);
bool dmabuf_params_handle_create(struct vd_hook_ctx *ctx);
bool dmabuf_params_handle_create_immed(struct vd_hook_ctx *ctx);
bool dmabuf_params_handle_created(struct vd_hook_ctx *ctx);
bool viewporter_handle_get_viewport(struct vd_hook_ctx *ctx);
bool subcompositor_handle_get_subsurface(struct vd_hook_ctx *ctx);

/* proxy/xdg.c */
/* The surface of an xdg_surface is being committed: geometry and frame. */
void xdg_surface_commit(struct vd_session *session, struct vd_xdg_surface *xdg);
/* Gates: requests of role objects whose wl_surface is gone are dropped
 * (some compositors crash on them). */
bool xdg_gate_role_request(struct vd_hook_ctx *ctx);
bool xdg_wm_base_handle_get_xdg_surface(struct vd_hook_ctx *ctx);
bool xdg_wm_base_handle_get_xdg_surface_done(struct vd_hook_ctx *ctx);
bool xdg_wm_base_handle_create_positioner_done(struct vd_hook_ctx *ctx);
bool xdg_positioner_handle_set_anchor_rect(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_set_window_geometry(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_get_toplevel(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_get_toplevel_done(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_get_popup(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_get_popup_done(struct vd_hook_ctx *ctx);
bool xdg_popup_handle_reposition(struct vd_hook_ctx *ctx);
bool xdg_popup_handle_reposition_done(struct vd_hook_ctx *ctx);
bool xdg_popup_handle_configure(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_title(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_app_id(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_max_size(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_min_size(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_fullscreen(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_unset_fullscreen(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_configure(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_configure_bounds(struct vd_hook_ctx *ctx);

/* proxy/frame.c */
bool seat_handle_get_pointer(struct vd_hook_ctx *ctx);
bool pointer_handle_event(struct vd_hook_ctx *ctx);

/* Any opcode of these interfaces passes the gate first. */
#define SHELL_REQUEST_GATES \
	{ &vd_iface_xdg_toplevel, 0, xdg_gate_role_request }, \
	{ &vd_iface_xdg_popup, 0, xdg_gate_role_request }, \
	{ &vd_iface_xdg_surface, 0, xdg_gate_role_request },

#define SHELL_REQUEST_HOOKS \
	{ &vd_iface_wl_surface, 1, surface_handle_attach }, \
	{ &vd_iface_wl_surface, 6, surface_handle_commit }, \
	{ &vd_iface_wl_surface, 8, surface_handle_set_buffer_scale }, \
	{ &vd_iface_wp_viewport, 2, viewport_handle_set_destination }, \
	{ &vd_iface_xdg_wm_base, 2, xdg_wm_base_handle_get_xdg_surface }, \
	{ &vd_iface_xdg_positioner, 2, xdg_positioner_handle_set_anchor_rect }, \
	{ &vd_iface_xdg_surface, 1, xdg_surface_handle_get_toplevel }, \
	{ &vd_iface_xdg_surface, 2, xdg_surface_handle_get_popup }, \
	{ &vd_iface_xdg_surface, 3, xdg_surface_handle_set_window_geometry }, \
	{ &vd_iface_xdg_popup, 2, xdg_popup_handle_reposition }, \
	{ &vd_iface_xdg_toplevel, 2, xdg_toplevel_handle_set_title }, \
	{ &vd_iface_xdg_toplevel, 3, xdg_toplevel_handle_set_app_id }, \
	{ &vd_iface_xdg_toplevel, 7, xdg_toplevel_handle_set_max_size }, \
	{ &vd_iface_xdg_toplevel, 8, xdg_toplevel_handle_set_min_size }, \
	{ &vd_iface_xdg_toplevel, 11, xdg_toplevel_handle_set_fullscreen }, \
	{ &vd_iface_xdg_toplevel, 12, xdg_toplevel_handle_unset_fullscreen },

#define SHELL_REQUEST_POST_HOOKS \
	{ &vd_iface_wl_compositor, 0, compositor_handle_create_surface }, \
	{ &vd_iface_wl_shm_pool, 0, shm_pool_handle_create_buffer_done }, \
	{ &vd_iface_zwp_linux_buffer_params_v1, 2, dmabuf_params_handle_create }, \
	{ &vd_iface_zwp_linux_buffer_params_v1, 3, dmabuf_params_handle_create_immed }, \
	{ &vd_iface_wp_viewporter, 1, viewporter_handle_get_viewport }, \
	{ &vd_iface_wl_subcompositor, 1, subcompositor_handle_get_subsurface }, \
	{ &vd_iface_xdg_wm_base, 1, xdg_wm_base_handle_create_positioner_done }, \
	{ &vd_iface_xdg_wm_base, 2, xdg_wm_base_handle_get_xdg_surface_done }, \
	{ &vd_iface_xdg_surface, 1, xdg_surface_handle_get_toplevel_done }, \
	{ &vd_iface_xdg_surface, 2, xdg_surface_handle_get_popup_done }, \
	{ &vd_iface_xdg_popup, 2, xdg_popup_handle_reposition_done }, \
	{ &vd_iface_wl_seat, 0, seat_handle_get_pointer },

#define SHELL_EVENT_HOOKS \
	{ &vd_iface_xdg_toplevel, 0, xdg_toplevel_handle_configure }, \
	{ &vd_iface_xdg_toplevel, 2, xdg_toplevel_handle_configure_bounds }, \
	{ &vd_iface_xdg_popup, 0, xdg_popup_handle_configure }, \
	{ &vd_iface_wl_pointer, 0, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 1, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 2, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 3, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 4, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 5, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 6, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 7, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 8, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, 9, pointer_handle_event },

#define SHELL_EVENT_POST_HOOKS \
	{ &vd_iface_zwp_linux_buffer_params_v1, 0, dmabuf_params_handle_created },

/* proxy/frame.c */
struct vd_frame *frame_create(struct vd_session *session, struct vd_xdg_surface *xdg,
	bool popup);
void frame_destroy(struct vd_frame *frame);
/* The title changed. */
void frame_set_title(struct vd_frame *frame, const char *title);
void frame_set_hidden(struct vd_frame *frame, bool hidden);
/* Before the parent surface's commit: lay out around the client's window
 * geometry g (surface coordinates), drawn at the client's buffer scale, and
 * draw if needed. */
void frame_update(struct vd_frame *frame, const struct vd_geometry *g, int32_t scale);
/* A client subsurface (its wl_surface) was added on the framed surface:
 * stay on top of it. */
void frame_raise(struct vd_frame *frame, struct vd_object *child_surface);
/* Extra size the frame adds to a toplevel (0 for popups). */
void frame_extents(int32_t *left, int32_t *top, int32_t *right, int32_t *bottom);


#endif
