#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "host/clipboard/sandbox-clipd.h"

/*
 * The reviewed list of system calls vmdesk-clipd makes after startup
 * (README, "Sandbox"): it serves proxies and vmdesk-clip on its socket,
 * (re)connects to the host compositor and the session bus, and rereads its
 * policy file when it changes. It never writes or creates a file, opens a
 * socket but AF_UNIX, execs, or signals another process.
 */


static const struct vd_sandbox_rule rules[] = {
	// the event loop: epoll, timers (timeouts, reconnects), signalfd reads
	VD_SANDBOX_ALLOW(epoll_wait),
	VD_SANDBOX_ALLOW(epoll_pwait),
	VD_SANDBOX_ALLOW(epoll_ctl),
	VD_SANDBOX_ALLOW(timerfd_create),
	VD_SANDBOX_ALLOW(timerfd_settime),
	VD_SANDBOX_ALLOW(timerfd_gettime),
	VD_SANDBOX_ALLOW(poll), // libwayland-client and libdbus block briefly in poll
	VD_SANDBOX_ALLOW(ppoll),
	VD_SANDBOX_ALLOW(read),
	VD_SANDBOX_ALLOW(write),
	VD_SANDBOX_ALLOW(readv),
	VD_SANDBOX_ALLOW(writev),
	VD_SANDBOX_ALLOW(close),
	VD_SANDBOX_ALLOW(fcntl),
	VD_SANDBOX_ALLOW(dup),
	// link, Wayland and D-Bus messages (with fds) on its sockets
	VD_SANDBOX_ALLOW(sendmsg),
	VD_SANDBOX_ALLOW(recvmsg),
	VD_SANDBOX_ALLOW(sendto),
	VD_SANDBOX_ALLOW(recvfrom),
	VD_SANDBOX_ALLOW(accept4),
	VD_SANDBOX_ALLOW(getsockopt),
	VD_SANDBOX_ALLOW(setsockopt),
	VD_SANDBOX_ALLOW(getsockname),
	VD_SANDBOX_ALLOW(getpeername),
	VD_SANDBOX_ALLOW(shutdown),
	// the host compositor and the session bus, when they (re)appear: Unix only
	VD_SANDBOX_ALLOW_IF(socket, VD_SANDBOX_ARG_EQ(0, AF_UNIX)),
	VD_SANDBOX_ALLOW(connect),
	// copies travel through pipes
	VD_SANDBOX_ALLOW(pipe2),
	// the policy file, reread when it changes; read-only, never creating
	VD_SANDBOX_ALLOW_IF(openat, VD_SANDBOX_ARG_MASKED_EQ(2, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	VD_SANDBOX_ALLOW_IF(open, VD_SANDBOX_ARG_MASKED_EQ(1, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	VD_SANDBOX_ALLOW(fstat),
	VD_SANDBOX_ALLOW(newfstatat),
	VD_SANDBOX_ALLOW(lseek),
	VD_SANDBOX_ALLOW(access),
	// memory
	VD_SANDBOX_ALLOW(brk),
	VD_SANDBOX_ALLOW(mmap),
	VD_SANDBOX_ALLOW(munmap),
	VD_SANDBOX_ALLOW(mremap),
	VD_SANDBOX_ALLOW(mprotect),
	VD_SANDBOX_ALLOW(madvise),
	// threads, if a library starts one
	VD_SANDBOX_ALLOW(futex),
	VD_SANDBOX_ALLOW_IF(clone, VD_SANDBOX_ARG_MASKED_EQ(0, CLONE_THREAD, CLONE_THREAD)),
	VD_SANDBOX_FAIL(clone3, ENOSYS),
	VD_SANDBOX_ALLOW(set_robust_list),
	VD_SANDBOX_ALLOW(rseq),
	VD_SANDBOX_ALLOW_IF(prctl, VD_SANDBOX_ARG_EQ(0, PR_SET_NAME)),
	VD_SANDBOX_ALLOW(exit),
	VD_SANDBOX_ALLOW(exit_group),
	// time, ids (libdbus's authentication), randomness
	VD_SANDBOX_ALLOW(clock_gettime),
	VD_SANDBOX_ALLOW(gettimeofday),
	VD_SANDBOX_ALLOW(getpid),
	VD_SANDBOX_ALLOW(gettid),
	VD_SANDBOX_ALLOW(getuid),
	VD_SANDBOX_ALLOW(geteuid),
	VD_SANDBOX_ALLOW(getgid),
	VD_SANDBOX_ALLOW(getegid),
	VD_SANDBOX_ALLOW(getrandom),
	// signals: handlers return, masks
	VD_SANDBOX_ALLOW(rt_sigreturn),
	VD_SANDBOX_ALLOW(rt_sigprocmask),
	VD_SANDBOX_ALLOW(rt_sigaction),
	// at exit: its socket and lock file go
	VD_SANDBOX_ALLOW(unlink),
};

const struct vd_sandbox_policy clipd_sandbox_policy = {
	.program = "vmdesk-clipd",
	.rules = rules,
	.rule_count = sizeof(rules) / sizeof(rules[0]),
};
