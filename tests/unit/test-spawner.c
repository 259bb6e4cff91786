/*
 * The spawner (protocols/spawner.c): programs start with their fds and
 * environment, in a session of their own, detached or not; exec failures
 * come back as errnos; exits are reported from the daemon's loop; signals
 * reach only programs it started; malformed requests are refused (EINVAL)
 * or, when they cannot be framed, end the spawner, which the daemon sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocols/proc.h"
#include "protocols/spawner-private.h"
#include "protocols/spawner.h"
#include "tests/unit/tap.h"

struct ended {
	pid_t pid;
	int status;
	int count;
	bool lost;
};

static void handle_exited(pid_t pid, int status, void *data) {
	struct ended *e = data;
	e->pid = pid;
	e->status = status;
	e->count++;
}

static void handle_lost(void *data) {
	struct ended *e = data;
	e->lost = true;
}

/* Runs the loop until cond holds (at most ~20 s; the test then fails). */
#define DISPATCH_UNTIL(loop, cond) \
	do { \
		for (int _i = 0; _i < 2000 && !(cond); _i++) { \
			wl_event_loop_dispatch(loop, 10); \
		} \
	} while (0)

static bool test_wait_fds_env_and_status(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct ended e = {0};
	struct vd_spawner *s = vd_spawner_create(loop, handle_exited, handle_lost, &e, NULL);
	CHECK(s != NULL, "no spawner");
	int out[2];
	CHECK(pipe2(out, O_CLOEXEC) == 0, "pipe");
	char *argv[] = {"sh", "-c", "echo \"$VD_TEST_VAR:$(pwd)\"; exit 3", NULL};
	const char *env[] = {"VD_TEST_VAR=hello=world"};
	struct vd_spawn req = {.argv = argv, .env = env, .env_count = 1,
		.flags = VD_SPAWN_SEARCH_PATH | VD_SPAWN_CHDIR_HOME, .fds = {-1, out[1], -1}};
	struct vd_spawn_result r;
	int err = 0;
	CHECK(vd_spawner_spawn(s, &req, &r, &err), "spawn: %s", strerror(err));
	close(out[1]);
	CHECK(r.pid > 0 && r.pgid == r.pid && r.pidfd == -1, "pid %d pgid %d", r.pid, r.pgid);
	char buf[256] = {0};
	ssize_t n = 0, got;
	while ((got = read(out[0], buf + n, sizeof(buf) - 1 - (size_t)n)) > 0) {
		n += got;
	}
	close(out[0]);
	CHECK(strncmp(buf, "hello=world:", 12) == 0, "output '%s'", buf);
	DISPATCH_UNTIL(loop, e.count == 1);
	CHECK(e.count == 1 && e.pid == r.pid && WIFEXITED(e.status) && WEXITSTATUS(e.status) == 3,
		"exit of %d: count %d pid %d status 0x%x", r.pid, e.count, e.pid, e.status);
	// it ran in a session of its own: not ours
	CHECK(!e.lost, "spawner lost");
	vd_spawner_destroy(s);
	wl_event_loop_destroy(loop);
	return true;
}

/* Start times come from the spawner, for a daemon that reads no /proc itself. */
static bool test_start_times(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct ended e = {0};
	struct vd_spawner *s = vd_spawner_create(loop, handle_exited, handle_lost, &e, NULL);
	CHECK(s != NULL, "no spawner");
	unsigned long long mine, theirs, again;
	int err = 0;
	CHECK(vd_proc_start_time(getpid(), &mine), "our own start time");
	CHECK(vd_spawner_start_time(s, getpid(), &theirs, &err) && theirs == mine,
		"the spawner says %llu, /proc %llu (%s)", theirs, mine, strerror(err));
	char *argv[] = {"sleep", "10", NULL};
	struct vd_spawn req = {.argv = argv, .flags = VD_SPAWN_SEARCH_PATH, .fds = {-1, -1, -1}};
	struct vd_spawn_result r;
	CHECK(vd_spawner_spawn(s, &req, &r, &err), "spawn: %s", strerror(err));
	CHECK(vd_proc_start_time(r.pid, &again) && r.start == again && r.start >= mine,
		"the program's start time %llu, /proc %llu", r.start, again);
	CHECK(vd_spawner_signal(s, r.pid, SIGKILL, false, &err), "kill: %s", strerror(err));
	DISPATCH_UNTIL(loop, e.count == 1);
	CHECK(e.count == 1, "not reaped");
	CHECK(!vd_spawner_start_time(s, r.pid, &again, &err) && err == ESRCH, "a reaped pid: %s",
		strerror(err));
	CHECK(!vd_spawner_start_time(s, 0, &again, &err) && err == EINVAL, "pid 0: %s",
		strerror(err));
	CHECK(!e.lost, "spawner lost");
	vd_spawner_destroy(s);
	wl_event_loop_destroy(loop);
	return true;
}

static bool refuse_all(const char *exe, const char *cmdline, size_t len, void *data, char *why,
		size_t why_size) {
	(void)exe;
	(void)cmdline;
	(void)len;
	(*(int *)data)++;
	snprintf(why, why_size, "the test's guard refuses all");
	return false;
}

/* A pidfd of a process the spawner did not start: opened by it, as its guard says. */
static bool test_adopt(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct ended e = {0};
	struct vd_spawner *s = vd_spawner_create(loop, handle_exited, handle_lost, &e, NULL);
	int asked = 0;
	const struct vd_spawner_guard guard = {.adopt = refuse_all, .data = &asked};
	struct vd_spawner *guarded = vd_spawner_create(loop, handle_exited, handle_lost, &e,
		&guard);
	CHECK(s != NULL && guarded != NULL, "no spawner");
	pid_t other = fork();
	if (other == 0) {
		pause();
		_exit(0);
	}
	CHECK(other > 0, "fork");
	unsigned long long start, mine;
	int pidfd = -1, err = 0;
	CHECK(vd_spawner_adopt(s, other, &pidfd, &start, &err), "adopt: %s", strerror(err));
	CHECK(vd_proc_start_time(other, &mine) && start == mine && pidfd >= 0,
		"start %llu, /proc %llu, pidfd %d", start, mine, pidfd);
	CHECK(pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == 0, "signal through the pidfd");
	CHECK(waitpid(other, NULL, 0) == other, "reap");
	close(pidfd);
	CHECK(!vd_spawner_adopt(s, other, &pidfd, &start, &err) && err == ESRCH && pidfd == -1,
		"a reaped pid: %s", strerror(err));
	CHECK(!vd_spawner_adopt(s, 1, &pidfd, &start, &err) && err == EINVAL, "pid 1: %s",
		strerror(err));
	// a guard that refuses: EPERM, asked once, and no pidfd
	CHECK(!vd_spawner_adopt(guarded, getpid(), &pidfd, &start, &err) && err == EPERM &&
		pidfd == -1, "refused: %s", strerror(err));
	CHECK(!e.lost, "spawner lost");
	vd_spawner_destroy(guarded);
	vd_spawner_destroy(s);
	wl_event_loop_destroy(loop);
	return true;
}

static bool test_exec_failures(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct ended e = {0};
	struct vd_spawner *s = vd_spawner_create(loop, handle_exited, handle_lost, &e, NULL);
	struct vd_spawn_result r;
	int err = 0;
	char *missing[] = {"/nonexistent/program", NULL};
	struct vd_spawn req = {.argv = missing, .fds = {-1, -1, -1}};
	CHECK(!vd_spawner_spawn(s, &req, &r, &err) && err == ENOENT, "err %d", err);
	char *not_in_path[] = {"vmdesk-no-such-program", NULL};
	req = (struct vd_spawn){.argv = not_in_path, .flags = VD_SPAWN_SEARCH_PATH,
		.fds = {-1, -1, -1}};
	CHECK(!vd_spawner_spawn(s, &req, &r, &err) && err == ENOENT, "err %d", err);
	req.flags = VD_SPAWN_SEARCH_PATH | VD_SPAWN_DETACH; // detached: the same answer
	CHECK(!vd_spawner_spawn(s, &req, &r, &err) && err == ENOENT, "err %d", err);
	char *dir[] = {"/", NULL};
	req = (struct vd_spawn){.argv = dir, .fds = {-1, -1, -1}};
	CHECK(!vd_spawner_spawn(s, &req, &r, &err) && err == EACCES, "err %d", err);
	// caps, checked before anything is sent
	char *none[] = {NULL};
	req = (struct vd_spawn){.argv = none, .fds = {-1, -1, -1}};
	CHECK(!vd_spawner_spawn(s, &req, &r, &err) && err == E2BIG, "empty argv: %d", err);
	char **many = calloc(VD_SPAWNER_MAX_ARGS + 2, sizeof(*many));
	for (size_t i = 0; i <= VD_SPAWNER_MAX_ARGS; i++) {
		many[i] = "x";
	}
	req = (struct vd_spawn){.argv = many, .fds = {-1, -1, -1}};
	CHECK(!vd_spawner_spawn(s, &req, &r, &err) && err == E2BIG, "too many args: %d", err);
	free(many);
	// and it still works
	char *ok[] = {"/bin/true", NULL};
	req = (struct vd_spawn){.argv = ok, .flags = VD_SPAWN_PIDFD, .fds = {-1, -1, -1}};
	CHECK(vd_spawner_spawn(s, &req, &r, &err), "true: %s", strerror(err));
	CHECK(r.pidfd >= 0, "no pidfd");
	close(r.pidfd);
	DISPATCH_UNTIL(loop, e.count == 1);
	CHECK(e.count == 1 && e.pid == r.pid && WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0,
		"count %d status 0x%x", e.count, e.status);
	vd_spawner_destroy(s);
	wl_event_loop_destroy(loop);
	return true;
}

static bool test_detached_and_signals(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct ended e = {0};
	struct vd_spawner *s = vd_spawner_create(loop, handle_exited, handle_lost, &e, NULL);
	struct vd_spawn_result r;
	int err = 0;
	char *argv[] = {"sleep", "100", NULL};
	struct vd_spawn req = {.argv = argv, .flags = VD_SPAWN_SEARCH_PATH | VD_SPAWN_DETACH,
		.fds = {-1, VD_SPAWN_INHERIT, VD_SPAWN_INHERIT}};
	CHECK(vd_spawner_spawn(s, &req, &r, &err), "spawn: %s", strerror(err));
	// the program's group is the process that detached it
	CHECK(r.pid > 0 && r.pgid > 0 && r.pgid != r.pid, "pid %d pgid %d", r.pid, r.pgid);
	CHECK(getpgid(r.pid) == r.pgid, "getpgid %d", getpgid(r.pid));
	// no signal for a process it did not start, or to a bad number
	CHECK(!vd_spawner_signal(s, getpid(), 0, false, &err) && err == ESRCH, "err %d", err);
	CHECK(!vd_spawner_signal(s, r.pid, 1000, false, &err) && err == EINVAL, "err %d", err);
	CHECK(vd_spawner_signal(s, r.pid, SIGTERM, true, &err), "signal: %s", strerror(err));
	DISPATCH_UNTIL(loop, e.count == 1);
	CHECK(e.count == 1 && e.pid == r.pid && WIFSIGNALED(e.status) &&
		WTERMSIG(e.status) == SIGTERM, "count %d status 0x%x", e.count, e.status);
	// reaped: no more signals for it
	CHECK(!vd_spawner_signal(s, r.pid, SIGTERM, false, &err) && err == ESRCH, "err %d", err);
	vd_spawner_destroy(s);
	wl_event_loop_destroy(loop);
	return true;
}

/*
 * Sends a request of the wire (spawner-private.h) as it is, header and body;
 * the reply's errno, or -1 if the spawner hung up.
 */
static int raw(struct vd_spawner *s, const struct request *req, const void *body,
		size_t len) {
	int fd = vd_spawner_request_fd(s);
	if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req) ||
			(len > 0 && send(fd, body, len, MSG_NOSIGNAL) != (ssize_t)len)) {
		return -1;
	}
	struct reply reply;
	if (recv(fd, &reply, sizeof(reply), MSG_WAITALL) != (ssize_t)sizeof(reply)) {
		return -1;
	}
	return reply.err;
}

static bool test_malformed_requests(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct ended e = {0};
	struct vd_spawner *s = vd_spawner_create(loop, handle_exited, handle_lost, &e, NULL);
	static const char two[] = "/bin/true\0x=1";
	struct request req = {.type = REQUEST_SPAWN, .argc = 1, .envc = 1, .size = sizeof(two)};
	CHECK(raw(s, &req, two, sizeof(two)) == 0, "a good raw request refused");
	DISPATCH_UNTIL(loop, e.count == 1);
	// framed but wrong: EINVAL, and the spawner goes on
	struct {
		const char *what;
		struct request req;
		const char *body;
		size_t len;
	} bad[] = {
		{"no argv", {.type = REQUEST_SPAWN, .argc = 0, .size = 2}, "x", 2},
		{"more strings than said", {.type = REQUEST_SPAWN, .argc = 1, .size = 4}, "a\0b", 4},
		{"fewer strings than said", {.type = REQUEST_SPAWN, .argc = 2, .size = 2}, "a", 2},
		{"no NUL at the end", {.type = REQUEST_SPAWN, .argc = 1, .size = 3}, "abc", 3},
		{"env without =", {.type = REQUEST_SPAWN, .argc = 1, .envc = 1, .size = 4}, "a\0b", 4},
		{"env without a name", {.type = REQUEST_SPAWN, .argc = 1, .envc = 1, .size = 5}, "a\0=b", 5},
		{"unknown flags", {.type = REQUEST_SPAWN, .flags = 0x100, .argc = 1, .size = 2}, "a", 2},
		{"fds said, none sent", {.type = REQUEST_SPAWN, .argc = 1, .fd_mask = 1, .size = 2}, "a", 2},
		{"an fd both sent and inherited",
			{.type = REQUEST_SPAWN, .argc = 1, .inherit_mask = 8, .size = 2}, "a", 2},
		{"too many args", {.type = REQUEST_SPAWN, .argc = VD_SPAWNER_MAX_ARGS + 1, .size = 2}, "a", 2},
		{"too much env", {.type = REQUEST_SPAWN, .argc = 1, .envc = VD_SPAWNER_MAX_ENV + 1, .size = 2},
			"a", 2},
		{"a signal out of range", {.type = REQUEST_SIGNAL, .pid = 1, .signo = -1}, NULL, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = raw(s, &bad[i].req, bad[i].body, bad[i].len);
		CHECK(r == EINVAL, "%s: %d", bad[i].what, r);
	}
	struct request init = {.type = REQUEST_SIGNAL, .pid = 1, .signo = SIGTERM};
	CHECK(raw(s, &init, NULL, 0) == ESRCH, "init signalled");
	CHECK(!e.lost, "lost on a framed request");
	// not framed: a size over the cap ends the spawner, and the daemon hears it
	req = (struct request){.type = REQUEST_SPAWN, .argc = 1, .size = VD_SPAWNER_MAX_STRINGS + 1};
	CHECK(raw(s, &req, NULL, 0) == -1, "an oversized request was answered");
	DISPATCH_UNTIL(loop, e.lost);
	CHECK(e.lost, "the spawner's end was not noticed");
	char *argv[] = {"/bin/true", NULL};
	struct vd_spawn spawn = {.argv = argv, .fds = {-1, -1, -1}};
	struct vd_spawn_result result;
	int err = 0;
	CHECK(!vd_spawner_spawn(s, &spawn, &result, &err) && err == EPIPE, "err %d", err);
	vd_spawner_destroy(s);
	// an unknown type ends it too
	e = (struct ended){0};
	s = vd_spawner_create(loop, handle_exited, handle_lost, &e, NULL);
	CHECK(raw(s, &(struct request){.type = 77}, NULL, 0) == -1, "type 77 answered");
	DISPATCH_UNTIL(loop, e.lost);
	CHECK(e.lost, "not noticed");
	vd_spawner_destroy(s);
	wl_event_loop_destroy(loop);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_wait_fds_env_and_status),
	TAP_CASE(test_exec_failures),
	TAP_CASE(test_start_times),
	TAP_CASE(test_adopt),
	TAP_CASE(test_detached_and_signals),
	TAP_CASE(test_malformed_requests),
};

TAP_MAIN(cases)
