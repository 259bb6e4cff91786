#ifndef HOST_MACHINE_H
#define HOST_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <wayland-server-core.h>

#include "host/launch.h"
#include "host/vmconf.h"

/*
 * One VM the launcher runs (host/launcher.h): its processes and their
 * lifecycle. Starting goes in steps (the run directory, helpers, the VMM,
 * its sockets, the proxy, the state file), each reported with its time;
 * stopping asks for a clean power-off (QMP system_powerdown, or the VMM's
 * power-button command) and kills the VMM if it is not gone in time (at
 * once with force). Every process is watched through a pidfd: a VMM that
 * ends, asked or not, takes its proxy and helpers with it, its sockets and
 * state file go, and the machine says why; a proxy that ends while the VM
 * runs is started again with a backoff. A machine can also be adopted from
 * the state file a vmdesk-hostd before this one left (vd_machine_adopt),
 * and released so that its processes outlive this hostd.
 */

enum vd_machine_state {
	VD_MACHINE_STOPPED,
	VD_MACHINE_STARTING, // the VMM runs, its agent has not answered yet
	VD_MACHINE_RUNNING, // the agent answered (since this start)
	VD_MACHINE_STOPPING,
};

struct vd_children;
struct vd_machine;

struct vd_machine_config {
	struct wl_event_loop *loop;
	struct vd_children *children; // starts its processes (host/child.h)
	const char *state_dir; // NAME.log goes here (made if missing)
	int stop_timeout_ms; // a clean power-off may take this long before the kill
	int ready_timeout_ms; // the VMM's and helpers' sockets must appear by then
};

struct vd_machine_impl {
	/* One line about a start or stop in progress ("VMM started (pid 42) 0.1 s"). */
	void (*progress)(void *data, struct vd_machine *machine, const char *text);
	/* The state changed (also the agent address, the proxy or a failure). */
	void (*changed)(void *data, struct vd_machine *machine);
};

struct vd_machine *vd_machine_create(const struct vd_machine_config *config, const char *name,
	const struct vd_machine_impl *impl, void *data);
/*
 * Forgets the machine. Its processes keep running (hostd leaving with
 * VMs kept); their state file is brought up to date. Accepts NULL.
 */
void vd_machine_destroy(struct vd_machine *machine);

/* Starts a stopped machine; false with err (nothing runs then). */
bool vd_machine_start(struct vd_machine *machine, const struct vd_vmconf *conf,
	const struct vd_launch_env *env, char *err, size_t err_size);
/* Finds the VM a previous hostd left running in run_dir/NAME. False: none (cleaned up). */
bool vd_machine_adopt(struct vd_machine *machine, const char *run_dir);
/*
 * Stops a starting or running machine (a stopping one too, with force);
 * why ("vmdesk stop", "idle for 15 min") goes into the last stop's reason.
 */
void vd_machine_stop(struct vd_machine *machine, bool force, const char *why);
/* The agent answered: a starting machine is running. */
void vd_machine_agent_ready(struct vd_machine *machine);

/* A progress line of the launcher's, timed like the machine's own. */
void vd_machine_progress(struct vd_machine *machine, const char *text);

const char *vd_machine_name(const struct vd_machine *machine);
enum vd_machine_state vd_machine_state(const struct vd_machine *machine);
const char *vd_machine_state_name(enum vd_machine_state state);
/* The VMM's pid (0 when stopped). */
pid_t vd_machine_pid(const struct vd_machine *machine);
/* Seconds since the VMM started (0 when stopped). */
long long vd_machine_uptime(const struct vd_machine *machine);
/* Where the agent listens while the VMM runs (NULL: stopped); serial: a virtio-serial port. */
const struct vd_addr *vd_machine_agent(const struct vd_machine *machine, bool *serial);
/* Why it last stopped or failed to start ("" if it never did). */
const char *vd_machine_last_stop(const struct vd_machine *machine);
/* The console while the VMM runs, else NULL. */
struct vd_console *vd_machine_console(struct vd_machine *machine);
/* "key: value" lines for vmdesk status. */
void vd_machine_status(const struct vd_machine *machine, FILE *out);

#endif
