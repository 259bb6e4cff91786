#define LOG_TAG "sandbox"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "host/clipboard/sandbox-clipd.h"
#include "protocols/landlock.h"
#include "protocols/log.h"
#include "protocols/path.h"

/*
 * The reviewed list of system calls vmdesk-clipd makes after startup
 * (README, "Sandbox"): it serves proxies and vmdesk-clip on its socket,
 * (re)connects to the host compositor and the session bus, and rereads its
 * policy file when it changes. It never writes or creates a file, opens a
 * socket but AF_UNIX, execs, or signals another process.
 */


static const struct vd_sandbox_rule rules[] = {
	// (besides the shared list of protocols/sandbox.c: event loop, I/O on its
	// fds, messages on its sockets, memory, time, signal masks, exit)
	VD_SANDBOX_ALLOW(poll), // libwayland-client and libdbus block briefly in poll
	VD_SANDBOX_ALLOW(ppoll),
	// link, Wayland and D-Bus messages (with fds) on its sockets
	VD_SANDBOX_ALLOW(recvfrom),
	VD_SANDBOX_ALLOW(getsockname),
	VD_SANDBOX_ALLOW(getpeername),
	// the host compositor and the session bus, when they (re)appear: Unix only
	VD_SANDBOX_ALLOW_IF(socket, VD_SANDBOX_ARG_EQ(0, AF_UNIX)),
	VD_SANDBOX_ALLOW(connect),
	// the policy file, reread when it changes; read-only, never creating
	VD_SANDBOX_ALLOW_IF(openat, VD_SANDBOX_ARG_MASKED_EQ(2, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	VD_SANDBOX_ALLOW_IF(open, VD_SANDBOX_ARG_MASKED_EQ(1, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	VD_SANDBOX_ALLOW(access),
	// threads, if a library starts one
	VD_SANDBOX_ALLOW_IF(clone, VD_SANDBOX_ARG_MASKED_EQ(0, CLONE_THREAD, CLONE_THREAD)),
	VD_SANDBOX_FAIL(clone3, ENOSYS),
	VD_SANDBOX_ALLOW(set_robust_list),
	VD_SANDBOX_ALLOW(rseq),
	VD_SANDBOX_ALLOW_IF(prctl, VD_SANDBOX_ARG_EQ(0, PR_SET_NAME)),
	// ids (libdbus's authentication)
	VD_SANDBOX_ALLOW(getuid),
	VD_SANDBOX_ALLOW(geteuid),
	VD_SANDBOX_ALLOW(getgid),
	VD_SANDBOX_ALLOW(getegid),
};

const struct vd_sandbox_policy clipd_sandbox_policy = {
	.program = "vmdesk-clipd",
	.rules = rules,
	.rule_count = sizeof(rules) / sizeof(rules[0]),
};

void clipd_sandbox_confine_files(const char *socket_path, const char *policy_path) {
	struct vd_landlock_rule rules[2];
	size_t n = 0;
	char policy_dir[PATH_MAX], socket_dir[PATH_MAX];
	if (vd_path_dir(policy_path, policy_dir, sizeof(policy_dir))) {
		rules[n++] = (struct vd_landlock_rule){policy_dir, VD_LANDLOCK_READ};
	}
	if (socket_path != NULL && socket_path[0] != '\0' &&
			vd_path_dir(socket_path, socket_dir, sizeof(socket_dir))) {
		rules[n++] = (struct vd_landlock_rule){socket_dir, VD_LANDLOCK_REMOVE};
	}
	if (!vd_landlock_confine(rules, n, true)) {
		vd_log(VD_WARN, "files are not confined (Landlock): see the README, Sandbox");
	}
}
