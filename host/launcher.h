#ifndef HOST_LAUNCHER_H
#define HOST_LAUNCHER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <wayland-server-core.h>

#include "host/launch.h"

/*
 * The launcher (vmdesk-hostd's module for the VMs it starts itself, those
 * whose definition has vmm, image or kernel): one machine per such VM
 * (host/machine.h), started and stopped on request (`vmdesk start`, `stop`,
 * `run` on a stopped VM, a host-menu click), at hostd's start (autostart)
 * and when idle (idle-shutdown: no window in its proxy, no program in the
 * guest, for that long). It gives each running VM's agent address to its
 * channel, and follows the channels and the proxies' window counts. VMs a
 * previous hostd left running are found again from their state files.
 * Requests are operations whose progress and end come as events from the
 * loop, never from inside the call that made them.
 */

struct vd_vms;
struct vd_children;
struct vd_channel;
struct vd_launcher;
struct vd_launcher_op;

enum vd_launcher_exit {
	VD_LAUNCHER_EXIT_STOP, // hostd stopping powers the VMs off (bounded, then kills)
	VD_LAUNCHER_EXIT_KEEP, // they run on; the next hostd finds them
};

struct vd_launcher_config {
	struct wl_event_loop *loop;
	struct vd_children *children; // starts the VMMs, helpers and proxies
	struct vd_vms *vms;
	struct vd_launch_env env; // strings must outlive the launcher
	const char *state_dir; // VM logs: state_dir/NAME.log
	enum vd_launcher_exit on_exit;
	int start_timeout_s; // how long a start waits for the agent by default
	int stop_timeout_s; // a clean power-off may take this long before the kill
};

enum vd_launcher_event_kind {
	VD_LAUNCHER_PROGRESS, // text: one line
	VD_LAUNCHER_DONE, // text: the summary; the op is over
	VD_LAUNCHER_FAILED, // code (VD_LINK_ERROR_CODE_*), text; the op is over
};

/* After DONE or FAILED the op is freed when this returns. */
typedef void (*vd_launcher_event)(void *data, enum vd_launcher_event_kind kind, uint32_t code,
	const char *text);

struct vd_launcher *vd_launcher_create(const struct vd_launcher_config *config);
/* Forgets everything; running VMs run on (see vd_launcher_shutdown first). Accepts NULL. */
void vd_launcher_destroy(struct vd_launcher *launcher);
/*
 * hostd is leaving: with on_exit = stop, powers every VM off; done() runs
 * (from the loop) once all are stopped. force: kill them now. Returns
 * false if nothing needs waiting for (done() is not called then).
 */
bool vd_launcher_shutdown(struct vd_launcher *launcher, bool force,
	void (*done)(void *data), void *data);

/* The channels' and the definitions' news (vd_channel_config.changed, vd_vms listener). */
void vd_launcher_channel_changed(struct vd_launcher *launcher, struct vd_channel *channel);
void vd_launcher_vms_reloaded(struct vd_launcher *launcher);
/* A proxy reports the windows of VM vm (0 when it left). */
void vd_launcher_windows(struct vd_launcher *launcher, const char *vm, uint32_t count);

/* Whether vmdesk starts VM name, and it is not running yet (a run must start it first). */
bool vd_launcher_needs_start(struct vd_launcher *launcher, const char *name);

/*
 * Starts VM name (or waits for a start in progress). DONE once its agent
 * answered (no_wait: once the VMM runs); FAILED if it cannot start, stops,
 * or the agent does not answer within timeout_s (0: the default). NULL with
 * code and err if the request is refused at once (no such VM, stopping...).
 */
struct vd_launcher_op *vd_launcher_start(struct vd_launcher *launcher, const char *name,
	bool no_wait, uint32_t timeout_s, vd_launcher_event event, void *data, uint32_t *code,
	char *err, size_t err_size);
/* Stops VM name; DONE once every process of it is gone. */
struct vd_launcher_op *vd_launcher_stop(struct vd_launcher *launcher, const char *name,
	bool force, vd_launcher_event event, void *data, uint32_t *code, char *err,
	size_t err_size);
/* The requester is gone: no more events. */
void vd_launcher_op_detach(struct vd_launcher_op *op);

/* What a start would run (`vmdesk start --dry-run`): heap text, or NULL with code and err. */
char *vd_launcher_dry_run(struct vd_launcher *launcher, const char *name, uint32_t *code,
	char *err, size_t err_size);
/* The console of a running VM, or NULL with err. */
struct vd_console *vd_launcher_console(struct vd_launcher *launcher, const char *name,
	uint32_t *code, char *err, size_t err_size);

/* The list's columns for VM name: state, pid, uptime, windows ("-" where none). */
void vd_launcher_list_fields(struct vd_launcher *launcher, const char *name, char *state,
	size_t state_size, char *pid, size_t pid_size, char *uptime, size_t uptime_size,
	char *windows, size_t windows_size);
/* "key: value" lines for vmdesk status VM. */
void vd_launcher_status(struct vd_launcher *launcher, const char *name, FILE *out);

#endif
