#define LOG_TAG "sandbox"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decoration/fonts.h"
#include "host/sandbox-hostd.h"
#include "protocols/landlock.h"
#include "protocols/log.h"
#include "protocols/path.h"

/*
 * The reviewed list of system calls vmdesk-hostd makes after startup
 * (README, "Sandbox"). It parses what the VMs' agents send on their
 * channels (programs, application lists, notifications, tray items) and
 * what the vmdesk command and the proxies send on the control socket; the
 * menu's files are its menu writer's (sandbox-menu-writer.c). It never
 * execs, forks or signals by pid: its spawner starts, and reports the end
 * of, every program; the VMs' processes are signalled through pidfds. No
 * socket but AF_UNIX and AF_VSOCK (agents, QMP, consoles, the session bus,
 * the compositor). What it must keep, and a filter cannot narrow to
 * directories: creating and writing files (state files, VM logs, run
 * directories and sockets), and reading some (VM definitions, images, the
 * clipboard policy, fonts): Landlock narrows both (below).
 */

static struct vd_sandbox_rule rules[] = {
	// (besides the shared list of protocols/sandbox.c: event loop, I/O on its
	// fds, messages on its sockets, memory, time, signal masks, exit)
	// libdbus and libwayland-client poll; a link's own epoll set
	VD_SANDBOX_ALLOW(epoll_create1),
	VD_SANDBOX_ALLOW(poll),
	VD_SANDBOX_ALLOW(ppoll),
	VD_SANDBOX_ALLOW(pread64),
	// the agents' channels, the control socket, QMP, consoles, the session
	// bus and the compositor, with fds; the spawner's socket pair
	VD_SANDBOX_ALLOW_IF(socket, VD_SANDBOX_ARG_EQ(0, AF_UNIX)),
	VD_SANDBOX_ALLOW_IF(socket, VD_SANDBOX_ARG_EQ(0, AF_VSOCK)),
	VD_SANDBOX_ALLOW(socketpair),
	VD_SANDBOX_ALLOW(connect),
	VD_SANDBOX_ALLOW(bind),
	VD_SANDBOX_ALLOW(listen),
	VD_SANDBOX_ALLOW(recvfrom),
	VD_SANDBOX_ALLOW(getsockname),
	VD_SANDBOX_ALLOW(getpeername),
	// files: VM definitions and images read; state files, VM logs and run
	// directories written (created, renamed into place, removed); the
	// proxies' sockets appear; inotify
	VD_SANDBOX_ALLOW(openat),
	VD_SANDBOX_ALLOW(statx),
	VD_SANDBOX_ALLOW(fstatfs),
	VD_SANDBOX_ALLOW(fadvise64), // glibc's fopen of the VM definitions and images
	VD_SANDBOX_ALLOW(getdents64),
	VD_SANDBOX_ALLOW(readlink),
	VD_SANDBOX_ALLOW(access),
	VD_SANDBOX_ALLOW(faccessat2),
	VD_SANDBOX_ALLOW(mkdir),
	VD_SANDBOX_ALLOW(rename),
	VD_SANDBOX_ALLOW(unlinkat), // a VM's run directory's files (vmstate.c)
	VD_SANDBOX_ALLOW(rmdir),
	VD_SANDBOX_ALLOW(fchmod),
	VD_SANDBOX_ALLOW(fsync),
	VD_SANDBOX_ALLOW(ftruncate),
	VD_SANDBOX_ALLOW(utimensat),
	VD_SANDBOX_ALLOW(inotify_init1),
	VD_SANDBOX_ALLOW(inotify_add_watch),
	VD_SANDBOX_ALLOW(inotify_rm_watch),
	// the VMs' processes, by pidfd only, signalled; never a kill() by pid.
	// No pidfd_open: the spawner opens the pidfds, of the programs it starts
	// and of those a previous hostd left that its guard allows
	VD_SANDBOX_ALLOW(pidfd_send_signal),
	// memory: memfds (the global clipboard's); glibc's qsort() sizes its
	// buffer by the machine's memory. One thread: no clone at all
	VD_SANDBOX_ALLOW(memfd_create),
	VD_SANDBOX_ALLOW(sysinfo),
	// sleeps, ids (libdbus's authentication)
	VD_SANDBOX_ALLOW(clock_nanosleep),
	VD_SANDBOX_ALLOW(getuid),
	VD_SANDBOX_ALLOW(geteuid),
	VD_SANDBOX_ALLOW(getgid),
	VD_SANDBOX_ALLOW(getegid),
	// at exit: the spawner and the menu writer, and only they, are reaped
	// (set below, kept last)
	VD_SANDBOX_ALLOW_IF(wait4, VD_SANDBOX_ARG_EQ(0, 0)),
	VD_SANDBOX_ALLOW_IF(wait4, VD_SANDBOX_ARG_EQ(0, 0)),
};

#define RULE_COUNT (sizeof(rules) / sizeof(rules[0]))

static const struct vd_sandbox_policy policy = {
	.program = "vmdesk-hostd",
	.rules = rules,
	.rule_count = RULE_COUNT,
};

const struct vd_sandbox_policy *hostd_sandbox_policy(pid_t spawner, pid_t menu_writer) {
	rules[RULE_COUNT - 2].args[0].value = (uint64_t)spawner;
	rules[RULE_COUNT - 1].args[0].value = (uint64_t)(menu_writer > 0 ? menu_writer : spawner);
	return &policy;
}

/* ---- Landlock: what hostd may read and change ---- */

#define MAX_FONT_PATHS 64
#define MAX_RULES (12 + MAX_FONT_PATHS)

/* Whether dir is path or one of its parents. */
static bool holds(const char *dir, const char *path) {
	size_t len = strlen(dir);
	if (len > 0 && dir[len - 1] == '/') {
		len--; // "/" holds everything
	}
	return strncmp(dir, path, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* Whether dir (a real path) is base or one of its parents; base need not exist. */
static bool holds_base(const char *dir, const char *base) {
	char real[PATH_MAX];
	if (base == NULL || base[0] != '/') {
		return false;
	}
	return holds(dir, realpath(base, real) != NULL ? real : base);
}

/*
 * Whether dir (a real path) holds other programs' files too: "/" or a
 * top-level directory (/etc, /var, /tmp), $HOME, the XDG base directories
 * ($XDG_*_HOME and their defaults, $XDG_RUNTIME_DIR) or a parent of any of
 * them (/home, ~/.local).
 */
static bool shared_dir(const char *dir) {
	if (strrchr(dir, '/') == dir) {
		return true;
	}
	static const char *const vars[] = {
		"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
		"XDG_RUNTIME_DIR",
	};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (holds_base(dir, getenv(vars[i]))) {
			return true;
		}
	}
	static const char *const defaults[] = {"/.config", "/.local/share", "/.local/state",
		"/.cache"};
	const char *home = getenv("HOME");
	for (size_t i = 0; home != NULL && i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		char path[PATH_MAX];
		int len = snprintf(path, sizeof(path), "%s%s", home, defaults[i]);
		if (len > 0 && (size_t)len < sizeof(path) && holds_base(dir, path)) {
			return true;
		}
	}
	return false;
}

/*
 * Where to read dir beneath (into out, PATH_MAX bytes, a real path): dir
 * itself if it exists. If not (yet: the user makes it later, and hostd,
 * which watches the VM definitions' parent, reads it then), its nearest
 * existing parent, unless that holds other programs' files (shared_dir):
 * ~/.config/vmdesk may be read for ~/.config/vmdesk/vms, but ~/.config,
 * $HOME or /etc never are. Then false: dir is read after a restart of
 * hostd, and the log says so.
 */
bool hostd_sandbox_read_place(const char *what, const char *dir, char *out) {
	char path[PATH_MAX];
	int len = snprintf(path, sizeof(path), "%s", dir);
	if (len <= 0 || (size_t)len >= sizeof(path) || path[0] != '/') {
		return false;
	}
	struct stat st;
	while (stat(path, &st) != 0) {
		char *slash = strrchr(path, '/');
		*(slash == path ? slash + 1 : slash) = '\0'; // "/" exists: the loop ends
	}
	if (!S_ISDIR(st.st_mode) || realpath(path, out) == NULL) {
		return false;
	}
	if (strcmp(path, dir) != 0 && shared_dir(out)) {
		vd_log(VD_WARN, "%s: %s does not exist; made later, it is read after a restart of "
			"vmdesk-hostd (Landlock: its parent %s is not read)", what, dir, out);
		return false;
	}
	return true;
}

void hostd_sandbox_confine_files(const struct hostd_sandbox_files *f) {
	struct vd_landlock_rule rules[MAX_RULES];
	size_t n = 0;
	/* changed, and read back */
	if (f->run_dir != NULL) {
		// its sockets, the VMs' run directories: state files, console logs
		rules[n++] = (struct vd_landlock_rule){f->run_dir, VD_LANDLOCK_WRITE | VD_LANDLOCK_READ};
	}
	char socket_dir[PATH_MAX];
	if (f->socket_path != NULL && vd_path_dir(f->socket_path, socket_dir, sizeof(socket_dir))) {
		rules[n++] = (struct vd_landlock_rule){socket_dir, VD_LANDLOCK_WRITE}; // its lock
	}
	if (f->state_dir != NULL) {
		// the VMs' logs: written, their tail read when a VM fails to start
		rules[n++] = (struct vd_landlock_rule){f->state_dir,
			VD_LANDLOCK_WRITE | VD_LANDLOCK_READ};
	}
	// not the menu's directories: only the menu writer (menu-writer.h) may
	// change them, or an Exec line of hostd's own would run on a click
	/* read only */
	char places[4][PATH_MAX];
	size_t nplaces = 0;
	for (size_t i = 0; i < f->nconfig_dirs; i++) {
		// the VM definitions (vmconf.c), reread on SIGHUP and on inotify's word
		if (hostd_sandbox_read_place("VM definitions", f->config_dirs[i], places[nplaces])) {
			rules[n++] = (struct vd_landlock_rule){places[nplaces++], VD_LANDLOCK_READ};
		}
	}
	// guest images: IMAGE/image.conf at each start of a VM (launch.c)
	if (f->images_dir != NULL &&
			hostd_sandbox_read_place("images", f->images_dir, places[nplaces])) {
		rules[n++] = (struct vd_landlock_rule){places[nplaces++], VD_LANDLOCK_READ};
	}
	char policy_dir[PATH_MAX];
	// the global clipboard's policy, reread when it changes (clipboard/policy.c)
	if (f->policy_path != NULL && vd_path_dir(f->policy_path, policy_dir, sizeof(policy_dir)) &&
			hostd_sandbox_read_place("clipboard policy", policy_dir, places[nplaces])) {
		rules[n++] = (struct vd_landlock_rule){places[nplaces++], VD_LANDLOCK_READ};
	}
	if (f->xdg_runtime_dir != NULL) {
		// names only: the global clipboard looks for a compositor's wayland-N
		// there when hostd started before it (clipboard.c)
		rules[n++] = (struct vd_landlock_rule){f->xdg_runtime_dir, VD_LANDLOCK_LIST};
	}
	// no /proc: no rule could narrow it to /proc/PID/stat (another process's
	// environ, cmdline and maps would be readable), so the start times of
	// programs and of a VMM a previous hostd left come from the spawner
	// (child.c: vd_children_start_time)
	// control.c names the user it refuses (getpwuid): the first lookup,
	// now, reads nsswitch.conf and loads the NSS modules; later ones read
	// /etc/passwd (and ask the others over their sockets)
	(void)getpwuid(getuid());
	rules[n++] = (struct vd_landlock_rule){"/etc/passwd", VD_LANDLOCK_READ};
	// fonts: the badge in the VM's color (decoration/icon.c) of a
	// notification or tray item that comes without an image. Fontconfig
	// reads its configuration now (vd_font_paths), the font at the first badge
	char *fonts[MAX_FONT_PATHS];
	size_t nfonts = f->fonts ? vd_font_paths(fonts, MAX_FONT_PATHS) : 0;
	for (size_t i = 0; i < nfonts; i++) {
		rules[n++] = (struct vd_landlock_rule){fonts[i], VD_LANDLOCK_READ};
	}
	if (!vd_landlock_confine(rules, n, true)) {
		vd_log(VD_WARN, "files are not confined (Landlock): see the README, Sandbox");
	}
	vd_font_paths_free(fonts, nfonts);
}
