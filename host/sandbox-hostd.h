#ifndef HOST_SANDBOX_HOSTD_H
#define HOST_SANDBOX_HOSTD_H

#include <sys/types.h>

#include "protocols/sandbox.h"

/*
 * vmdesk-hostd's seccomp filter (sandbox-hostd.c), entered once its control
 * socket listens, the VM definitions are read and its modules (menu,
 * launcher, notifications, tray, global clipboard) are set up. Every
 * program it runs (VMMs, helpers, proxies, update-desktop-database) starts
 * in its spawner (host/child.h), forked before the filter: hostd itself
 * never execs or forks. spawner, menu_writer: the pids of the spawner and
 * of the menu writer (host/menu-writer.h; 0: none), the processes it waits
 * for (at exit).
 */
const struct vd_sandbox_policy *hostd_sandbox_policy(pid_t spawner, pid_t menu_writer);

/* Where vmdesk-hostd reads and writes once started; NULL or 0: none. */
struct hostd_sandbox_files {
	const char *run_dir; // $XDG_RUNTIME_DIR/vmdesk: sockets, the VMs' run directories
	const char *socket_path; // the control socket (and its lock)
	const char *state_dir; // $XDG_STATE_HOME/vmdesk: the VMs' logs (made)
	const char *config_dirs[2]; // the VM definitions: the system's, the user's
	size_t nconfig_dirs;
	const char *images_dir; // guest images: image.conf at each start
	const char *policy_path; // the global clipboard's policy file
	const char *xdg_runtime_dir; // listed for a compositor's wayland-N (the clipboard)
	bool fonts; // badges in the VM's color for notifications and tray items
};

/*
 * Landlock, before the filter and only when it enforces: hostd changes
 * files only in its directories and reads only what it needs (its
 * directories, the VM definitions, images and clipboard policy, /proc for
 * its children's start times, /etc/passwd, fonts), so a bug in a parser
 * cannot make it write ~/.bashrc or read ~/.ssh/id_rsa and send it to a VM.
 * A directory to read that does not exist yet is covered by its nearest
 * existing parent, unless that parent holds other programs' files too
 * (README, "Sandbox"). Without Landlock in the kernel it says so and goes
 * on.
 */
void hostd_sandbox_confine_files(const struct hostd_sandbox_files *files);

/*
 * Where to read dir beneath under Landlock (into out, PATH_MAX bytes): dir,
 * or if it does not exist yet its nearest existing parent that holds no
 * other program's files. False (logged) if there is none.
 */
bool hostd_sandbox_read_place(const char *what, const char *dir, char *out);

#endif
