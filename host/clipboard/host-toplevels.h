#ifndef HOST_CLIPBOARD_HOST_TOPLEVELS_H
#define HOST_CLIPBOARD_HOST_TOPLEVELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-client.h>
#include <wayland-util.h>

/*
 * Which toplevel of the host compositor is activated, through wlr
 * foreign-toplevel management: the global clipboard's view of focus where
 * the proxies cannot see it (a host window, or a VM whose proxy is not
 * linked). Part of host-selection.c's connection; embedded there.
 */
struct vd_host_toplevels {
	struct zwlr_foreign_toplevel_manager_v1 *manager; // NULL: not offered
	struct wl_list toplevels; // struct toplevel.link
	size_t count;
};

void host_toplevels_init(struct vd_host_toplevels *toplevels);
/* Frees every toplevel and the manager (on a dead connection: memory only). */
void host_toplevels_finish(struct vd_host_toplevels *toplevels);
/* A registry global: binds the manager if interface is it. */
void host_toplevels_handle_global(struct vd_host_toplevels *toplevels,
	struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version);
/* Whether the compositor says which toplevel is activated. */
bool host_toplevels_tracking(const struct vd_host_toplevels *toplevels);
/* The app id of the activated toplevel ("" if it has none), or NULL when none is. */
const char *host_toplevels_activated_app_id(const struct vd_host_toplevels *toplevels);

#endif
