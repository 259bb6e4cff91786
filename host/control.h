#ifndef HOST_CONTROL_H
#define HOST_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <wayland-server-core.h>

/*
 * CLI control (vmdesk-hostd's control module): serves the vmdesk command on
 * $XDG_RUNTIME_DIR/vmdesk/hostd.sock, a host link (protocols/link.md) with
 * the control capability. One request per connection: list, status, apps,
 * a run, whose output, input and signals it passes between the command
 * and the VM's channel (a stopped VM the launcher starts first), a start
 * or stop (the launcher's progress lines, then the outcome), or a console,
 * whose bytes it relays. Only the daemon's own user may connect; anyone else
 * is told why before the connection closes.
 */

struct vd_vms;
struct vd_launcher;
struct vd_control;

/*
 * Takes the socket (first, so that a second hostd stops before touching
 * anything); NULL with the reason in err.
 */
struct vd_control *vd_control_create(struct wl_event_loop *loop, const char *socket_path,
	struct vd_vms *vms, char *err, size_t err_size);
/* The VMs it answers about (before the loop runs). */
void vd_control_set_vms(struct vd_control *control, struct vd_vms *vms);
/* The launcher that starts, stops and attaches consoles (NULL: none). */
void vd_control_set_launcher(struct vd_control *control, struct vd_launcher *launcher);
void vd_control_destroy(struct vd_control *control);

#endif
