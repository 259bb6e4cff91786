#define LOG_TAG "sandbox"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "protocols/log.h"
#include "protocols/sandbox.h"

#ifdef VD_HAVE_SECCOMP
#include <seccomp.h>
#endif

/*
 * What every daemon does after startup, on its wl_event_loop with the fds
 * it holds: added to every program's own list, which names only what is
 * its own (README, "Sandbox").
 */
static const struct vd_sandbox_rule base_rules[] = {
	// the event loop: epoll, timers, signalfd reads
	VD_SANDBOX_ALLOW(epoll_wait), VD_SANDBOX_ALLOW(epoll_pwait), VD_SANDBOX_ALLOW(epoll_ctl),
	VD_SANDBOX_ALLOW(timerfd_create), VD_SANDBOX_ALLOW(timerfd_settime),
	VD_SANDBOX_ALLOW(timerfd_gettime),
	// I/O on the fds it holds; pipes of its own (clipboard copies, output)
	VD_SANDBOX_ALLOW(read), VD_SANDBOX_ALLOW(write), VD_SANDBOX_ALLOW(readv),
	VD_SANDBOX_ALLOW(writev), VD_SANDBOX_ALLOW(close), VD_SANDBOX_ALLOW(fcntl),
	VD_SANDBOX_ALLOW(dup), VD_SANDBOX_ALLOW(lseek), VD_SANDBOX_ALLOW(fstat),
	VD_SANDBOX_ALLOW(newfstatat), VD_SANDBOX_ALLOW(pipe2),
	// the sockets it holds: clients accepted on its listening socket, messages
	// with fds (SCM_RIGHTS); making a socket is each list's own
	VD_SANDBOX_ALLOW(accept4), VD_SANDBOX_ALLOW(sendmsg), VD_SANDBOX_ALLOW(recvmsg),
	VD_SANDBOX_ALLOW(sendto), VD_SANDBOX_ALLOW(getsockopt), VD_SANDBOX_ALLOW(setsockopt),
	VD_SANDBOX_ALLOW(shutdown),
	// memory
	VD_SANDBOX_ALLOW(brk), VD_SANDBOX_ALLOW(mmap), VD_SANDBOX_ALLOW(munmap),
	VD_SANDBOX_ALLOW(mremap), VD_SANDBOX_ALLOW(mprotect), VD_SANDBOX_ALLOW(madvise),
	// locks, time (log lines, timeouts), ids, randomness (hash seeds, libdbus)
	VD_SANDBOX_ALLOW(futex), VD_SANDBOX_ALLOW(clock_gettime), VD_SANDBOX_ALLOW(gettimeofday),
	VD_SANDBOX_ALLOW(getpid), VD_SANDBOX_ALLOW(gettid), VD_SANDBOX_ALLOW(getrandom),
	// signals: handlers return, masks
	VD_SANDBOX_ALLOW(rt_sigreturn), VD_SANDBOX_ALLOW(rt_sigprocmask),
	VD_SANDBOX_ALLOW(rt_sigaction),
	// at exit: its socket goes, then the process
	VD_SANDBOX_ALLOW(unlink), VD_SANDBOX_ALLOW(exit), VD_SANDBOX_ALLOW(exit_group),
	// glibc's stdio asks whether a stream is a terminal (isatty: ioctl TCGETS)
	// the first time it buffers one on a character device (stdout on
	// /dev/null: hostd was killed so at exit, now and then, in ASan runs).
	// Every ioctl fails as on a file that is no terminal: none is allowed
	// (TIOCSTI and the rest), none kills
	VD_SANDBOX_FAIL(ioctl, ENOTTY),
};
#define BASE_RULE_COUNT (sizeof(base_rules) / sizeof(base_rules[0]))

/*
 * What a sanitizer runtime (ASan, UBSan, LSan) calls on its own after
 * startup: its allocator maps, unmaps and advises memory, a report walks
 * /proc/self/maps and writes to stderr, and the leak check at exit stops
 * the world: a tracer thread (clone) ptrace-attaches to every thread,
 * found in /proc/self/task, and waits for them. Only in sanitizer builds;
 * the programs' own lists never name these for the runtime's sake.
 */
#ifdef VD_SANITIZER
static const struct vd_sandbox_rule sanitizer_rules[] = {
	// memory of the allocator and the shadow
	VD_SANDBOX_ALLOW(mmap), VD_SANDBOX_ALLOW(munmap), VD_SANDBOX_ALLOW(mprotect),
	VD_SANDBOX_ALLOW(madvise), VD_SANDBOX_ALLOW(mremap),
	// reports: /proc/self/maps, symbolizing, stderr
	VD_SANDBOX_ALLOW_IF(openat, VD_SANDBOX_ARG_MASKED_EQ(2, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	// LeakSanitizer's tracer opens with open(2) and flags beyond read-only;
	// glibc's open() is openat(2), which keeps the program's own rule
	VD_SANDBOX_ALLOW(open),
	VD_SANDBOX_ALLOW(read), VD_SANDBOX_ALLOW(pread64), VD_SANDBOX_ALLOW(write),
	VD_SANDBOX_ALLOW(close), VD_SANDBOX_ALLOW(readlink), VD_SANDBOX_ALLOW(newfstatat),
	VD_SANDBOX_ALLOW(fstat), VD_SANDBOX_ALLOW(lseek), VD_SANDBOX_ALLOW(getdents64),
	// the runtime makes raw calls of its own, some older than glibc's
	VD_SANDBOX_ALLOW(getdents), VD_SANDBOX_ALLOW(stat), VD_SANDBOX_ALLOW(lstat),
	VD_SANDBOX_ALLOW(sigaltstack), VD_SANDBOX_ALLOW(rt_sigaction),
	VD_SANDBOX_ALLOW(rt_sigprocmask), VD_SANDBOX_ALLOW(getpid), VD_SANDBOX_ALLOW(gettid),
	VD_SANDBOX_ALLOW(sched_yield), VD_SANDBOX_ALLOW(sched_getaffinity),
	VD_SANDBOX_ALLOW(getrlimit), VD_SANDBOX_ALLOW(prlimit64), VD_SANDBOX_ALLOW(nanosleep),
	VD_SANDBOX_ALLOW(clock_nanosleep), VD_SANDBOX_ALLOW(futex), VD_SANDBOX_ALLOW(uname),
	// the leak check's stop-the-world tracer
	VD_SANDBOX_ALLOW(clone), VD_SANDBOX_ALLOW(clone3), VD_SANDBOX_ALLOW(ptrace),
	VD_SANDBOX_ALLOW(wait4), VD_SANDBOX_ALLOW(waitid), VD_SANDBOX_ALLOW(prctl),
	VD_SANDBOX_ALLOW(exit), VD_SANDBOX_ALLOW(exit_group), VD_SANDBOX_ALLOW(tgkill),
	VD_SANDBOX_ALLOW(kill), VD_SANDBOX_ALLOW(set_robust_list), VD_SANDBOX_ALLOW(rseq),
	VD_SANDBOX_ALLOW(getppid), VD_SANDBOX_ALLOW(pipe2), VD_SANDBOX_ALLOW(dup2),
	VD_SANDBOX_ALLOW(dup3),
};
#define SANITIZER_RULE_COUNT (sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]))
#else
#define SANITIZER_RULE_COUNT 0
#endif

bool vd_seccomp_parse_mode(const char *str, enum vd_seccomp_mode *mode) {
	static const char *const names[] = {
		[VD_SECCOMP_ENFORCE] = "enforce",
		[VD_SECCOMP_LOG] = "log",
		[VD_SECCOMP_OFF] = "off",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(str, names[i]) == 0) {
			*mode = (enum vd_seccomp_mode)i;
			return true;
		}
	}
	return false;
}

const char *vd_seccomp_mode_name(enum vd_seccomp_mode mode) {
	switch (mode) {
	case VD_SECCOMP_ENFORCE:
		return "enforce";
	case VD_SECCOMP_LOG:
		return "log";
	case VD_SECCOMP_OFF:
		return "off";
	}
	return "?";
}

size_t vd_sandbox_rule_count(const struct vd_sandbox_policy *policy) {
	return BASE_RULE_COUNT + policy->rule_count + SANITIZER_RULE_COUNT;
}

bool vd_sandbox_sanitizer_build(void) {
	return SANITIZER_RULE_COUNT > 0;
}

#ifdef VD_HAVE_SECCOMP

bool vd_sandbox_available(void) {
	return true;
}

static bool rule_add(scmp_filter_ctx ctx, const char *program,
		const struct vd_sandbox_rule *rule) {
	int nr = seccomp_syscall_resolve_name(rule->name);
	if (nr == __NR_SCMP_ERROR) {
		vd_log(VD_ERROR, "%s: unknown system call '%s' in the filter", program, rule->name);
		return false;
	}
	struct scmp_arg_cmp cmps[2];
	unsigned int count = 0;
	for (size_t i = 0; i < sizeof(rule->args) / sizeof(rule->args[0]); i++) {
		const struct vd_sandbox_arg *arg = &rule->args[i];
		switch (arg->cmp) {
		case VD_SANDBOX_ANY:
			continue;
		case VD_SANDBOX_EQ:
			/* (not SCMP_CMP64: clang warns of its missing datum_b) */
			cmps[count++] = (struct scmp_arg_cmp){ .arg = arg->index,
				.op = SCMP_CMP_EQ, .datum_a = arg->value, .datum_b = 0 };
			break;
		case VD_SANDBOX_NE:
			cmps[count++] = (struct scmp_arg_cmp){ .arg = arg->index,
				.op = SCMP_CMP_NE, .datum_a = arg->value, .datum_b = 0 };
			break;
		case VD_SANDBOX_MASKED_EQ:
			cmps[count++] = (struct scmp_arg_cmp){ .arg = arg->index,
				.op = SCMP_CMP_MASKED_EQ, .datum_a = arg->mask, .datum_b = arg->value };
			break;
		}
	}
	uint32_t action = rule->fail_errno != 0 ? SCMP_ACT_ERRNO((uint32_t)rule->fail_errno) :
		SCMP_ACT_ALLOW;
	int r = seccomp_rule_add_array(ctx, action, nr, count, cmps);
	if (r < 0 && r != -EEXIST) {
		vd_log(VD_ERROR, "%s: cannot add '%s' to the filter: %s", program, rule->name,
			strerror(-r));
		return false;
	}
	return true;
}

#ifdef VD_SANITIZER
/* True if the rules already decide the name entirely: an unconditional
 * allow, or a failure (clone3). Conditional rules get the runtime's rule
 * added (LSan's tracer clones without CLONE_THREAD). */
static bool rules_decide(const struct vd_sandbox_rule *rules, size_t count, const char *name) {
	for (size_t i = 0; i < count; i++) {
		const struct vd_sandbox_rule *rule = &rules[i];
		if (strcmp(rule->name, name) == 0 &&
				(rule->fail_errno != 0 || rule->args[0].cmp == VD_SANDBOX_ANY)) {
			return true;
		}
	}
	return false;
}
#endif

bool vd_sandbox_enter(const struct vd_sandbox_policy *policy, enum vd_seccomp_mode mode) {
	if (mode == VD_SECCOMP_OFF) {
		vd_log(VD_WARN, "--seccomp=off: running without a system call filter");
		return true;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		vd_log_errno(VD_ERROR, "cannot set no_new_privs");
		return false;
	}
	// the log's time stamps (localtime_r) read /etc/localtime once: now, not
	// under the filter (a daemon that logged nothing yet would open it there)
	tzset();
	uint32_t deny = mode == VD_SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx = seccomp_init(deny);
	if (ctx == NULL) {
		vd_log(VD_ERROR, "cannot create a seccomp filter");
		return false;
	}
	bool ok = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) == 0 &&
		// every thread (pango's, glib's, the program's own) gets the filter
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) == 0;
	// No SCMP_FLTATR_CTL_LOG: the kernel logs a kill anyway (kill_process in
	// kernel.seccomp.actions_logged), and the flag would also log every
	// clone3 refused with ENOSYS, one line per new thread.
	for (size_t i = 0; ok && i < BASE_RULE_COUNT; i++) {
		ok = rule_add(ctx, policy->program, &base_rules[i]);
	}
	for (size_t i = 0; ok && i < policy->rule_count; i++) {
		ok = rule_add(ctx, policy->program, &policy->rules[i]);
	}
#ifdef VD_SANITIZER
	for (size_t i = 0; ok && i < SANITIZER_RULE_COUNT; i++) {
		if (!rules_decide(base_rules, BASE_RULE_COUNT, sanitizer_rules[i].name) &&
				!rules_decide(policy->rules, policy->rule_count, sanitizer_rules[i].name)) {
			ok = rule_add(ctx, policy->program, &sanitizer_rules[i]);
		}
	}
#endif
	if (ok) {
		int r = seccomp_load(ctx);
		if (r < 0) {
			vd_log(VD_ERROR, "cannot load the seccomp filter: %s", strerror(-r));
			ok = false;
		}
	}
	seccomp_release(ctx);
	if (ok) {
		vd_log(VD_DEBUG, "seccomp filter loaded (%s, %zu rules)", vd_seccomp_mode_name(mode),
			vd_sandbox_rule_count(policy));
	}
	return ok;
}

#else

bool vd_sandbox_available(void) {
	return false;
}

bool vd_sandbox_enter(const struct vd_sandbox_policy *policy, enum vd_seccomp_mode mode) {
	if (mode == VD_SECCOMP_OFF) {
		return true;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		vd_log_errno(VD_ERROR, "cannot set no_new_privs");
		return false;
	}
	vd_log(VD_WARN, "built without libseccomp: no system call filter (--seccomp=%s)",
		vd_seccomp_mode_name(mode));
	return true;
}

#endif
