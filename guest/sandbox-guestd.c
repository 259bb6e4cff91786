#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "guest/sandbox-guestd.h"

/*
 * The reviewed list of system calls vmdesk-guestd makes after startup
 * (README, "Sandbox"). It parses what the host sends on the agent link and
 * what the VM's applications send on the session bus (notifications, tray
 * items), and reads .desktop files and icons. Programs the host asks for
 * start in its spawner, unfiltered, forked at startup: the agent asks it
 * over a socket pair and never execs, forks or signals anyone itself. No
 * socket but AF_UNIX (the agent link is accepted, not made), no opening a
 * file for writing or creating one.
 */

// vd_transport_open_serial(): the port, opened again read-write, never created
#define SERIAL_OPEN_FLAGS (O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)

static struct vd_sandbox_rule rules[] = {
	// (besides the shared list of protocols/sandbox.c: event loop, I/O on its
	// fds, messages on its sockets, memory, time, signal masks, exit)
	// the link's own epoll on a full serial port; libdbus polls
	VD_SANDBOX_ALLOW(epoll_create1),
	VD_SANDBOX_ALLOW(poll),
	VD_SANDBOX_ALLOW(ppoll),
	VD_SANDBOX_ALLOW(eventfd2), // glib's wakeups (librsvg, gdk-pixbuf)
	VD_SANDBOX_ALLOW(pread64),
	// the agent link and the session bus, with fds; the spawner's socket pair
	// (requests with the programs' pipes, replies, exit reports)
	VD_SANDBOX_ALLOW(recvfrom),
	VD_SANDBOX_ALLOW(getsockname),
	VD_SANDBOX_ALLOW(getpeername),
	// the session bus, should libdbus connect again: Unix only
	VD_SANDBOX_ALLOW_IF(socket, VD_SANDBOX_ARG_EQ(0, AF_UNIX)),
	VD_SANDBOX_ALLOW(connect),
	// the app scanner: .desktop files and icons (and the loaders gdk-pixbuf
	// and librsvg open), read-only, never creating; inotify on their folders
	VD_SANDBOX_ALLOW_IF(openat, VD_SANDBOX_ARG_MASKED_EQ(2, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	VD_SANDBOX_ALLOW_IF(open, VD_SANDBOX_ARG_MASKED_EQ(1, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	VD_SANDBOX_ALLOW(statx),
	VD_SANDBOX_ALLOW(fstatfs),
	VD_SANDBOX_ALLOW(getdents64),
	VD_SANDBOX_ALLOW(readlink),
	VD_SANDBOX_ALLOW(access),
	VD_SANDBOX_ALLOW(faccessat2),
	VD_SANDBOX_ALLOW(inotify_init1),
	VD_SANDBOX_ALLOW(inotify_add_watch),
	VD_SANDBOX_ALLOW(inotify_rm_watch),
	// threads (the scanner's, glib's and librsvg's): never a fork
	VD_SANDBOX_ALLOW_IF(clone, VD_SANDBOX_ARG_MASKED_EQ(0, CLONE_THREAD, CLONE_THREAD)),
	VD_SANDBOX_FAIL(clone3, ENOSYS),
	VD_SANDBOX_ALLOW(set_robust_list),
	VD_SANDBOX_ALLOW(rseq),
	VD_SANDBOX_ALLOW_IF(prctl, VD_SANDBOX_ARG_EQ(0, PR_SET_NAME)),
	VD_SANDBOX_ALLOW(sched_getaffinity),
	VD_SANDBOX_ALLOW(sched_yield),
	// sleeps, ids (libdbus's authentication)
	VD_SANDBOX_ALLOW(clock_nanosleep),
	VD_SANDBOX_ALLOW(getuid),
	VD_SANDBOX_ALLOW(geteuid),
	VD_SANDBOX_ALLOW(getgid),
	VD_SANDBOX_ALLOW(getegid),
	// at exit: the spawner, and only it, is reaped (set below)
	VD_SANDBOX_ALLOW_IF(wait4, VD_SANDBOX_ARG_EQ(0, 0)),
	// serial: only: the port, opened again (kept last)
	VD_SANDBOX_ALLOW_IF(openat, VD_SANDBOX_ARG_EQ(2, SERIAL_OPEN_FLAGS)),
};

#define RULE_COUNT (sizeof(rules) / sizeof(rules[0]))

static struct vd_sandbox_policy policy = {
	.program = "vmdesk-guestd",
	.rules = rules,
};

const struct vd_sandbox_policy *guestd_sandbox_policy(bool serial, pid_t spawner) {
	rules[RULE_COUNT - 2].args[0].value = (uint64_t)spawner;
	policy.rule_count = serial ? RULE_COUNT : RULE_COUNT - 1;
	return &policy;
}
