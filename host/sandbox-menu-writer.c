#define LOG_TAG "sandbox"

#include <limits.h>

#include "host/menu.h"
#include "host/sandbox-hostd.h"
#include "host/sandbox-menu-writer.h"
#include "protocols/landlock.h"
#include "protocols/log.h"

/*
 * The reviewed list of system calls of vmdesk-hostd's menu writer
 * (host/menu-writer.h) after startup. It reads the snapshots hostd sends on
 * one socket, and writes the menu's files: entries and submenus are
 * written to a temporary file and renamed into place, icons are encoded as
 * PNG in memory (cairo), and entries are read back to see whose they are.
 * It reads the VM definitions, for the VMs' colors and names.
 */

static const struct vd_sandbox_rule rules[] = {
	// (besides the shared list of protocols/sandbox.c: event loop, I/O on its
	// fds, messages on its socket, memory, time, signal masks, exit)
	// files: entries, icons, submenus written (created, renamed into place,
	// removed) and read back; directories listed; the VM definitions read
	VD_SANDBOX_ALLOW(openat),
	VD_SANDBOX_ALLOW(fadvise64), // glibc's fopen of the VM definitions
	VD_SANDBOX_ALLOW(getdents64),
	VD_SANDBOX_ALLOW(mkdir),
	VD_SANDBOX_ALLOW(rename),
	// glibc's qsort() (of the VM definitions) sizes its buffer by the
	// machine's memory
	VD_SANDBOX_ALLOW(sysinfo),
};

static const struct vd_sandbox_policy policy = {
	.program = "vmdesk-hostd (menu writer)",
	.rules = rules,
	.rule_count = sizeof(rules) / sizeof(rules[0]),
};

const struct vd_sandbox_policy *menu_writer_sandbox_policy(void) {
	return &policy;
}

void menu_writer_sandbox_confine_files(const char **dirs, size_t ndirs,
		const struct menu_writer_options *options) {
	struct vd_landlock_rule rules[VD_MENU_DIRS + 2];
	size_t n = 0;
	for (size_t i = 0; i < ndirs && i < VD_MENU_DIRS; i++) {
		// entries, icons, submenus: read back to be compared, pruned
		rules[n++] = (struct vd_landlock_rule){dirs[i], VD_LANDLOCK_WRITE | VD_LANDLOCK_READ};
	}
	char places[2][PATH_MAX];
	for (size_t i = 0; i < options->nconfig_dirs && i < 2; i++) {
		// the VM definitions: a snapshot's VM must be one, in its color
		if (hostd_sandbox_read_place("VM definitions", options->config_dirs[i],
				places[i])) {
			rules[n++] = (struct vd_landlock_rule){places[i], VD_LANDLOCK_READ};
		}
	}
	if (!vd_landlock_confine(rules, n, true)) {
		vd_log(VD_WARN, "the menu writer's files are not confined (Landlock): see the "
			"README, Sandbox");
	}
}
