#include <errno.h>
#include <sys/socket.h>

#include "host/sandbox-hostd.h"

/*
 * The reviewed list of system calls vmdesk-hostd makes after startup
 * (README, "Sandbox"). It parses what the VMs' agents send on their
 * channels (programs, menus and icons, notifications, tray items) and what
 * the vmdesk command and the proxies send on the control socket. It never
 * execs, forks or signals by pid: its spawner starts, and reports the end
 * of, every program; the VMs' processes are signalled through pidfds. No
 * socket but AF_UNIX and AF_VSOCK (agents, QMP, consoles, the session bus,
 * the compositor). What it must keep, and a filter cannot narrow to
 * directories: creating and writing files (menu entries, icons, state
 * files, VM logs, run directories and sockets).
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
	// files: VM definitions and images read; menu entries, icons, menus,
	// state files, VM logs and run directories written (created, renamed
	// into place, removed); the proxies' sockets appear; inotify
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
	VD_SANDBOX_ALLOW(unlinkat), // remove(): a VM's menu folder and icons
	VD_SANDBOX_ALLOW(rmdir),
	VD_SANDBOX_ALLOW(fchmod),
	VD_SANDBOX_ALLOW(fsync),
	VD_SANDBOX_ALLOW(ftruncate),
	VD_SANDBOX_ALLOW(utimensat),
	VD_SANDBOX_ALLOW(inotify_init1),
	VD_SANDBOX_ALLOW(inotify_add_watch),
	VD_SANDBOX_ALLOW(inotify_rm_watch),
	// the VMs' processes, by pidfd only: opened (adopted after a restart)
	// and signalled; never a kill() by pid
	VD_SANDBOX_ALLOW(pidfd_open),
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
	// at exit: the spawner, and only it, is reaped (set below, kept last)
	VD_SANDBOX_ALLOW_IF(wait4, VD_SANDBOX_ARG_EQ(0, 0)),
};

#define RULE_COUNT (sizeof(rules) / sizeof(rules[0]))

static const struct vd_sandbox_policy policy = {
	.program = "vmdesk-hostd",
	.rules = rules,
	.rule_count = RULE_COUNT,
};

const struct vd_sandbox_policy *hostd_sandbox_policy(pid_t spawner) {
	rules[RULE_COUNT - 1].args[0].value = (uint64_t)spawner;
	return &policy;
}
