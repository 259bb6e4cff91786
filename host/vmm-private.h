#ifndef HOST_VMM_PRIVATE_H
#define HOST_VMM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "host/vmm.h"

/*
 * Shared by host/vmm.c (checks, kernel command line, addresses, text) and the
 * command line of each VMM: vmm-qemu.c, vmm-crosvm.c, vmm-cloud-hypervisor.c.
 */

struct vmm_builder {
	const struct vd_vmm_launch *launch;
	struct vd_vmm_plan *plan; // plan->cmdline is complete when a VMM's builder runs
	bool vsock; // the agent and the link travel over (hybrid) vsock
	bool oom; // an argument could not be added
	char *err;
	size_t err_size;
};

/* Writes the error message; returns false. */
bool vmm_fail(struct vmm_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one argument, remembering a failure in b->oom. */
#define VMM_ADD(b, cmd, ...) ((b)->oom |= !vd_vmm_cmd_add((cmd), __VA_ARGS__))

/* Refuses a path with one of FORBIDDEN in it (crosvm and cloud-hypervisor
 * split their option values at ',' and cannot escape it). */
bool vmm_check_plain_path(struct vmm_builder *b, const char *what, const char *path,
	const char *forbidden);

bool vmm_build_qemu(struct vmm_builder *b);
bool vmm_build_crosvm(struct vmm_builder *b);
bool vmm_build_cloud_hypervisor(struct vmm_builder *b);

#endif
