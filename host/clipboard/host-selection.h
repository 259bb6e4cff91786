#ifndef HOST_CLIPBOARD_HOST_SELECTION_H
#define HOST_CLIPBOARD_HOST_SELECTION_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The host's clipboard, through wlr data-control (zwlr_data_control_v1):
 * the global clipboard reads the host selection on "copy" with the host
 * focused and sets it on "paste", serving the data itself. A Wayland client
 * driven from the owner's poll loop; nothing blocks.
 */

struct vd_host_selection;

/* Connects to display (a WAYLAND_DISPLAY value); NULL (logged) if there is
 * no compositor or it offers no data-control. */
struct vd_host_selection *host_selection_create(const char *display);
void host_selection_destroy(struct vd_host_selection *hs);
/* Whether the connection is still usable. */
bool host_selection_alive(const struct vd_host_selection *hs);

int host_selection_pollfds(struct vd_host_selection *hs, struct pollfd *pfds, int max);
/* Handles fd's events; false if fd is not ours. */
bool host_selection_dispatch(struct vd_host_selection *hs, int fd, short revents);
/* Runs out transfers past their deadline (now in ms, CLOCK_MONOTONIC);
 * returns the next deadline or -1. */
int64_t host_selection_timers(struct vd_host_selection *hs, int64_t now);

/* status: a vd_clip_status */
typedef void (*vd_host_read_done)(void *data, uint8_t status, const uint8_t *bytes, size_t size,
	const char *mime, const char *error);
/* Reads the host selection of the first of mimes it offers; done is called
 * once, later (never from inside this call). False (and done never called)
 * if there is nothing to read; *reason says why. */
bool host_selection_read(struct vd_host_selection *hs, const char *const *mimes, size_t count,
	size_t max_size, int timeout_ms, int64_t now, vd_host_read_done done, void *data,
	const char **reason);
/* Cancels a read: its done is not called. */
void host_selection_cancel_read(struct vd_host_selection *hs);
/* Sets the host selection to data served from here. */
bool host_selection_set(struct vd_host_selection *hs, const char *const *mimes, size_t count,
	const uint8_t *bytes, size_t size);

#endif
