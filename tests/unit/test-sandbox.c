/*
 * The seccomp module and the programs' lists (protocols/sandbox.c,
 * proxy/sandbox-proxy.c, host/clipboard/sandbox-clipd.c,
 * guest/wayland/sandbox-guest-wayland.c, guest/sandbox-guestd.c,
 * host/sandbox-hostd.c): every list loads
 * (each name resolves), what a list allows runs and what it leaves out
 * kills. Each case runs in a child, since a filter cannot be taken back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/sandbox-guestd.h"
#include "guest/wayland/sandbox-guest-wayland.h"
#include "host/clipboard/sandbox-clipd.h"
#include "host/sandbox-hostd.h"
#include "host/sandbox-menu-writer.h"
#include "protocols/landlock.h"
#include "protocols/log.h"
#include "protocols/sandbox.h"
#include "proxy/sandbox-proxy.h"
#include "tests/unit/tap.h"

enum action {
	ACT_NOTHING,
	ACT_UNIX_SOCKET,
	ACT_INET_SOCKET,
	ACT_INET6_SOCKET,
	ACT_OPEN_READ,
	ACT_OPEN_WRITE,
	ACT_EXECVE,
	ACT_CLONE3_THREAD,
	ACT_FORK,
	ACT_KILL_PARENT,
	ACT_OPEN_PORT,
	ACT_OPEN_DIR,
	ACT_WAIT_PARENT,
	ACT_OPEN_READ_RAW,
	ACT_VSOCK_SOCKET,
	ACT_ISATTY,
	ACT_PIDFD_OPEN,
};

static pid_t parent; // set before the fork: getppid is not on every list
static int null_fd = -1; // /dev/null, opened before the filter (ACT_ISATTY)

static void *thread_main(void *data) {
	return data;
}

/* In the child, after the filter: 0 if the action did what it should. */
static int act(enum action action) {
	int fd;
	switch (action) {
	case ACT_NOTHING:
		return 0;
	case ACT_UNIX_SOCKET:
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		return fd >= 0 ? 0 : 1;
	case ACT_INET_SOCKET:
		return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 2 : 3;
	case ACT_INET6_SOCKET:
		return socket(AF_INET6, SOCK_DGRAM, 0) >= 0 ? 2 : 3;
	case ACT_OPEN_READ:
		fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		return fd >= 0 ? 0 : 4;
	case ACT_OPEN_WRITE:
		// the raw call: a sanitizer runtime may make open() an open(2)
		return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY | O_CLOEXEC) >= 0 ? 5 : 6;
	case ACT_EXECVE: {
		char *argv[] = { "true", NULL };
		execve("/bin/true", argv, argv + 1);
		return 7;
	}
	case ACT_CLONE3_THREAD: {
		// clone3 fails with ENOSYS; pthread_create falls back to clone
		errno = 0;
		long r = syscall(SYS_clone3, NULL, 0);
		if (r != -1 || errno != ENOSYS) {
			return 8;
		}
		pthread_t thread;
		if (pthread_create(&thread, NULL, thread_main, NULL) != 0) {
			return 9;
		}
		return pthread_join(thread, NULL) == 0 ? 0 : 10;
	}
	case ACT_FORK:
		// glibc's fork is clone without CLONE_THREAD
		return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) >= 0 ? 11 : 12;
	case ACT_KILL_PARENT:
		return kill(parent, 0) == 0 ? 13 : 14;
	case ACT_OPEN_PORT:
		// as vd_transport_open_serial() opens a virtio-serial port (the raw call,
		// as glibc's open() makes it)
		return syscall(SYS_openat, AT_FDCWD, "/dev/null",
			O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) >= 0 ? 0 : 15;
	case ACT_OPEN_DIR:
		// opendir()'s flags: O_DIRECTORY is no write flag (glibc's __O_TMPFILE has it)
		return syscall(SYS_openat, AT_FDCWD, "/proc/self",
			O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_DIRECTORY) >= 0 ? 0 : 18;
	case ACT_PIDFD_OPEN:
		return syscall(SYS_pidfd_open, parent, 0) >= 0 ? 20 : 21;
	case ACT_WAIT_PARENT:
		// not our child: ECHILD, if the call is allowed at all
		return wait4(parent, NULL, WNOHANG, NULL) < 0 && errno == ECHILD ? 0 : 19;
	case ACT_VSOCK_SOCKET:
		// allowed is what counts: without a vsock transport it fails, alive
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		return fd >= 0 || errno == EAFNOSUPPORT || errno == ENODEV ? 0 : 20;
	case ACT_ISATTY: {
		// glibc's stdio buffering a stream on /dev/null asks isatty (ioctl
		// TCGETS): the answer is "no terminal", not a kill
		errno = 0;
		bool tty = isatty(null_fd);
		return !tty && errno == ENOTTY ? 0 : 22;
	}
	case ACT_OPEN_READ_RAW:
		return syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC) >= 0 ?
			16 : 17;
	}
	return 99;
}

/* Runs action under the policy in a child; its wait status. */
static int run_sandboxed(const struct vd_sandbox_policy *policy, enum action action) {
	fflush(stdout);
	parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		if (!vd_sandbox_enter(policy, VD_SECCOMP_ENFORCE)) {
			_exit(100);
		}
		_exit(act(action));
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	return status;
}

#define CHECK_EXITS_0(policy, action) \
	do { \
		int _s = run_sandboxed(policy, action); \
		CHECK(WIFEXITED(_s) && WEXITSTATUS(_s) == 0, "%s: status 0x%x (exit %d, signal %d)", \
			#action, _s, WIFEXITED(_s) ? WEXITSTATUS(_s) : -1, \
			WIFSIGNALED(_s) ? WTERMSIG(_s) : 0); \
	} while (0)

#define CHECK_KILLED(policy, action) \
	do { \
		int _s = run_sandboxed(policy, action); \
		CHECK(WIFSIGNALED(_s) && WTERMSIG(_s) == SIGSYS, "%s: status 0x%x, not SIGSYS", \
			#action, _s); \
	} while (0)

/* Sanitizer builds add the runtime's calls, fork-like clone and kill among
 * them (LeakSanitizer's tracer): those two checks hold in plain builds only. */

static bool test_parse_modes(void) {
	enum vd_seccomp_mode mode = VD_SECCOMP_OFF;
	CHECK(vd_seccomp_parse_mode("enforce", &mode) && mode == VD_SECCOMP_ENFORCE, "enforce");
	CHECK(vd_seccomp_parse_mode("log", &mode) && mode == VD_SECCOMP_LOG, "log");
	CHECK(vd_seccomp_parse_mode("off", &mode) && mode == VD_SECCOMP_OFF, "off");
	const char *bad[] = { "", "Enforce", "on", "kill", "log ", "offf", "enforce\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!vd_seccomp_parse_mode(bad[i], &mode), "'%s' accepted", bad[i]);
	}
	CHECK_STR(vd_seccomp_mode_name(VD_SECCOMP_LOG), "log");
	return true;
}

static bool test_proxy_allows_its_calls(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	const struct vd_sandbox_policy *p = proxy_sandbox_policy(0);
	CHECK_EXITS_0(p, ACT_NOTHING);
	CHECK_EXITS_0(p, ACT_UNIX_SOCKET);
	CHECK_EXITS_0(p, ACT_OPEN_READ);
	CHECK_EXITS_0(p, ACT_OPEN_DIR);
	CHECK_EXITS_0(p, ACT_CLONE3_THREAD);
	return true;
}

static bool test_proxy_kills_the_rest(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	const struct vd_sandbox_policy *p = proxy_sandbox_policy(0);
	CHECK_KILLED(p, ACT_INET_SOCKET);
	CHECK_KILLED(p, ACT_INET6_SOCKET);
	CHECK_KILLED(p, ACT_OPEN_WRITE);
	CHECK_KILLED(p, ACT_EXECVE);
	if (!vd_sandbox_sanitizer_build()) {
		CHECK_KILLED(p, ACT_FORK);
		CHECK_KILLED(p, ACT_KILL_PARENT); // no command: it signals nobody
	}
	return true;
}

static bool test_proxy_signals_only_its_command(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	// the child's parent is this process: as the "command" it may be signalled
	int s = run_sandboxed(proxy_sandbox_policy(getpid()), ACT_KILL_PARENT);
	CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 13, "kill of the command: status 0x%x", s);
	if (!vd_sandbox_sanitizer_build()) {
		CHECK_KILLED(proxy_sandbox_policy(getpid() + 1), ACT_KILL_PARENT);
	}
	return true;
}

static bool test_clipd_allows_and_kills(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	const struct vd_sandbox_policy *p = &clipd_sandbox_policy;
	CHECK_EXITS_0(p, ACT_NOTHING);
	CHECK_EXITS_0(p, ACT_UNIX_SOCKET);
	CHECK_EXITS_0(p, ACT_OPEN_READ);
	CHECK_EXITS_0(p, ACT_OPEN_DIR);
	CHECK_EXITS_0(p, ACT_CLONE3_THREAD);
	CHECK_KILLED(p, ACT_INET_SOCKET);
	CHECK_KILLED(p, ACT_OPEN_WRITE);
	CHECK_KILLED(p, ACT_EXECVE);
	if (!vd_sandbox_sanitizer_build()) {
		CHECK_KILLED(p, ACT_FORK);
		CHECK_KILLED(p, ACT_KILL_PARENT);
	}
	return true;
}

static bool test_guest_wayland_allows_and_kills(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	const struct vd_sandbox_policy *p = guest_wayland_sandbox_policy(false);
	CHECK_EXITS_0(p, ACT_NOTHING);
	CHECK_EXITS_0(p, ACT_CLONE3_THREAD);
	CHECK_KILLED(p, ACT_UNIX_SOCKET); // it accepts; it never makes a socket
	CHECK_KILLED(p, ACT_INET_SOCKET);
	CHECK_KILLED(p, ACT_OPEN_WRITE);
	CHECK_KILLED(p, ACT_OPEN_PORT); // no serial port: no open at all
	CHECK_KILLED(p, ACT_EXECVE);
	if (!vd_sandbox_sanitizer_build()) {
		CHECK_KILLED(p, ACT_OPEN_READ_RAW); // (the sanitizer's reports read files)
		CHECK_KILLED(p, ACT_FORK);
		CHECK_KILLED(p, ACT_KILL_PARENT);
	}
	// on a virtio-serial port: that open, read-write and creating nothing, only
	p = guest_wayland_sandbox_policy(true);
	CHECK_EXITS_0(p, ACT_OPEN_PORT);
	CHECK_KILLED(p, ACT_OPEN_WRITE);
	if (!vd_sandbox_sanitizer_build()) {
		CHECK_KILLED(p, ACT_OPEN_READ_RAW);
	}
	return true;
}

static bool test_guestd_allows_and_kills(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	// the parent stands in for the spawner: the one process it may wait for
	const struct vd_sandbox_policy *p = guestd_sandbox_policy(false, getpid());
	CHECK_EXITS_0(p, ACT_NOTHING);
	CHECK_EXITS_0(p, ACT_UNIX_SOCKET);
	CHECK_EXITS_0(p, ACT_OPEN_READ);
	CHECK_EXITS_0(p, ACT_OPEN_DIR);
	CHECK_EXITS_0(p, ACT_CLONE3_THREAD);
	CHECK_EXITS_0(p, ACT_WAIT_PARENT);
	CHECK_KILLED(p, ACT_INET_SOCKET);
	CHECK_KILLED(p, ACT_INET6_SOCKET);
	CHECK_KILLED(p, ACT_OPEN_WRITE);
	CHECK_KILLED(p, ACT_OPEN_PORT);
	CHECK_KILLED(p, ACT_EXECVE);
	if (!vd_sandbox_sanitizer_build()) {
		CHECK_KILLED(p, ACT_FORK);
		CHECK_KILLED(p, ACT_KILL_PARENT); // programs are signalled by the spawner
		CHECK_KILLED(guestd_sandbox_policy(false, getpid() + 1), ACT_WAIT_PARENT);
	}
	CHECK_EXITS_0(guestd_sandbox_policy(true, getpid()), ACT_OPEN_PORT);
	return true;
}

static bool test_hostd_allows_and_kills(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	// the parent stands in for the spawner: the one process it may wait for
	const struct vd_sandbox_policy *p = hostd_sandbox_policy(getpid(), 0);
	CHECK_EXITS_0(p, ACT_NOTHING);
	CHECK_EXITS_0(p, ACT_UNIX_SOCKET);
	CHECK_EXITS_0(p, ACT_VSOCK_SOCKET);
	CHECK_EXITS_0(p, ACT_OPEN_READ);
	CHECK_EXITS_0(p, ACT_OPEN_DIR);
	CHECK_EXITS_0(p, ACT_WAIT_PARENT);
	// menu entries, icons, state files and logs: writing files is its job
	int s = run_sandboxed(p, ACT_OPEN_WRITE);
	CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 5, "hostd cannot write a file: 0x%x", s);
	CHECK_KILLED(p, ACT_INET_SOCKET);
	CHECK_KILLED(p, ACT_INET6_SOCKET);
	CHECK_KILLED(p, ACT_EXECVE);
	if (!vd_sandbox_sanitizer_build()) {
		CHECK_KILLED(p, ACT_FORK); // its spawner starts every program
		CHECK_KILLED(p, ACT_CLONE3_THREAD); // one thread: not even those
		CHECK_KILLED(p, ACT_KILL_PARENT); // the VMs' processes: by pidfd only
		// and the pidfds come from its spawner: a state file naming another of
		// the user's processes gets no pidfd of it
		CHECK_KILLED(p, ACT_PIDFD_OPEN);
		CHECK_KILLED(hostd_sandbox_policy(getpid() + 1, getpid() + 2), ACT_WAIT_PARENT);
	}
	// the menu writer's pid is the second process it may wait for
	CHECK_EXITS_0(hostd_sandbox_policy(getpid() + 1, getpid()), ACT_WAIT_PARENT);
	return true;
}

static bool test_menu_writer_allows_and_kills(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	const struct vd_sandbox_policy *p = menu_writer_sandbox_policy();
	CHECK_EXITS_0(p, ACT_NOTHING);
	CHECK_EXITS_0(p, ACT_OPEN_READ);
	CHECK_EXITS_0(p, ACT_OPEN_DIR);
	// entries, icons, submenus: writing files is its job (Landlock says where)
	int s = run_sandboxed(p, ACT_OPEN_WRITE);
	CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 5, "the menu writer cannot write a file: 0x%x", s);
	CHECK_KILLED(p, ACT_UNIX_SOCKET); // its one socket is made before the fork
	CHECK_KILLED(p, ACT_INET_SOCKET);
	CHECK_KILLED(p, ACT_EXECVE);
	if (!vd_sandbox_sanitizer_build()) {
		CHECK_KILLED(p, ACT_FORK);
		CHECK_KILLED(p, ACT_KILL_PARENT);
		CHECK_KILLED(p, ACT_WAIT_PARENT);
	}
	return true;
}

/* Runs child(dir) in a child process (Landlock cannot be undone); its wait status. */
static int run_confined(int (*child)(const char *dir), const char *dir) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		_exit(child(dir));
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	return status;
}

/* In a child: confined to dir/in, writes there and tries the rest; 0 if all went as it should. */
static int landlock_child(const char *dir) {
	char in[256], out[256], inside[300], outside[300], moved[300];
	snprintf(in, sizeof(in), "%s/in", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(inside, sizeof(inside), "%s/file", in);
	snprintf(outside, sizeof(outside), "%s/file", out);
	snprintf(moved, sizeof(moved), "%s/moved", out);
	const struct vd_landlock_rule rules[] = {{in, VD_LANDLOCK_WRITE}};
	if (!vd_landlock_confine(rules, 1, false)) {
		return 30;
	}
	int fd = open(inside, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		return 31; // its own directory stays writable
	}
	close(fd);
	if (open(outside, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != EACCES) {
		return 32; // a new file elsewhere
	}
	if (open("/proc/self/status", O_RDONLY | O_CLOEXEC) < 0) {
		return 33; // reading is not Landlock's business
	}
	if (mkdir(moved, 0700) == 0 || rename(inside, moved) == 0) {
		return 34; // nor a directory, nor a file moved out
	}
	if (vd_landlock_abi() >= 4 && (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
		struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(1),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 || errno != EACCES) {
			return 35; // no TCP
		}
	}
	return 0;
}

static bool test_landlock_confines_writes(void) {
	if (vd_landlock_abi() == 0) {
		tap_skip("the kernel offers no Landlock");
		return true;
	}
	char dir[] = "/tmp/vd-landlock-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char in[64], out[64];
	snprintf(in, sizeof(in), "%s/in", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	CHECK(mkdir(in, 0700) == 0 && mkdir(out, 0700) == 0, "mkdir");
	int status = run_confined(landlock_child, dir);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "confined child: status 0x%x",
		status);
	char path[128];
	snprintf(path, sizeof(path), "%s/file", in);
	CHECK(access(path, F_OK) == 0, "the write inside did not land");
	unlink(path);
	snprintf(path, sizeof(path), "%s/file", out);
	CHECK(access(path, F_OK) != 0, "a file was made outside");
	rmdir(in);
	rmdir(out);
	rmdir(dir);
	return true;
}

/* Makes dir/NAME/FILE (and dir/NAME); false on failure. */
static bool make_file(const char *dir, const char *name, const char *file) {
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		return false;
	}
	close(fd);
	return true;
}

static bool can_open(const char *dir, const char *rel, int flags) {
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	int fd = open(path, flags | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	return false;
}

/*
 * In a child: reads confined to dir/in and the file dir/out/single, listing
 * to dir/ls, removals to dir/rm, a missing path among the reads; 0 if all
 * went as it should.
 */
static int landlock_reads_child(const char *dir) {
	char in[256], single[256], ls[256], rm[256], missing[256], path[300];
	snprintf(in, sizeof(in), "%s/in", dir);
	snprintf(ls, sizeof(ls), "%s/ls", dir);
	snprintf(single, sizeof(single), "%s/out/single", dir);
	snprintf(rm, sizeof(rm), "%s/rm", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	const struct vd_landlock_rule rules[] = {
		{in, VD_LANDLOCK_READ}, {single, VD_LANDLOCK_READ}, {missing, VD_LANDLOCK_READ},
		{ls, VD_LANDLOCK_LIST}, {rm, VD_LANDLOCK_REMOVE},
	};
	if (!vd_landlock_confine(rules, sizeof(rules) / sizeof(rules[0]), true)) {
		return 40;
	}
	if (!can_open(dir, "in/file", O_RDONLY) || !can_open(dir, "in", O_RDONLY | O_DIRECTORY)) {
		return 41; // what it may read
	}
	if (!can_open(dir, "out/single", O_RDONLY)) {
		return 42; // a file of its own
	}
	if (!can_open(dir, "ls", O_RDONLY | O_DIRECTORY) || can_open(dir, "ls/file", O_RDONLY) ||
			errno != EACCES) {
		return 48; // a directory it may list, not read
	}
	if (can_open(dir, "out/file", O_RDONLY) || errno != EACCES ||
			can_open(dir, "out", O_RDONLY | O_DIRECTORY) || errno != EACCES ||
			can_open(dir, "rm/file", O_RDONLY)) {
		return 43; // any other file or directory
	}
	snprintf(path, sizeof(path), "%s/out/file", dir);
	if (unlink(path) == 0 || errno != EACCES) {
		return 44; // removing elsewhere
	}
	snprintf(path, sizeof(path), "%s/in/file", dir);
	if (unlink(path) == 0) {
		return 45; // reading is not removing
	}
	snprintf(path, sizeof(path), "%s/rm/file", dir);
	if (unlink(path) != 0) {
		return 46; // where it may remove
	}
	if (can_open(dir, "rm/new", O_WRONLY | O_CREAT)) {
		return 47; // removing is not making
	}
	return 0;
}

static bool test_landlock_confines_reads(void) {
	if (vd_landlock_abi() == 0) {
		tap_skip("the kernel offers no Landlock");
		return true;
	}
	char dir[] = "/tmp/vd-landlock-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	CHECK(make_file(dir, "in", "file") && make_file(dir, "out", "file") &&
		make_file(dir, "out", "single") && make_file(dir, "ls", "file") &&
		make_file(dir, "rm", "file"), "files");
	int status = run_confined(landlock_reads_child, dir);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "confined child: status 0x%x",
		status);
	char path[300];
	snprintf(path, sizeof(path), "%s/out/file", dir);
	CHECK(access(path, F_OK) == 0, "a file outside was removed");
	snprintf(path, sizeof(path), "%s/rm/file", dir);
	CHECK(access(path, F_OK) != 0, "the removal inside did not happen");
	static const char *const leftovers[] = {"in/file", "out/file", "out/single", "ls/file",
		"in", "out", "ls", "rm", ""};
	for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, leftovers[i]);
		(void)(remove(path));
	}
	return true;
}

/* Every daemon survives an ioctl: it fails as on a file that is no terminal. */
static bool test_ioctl_fails_without_a_kill(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	const struct vd_sandbox_policy *policies[] = {proxy_sandbox_policy(0),
		&clipd_sandbox_policy, hostd_sandbox_policy(getpid(), 0), menu_writer_sandbox_policy(),
		guestd_sandbox_policy(false, getpid()), guest_wayland_sandbox_policy(false)};
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(null_fd >= 0, "/dev/null: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		CHECK_EXITS_0(policies[i], ACT_ISATTY);
	}
	close(null_fd);
	return true;
}

static bool test_unknown_name_refused(void) {
	if (!vd_sandbox_available()) {
		tap_skip("built without libseccomp");
		return true;
	}
	static const struct vd_sandbox_rule rules[] = {
		VD_SANDBOX_ALLOW(exit_group),
		{ .name = "no_such_syscall" },
	};
	const struct vd_sandbox_policy policy = { "test", rules, 2 };
	vd_log_set_level(VD_SILENT);
	int s = run_sandboxed(&policy, ACT_NOTHING);
	vd_log_set_level(VD_INFO);
	CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 100, "a list with a typo loaded: 0x%x", s);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_parse_modes),
	TAP_CASE(test_proxy_allows_its_calls),
	TAP_CASE(test_proxy_kills_the_rest),
	TAP_CASE(test_proxy_signals_only_its_command),
	TAP_CASE(test_clipd_allows_and_kills),
	TAP_CASE(test_guest_wayland_allows_and_kills),
	TAP_CASE(test_guestd_allows_and_kills),
	TAP_CASE(test_hostd_allows_and_kills),
	TAP_CASE(test_menu_writer_allows_and_kills),
	TAP_CASE(test_landlock_confines_writes),
	TAP_CASE(test_landlock_confines_reads),
	TAP_CASE(test_ioctl_fails_without_a_kill),
	TAP_CASE(test_unknown_name_refused),
};

TAP_MAIN(cases)
