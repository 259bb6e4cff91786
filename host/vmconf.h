#ifndef HOST_VMCONF_H
#define HOST_VMCONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "decoration/color.h"
#include "host/vmm.h"
#include "protocols/names.h"
#include "protocols/transport.h"

/*
 * VM definitions: $XDG_CONFIG_HOME/vmdesk/vms/NAME.conf and
 * /etc/vmdesk/vms/NAME.conf (the user's file wins), INI syntax:
 *
 *   [vm]
 *   ; a Qubes label, a color name, #rrggbb ... ("label" is the same key)
 *   color = red
 *   ; where the guest agent listens
 *   agent = vsock:3:5000
 *   ; the VM's tray items on the host (yes/no, default yes)
 *   tray = no
 *
 * A VM that vmdesk starts itself (host/launcher.h) says how:
 *
 *   vmm = qemu                  ; or crosvm, cloud-hypervisor (default qemu)
 *   image = debian              ; a built image, or kernel, initrd and root
 *   memory = 2048               ; MiB
 *   share = /home/u/Shared:shared:ro
 *   idle-shutdown = 15          ; minutes without windows and programs
 *
 * Its agent address then comes from the VMM's plan (host/vmm.h), not from
 * an agent key. NAME follows the VM name rule (protocols/names.h). Section
 * and key names are case-insensitive; keys may also come before any
 * section. Errors name FILE:LINE (FILE alone for settings that do not go
 * together) and make the VM unusable; unknown sections and keys are
 * warnings with FILE:LINE.
 */

#define VD_VMCONF_MAX_WARNINGS 8
#define VD_VMCONF_CMDLINE_MAX 1024

/* How vmdesk starts a VM (all zero: it does not; the VM runs elsewhere). */
struct vd_vmconf_machine {
	bool defined; // a launcher key was given: vmdesk starts this VM
	enum vd_vmm_kind vmm;
	char image[VD_IMAGE_NAME_MAX + 1]; // "": kernel, initrd and root instead
	char kernel[PATH_MAX], initrd[PATH_MAX], root[PATH_MAX];
	char cmdline[VD_VMCONF_CMDLINE_MAX]; // more kernel parameters
	struct vd_vmm_overlay overlay;
	uint32_t memory_mib;
	uint32_t cpus;
	uint32_t cid; // 0: none
	int cid_line;
	struct vd_vmm_share shares[VD_VMM_MAX_SHARES];
	size_t nshares;
	enum vd_vmm_network network;
	enum vd_vmm_wayland wayland;
	enum vd_vmm_gpu gpu;
	uint32_t idle_shutdown_s; // 0: never
	bool autostart;
};

struct vd_vmconf {
	char name[VD_VM_NAME_MAX + 1];
	char path[PATH_MAX];
	char color_str[64];
	struct vd_color color;
	bool has_agent;
	char agent_str[256];
	struct vd_addr agent;
	bool tray; // its tray items are shown on the host
	struct vd_vmconf_machine machine;
	char error[512]; // non-empty: the file is broken and the VM unusable
	char warnings[VD_VMCONF_MAX_WARNINGS][512];
	size_t nwarnings;
};

/* Loads one file; on failure conf->error says "FILE:LINE: reason". */
bool vd_vmconf_load(const char *path, const char *name, struct vd_vmconf *conf);

/*
 * Loads every NAME.conf of the given directories, later directories
 * overriding earlier ones (warnings and errors are logged). A cid that an
 * earlier VM (by name) has already is an error of the later one. Returns
 * the number of VMs, sorted by name, in *out (free it).
 */
size_t vd_vmconf_load_dirs(const char *const *dirs, size_t ndirs, struct vd_vmconf **out);

/* Whether two definitions would run the VM differently (any setting, errors). */
bool vd_vmconf_equal(const struct vd_vmconf *a, const struct vd_vmconf *b);

#endif
