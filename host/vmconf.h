#ifndef HOST_VMCONF_H
#define HOST_VMCONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "decoration/color.h"
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
 * NAME follows the VM name rule (protocols/names.h). Section and key names
 * are case-insensitive; keys may also come before any section. Errors name
 * FILE:LINE and make the VM unusable; unknown sections and keys are
 * warnings with FILE:LINE.
 */

#define VD_VMCONF_MAX_WARNINGS 8

struct vd_vmconf {
	char name[VD_VM_NAME_MAX + 1];
	char path[PATH_MAX];
	char color_str[64];
	struct vd_color color;
	bool has_agent;
	char agent_str[256];
	struct vd_addr agent;
	bool tray; // its tray items are shown on the host
	char error[512]; // non-empty: the file is broken and the VM unusable
	char warnings[VD_VMCONF_MAX_WARNINGS][512];
	size_t nwarnings;
};

/* Loads one file; on failure conf->error says "FILE:LINE: reason". */
bool vd_vmconf_load(const char *path, const char *name, struct vd_vmconf *conf);

/*
 * Loads every NAME.conf of the given directories, later directories
 * overriding earlier ones (warnings and errors are logged). Returns the
 * number of VMs, sorted by name, in *out (free it).
 */
size_t vd_vmconf_load_dirs(const char *const *dirs, size_t ndirs, struct vd_vmconf **out);

/* Whether two definitions would run the VM differently (agent, color, errors). */
bool vd_vmconf_equal(const struct vd_vmconf *a, const struct vd_vmconf *b);

#endif
