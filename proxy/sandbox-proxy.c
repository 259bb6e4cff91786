#define LOG_TAG "sandbox"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "decoration/fonts.h"
#include "protocols/landlock.h"
#include "protocols/log.h"
#include "protocols/path.h"
#include "proxy/sandbox-proxy.h"

/*
 * The reviewed list of system calls vmdesk-proxy makes after startup
 * (README, "Sandbox"). What it no longer needs: opening a path for writing
 * or creating one, any socket but AF_UNIX and AF_VSOCK, exec, signals to anyone but its
 * command, ptrace, mount, module, key, bpf and the like.
 */


static struct vd_sandbox_rule rules[] = {
	// (besides the shared list of protocols/sandbox.c: event loop, I/O on its
	// fds, messages on its sockets, memory, time, signal masks, exit)
	// one compositor connection per client, the global clipboard's reconnects,
	// the VM link's redials (--guest: Unix, hybrid vsock or vsock): never the
	// network
	VD_SANDBOX_ALLOW_IF(socket, VD_SANDBOX_ARG_EQ(0, AF_UNIX)),
	VD_SANDBOX_ALLOW_IF(socket, VD_SANDBOX_ARG_EQ(0, AF_VSOCK)),
	VD_SANDBOX_ALLOW(connect),
	// shared memory: frame buffers (memfd), checks of a client's pool size,
	// clipboard pipes between a reader and a source
	VD_SANDBOX_ALLOW(memfd_create),
	VD_SANDBOX_ALLOW(ftruncate),
	// fonts: fontconfig and cairo open a fallback font file when a title
	// needs a script no loaded font has; read-only, never creating
	VD_SANDBOX_ALLOW_IF(openat, VD_SANDBOX_ARG_MASKED_EQ(2, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	VD_SANDBOX_ALLOW_IF(open, VD_SANDBOX_ARG_MASKED_EQ(1, VD_SANDBOX_WRITE_OPEN_FLAGS, O_RDONLY)),
	VD_SANDBOX_ALLOW(pread64),
	VD_SANDBOX_ALLOW(access),
	VD_SANDBOX_ALLOW(readlink),
	VD_SANDBOX_ALLOW(getdents64),
	// threads (glib's and pango's): futexes, a new thread, its exit
	VD_SANDBOX_ALLOW_IF(clone, VD_SANDBOX_ARG_MASKED_EQ(0, CLONE_THREAD, CLONE_THREAD)),
	VD_SANDBOX_FAIL(clone3, ENOSYS),
	VD_SANDBOX_ALLOW(set_robust_list),
	VD_SANDBOX_ALLOW(rseq),
	VD_SANDBOX_ALLOW_IF(prctl, VD_SANDBOX_ARG_EQ(0, PR_SET_NAME)),
	VD_SANDBOX_ALLOW(sched_getaffinity),
	VD_SANDBOX_ALLOW(sched_yield),
	// sleeps
	VD_SANDBOX_ALLOW(clock_nanosleep),
	// the command's exit (SIGCHLD)
	VD_SANDBOX_ALLOW(wait4),
	// at exit: its private directory goes (after its socket and lock file)
	VD_SANDBOX_ALLOW(rmdir),
	// the command it runs, and only it, gets its signals (kept last)
	VD_SANDBOX_ALLOW_IF(kill, VD_SANDBOX_ARG_EQ(0, 0)),
};

#define RULE_COUNT (sizeof(rules) / sizeof(rules[0]))

static struct vd_sandbox_policy policy = {
	.program = "vmdesk-proxy",
	.rules = rules,
};

const struct vd_sandbox_policy *proxy_sandbox_policy(pid_t child) {
	policy.rule_count = RULE_COUNT;
	if (child > 0) {
		rules[RULE_COUNT - 1].args[0].value = (uint64_t)child;
	} else {
		policy.rule_count--; // no command: no kill at all
	}
	return &policy;
}

#define MAX_FONT_PATHS 64

void proxy_sandbox_confine_files(const char *socket_path, const char *private_dir) {
	char *fonts[MAX_FONT_PATHS];
	size_t nfonts = vd_font_paths(fonts, MAX_FONT_PATHS);
	struct vd_landlock_rule rules[MAX_FONT_PATHS + 2];
	size_t n = 0;
	for (size_t i = 0; i < nfonts; i++) {
		rules[n++] = (struct vd_landlock_rule){fonts[i], VD_LANDLOCK_READ};
	}
	char socket_dir[PATH_MAX], parent[PATH_MAX];
	if (vd_path_dir(socket_path, socket_dir, sizeof(socket_dir))) {
		rules[n++] = (struct vd_landlock_rule){socket_dir, VD_LANDLOCK_REMOVE};
	}
	if (vd_path_dir(private_dir, parent, sizeof(parent))) {
		rules[n++] = (struct vd_landlock_rule){parent, VD_LANDLOCK_REMOVE};
	}
	if (!vd_landlock_confine(rules, n, true)) {
		vd_log(VD_WARN, "files are not confined (Landlock): see the README, Sandbox");
	}
	vd_font_paths_free(fonts, nfonts);
}
