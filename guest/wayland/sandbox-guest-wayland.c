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
	// the event loop: epoll, timers (waiting clients, port retries), signalfd
	// reads; the link's own epoll on a serial port that is full
	VD_SANDBOX_ALLOW(epoll_wait),
	VD_SANDBOX_ALLOW(epoll_pwait),
	VD_SANDBOX_ALLOW(epoll_ctl),
	VD_SANDBOX_ALLOW(epoll_create1),
	VD_SANDBOX_ALLOW(poll),
	VD_SANDBOX_ALLOW(timerfd_create),
	VD_SANDBOX_ALLOW(timerfd_settime),
	VD_SANDBOX_ALLOW(timerfd_gettime),
	VD_SANDBOX_ALLOW(read),
	VD_SANDBOX_ALLOW(write),
	VD_SANDBOX_ALLOW(readv),
	VD_SANDBOX_ALLOW(writev),
	VD_SANDBOX_ALLOW(close),
	VD_SANDBOX_ALLOW(fcntl), // libwayland dups fds it watches; pipes made non-blocking; seals
	VD_SANDBOX_ALLOW(dup),
	// Wayland messages with their fds, link frames, on sockets it has or accepts
	VD_SANDBOX_ALLOW(sendmsg),
	VD_SANDBOX_ALLOW(recvmsg),
	VD_SANDBOX_ALLOW(sendto),
	VD_SANDBOX_ALLOW(recvfrom),
	VD_SANDBOX_ALLOW(accept4),
	VD_SANDBOX_ALLOW(getsockopt),
	VD_SANDBOX_ALLOW(setsockopt),
	VD_SANDBOX_ALLOW(shutdown),
	// clients' shm pools (mapped read-only, grown), the shadows, keymap memfds
	// (sealed), the pipes of data offers crossing the link
	VD_SANDBOX_ALLOW(memfd_create),
	VD_SANDBOX_ALLOW(ftruncate),
	VD_SANDBOX_ALLOW(fstat),
	VD_SANDBOX_ALLOW(newfstatat),
	VD_SANDBOX_ALLOW(lseek),
	VD_SANDBOX_ALLOW(pipe2),
	// memory
	VD_SANDBOX_ALLOW(brk),
	VD_SANDBOX_ALLOW(mmap),
	VD_SANDBOX_ALLOW(munmap),
	VD_SANDBOX_ALLOW(mremap),
	VD_SANDBOX_ALLOW(mprotect),
	VD_SANDBOX_ALLOW(madvise),
	// a library thread, should one start (none does today); a fork is refused
	VD_SANDBOX_ALLOW(futex),
	VD_SANDBOX_ALLOW_IF(clone, VD_SANDBOX_ARG_MASKED_EQ(0, CLONE_THREAD, CLONE_THREAD)),
	VD_SANDBOX_FAIL(clone3, ENOSYS),
	VD_SANDBOX_ALLOW(set_robust_list),
	VD_SANDBOX_ALLOW(rseq),
	VD_SANDBOX_ALLOW_IF(prctl, VD_SANDBOX_ARG_EQ(0, PR_SET_NAME)),
	VD_SANDBOX_ALLOW(exit),
	VD_SANDBOX_ALLOW(exit_group),
	// time, ids (SO_PEERCRED in log lines), randomness (the link's nonce)
	VD_SANDBOX_ALLOW(clock_gettime),
	VD_SANDBOX_ALLOW(gettimeofday),
	VD_SANDBOX_ALLOW(getpid),
	VD_SANDBOX_ALLOW(gettid),
	VD_SANDBOX_ALLOW(getrandom),
	// signals: the SIGBUS guard of pool reads (its handler maps over the
	// faulting pages and returns), masks; SIGTERM and SIGINT come as signalfd
	VD_SANDBOX_ALLOW(rt_sigreturn),
	VD_SANDBOX_ALLOW(rt_sigprocmask),
	VD_SANDBOX_ALLOW(rt_sigaction),
	// at exit: its Wayland socket and lock file (not an activated one's)
	VD_SANDBOX_ALLOW(unlink),
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
