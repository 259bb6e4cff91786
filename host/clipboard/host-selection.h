#ifndef HOST_CLIPBOARD_HOST_SELECTION_H
#define HOST_CLIPBOARD_HOST_SELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

/*
 * The host compositor as the global clipboard sees it, a Wayland client on
 * the event loop that never blocks it: the host's selection through wlr
 * data-control (read on "copy" with the host focused, set on "paste"), and
 * which toplevel is activated, through wlr foreign-toplevel management, so
 * that a window of a VM whose proxy is not linked is not taken for the host.
 */

struct vd_host_selection;

/* The connection died: called from an idle callback; destroy it there. */
typedef void (*vd_host_lost)(void *data);

/* Connects to display (a WAYLAND_DISPLAY value); NULL if there is no compositor there. */
struct vd_host_selection *host_selection_create(struct wl_event_loop *loop, const char *display,
	vd_host_lost lost, void *data);
void host_selection_destroy(struct vd_host_selection *hs);
/* Whether the host's selection can be read and set (data-control is offered). */
bool host_selection_alive(const struct vd_host_selection *hs);
/* Whether the compositor says which toplevel is activated. */
bool host_selection_tracks_focus(const struct vd_host_selection *hs);
/* The app id of the activated toplevel ("" if it has none), or NULL when none is. */
const char *host_selection_focused_app_id(const struct vd_host_selection *hs);

/* status: a clip_status value (vd-link.h) */
typedef void (*vd_host_read_done)(void *data, uint8_t status, const uint8_t *bytes, size_t size,
	const char *mime, const char *error);
/* Reads the host selection of the first of mimes it offers; done is called
 * once, later (never from inside this call). False (and done never called)
 * if there is nothing to read; *reason says why. */
bool host_selection_read(struct vd_host_selection *hs, const char *const *mimes, size_t count,
	size_t max_size, int timeout_ms, vd_host_read_done done, void *data, const char **reason);
/* Cancels a read: its done is not called. */
void host_selection_cancel_read(struct vd_host_selection *hs);
/* Sets the host selection to data served from here. */
bool host_selection_set(struct vd_host_selection *hs, const char *const *mimes, size_t count,
	const uint8_t *bytes, size_t size);

#endif
