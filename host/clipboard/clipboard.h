#ifndef HOST_CLIPBOARD_CLIPBOARD_H
#define HOST_CLIPBOARD_CLIPBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

/*
 * The global clipboard (Qubes' two-level clipboard; vmdesk-hostd's clipboard
 * module, or vmdesk-clipd alone): one entry (data, MIME type, source domain,
 * time). "copy" moves the focused domain's clipboard into it, "paste" moves
 * it into the focused domain's clipboard and then empties it. Proxies and the
 * vmdesk-clip command talk to it over $XDG_RUNTIME_DIR/vmdesk/clipboard.sock,
 * a host link with the clipboard capability (protocols/link.md); the host's
 * own clipboard is read and set through wlr data-control. It runs on the
 * owner's event loop and never blocks it.
 *
 * The focused domain: where the host compositor says which toplevel is
 * activated (wlr foreign-toplevel), a window with the app id "vmdesk.VM..."
 * is VM VM's, and is refused unless VM's proxy is linked here; another app
 * id is the host's. Where the compositor does not say (or the window has no
 * app id), the VM whose proxy last reported keyboard focus, else the host.
 */

struct vd_gclip_config {
	struct wl_event_loop *loop;
	const char *runtime_dir; // the socket is runtime_dir/vmdesk/clipboard.sock
	const char *socket_path; // or this path
	const char *policy_path; // NULL: $XDG_CONFIG_HOME/vmdesk/clipboard.policy
	/*
	 * The host compositor: NULL for $WAYLAND_DISPLAY, or when that is unset
	 * the first wayland-N socket in the runtime directory, tried again until
	 * one appears; "" for none.
	 */
	const char *host_display;
	size_t max_size; // bytes (default 1 MiB; the policy file may set it)
	int timeout_ms; // reading a domain's clipboard (default 2000)
	bool clear_after_paste; // (default true)
	bool notifications; // on the session bus (default true)
	/* Whether a VM of that name is defined (NULL: unknown names are not told apart). */
	bool (*vm_exists)(void *data, const char *name);
	void *vm_exists_data;
	/*
	 * A linked proxy reports its VM's window count (VM_WINDOWS; 0 once the
	 * proxy left). NULL: the windows capability is not offered.
	 */
	void (*vm_windows)(void *data, const char *name, uint32_t count);
	void *vm_windows_data;
};

struct vd_gclip;

void gclip_config_defaults(struct vd_gclip_config *config);
/* NULL (logged) if the socket cannot be set up (e.g. another one serves it). */
struct vd_gclip *gclip_create(const struct vd_gclip_config *config);
void gclip_destroy(struct vd_gclip *gclip);
/* Where it listens, and its policy file: for vmdesk-clipd's and hostd's Landlock rules. */
const char *gclip_socket_path(const struct vd_gclip *gclip);
const char *gclip_policy_path(const struct vd_gclip *gclip);

#endif
