#ifndef PROTOCOLS_SANDBOX_H
#define PROTOCOLS_SANDBOX_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The seccomp sandbox every vmdesk daemon enters once its startup is done
 * (sockets open, configuration read): an allowlist of system calls, kill
 * the process on anything else. Each program keeps its reviewed list in
 * one file of its own (proxy/sandbox-proxy.c, ...), as plain data: syscall
 * names, each with at most two argument checks. What every daemon does on
 * its event loop with the fds it holds (epoll, timers, reads and writes,
 * messages on its sockets, memory, time, signal masks, exit) is one shared
 * list in sandbox.c, added to every program's own. Names are resolved with
 * libseccomp when the filter is built, so a list compiles without it.
 *
 * --seccomp=enforce (the default) kills the process on a call outside the
 * list; --seccomp=log allows it and has the kernel log it (SCMP_ACT_LOG:
 * "audit: type=1326 ... syscall=N" in the kernel log); --seccomp=off loads
 * no filter. Every mode but off also sets no_new_privs.
 *
 * Built with a sanitizer (VD_SANITIZER), the sanitizer runtime's own calls
 * (reporting, leak check at exit) are added to every list: see sandbox.c.
 */

enum vd_seccomp_mode {
	VD_SECCOMP_ENFORCE = 0,
	VD_SECCOMP_LOG,
	VD_SECCOMP_OFF,
};

/* How a rule compares one argument: (arg & mask) OP value. */
enum vd_sandbox_cmp {
	VD_SANDBOX_ANY = 0, // no check (unused slot)
	VD_SANDBOX_EQ,
	VD_SANDBOX_NE,
	VD_SANDBOX_MASKED_EQ,
};

struct vd_sandbox_arg {
	enum vd_sandbox_cmp cmp;
	unsigned int index; // 0..5
	uint64_t mask; // VD_SANDBOX_MASKED_EQ only
	uint64_t value;
};

/*
 * One allowed syscall: every given argument check must hold. A name may
 * appear in several rules (any of them allows the call), but then every
 * one of those rules must have checks.
 */
struct vd_sandbox_rule {
	const char *name;
	struct vd_sandbox_arg args[2];
	int fail_errno; // not 0: the call fails with this errno instead of running
};

struct vd_sandbox_policy {
	const char *program;
	const struct vd_sandbox_rule *rules;
	size_t rule_count;
};

#define VD_SANDBOX_ALLOW(syscall) { .name = #syscall }
/* Allowed when the argument checks (VD_SANDBOX_ARG_*) hold. */
#define VD_SANDBOX_ALLOW_IF(syscall, ...) { .name = #syscall, .args = { __VA_ARGS__ } }
/* clone3 takes its flags in memory a filter cannot read: failing it with
 * ENOSYS makes glibc fall back to clone, whose flags the filter checks */
#define VD_SANDBOX_FAIL(syscall, err) { .name = #syscall, .fail_errno = (err) }
#define VD_SANDBOX_ARG_EQ(i, v) { .cmp = VD_SANDBOX_EQ, .index = (i), .value = (v) }
#define VD_SANDBOX_ARG_MASKED_EQ(i, m, v) \
	{ .cmp = VD_SANDBOX_MASKED_EQ, .index = (i), .mask = (m), .value = (v) }

/*
 * open(2) flags that write, create or truncate: a read-only open has none,
 * so (flags & VD_SANDBOX_WRITE_OPEN_FLAGS) == O_RDONLY allows exactly those.
 * Only O_TMPFILE's own bit: glibc's __O_TMPFILE includes O_DIRECTORY, which
 * every opendir() passes (and O_TMPFILE needs write access anyway).
 */
#define VD_SANDBOX_WRITE_OPEN_FLAGS \
	(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (__O_TMPFILE & ~O_DIRECTORY))

/* Parses "enforce", "log" or "off": the argument of every program's --seccomp. */
bool vd_seccomp_parse_mode(const char *str, enum vd_seccomp_mode *mode);
const char *vd_seccomp_mode_name(enum vd_seccomp_mode mode);
/* The help text line(s) of --seccomp, the same in every program. */
#define VD_SECCOMP_USAGE \
	"  --seccomp MODE     system call filter after startup: enforce (default),\n" \
	"                     log (allow and log what it would kill) or off\n"

/* True if this build can load filters (built with libseccomp). */
bool vd_sandbox_available(void);

/*
 * Sets no_new_privs and loads the program's filter on every thread of the
 * process. False (with a log line) if it could not: the caller must exit.
 * With VD_SECCOMP_OFF it only logs that the process runs unfiltered.
 */
bool vd_sandbox_enter(const struct vd_sandbox_policy *policy, enum vd_seccomp_mode mode);

/* Number of rules the policy holds with the shared ones and the build's additions. */
size_t vd_sandbox_rule_count(const struct vd_sandbox_policy *policy);
/* True if a sanitizer runtime's calls are added to every list (see above). */
bool vd_sandbox_sanitizer_build(void);

#endif
