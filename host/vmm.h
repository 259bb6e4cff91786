#ifndef HOST_VMM_H
#define HOST_VMM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/transport.h"

/*
 * VMM command lines. vd_vmm_plan_build() is a pure function from a VM's launch
 * description to the argv of its VMM (and of helpers the VMM needs), the way to
 * stop it, and the addresses hostd (agent) and vmdesk-proxy --guest (Wayland
 * link) must dial. It touches no file and starts nothing: the caller checks
 * /dev/kvm and /dev/vhost-vsock, makes the socket directory, starts the
 * processes and listens where the plan says it must.
 *
 *   VMM               agent address             link address          console socket
 *   qemu + vhost      vsock:CID:5000            vsock:CID:5001        QEMU listens
 *   qemu, no vhost    unix:SOCKETS.agent        unix:SOCKETS.wayland  QEMU listens
 *                     (virtio-serial port vmdesk.agent / vmdesk.wayland in the guest)
 *   crosvm            vsock:CID:5000            vsock:CID:5001        hostd listens, crosvm connects
 *   cloud-hypervisor  hvsock:SOCKETS.vsock:5000 hvsock:...:5001       cloud-hypervisor listens
 * With wayland = cross-domain (crosvm only) there is no link address: crosvm
 * connects to SOCKETS.proxy, where the VM's vmdesk-proxy must already listen.
 *
 * The guest learns its side from the kernel command line the plan writes
 * (host/image/README.md): vmdesk.agent=, vmdesk.wayland=, vmdesk.overlay=,
 * vmdesk.share=, vmdesk.name=.
 */

#define VD_VMM_AGENT_PORT 5000 // vmdesk-guestd's vsock port
#define VD_VMM_WAYLAND_PORT 5001 // vmdesk-guest-wayland's vsock port
#define VD_VMM_MAX_SHARES 16
#define VD_VMM_SHARE_TAG_MAX 31 // 9p and virtiofs tags: [A-Za-z0-9_-]{1,31}
#define VD_VMM_TMPFS_SIZE_MAX 15
#define VD_VMM_CMDLINE_MAX 2048 // COMMAND_LINE_SIZE of x86 Linux, with the NUL
#define VD_VMM_MEMORY_MIN_MIB 128
#define VD_VMM_MEMORY_MAX_MIB (1024 * 1024)
#define VD_VMM_CPUS_MAX 256

/* The guest's names for the virtio-serial ports (QEMU without vhost-vsock). */
#define VD_VMM_AGENT_PORT_NAME "vmdesk.agent"
#define VD_VMM_WAYLAND_PORT_NAME "vmdesk.wayland"

/* QMP commands for a QEMU plan (control = VD_VMM_CONTROL_QMP), sent after
 * the greeting and {"execute":"qmp_capabilities"}. */
#define VD_VMM_QMP_CAPABILITIES "{\"execute\":\"qmp_capabilities\"}"
#define VD_VMM_QMP_POWERDOWN "{\"execute\":\"system_powerdown\"}"
#define VD_VMM_QMP_QUIT "{\"execute\":\"quit\"}"

enum vd_vmm_kind {
	VD_VMM_QEMU,
	VD_VMM_CROSVM,
	VD_VMM_CLOUD_HYPERVISOR,
};

enum vd_vmm_overlay_kind {
	VD_VMM_OVERLAY_TMPFS, // in the guest's RAM, gone at power-off
	VD_VMM_OVERLAY_DISK, // an ext4 disk image that is kept (vmdesk-image overlay-disk)
};

struct vd_vmm_overlay {
	enum vd_vmm_overlay_kind kind;
	char tmpfs_size[VD_VMM_TMPFS_SIZE_MAX + 1]; // tmpfs: "" (half the RAM), "512M", "25%"
	char disk[PATH_MAX]; // disk: an absolute path
};

struct vd_vmm_share {
	char host_dir[PATH_MAX]; // absolute
	char tag[VD_VMM_SHARE_TAG_MAX + 1];
	bool read_only;
};

enum vd_vmm_network {
	VD_VMM_NETWORK_NONE,
	VD_VMM_NETWORK_USER, // QEMU's user-mode network (slirp); QEMU only
};

enum vd_vmm_wayland {
	VD_VMM_WAYLAND_LINK, // vmdesk-guest-wayland over vsock or virtio-serial
	VD_VMM_WAYLAND_CROSS_DOMAIN, // crosvm's virtio-gpu cross-domain into the VM's proxy
};

enum vd_vmm_gpu {
	VD_VMM_GPU_NONE,
	VD_VMM_GPU_CROSS_DOMAIN,
};

/*
 * The host side's sockets, absolute paths shorter than sun_path.
 * vd_vmm_sockets_init() puts them all in one per-VM directory.
 */
struct vd_vmm_sockets {
	char console[VD_ADDR_PATH_MAX]; // the serial console (`vmdesk console VM`)
	char control[VD_ADDR_PATH_MAX]; // QMP, crosvm's control socket, cloud-hypervisor's API
	char agent[VD_ADDR_PATH_MAX]; // QEMU without vhost-vsock: the agent's port
	char wayland[VD_ADDR_PATH_MAX]; // QEMU without vhost-vsock: the link's port
	char vsock[VD_ADDR_PATH_MAX]; // cloud-hypervisor's hybrid vsock (+ "_PORT" for guest->host)
	char proxy[VD_ADDR_PATH_MAX]; // cross-domain: the VM's vmdesk-proxy listens here
	char fs_prefix[VD_ADDR_PATH_MAX]; // virtiofsd sockets: PREFIX0.sock, PREFIX1.sock, ...
	char console_log[PATH_MAX]; // hostd appends the console's output here (host/console.h)
};

/*
 * Fills sockets with DIR/console.sock, control.sock, agent.sock, wayland.sock,
 * vsock.sock, proxy.sock, fs-N.sock and console.log. Fails when DIR is not
 * absolute or the paths would not fit.
 */
bool vd_vmm_sockets_init(struct vd_vmm_sockets *sockets, const char *dir, char *err,
	size_t err_size);

struct vd_vmm_launch {
	enum vd_vmm_kind vmm;
	const char *name; // the VM's name
	const char *binary; // the VMM; NULL: qemu-system-x86_64, crosvm, cloud-hypervisor
	const char *virtiofsd; // NULL: /usr/libexec/virtiofsd (cloud-hypervisor's shares)
	const char *ch_remote; // NULL: ch-remote
	const char *kernel, *initrd, *root; // absolute paths; root is always read-only
	const char *cmdline; // more kernel parameters (the image's and the VM's), or NULL
	struct vd_vmm_overlay overlay;
	uint32_t memory_mib;
	uint32_t cpus;
	uint32_t cid; // vsock context id, >= 3, unique on the host (vsock only)
	const struct vd_vmm_share *shares;
	size_t share_count;
	enum vd_vmm_network network;
	enum vd_vmm_wayland wayland;
	enum vd_vmm_gpu gpu;
	const struct vd_vmm_sockets *sockets;
	bool kvm; // /dev/kvm can be opened read-write
	bool vhost_vsock; // /dev/vhost-vsock can be opened read-write
};

/* A NULL-terminated argv, every string on the heap. */
struct vd_vmm_cmd {
	char **argv;
	size_t argc;
	size_t cap;
};

enum vd_vmm_control {
	VD_VMM_CONTROL_QMP, // QEMU: the VD_VMM_QMP_* commands on sockets.control
	VD_VMM_CONTROL_COMMAND, // run plan.powerdown (clean) or plan.force_stop
};

struct vd_vmm_plan {
	struct vd_vmm_cmd helpers[VD_VMM_MAX_SHARES]; // start (and wait for their sockets) first
	size_t helper_count;
	struct vd_vmm_cmd vmm;
	enum vd_vmm_control control;
	struct vd_vmm_cmd powerdown; // CONTROL_COMMAND: the ACPI power button
	struct vd_vmm_cmd force_stop; // CONTROL_COMMAND: stop the VMM at once
	struct vd_addr agent; // hostd dials this
	bool has_link; // false with wayland = cross-domain
	struct vd_addr link; // vmdesk-proxy --guest dials this
	bool host_listens_console; // crosvm: listen on sockets.console before starting it
	bool proxy_listens; // cross-domain: vmdesk-proxy listens on sockets.proxy first
	char cmdline[VD_VMM_CMDLINE_MAX]; // the kernel command line in the plan
	char warning[160]; // one line to show the user, or ""
};

/*
 * What this host offers, for vd_vmm_launch.kvm and .vhost_vsock: whether
 * /dev/kvm and /dev/vhost-vsock open read-write. (The one function here that
 * looks at the system.)
 */
void vd_vmm_probe_host(bool *kvm, bool *vhost_vsock);

/* "qemu", "crosvm", "cloud-hypervisor". */
bool vd_vmm_kind_parse(const char *str, enum vd_vmm_kind *kind);
const char *vd_vmm_kind_name(enum vd_vmm_kind kind);

/* "tmpfs", "tmpfs:SIZE" (SIZE: digits with K, M, G or %) or an absolute path. */
bool vd_vmm_overlay_parse(const char *str, struct vd_vmm_overlay *overlay, char *err,
	size_t err_size);

/* "HOSTDIR:TAG" or "HOSTDIR:TAG:ro"; HOSTDIR absolute, without ',' or ':'. */
bool vd_vmm_share_parse(const char *str, struct vd_vmm_share *share, char *err,
	size_t err_size);

/*
 * Builds the plan. On failure returns false with err saying which setting
 * does not work with which VMM (the plan is then empty). A plan from a
 * successful call must be given to vd_vmm_plan_finish().
 */
bool vd_vmm_plan_build(const struct vd_vmm_launch *launch, struct vd_vmm_plan *plan,
	char *err, size_t err_size);
void vd_vmm_plan_finish(struct vd_vmm_plan *plan);

/* Appends one formatted argument; false when out of memory. */
bool vd_vmm_cmd_add(struct vd_vmm_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Frees the strings; the command is empty again. */
void vd_vmm_cmd_finish(struct vd_vmm_cmd *cmd);

/* One argv as a shell-quoted line. Returns a heap string or NULL (no memory). */
char *vd_vmm_cmd_format(const struct vd_vmm_cmd *cmd);

/*
 * The plan as text, what `vmdesk start --dry-run` prints: the warning,
 * the helpers, the VMM, how to stop it, the addresses and the sockets the
 * host must listen on, one per line. Returns a heap string or NULL.
 */
char *vd_vmm_plan_describe(const struct vd_vmm_plan *plan, const struct vd_vmm_launch *launch);

#endif
