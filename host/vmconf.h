#ifndef HOST_VMCONF_H
#define HOST_VMCONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "decoration/color.h"
#include "protocols/agent-wire.h"
#include "protocols/transport.h"

/*
 * VM definitions: $XDG_CONFIG_HOME/vmdesk/vms/NAME.conf and
 * /etc/vmdesk/vms/NAME.conf (the user's file wins), INI syntax:
 *
 *   [vm]
 *   ; a Qubes label, a color name, #rrggbb ...
 *   color = red
 *   ; where the guest agent listens
 *   agent = vsock:3:5000
 *
 * Keys may also come before any section. Errors name the file and line.
 */

struct vd_vmconf {
	char name[VD_AGENT_MAX_VM_NAME + 1];
	char path[PATH_MAX];
	char color_str[64];
	struct vd_color color;
	bool has_agent;
	char agent_str[256];
	struct vd_addr agent;
	char error[512]; // non-empty: the file is broken and the VM unusable
};

/* Loads one file; on failure conf->error says "FILE:LINE: reason". */
bool vd_vmconf_load(const char *path, const char *name, struct vd_vmconf *conf);

/*
 * Loads every NAME.conf of the given directories, later directories
 * overriding earlier ones. Returns the number of VMs, sorted by name.
 */
size_t vd_vmconf_load_dirs(const char *const *dirs, size_t ndirs, struct vd_vmconf **out);

#endif
