#ifndef HOST_VMSTATE_H
#define HOST_VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "host/vmm.h"

/*
 * The state file of a running VM, RUN/NAME/state (RUN is
 * $XDG_RUNTIME_DIR/vmdesk/vms, the VM's socket directory): what a
 * vmdesk-hostd started later needs to find the VM again and to run and stop
 * it as the one that started it did: the processes (pid and start time, so
 * that a recycled pid is never taken for them), the agent's address, how to
 * power the VM off and the proxy's argv. Written atomically (a temporary
 * file renamed over it); removed with the directory when the VM stops.
 *
 *   vmdesk-vmstate 1
 *   vmm=qemu
 *   vmm-pid=4242
 *   vmm-start=1234567
 *   proxy-pid=4250             (0: none)
 *   proxy-start=1234570
 *   helper=4240 1234560        (one per helper)
 *   started=1764888000         (CLOCK_REALTIME seconds)
 *   agent=unix:/run/user/1000/vmdesk/vms/work/agent.sock
 *   agent-serial=1
 *   control=qmp                (or command: powerdown= lines)
 *   powerdown=ch-remote        (one line per argument)
 *   force=ch-remote            (stops the VMM at once: one line per argument)
 *   proxy-arg=vmdesk-proxy     (one line per argument)
 */

#define VD_VMSTATE_MAX_HELPERS VD_VMM_MAX_SHARES

struct vd_vmstate {
	enum vd_vmm_kind vmm;
	pid_t vmm_pid;
	unsigned long long vmm_start;
	pid_t proxy_pid; // 0: none running
	unsigned long long proxy_start;
	size_t nhelpers;
	pid_t helper_pid[VD_VMSTATE_MAX_HELPERS];
	unsigned long long helper_start[VD_VMSTATE_MAX_HELPERS];
	long long started; // CLOCK_REALTIME seconds
	char agent[160];
	bool agent_serial;
	enum vd_vmm_control control;
	struct vd_vmm_cmd powerdown; // control = command
	struct vd_vmm_cmd force_stop; // control = command
	struct vd_vmm_cmd proxy; // argc 0: no proxy
};

void vd_vmstate_finish(struct vd_vmstate *st);
bool vd_vmstate_write(const char *dir, const struct vd_vmstate *st, char *err, size_t err_size);
/* Reads dir/state; false with err if missing or broken (st is then empty). */
bool vd_vmstate_read(const char *dir, struct vd_vmstate *st, char *err, size_t err_size);
/* Parses the text of a state file (the reader and the fuzzer). */
bool vd_vmstate_parse(const char *text, size_t len, struct vd_vmstate *st, char *err,
	size_t err_size);

/* Makes dir (mode 0700, its parent too); false with err. */
bool vd_vmstate_make_dir(const char *dir, char *err, size_t err_size);
/* Removes the state file, the sockets and files the VMM left in dir, and dir. */
void vd_vmstate_remove_dir(const char *dir);

#endif
