#ifndef PROXY_SHELL_H
#define PROXY_SHELL_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-util.h>

#include "proxy/session.h"

/*
 * Windows of the VM: what the proxy tracks of wl_surface, wl_subsurface,
 * wp_viewport, wl_region and xdg-shell objects to draw frames
 * (proxy/frame.c), confine every framed surface tree to its frame
 * (proxy/crop.c), rewrite titles and app IDs, and adjust sizes for the frame.
 */

struct vd_frame;
struct vd_region_ops;

struct vd_geometry {
	int32_t x, y, width, height;
};

/* A wp_viewport's state: a source rectangle in wl_fixed and an integer
 * destination size; unset parts are -1 on the wire. */
struct vd_viewport_rect {
	bool has_src, has_dst;
	int32_t src_x, src_y, src_width, src_height; // wl_fixed
	int32_t dst_width, dst_height;
};

enum vd_surface_state_bits {
	SURFACE_STATE_BUFFER = 1 << 0,
	SURFACE_STATE_SCALE = 1 << 1,
	SURFACE_STATE_TRANSFORM = 1 << 2,
	SURFACE_STATE_VIEWPORT = 1 << 3,
};

/* Double-buffered client state of a wl_surface that sizes it. */
struct vd_surface_state {
	uint32_t committed; // SURFACE_STATE_* bits set in this state
	int32_t buffer_width, buffer_height; // 0 x 0: no buffer
	int32_t scale, transform;
	struct vd_viewport_rect viewport; // the client's
};

/* Data of a client wl_surface. */
struct vd_surface {
	struct vd_object *object;
	struct vd_xdg_surface *xdg; // role: a window (toplevel or popup); may be NULL
	struct vd_subsurface *sub; // role: a subsurface; may be NULL
	struct wl_list children; // vd_subsurface.link: its subsurfaces
	struct vd_surface_state pending, cached, current;
	bool has_cache; // committed while synchronized, not yet applied
	bool dismissed; // a popup surface the proxy unmapped for good
	int32_t width, height; // current size in the client's surface coordinates

	struct vd_viewport *viewport; // the client's wp_viewport (served); may be NULL
	struct vd_object *own_viewport; // the proxy's on the compositor; may be NULL
	struct vd_viewport_rect sent; // the state last set on own_viewport
	/* where the compositor's surface origin lies in the client's surface
	 * coordinates: the top-left corner of the crop */
	int32_t offset_x, offset_y;

	struct vd_region_ops *input_region; // the client's last, NULL: infinite
	bool input_dirty; // the client set one the compositor has not seen
	bool input_sent; // the compositor has the translated one
	int32_t input_dx, input_dy; // its translation
	bool opaque_cleared; // framed: the compositor was told "not opaque"
};

/* Data of a client wl_subsurface. */
struct vd_subsurface {
	struct vd_object *object;
	struct vd_surface *surface; // NULL once gone
	struct vd_surface *parent; // NULL once gone
	struct wl_list link; // vd_surface.children of the parent
	bool desync; // the client's mode
	bool upstream_desync; // the compositor's
	bool has_pending_position;
	int32_t pending_x, pending_y;
	int32_t x, y; // the client's position, applied
	bool placed;
	int32_t sent_x, sent_y; // the position last sent to the compositor
	int32_t want_x, want_y; // proxy/crop.c, while laying out
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
	struct vd_geometry shown; // the crop: what the compositor shows, in surface coordinates
	bool sent;
	struct vd_geometry sent_geometry; // what the compositor was given
	struct wl_list popups; // vd_popup.link: popups whose parent this is
};

/* Data of a client xdg_toplevel. */
struct vd_toplevel {
	struct vd_object *object;
	struct vd_xdg_surface *xdg; // may be NULL
	char *title; // sanitized, without the VM prefix
	bool frameless; // fullscreen without a frame (the policy allows it)
	struct vd_object *decoration; // the proxy's zxdg_toplevel_decoration_v1
	struct vd_object *client_decoration; // a served zxdg_toplevel_decoration_v1
};

/* Data of a client xdg_popup. */
struct vd_popup {
	struct vd_object *object;
	struct vd_xdg_surface *xdg; // may be NULL
	struct vd_xdg_surface *parent; // may be NULL
	struct wl_list link; // parent->popups
	uint64_t sequence; // creation order: later popups stack higher
	int32_t dx, dy; // its parent's frame: where the compositor's origin lies
	bool configured;
	struct vd_geometry rect; // configured, relative to the parent's geometry
	bool dismissed;
	bool drop_configure; // swallow the xdg_surface.configure that follows
};

/* Per session: the proxy's own globals on the compositor connection. */
struct vd_shell {
	struct vd_object *registry;
	struct vd_object *compositor;
	struct vd_object *subcompositor;
	struct vd_object *shm;
	struct vd_object *viewporter;
	struct vd_object *decoration_manager; // may be NULL
	bool served_globals; // the decoration globals have names
	uint32_t xdg_decoration_name, kde_decoration_name; // 0: not served
	uint64_t popup_sequence;
};

bool shell_session_init(struct vd_session *session);
void shell_session_finish(struct vd_session *session);

/* proxy/surface.c */
struct vd_surface *surface_from(struct vd_object *object);
/* The root of a surface's tree (itself if it is no subsurface). */
struct vd_surface *surface_root(struct vd_surface *surface);
/* The root's frame if the tree is framed, else NULL. */
struct vd_frame *surface_tree_frame(struct vd_surface *root);
/* Commits a surface for the client (the proxy must apply what it changed):
 * the same as a client's commit, then sends wl_surface.commit. */
void surface_commit_for_client(struct vd_session *session, struct vd_surface *surface);
/* Applies what the client has pending (and cached) on surface now, as the
 * proxy is about to commit it; false if that state is refused. */
bool surface_apply_pending(struct vd_session *session, struct vd_surface *surface);
/* The tree is framed now or no longer: subsurfaces synchronized or not. */
void surface_tree_sync_mode(struct vd_session *session, struct vd_surface *root);
bool surface_handle_attach(struct vd_hook_ctx *ctx);
bool surface_handle_set_buffer_scale(struct vd_hook_ctx *ctx);
bool surface_handle_set_buffer_transform(struct vd_hook_ctx *ctx);
bool surface_handle_set_input_region(struct vd_hook_ctx *ctx);
bool surface_handle_set_opaque_region(struct vd_hook_ctx *ctx);
bool surface_handle_damage(struct vd_hook_ctx *ctx);
bool surface_handle_offset(struct vd_hook_ctx *ctx);
bool surface_handle_commit(struct vd_hook_ctx *ctx);
bool surface_handle_commit_done(struct vd_hook_ctx *ctx);
bool compositor_handle_create_surface(struct vd_hook_ctx *ctx);
bool compositor_handle_create_region(struct vd_hook_ctx *ctx);
bool region_handle_add(struct vd_hook_ctx *ctx);
bool region_handle_subtract(struct vd_hook_ctx *ctx);
bool shm_pool_handle_create_buffer_done(struct vd_hook_ctx *ctx);
bool single_pixel_handle_create_buffer_done(struct vd_hook_ctx *ctx);
bool dmabuf_params_handle_create(struct vd_hook_ctx *ctx);
bool dmabuf_params_handle_create_immed(struct vd_hook_ctx *ctx);
bool dmabuf_params_handle_created(struct vd_hook_ctx *ctx);
bool subcompositor_handle_get_subsurface(struct vd_hook_ctx *ctx);
bool subcompositor_handle_get_subsurface_done(struct vd_hook_ctx *ctx);
bool subsurface_handle_set_position(struct vd_hook_ctx *ctx);
bool subsurface_handle_set_sync(struct vd_hook_ctx *ctx);
bool subsurface_handle_set_desync(struct vd_hook_ctx *ctx);
bool subsurface_handle_place(struct vd_hook_ctx *ctx);

/* proxy/viewport.c: the client's wp_viewport objects, served by the proxy */
bool viewporter_handle_get_viewport(struct vd_hook_ctx *ctx);
bool viewporter_handle_get_viewport_done(struct vd_hook_ctx *ctx);
bool viewport_handle_set_source(struct vd_hook_ctx *ctx);
bool viewport_handle_set_destination(struct vd_hook_ctx *ctx);
bool viewport_handle_destroy(struct vd_hook_ctx *ctx);
/* The surface is gone: the client's viewport becomes inert. */
void viewport_surface_gone(struct vd_viewport *viewport);
/* At commit: checks the client's viewport against the buffer (protocol
 * errors as a compositor would post them); false if one was posted. */
bool viewport_check_commit(struct vd_session *session, struct vd_surface *surface,
	const struct vd_surface_state *state);

/* proxy/region.c */
/* A copy of a client wl_region's rectangles; NULL if the region is
 * unknown or too complex (the caller treats it as infinite). */
struct vd_region_ops *region_copy(struct vd_object *region);
void region_ops_free(struct vd_region_ops *ops);
/* Makes a region of the proxy's on the compositor holding ops translated
 * by (dx, dy); NULL on failure. Destroy it with region_destroy_own. */
struct vd_object *region_create_own(struct vd_session *session,
	const struct vd_region_ops *ops, int32_t dx, int32_t dy);
void region_destroy_own(struct vd_session *session, struct vd_object *region);

/* proxy/crop.c */
/*
 * Before the root of a framed tree is committed (by the client or the
 * proxy): crops every surface of the tree to the root's window geometry
 * and translates the positions of subsurfaces; queues what the compositor
 * must apply with the root's commit.
 */
void crop_tree(struct vd_session *session, struct vd_surface *root,
	const struct vd_geometry *geometry);
/* The client's own viewport of a surface outside a framed tree, mirrored
 * onto the proxy's before the surface's commit. */
void crop_mirror(struct vd_session *session, struct vd_surface *surface);

/* proxy/xdg.c */
struct vd_xdg_surface *xdg_surface_from(struct vd_object *object);
struct vd_toplevel *xdg_toplevel_from(struct vd_object *object);
/* The root of a window is being committed: geometry, crop and frame. */
void xdg_surface_commit(struct vd_session *session, struct vd_xdg_surface *xdg);
/* The window geometry the compositor shows (the client's, clamped). */
bool xdg_effective_geometry(const struct vd_xdg_surface *xdg, struct vd_geometry *g);
/* Gates: requests of role objects whose wl_surface is gone are dropped
 * (some compositors crash on them). */
bool xdg_gate_role_request(struct vd_hook_ctx *ctx);
bool xdg_wm_base_handle_get_xdg_surface(struct vd_hook_ctx *ctx);
bool xdg_wm_base_handle_get_xdg_surface_done(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_set_window_geometry(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_get_toplevel(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_get_toplevel_done(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_configure(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_destroy(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_title(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_app_id(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_show_window_menu(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_max_size(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_min_size(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_set_fullscreen(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_configure(struct vd_hook_ctx *ctx);
bool xdg_toplevel_handle_configure_bounds(struct vd_hook_ctx *ctx);

/* proxy/popup.c */
bool xdg_wm_base_handle_create_positioner_done(struct vd_hook_ctx *ctx);
bool xdg_positioner_handle_set_size(struct vd_hook_ctx *ctx);
bool xdg_positioner_handle_set_anchor_rect(struct vd_hook_ctx *ctx);
bool xdg_positioner_handle_set_anchor(struct vd_hook_ctx *ctx);
bool xdg_positioner_handle_set_gravity(struct vd_hook_ctx *ctx);
bool xdg_positioner_handle_set_offset(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_get_popup(struct vd_hook_ctx *ctx);
bool xdg_surface_handle_get_popup_done(struct vd_hook_ctx *ctx);
bool xdg_popup_handle_reposition(struct vd_hook_ctx *ctx);
bool xdg_popup_handle_reposition_done(struct vd_hook_ctx *ctx);
bool xdg_popup_handle_configure(struct vd_hook_ctx *ctx);
/* Popups are gone with their xdg_surface or wl_surface. */
void popup_detach(struct vd_session *session, struct vd_popup *popup);
/* Every popup of xdg's tree that now covers a frame below it is dismissed;
 * called before a window root's commit. */
void popup_check_tree(struct vd_session *session, struct vd_xdg_surface *xdg);
/* The popup's size as configured (its crop), or false. */
bool popup_configured_size(const struct vd_popup *popup, int32_t *width, int32_t *height);

/* proxy/decoration.c: decorations, served to the client and negotiated
 * with the compositor */
void decoration_toplevel_created(struct vd_session *session, struct vd_toplevel *toplevel);
void decoration_toplevel_destroyed(struct vd_session *session, struct vd_toplevel *toplevel);
/* The interface is one the proxy serves itself instead of the compositor. */
bool decoration_served_interface(const struct vd_server *server, const char *interface);
/* A new wl_registry of the client: announce the served globals. */
bool decoration_handle_get_registry_done(struct vd_hook_ctx *ctx);
/* A bind of a served global name: true if it was one (handled). */
bool decoration_bind(struct vd_hook_ctx *ctx, uint32_t name);
bool decoration_handle_bind_done(struct vd_hook_ctx *ctx);
bool decoration_manager_handle_get_toplevel_decoration(struct vd_hook_ctx *ctx);
bool decoration_manager_handle_get_toplevel_decoration_done(struct vd_hook_ctx *ctx);
bool decoration_handle_set_mode(struct vd_hook_ctx *ctx);
bool kde_decoration_manager_handle_create_done(struct vd_hook_ctx *ctx);
bool kde_decoration_handle_request_mode(struct vd_hook_ctx *ctx);

/* proxy/input.c: pointer and touch input on framed windows */
bool seat_handle_get_pointer(struct vd_hook_ctx *ctx);
bool seat_handle_get_touch(struct vd_hook_ctx *ctx);
bool pointer_handle_event(struct vd_hook_ctx *ctx);
bool touch_handle_event(struct vd_hook_ctx *ctx);

/* Any opcode of these interfaces passes the gate first. */
#define SHELL_REQUEST_GATES \
	{ &vd_iface_xdg_toplevel, 0, xdg_gate_role_request }, \
	{ &vd_iface_xdg_popup, 0, xdg_gate_role_request }, \
	{ &vd_iface_xdg_surface, 0, xdg_gate_role_request },

#define SHELL_REQUEST_HOOKS \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_ATTACH, surface_handle_attach }, \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_DAMAGE, surface_handle_damage }, \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_SET_OPAQUE_REGION, \
		surface_handle_set_opaque_region }, \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_SET_INPUT_REGION, \
		surface_handle_set_input_region }, \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_COMMIT, surface_handle_commit }, \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_SET_BUFFER_TRANSFORM, \
		surface_handle_set_buffer_transform }, \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_SET_BUFFER_SCALE, \
		surface_handle_set_buffer_scale }, \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_OFFSET, surface_handle_offset }, \
	{ &vd_iface_wl_region, VD_WL_REGION_REQUEST_ADD, region_handle_add }, \
	{ &vd_iface_wl_region, VD_WL_REGION_REQUEST_SUBTRACT, region_handle_subtract }, \
	{ &vd_iface_wl_subcompositor, VD_WL_SUBCOMPOSITOR_REQUEST_GET_SUBSURFACE, \
		subcompositor_handle_get_subsurface }, \
	{ &vd_iface_wl_subsurface, VD_WL_SUBSURFACE_REQUEST_SET_POSITION, \
		subsurface_handle_set_position }, \
	{ &vd_iface_wl_subsurface, VD_WL_SUBSURFACE_REQUEST_PLACE_ABOVE, \
		subsurface_handle_place }, \
	{ &vd_iface_wl_subsurface, VD_WL_SUBSURFACE_REQUEST_PLACE_BELOW, \
		subsurface_handle_place }, \
	{ &vd_iface_wl_subsurface, VD_WL_SUBSURFACE_REQUEST_SET_SYNC, subsurface_handle_set_sync }, \
	{ &vd_iface_wl_subsurface, VD_WL_SUBSURFACE_REQUEST_SET_DESYNC, \
		subsurface_handle_set_desync }, \
	{ &vd_iface_wp_viewporter, VD_WP_VIEWPORTER_REQUEST_GET_VIEWPORT, \
		viewporter_handle_get_viewport }, \
	{ &vd_iface_wp_viewport, VD_WP_VIEWPORT_REQUEST_DESTROY, viewport_handle_destroy }, \
	{ &vd_iface_wp_viewport, VD_WP_VIEWPORT_REQUEST_SET_SOURCE, viewport_handle_set_source }, \
	{ &vd_iface_wp_viewport, VD_WP_VIEWPORT_REQUEST_SET_DESTINATION, \
		viewport_handle_set_destination }, \
	{ &vd_iface_xdg_wm_base, VD_XDG_WM_BASE_REQUEST_GET_XDG_SURFACE, \
		xdg_wm_base_handle_get_xdg_surface }, \
	{ &vd_iface_xdg_positioner, VD_XDG_POSITIONER_REQUEST_SET_SIZE, \
		xdg_positioner_handle_set_size }, \
	{ &vd_iface_xdg_positioner, VD_XDG_POSITIONER_REQUEST_SET_ANCHOR_RECT, \
		xdg_positioner_handle_set_anchor_rect }, \
	{ &vd_iface_xdg_positioner, VD_XDG_POSITIONER_REQUEST_SET_ANCHOR, \
		xdg_positioner_handle_set_anchor }, \
	{ &vd_iface_xdg_positioner, VD_XDG_POSITIONER_REQUEST_SET_GRAVITY, \
		xdg_positioner_handle_set_gravity }, \
	{ &vd_iface_xdg_positioner, VD_XDG_POSITIONER_REQUEST_SET_OFFSET, \
		xdg_positioner_handle_set_offset }, \
	{ &vd_iface_xdg_surface, VD_XDG_SURFACE_REQUEST_GET_TOPLEVEL, \
		xdg_surface_handle_get_toplevel }, \
	{ &vd_iface_xdg_surface, VD_XDG_SURFACE_REQUEST_GET_POPUP, xdg_surface_handle_get_popup }, \
	{ &vd_iface_xdg_surface, VD_XDG_SURFACE_REQUEST_SET_WINDOW_GEOMETRY, \
		xdg_surface_handle_set_window_geometry }, \
	{ &vd_iface_xdg_popup, VD_XDG_POPUP_REQUEST_REPOSITION, xdg_popup_handle_reposition }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_REQUEST_DESTROY, xdg_toplevel_handle_destroy }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_REQUEST_SET_TITLE, \
		xdg_toplevel_handle_set_title }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_REQUEST_SET_APP_ID, \
		xdg_toplevel_handle_set_app_id }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_REQUEST_SHOW_WINDOW_MENU, \
		xdg_toplevel_handle_show_window_menu }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_REQUEST_SET_MAX_SIZE, \
		xdg_toplevel_handle_set_max_size }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_REQUEST_SET_MIN_SIZE, \
		xdg_toplevel_handle_set_min_size }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_REQUEST_SET_FULLSCREEN, \
		xdg_toplevel_handle_set_fullscreen }, \
	{ &vd_iface_zxdg_decoration_manager_v1, \
		VD_ZXDG_DECORATION_MANAGER_V1_REQUEST_GET_TOPLEVEL_DECORATION, \
		decoration_manager_handle_get_toplevel_decoration }, \
	{ &vd_iface_zxdg_toplevel_decoration_v1, VD_ZXDG_TOPLEVEL_DECORATION_V1_REQUEST_SET_MODE, \
		decoration_handle_set_mode }, \
	{ &vd_iface_zxdg_toplevel_decoration_v1, \
		VD_ZXDG_TOPLEVEL_DECORATION_V1_REQUEST_UNSET_MODE, decoration_handle_set_mode }, \
	{ &vd_iface_org_kde_kwin_server_decoration, \
		VD_ORG_KDE_KWIN_SERVER_DECORATION_REQUEST_REQUEST_MODE, \
		kde_decoration_handle_request_mode },

#define SHELL_REQUEST_POST_HOOKS \
	{ &vd_iface_wl_display, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, \
		decoration_handle_get_registry_done }, \
	{ &vd_iface_wl_registry, VD_WL_REGISTRY_REQUEST_BIND, decoration_handle_bind_done }, \
	{ &vd_iface_wl_compositor, VD_WL_COMPOSITOR_REQUEST_CREATE_SURFACE, \
		compositor_handle_create_surface }, \
	{ &vd_iface_wl_compositor, VD_WL_COMPOSITOR_REQUEST_CREATE_REGION, \
		compositor_handle_create_region }, \
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_COMMIT, surface_handle_commit_done }, \
	{ &vd_iface_wl_shm_pool, VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER, \
		shm_pool_handle_create_buffer_done }, \
	{ &vd_iface_wp_single_pixel_buffer_manager_v1, \
		VD_WP_SINGLE_PIXEL_BUFFER_MANAGER_V1_REQUEST_CREATE_U32_RGBA_BUFFER, \
		single_pixel_handle_create_buffer_done }, \
	{ &vd_iface_zwp_linux_buffer_params_v1, VD_ZWP_LINUX_BUFFER_PARAMS_V1_REQUEST_CREATE, \
		dmabuf_params_handle_create }, \
	{ &vd_iface_zwp_linux_buffer_params_v1, \
		VD_ZWP_LINUX_BUFFER_PARAMS_V1_REQUEST_CREATE_IMMED, \
		dmabuf_params_handle_create_immed }, \
	{ &vd_iface_wp_viewporter, VD_WP_VIEWPORTER_REQUEST_GET_VIEWPORT, \
		viewporter_handle_get_viewport_done }, \
	{ &vd_iface_wl_subcompositor, VD_WL_SUBCOMPOSITOR_REQUEST_GET_SUBSURFACE, \
		subcompositor_handle_get_subsurface_done }, \
	{ &vd_iface_xdg_wm_base, VD_XDG_WM_BASE_REQUEST_CREATE_POSITIONER, \
		xdg_wm_base_handle_create_positioner_done }, \
	{ &vd_iface_xdg_wm_base, VD_XDG_WM_BASE_REQUEST_GET_XDG_SURFACE, \
		xdg_wm_base_handle_get_xdg_surface_done }, \
	{ &vd_iface_xdg_surface, VD_XDG_SURFACE_REQUEST_GET_TOPLEVEL, \
		xdg_surface_handle_get_toplevel_done }, \
	{ &vd_iface_xdg_surface, VD_XDG_SURFACE_REQUEST_GET_POPUP, \
		xdg_surface_handle_get_popup_done }, \
	{ &vd_iface_xdg_popup, VD_XDG_POPUP_REQUEST_REPOSITION, xdg_popup_handle_reposition_done }, \
	{ &vd_iface_zxdg_decoration_manager_v1, \
		VD_ZXDG_DECORATION_MANAGER_V1_REQUEST_GET_TOPLEVEL_DECORATION, \
		decoration_manager_handle_get_toplevel_decoration_done }, \
	{ &vd_iface_org_kde_kwin_server_decoration_manager, \
		VD_ORG_KDE_KWIN_SERVER_DECORATION_MANAGER_REQUEST_CREATE, \
		kde_decoration_manager_handle_create_done }, \
	{ &vd_iface_wl_seat, VD_WL_SEAT_REQUEST_GET_POINTER, seat_handle_get_pointer }, \
	{ &vd_iface_wl_seat, VD_WL_SEAT_REQUEST_GET_TOUCH, seat_handle_get_touch },

#define SHELL_EVENT_HOOKS \
	{ &vd_iface_xdg_surface, VD_XDG_SURFACE_EVENT_CONFIGURE, xdg_surface_handle_configure }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_EVENT_CONFIGURE, \
		xdg_toplevel_handle_configure }, \
	{ &vd_iface_xdg_toplevel, VD_XDG_TOPLEVEL_EVENT_CONFIGURE_BOUNDS, \
		xdg_toplevel_handle_configure_bounds }, \
	{ &vd_iface_xdg_popup, VD_XDG_POPUP_EVENT_CONFIGURE, xdg_popup_handle_configure }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_ENTER, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_LEAVE, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_MOTION, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_BUTTON, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_AXIS, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_FRAME, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_AXIS_SOURCE, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_AXIS_STOP, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_AXIS_DISCRETE, pointer_handle_event }, \
	{ &vd_iface_wl_pointer, VD_WL_POINTER_EVENT_AXIS_VALUE120, pointer_handle_event }, \
	{ &vd_iface_wl_touch, VD_WL_TOUCH_EVENT_DOWN, touch_handle_event }, \
	{ &vd_iface_wl_touch, VD_WL_TOUCH_EVENT_UP, touch_handle_event }, \
	{ &vd_iface_wl_touch, VD_WL_TOUCH_EVENT_MOTION, touch_handle_event }, \
	{ &vd_iface_wl_touch, VD_WL_TOUCH_EVENT_CANCEL, touch_handle_event },

#define SHELL_EVENT_POST_HOOKS \
	{ &vd_iface_zwp_linux_buffer_params_v1, VD_ZWP_LINUX_BUFFER_PARAMS_V1_EVENT_CREATED, \
		dmabuf_params_handle_created },

/* proxy/frame.c */
struct vd_frame *frame_create(struct vd_session *session, struct vd_xdg_surface *xdg,
	bool popup);
void frame_destroy(struct vd_frame *frame);
/* The title changed: the title strip shows it at once, whatever the
 * client commits next. */
void frame_set_title(struct vd_frame *frame, const char *title);
void frame_set_hidden(struct vd_frame *frame, bool hidden);
bool frame_is_hidden(const struct vd_frame *frame);
/* Before the root surface's commit: lay out around the window geometry g
 * (in the compositor's surface coordinates), drawn at the client's buffer
 * scale (less if the strips would not fit), and draw if needed. A frame
 * that cannot be drawn ends the client. */
void frame_update(struct vd_frame *frame, const struct vd_geometry *g, int32_t scale);
/* A client subsurface (its wl_surface) was added on the framed surface:
 * stay on top of it. */
void frame_raise(struct vd_frame *frame, struct vd_object *child_surface);
/* Extra size the frame adds around a window (toplevel or popup). */
void frame_extents(bool popup, int32_t *left, int32_t *top, int32_t *right, int32_t *bottom);
/* The frame a strip surface (upstream ID) belongs to, and which strip. */
struct vd_frame *frame_from_strip(struct vd_session *session, uint32_t upstream_id, int *index);
/* A left press on a strip at (x, y) in its coordinates. */
void frame_handle_press(struct vd_frame *frame, int index, double x, double y,
	struct vd_object *seat, uint32_t serial);

#endif
