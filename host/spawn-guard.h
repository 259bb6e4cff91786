#ifndef HOST_SPAWN_GUARD_H
#define HOST_SPAWN_GUARD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "host/launch.h"
#include "protocols/spawner.h"

/*
 * What vmdesk-hostd's spawner starts (the guard of protocols/spawner.h).
 * hostd parses what VMs send; a VM that took it over could otherwise ask
 * the unfiltered spawner for any program: `cat ~/.ssh/id_rsa`, or a QEMU
 * with that key as a disk. So the spawner starts only the commands it works
 * out itself, from what hostd cannot change: the VM definitions and the
 * images' image.conf (read-only to hostd under Landlock) and hostd's
 * command line (the copy at the fork). Those are each startable VM's VMM,
 * helpers, power-off and stop commands and proxy (host/launch.h), and the
 * menu's update-desktop-database; always without environment additions,
 * detaching or $HOME as the directory.
 *
 * A command it does not know yet makes it read the definitions again (once
 * per request); the commands of every definition it has read stay known, so
 * a running VM's proxy still restarts with the argv it started with after
 * the definition changed. Known commands are capped; past the cap the
 * oldest are forgotten.
 */

#define VD_SPAWN_GUARD_MAX_KNOWN 1024
#define VD_SPAWN_GUARD_MAX_DIRS 2

struct vd_spawn_guard {
	struct vd_launch_env env; // its strings must live as long as the guard
	const char *config_dirs[VD_SPAWN_GUARD_MAX_DIRS];
	size_t nconfig_dirs;
	char apps_dir[PATH_MAX]; // the menu's; "": no menu, no update-desktop-database
	/* the spawner's own: the commands it knows, each argv joined with NULs */
	struct vd_spawn_known {
		char *bytes;
		size_t len;
	} known[VD_SPAWN_GUARD_MAX_KNOWN];
	size_t nknown, oldest;
	struct vd_spawner_guard hook; // what vd_children_create gives the spawner
};

/*
 * Fills guard (strings are copied but for env's and the directories').
 * apps_dir NULL: no menu. False if a directory's path does not fit.
 */
bool vd_spawn_guard_init(struct vd_spawn_guard *guard, const struct vd_launch_env *env,
	const char *const *config_dirs, size_t nconfig_dirs, const char *apps_dir);
/* Forgets the known commands. */
void vd_spawn_guard_finish(struct vd_spawn_guard *guard);

/* The guard's verdict (struct vd_spawner_guard.allow; data is the guard). */
bool vd_spawn_guard_allow(const struct vd_spawn *spawn, void *data, char *why,
	size_t why_size);
/*
 * Whether hostd may adopt a process a previous hostd left (struct
 * vd_spawner_guard.adopt): its argv ends with a command the guard knows
 * (the whole argv of a program, or a script's after its interpreter), or
 * it runs the program of one (a VMM whose definition changed since it
 * started; for a script, the script after its interpreter) with an
 * argument naming a path beneath vmdesk's run directory, as every VM's
 * command does. Anything else, the user's other processes among them (a
 * VMM the user runs outside vmdesk too), is refused: hostd, which has no
 * pidfd_open of its own, can signal no other.
 */
bool vd_spawn_guard_adopt(const char *exe, const char *cmdline, size_t cmdline_len, void *data,
	char *why, size_t why_size);

#endif
