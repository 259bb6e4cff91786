#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>

#include "guest/wayland/sandbox-guest-wayland.h"

/*
 * The reviewed list of system calls vmdesk-guest-wayland makes after
 * startup (README, "Sandbox"): it accepts Wayland clients on the socket it
 * already serves and hosts on the link it already listens on (or keeps its
 * virtio-serial port), maps clients' shm pools read-only, makes sealed
 * memfds for keymaps, and carries pipes. It opens no socket at all (accept
 * only), no file but its serial port, never execs, forks or signals.
 */

// the one open it makes: vd_transport_open_serial() of the port, again
#define SERIAL_OPEN_FLAGS (O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)

static struct vd_sandbox_rule rules[] = {
	// (besides the shared list of protocols/sandbox.c: event loop, I/O on its
	// fds, messages on its sockets, memory, time, signal masks, exit; that
	// includes the SIGBUS guard of pool reads, whose handler maps over the
	// faulting pages and returns)
	// the link's own epoll on a serial port that is full
	VD_SANDBOX_ALLOW(epoll_create1),
	VD_SANDBOX_ALLOW(poll),
	// Wayland messages with their fds, link frames, on sockets it has or accepts
	VD_SANDBOX_ALLOW(recvfrom),
	// clients' shm pools (mapped read-only, grown), the shadows, keymap memfds
	// (sealed), the pipes of data offers crossing the link
	VD_SANDBOX_ALLOW(memfd_create),
	VD_SANDBOX_ALLOW(ftruncate),
	// a library thread, should one start (none does today); a fork is refused
	VD_SANDBOX_ALLOW_IF(clone, VD_SANDBOX_ARG_MASKED_EQ(0, CLONE_THREAD, CLONE_THREAD)),
	VD_SANDBOX_FAIL(clone3, ENOSYS),
	VD_SANDBOX_ALLOW(set_robust_list),
	VD_SANDBOX_ALLOW(rseq),
	VD_SANDBOX_ALLOW_IF(prctl, VD_SANDBOX_ARG_EQ(0, PR_SET_NAME)),
	// serial: only: the port, opened again read-write, never created (kept last)
	VD_SANDBOX_ALLOW_IF(openat, VD_SANDBOX_ARG_EQ(2, SERIAL_OPEN_FLAGS)),
};

#define RULE_COUNT (sizeof(rules) / sizeof(rules[0]))

static struct vd_sandbox_policy policy = {
	.program = "vmdesk-guest-wayland",
	.rules = rules,
};

const struct vd_sandbox_policy *guest_wayland_sandbox_policy(bool serial) {
	policy.rule_count = serial ? RULE_COUNT : RULE_COUNT - 1;
	return &policy;
}
