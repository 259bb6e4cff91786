#ifndef HOST_QMP_H
#define HOST_QMP_H

#include <stdbool.h>
#include <wayland-server-core.h>

/*
 * One QMP command to a QEMU of ours, on the event loop: connect to its
 * monitor socket, read the greeting, negotiate (qmp_capabilities), send the
 * command, wait for its return. Lines longer than 64 KiB, a greeting that is
 * not QMP's or no answer in time fail the command. Events are skipped.
 */

struct vd_qmp;

/* ok, or err says why. Called once, from the loop; the vd_qmp is gone afterwards. */
typedef void (*vd_qmp_done)(void *data, bool ok, const char *err);

/* command: one JSON object (host/vmm.h's VD_VMM_QMP_*). NULL if out of memory. */
struct vd_qmp *vd_qmp_command(struct wl_event_loop *loop, const char *socket_path,
	const char *command, int timeout_ms, vd_qmp_done done, void *data);
/* Drops the command; done() is not called. Accepts NULL. Not from inside done(). */
void vd_qmp_cancel(struct vd_qmp *qmp);

#endif
