#ifndef HOST_LAUNCH_H
#define HOST_LAUNCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "host/vmconf.h"
#include "host/vmm.h"

/*
 * A VM definition made into what the launcher runs: the image's files
 * (image = NAME: IMAGES/NAME/image.conf), the VM's socket directory
 * (RUN/NAME), the host's devices, the VMM's plan (host/vmm.h) and the argv
 * of the VM's vmdesk-proxy. Touches no file but image.conf and starts
 * nothing: `vmdesk start --dry-run` prints it, the launcher runs it.
 */

enum vd_launch_binary {
	VD_LAUNCH_BIN_QEMU,
	VD_LAUNCH_BIN_CROSVM,
	VD_LAUNCH_BIN_CLOUD_HYPERVISOR,
	VD_LAUNCH_BIN_CH_REMOTE,
	VD_LAUNCH_BIN_VIRTIOFSD,
	VD_LAUNCH_BIN_COUNT,
};

struct vd_launch_env {
	const char *images_dir; // image = NAME is images_dir/NAME
	const char *run_dir; // a VM's sockets and state go in run_dir/NAME
	bool kvm, vhost_vsock; // what the host offers (vd_vmm_probe_host, or forced)
	const char *binaries[VD_LAUNCH_BIN_COUNT]; // NULL: the plan's default name
	const char *proxy; // vmdesk-proxy; NULL: the VM gets no proxy
	const char *proxy_hostd; // the proxies' --hostd; NULL: their default
};

struct vd_launch {
	char dir[PATH_MAX]; // run_dir/NAME
	char kernel[PATH_MAX], initrd[PATH_MAX], root[PATH_MAX];
	char cmdline[VD_VMM_CMDLINE_MAX]; // the image's, then the definition's, then ours
	struct vd_vmm_share shares[VD_VMM_MAX_SHARES];
	struct vd_vmm_sockets sockets;
	struct vd_vmm_launch launch;
	struct vd_vmm_plan plan;
	struct vd_vmm_cmd proxy; // argc 0: no proxy
	bool agent_serial; // plan.agent is the host end of a virtio-serial port
};

/* Maps a --vmm-path name (qemu, crosvm, cloud-hypervisor, ch-remote, virtiofsd). */
bool vd_launch_binary_parse(const char *name, enum vd_launch_binary *out);

/*
 * Builds l for a definition whose machine is defined and has no error.
 * False with err ("image debian is not built: ...", the plan's refusal).
 * A successful launch must be given to vd_launch_finish().
 */
bool vd_launch_prepare(struct vd_launch *l, const struct vd_vmconf *conf,
	const struct vd_launch_env *env, char *err, size_t err_size);
void vd_launch_finish(struct vd_launch *l);

/* What `vmdesk start --dry-run` prints: the plan's text and the proxy. Heap or NULL. */
char *vd_launch_describe(const struct vd_launch *l);

#endif
