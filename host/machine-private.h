#ifndef HOST_MACHINE_PRIVATE_H
#define HOST_MACHINE_PRIVATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/child.h"
#include "host/machine.h"
#include "protocols/backoff.h"

/*
 * Shared by host/machine.c (the machine, its log, state file and proxy),
 * machine-start.c (starting, adopting) and machine-stop.c (stopping, the
 * processes' ends, teardown).
 */

#define POLL_MS 50
#define KILL_GRACE_MS 5000 // a proxy or helper that ignores SIGTERM this long is killed
#define QMP_TIMEOUT_MS 10000
/* A guest still booting misses the power button (no ACPI daemon yet): press it again. */
#define REPRESS_MS 10000
#define PROXY_RETRY_MIN_MS 500
#define PROXY_RETRY_MAX_MS 30000
#define PROXY_STABLE_MS 10000
#define LOG_CHECK_MS 30000
#define LOG_MAX_BYTES (8 * 1024 * 1024) // NAME.log and console.log are cut back to 0 beyond
#define EXIT_USAGE 2
#define CONSOLE_TAIL_BYTES 4096 // of console.log kept in NAME.log when the VM stops


enum start_step {
	STEP_NONE,
	STEP_HELPERS, // waiting for the helpers' sockets
	STEP_PROXY_FIRST, // cross-domain: waiting for the proxy's socket
	STEP_VMM, // waiting for the VMM's control socket
};

struct vd_machine {
	struct vd_machine_config config;
	char name[VD_VM_NAME_MAX + 1];
	const struct vd_machine_impl *impl;
	void *data;
	enum vd_machine_state state;
	char dir[PATH_MAX];
	char log_path[PATH_MAX];
	int log_fd;
	struct wl_event_source *log_timer;

	/* what it runs with: from the launch, or from the state file of an adopted VM */
	struct vd_launch *launch; // while starting only
	enum vd_vmm_kind kind;
	bool agent_known, agent_serial;
	struct vd_addr agent;
	char agent_str[160];
	enum vd_vmm_control control;
	struct vd_vmm_cmd powerdown; // control = command
	struct vd_vmm_cmd force_stop; // control = command
	struct vd_vmm_cmd proxy_argv; // argc 0: no proxy
	char control_socket[VD_ADDR_PATH_MAX];
	char console_socket[VD_ADDR_PATH_MAX];
	char console_log[PATH_MAX];
	bool host_listens_console;
	bool proxy_listens;

	struct vd_child vmm;
	struct vd_child proxy;
	struct vd_child helpers[VD_VMM_MAX_SHARES];
	size_t nhelpers;
	struct vd_child powerdown_cmd;
	struct vd_child force_cmd;
	struct vd_qmp *qmp;
	struct vd_console *console;

	enum start_step step;
	uint64_t step_deadline;
	struct wl_event_source *timer; // start steps, the stop deadline, the kill grace
	struct wl_event_source *proxy_timer; // the proxy's restart
	struct vd_backoff proxy_backoff;
	char proxy_note[700]; // why the proxy is not running

	uint64_t start_ms; // CLOCK_MONOTONIC of this start ("" for adopted: 0)
	long long started; // CLOCK_REALTIME seconds the VMM started
	uint64_t stop_ms;
	bool stop_requested, force, tearing_down;
	bool pressed; // the power button was pressed (said once)
	char last_stop[512];
	char stop_reason[512]; // of the teardown in progress
};

/* A line of hostd's in NAME.log, between the VMM's and the proxy's own. */
void machine_log(struct vd_machine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A step of a start or stop: to the waiting commands, hostd's log and NAME.log. */
void machine_say(struct vd_machine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void machine_changed(struct vd_machine *m);
/* The last line NAME.log has from the VMM, as ": LINE" (or ""). */
void machine_log_tail(struct vd_machine *m, off_t from, char *out, size_t size);
bool machine_open_log(struct vd_machine *m, char *err, size_t err_size);
void machine_write_state(struct vd_machine *m);
void machine_spawn_proxy(struct vd_machine *m);

bool machine_children_left(struct vd_machine *m);
void machine_forget_run(struct vd_machine *m);
/* The VMM is gone (or never came): its proxy, helpers and sockets go too. */
void machine_teardown(struct vd_machine *m, const char *reason);
void machine_vmm_exited(struct vd_child *child, void *data);
void machine_proxy_exited(struct vd_child *child, void *data);
void machine_helper_exited(struct vd_child *child, void *data);
/* The timer's work: stopping (true if it was that), else starting. */
bool machine_stop_timer(struct vd_machine *m);
void machine_start_timer(struct vd_machine *m);

#endif
