#ifndef HOST_CLIPBOARD_CLIPBOARD_H
#define HOST_CLIPBOARD_CLIPBOARD_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The global clipboard (Qubes' two-level clipboard): one entry (data, MIME
 * type, source domain, time). "copy" moves the focused domain's clipboard
 * into it, "paste" moves it into the focused domain's clipboard and then
 * empties it. The focused domain is the VM whose proxy last reported
 * keyboard focus in, else the host. Proxies and the vmdesk-clip CLI talk to
 * it over $XDG_RUNTIME_DIR/vmdesk/clipboard.sock (protocols/clip-link.md);
 * the host's own clipboard is read and set through wlr data-control.
 *
 * Driven from the owner's poll() loop:
 *
 *	n = gclip_pollfds(gclip, pfds, max);      // add its fds to the set
 *	poll(pfds, n + others, min(gclip_timeout_ms(gclip), others' timeout));
 *	gclip_dispatch(gclip, pfds, n);           // after EVERY poll, even on a
 *	                                          // timeout: it runs its timers
 *
 * gclip_pollfds may be given any part of a larger array; gclip_dispatch
 * finds its fds by number. It ignores SIGPIPE (writes to pipes of peers
 * that went away must not kill the process).
 */

#define VD_GCLIP_MAX_FDS 128

struct vd_gclip_config {
	const char *runtime_dir; // the socket is runtime_dir/vmdesk/clipboard.sock
	const char *socket_path; // or this path
	const char *policy_path; // NULL: $XDG_CONFIG_HOME/vmdesk/clipboard.policy
	const char *host_display; // NULL: $WAYLAND_DISPLAY; "": no host side
	size_t max_size; // bytes (default 1 MiB; the policy file may set it)
	int timeout_ms; // reading a domain's clipboard (default 2000)
	bool clear_after_paste; // (default true)
	bool notifications; // on the session bus (default true)
};

struct vd_gclip;

void gclip_config_defaults(struct vd_gclip_config *config);
/* With the defaults; NULL (logged) if the socket cannot be set up. */
struct vd_gclip *gclip_create(const char *runtime_dir);
struct vd_gclip *gclip_create_with(const struct vd_gclip_config *config);
void gclip_destroy(struct vd_gclip *gclip);

int gclip_pollfds(struct vd_gclip *gclip, struct pollfd *pfds, int max);
void gclip_dispatch(struct vd_gclip *gclip, const struct pollfd *pfds, int n);
/* Milliseconds until the next timer (-1: none). */
int gclip_timeout_ms(struct vd_gclip *gclip);

#endif
