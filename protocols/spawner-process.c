#define LOG_TAG "spawner"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/helper.h"
#include "protocols/log.h"
#include "protocols/proc.h"
#include "protocols/spawner-private.h"
#include "protocols/spawner.h"

/*
 * The spawner process, forked by vd_spawner_create before the daemon's
 * seccomp filter: it starts the programs the daemon asks for (so that none
 * runs under the daemon's filter), signals only those, reaps them (and their
 * orphans: it is a subreaper) and reports each end.
 */

struct tracked {
	pid_t pid;
	pid_t pgid;
};

struct spawner_state {
	int req, ev;
	const struct vd_spawner_guard *guard; // NULL: anything the daemon asks
	struct wl_event_source *ev_source; // writable while reports wait
	struct tracked children[VD_SPAWNER_MAX_CHILDREN];
	size_t nchildren;
	struct event queue[VD_SPAWNER_MAX_CHILDREN]; // ended, not yet told
	size_t queued;
};

static void child_report(int fd, int kind, int value) {
	int r[2] = {kind, value};
	(void)!write(fd, r, sizeof(r));
}

/* In the forked program, before exec: async-signal-safe but for setenv (the
 * spawner has one thread). */
static void child_setup(const struct request *req, char **env, const int fds[3], int rep) {
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++) {
		signal(sig, SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, &none, NULL);
	int null_fd = -1;
	for (int i = 0; i < 3; i++) {
		int fd = fds[i];
		if (fd == VD_SPAWN_INHERIT) {
			continue;
		}
		if (fd < 0) {
			if (null_fd < 0) {
				null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
			}
			fd = null_fd;
		}
		if (fd >= 0 && dup2(fd, i) < 0) {
			child_report(rep, 2, errno);
			_exit(127);
		}
	}
	if (req->flags & VD_SPAWN_CHDIR_HOME) {
		const char *home = getenv("HOME");
		if (home == NULL || chdir(home) < 0) {
			(void)!chdir("/");
		}
	}
	setsid();
	for (uint32_t i = 0; i < req->envc; i++) {
		char *eq = strchr(env[i], '=');
		*eq = '\0';
		setenv(env[i], eq + 1, 1);
		*eq = '=';
	}
}

static int spawn_program(struct spawner_state *s, const struct request *req, char **argv,
		char **env, const int fds[3], struct reply *reply) {
	// each program ends in at most one queued report: both fit the caps
	if (s->nchildren + s->queued >= VD_SPAWNER_MAX_CHILDREN) {
		return EAGAIN;
	}
	int rep[2];
	if (pipe2(rep, O_CLOEXEC) < 0) {
		return errno;
	}
	bool detach = req->flags & VD_SPAWN_DETACH;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(rep[0]);
		close(rep[1]);
		return e;
	}
	if (pid == 0) {
		close(rep[0]);
		child_setup(req, env, fds, rep[1]);
		if (detach) {
			pid_t grandchild = fork();
			if (grandchild < 0) {
				child_report(rep[1], 2, errno);
				_exit(1);
			}
			if (grandchild > 0) {
				child_report(rep[1], 1, grandchild);
				_exit(0);
			}
		}
		if (req->flags & VD_SPAWN_SEARCH_PATH) {
			execvp(argv[0], argv);
		} else {
			execv(argv[0], argv);
		}
		child_report(rep[1], 2, errno);
		_exit(127);
	}
	close(rep[1]);
	pid_t target = pid;
	int exec_errno = 0;
	/* the pipe closes at exec: this returns as soon as the program runs */
	for (;;) {
		int r[2];
		ssize_t n = read(rep[0], r, sizeof(r));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n != (ssize_t)sizeof(r)) {
			break;
		}
		if (r[0] == 1) {
			target = r[1];
		} else if (r[0] == 2) {
			exec_errno = r[1];
		}
	}
	close(rep[0]);
	if (detach || exec_errno != 0) {
		// the middle process, or the program that could not exec
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
		}
	}
	if (exec_errno != 0) {
		return exec_errno; // a detached one's is reaped, untracked, as an orphan
	}
	reply->pid = target;
	reply->pgid = pid; // setsid() made it (or the middle process) a group leader
	s->children[s->nchildren++] = (struct tracked){.pid = target, .pgid = pid};
	return 0;
}

static struct tracked *find_child(struct spawner_state *s, pid_t pid) {
	for (size_t i = 0; i < s->nchildren; i++) {
		if (s->children[i].pid == pid) {
			return &s->children[i];
		}
	}
	return NULL;
}

/* Checks the strings of a spawn request: exactly argc + envc of them, each
 * environment entry NAME=VALUE with a name. */
static bool split_strings(char *buf, uint32_t size, uint32_t argc, uint32_t envc,
		char **argv, char **env) {
	uint32_t count = 0, pos = 0;
	while (pos < size) {
		char *s = buf + pos;
		char *end = memchr(s, '\0', size - pos);
		if (end == NULL || count >= argc + envc) {
			return false;
		}
		if (count < argc) {
			argv[count] = s;
		} else {
			char *eq = strchr(s, '=');
			if (eq == NULL || eq == s) {
				return false;
			}
			env[count - argc] = s;
		}
		count++;
		pos = (uint32_t)(end - buf) + 1;
	}
	if (count != argc + envc) {
		return false;
	}
	argv[argc] = NULL;
	return true;
}

/* The guard's word on a framed request (a refusal is logged, with the program). */
static bool guard_allows(struct spawner_state *s, const struct request *req, char **argv,
		char **env, const int stdio[3]) {
	if (s->guard == NULL) {
		return true;
	}
	struct vd_spawn spawn = {
		.argv = argv,
		.env = (const char *const *)env,
		.env_count = req->envc,
		.flags = req->flags,
		.fds = {stdio[0], stdio[1], stdio[2]},
	};
	char why[512] = "";
	if (s->guard->allow(&spawn, s->guard->data, why, sizeof(why))) {
		return true;
	}
	vd_log(VD_WARN, "refused to start %.200s%s (%u arguments): %s", argv[0],
		strlen(argv[0]) > 200 ? "..." : "", req->argc, why);
	return false;
}

/* The longest argv of a process to adopt (a VMM's runs to a few KB). */
#define MAX_ADOPT_CMDLINE (256u * 1024u)

/*
 * A pidfd of pid, if the guard allows what it runs. The pidfd is opened
 * first and what the process runs read after: if the pid was reused in
 * between, the pidfd names a process that ended (harmless to signal) and
 * the start time is the new one's, which the daemon compares with its own.
 */
static int adopt_process(struct spawner_state *s, pid_t pid, struct reply *reply,
		int *pidfd) {
	int fd = pidfd_open(pid, 0);
	if (fd < 0) {
		return errno == EINVAL ? ESRCH : errno;
	}
	int err = 0;
	unsigned long long start;
	char exe[PATH_MAX];
	char *cmdline = malloc(MAX_ADOPT_CMDLINE);
	size_t len = 0;
	if (cmdline == NULL) {
		err = ENOMEM;
	} else if (!vd_proc_start_time(pid, &start) || !vd_proc_exe(pid, exe, sizeof(exe)) ||
			!vd_proc_cmdline(pid, cmdline, MAX_ADOPT_CMDLINE, &len)) {
		err = ESRCH; // gone, or nothing a guard could judge
	} else if (s->guard != NULL) {
		char why[512] = "";
		if (s->guard->adopt == NULL ||
				!s->guard->adopt(exe, cmdline, len, s->guard->data, why, sizeof(why))) {
			vd_log(VD_WARN, "refused to adopt pid %d (%.200s): %s", (int)pid, exe,
				s->guard->adopt == NULL ? "this daemon adopts nothing" : why);
			err = EPERM;
		}
	}
	free(cmdline);
	if (err != 0) {
		close(fd);
		return err;
	}
	reply->pid = pid;
	reply->start = start;
	reply->has_pidfd = 1;
	*pidfd = fd;
	return 0;
}

/* One request; false if it could not be framed (the spawner then ends). */
static bool serve_request(struct spawner_state *s) {
	struct request req;
	int fds[3];
	size_t nfds = 0;
	bool fds_bad = false;
	if (!spawner_recv_all(s->req, &req, sizeof(req), fds, 3, &nfds, &fds_bad)) {
		for (size_t i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return false;
	}
	bool fds_ok = !fds_bad;
	struct reply reply = {.err = 0, .pid = -1, .pgid = -1};
	int pidfd = -1;
	char *strings = NULL;
	char **argv = NULL, **env = NULL;
	bool framed = true;
	switch (req.type) {
	case REQUEST_SIGNAL: {
		struct tracked *child = find_child(s, req.pid);
		if (!fds_ok || nfds != 0 || req.signo < 0 || req.signo >= NSIG) {
			reply.err = EINVAL;
		} else if (child == NULL || req.pid <= 0) {
			reply.err = ESRCH;
		} else if (kill(req.flags & 1 ? -child->pgid : child->pid, req.signo) < 0) {
			reply.err = errno;
		}
		break;
	}
	case REQUEST_START_TIME: {
		unsigned long long start;
		if (!fds_ok || nfds != 0 || req.pid <= 0) {
			reply.err = EINVAL;
		} else if (!vd_proc_start_time(req.pid, &start)) {
			reply.err = ESRCH;
		} else {
			reply.start = start;
		}
		break;
	}
	case REQUEST_ADOPT:
		if (!fds_ok || nfds != 0 || req.pid <= 1) {
			reply.err = EINVAL;
		} else {
			reply.err = adopt_process(s, req.pid, &reply, &pidfd);
		}
		break;
	case REQUEST_SPAWN: {
		// the frame: the strings' size is checked before anything is read
		if (req.size == 0 || req.size > VD_SPAWNER_MAX_STRINGS) {
			framed = false;
			break;
		}
		strings = malloc(req.size);
		if (strings == NULL || !spawner_recv_all(s->req, strings, req.size, fds, 3, &nfds, &fds_bad)) {
			framed = false;
			break;
		}
		size_t want = (size_t)__builtin_popcount(req.fd_mask & 7u);
		if (!fds_ok || fds_bad || (req.fd_mask & ~7u) != 0 || (req.inherit_mask & ~7u) != 0 ||
				(req.fd_mask & req.inherit_mask) != 0 || nfds != want ||
				(req.flags & ~VD_SPAWN_FLAGS_ALL) != 0 || req.argc == 0 ||
				req.argc > VD_SPAWNER_MAX_ARGS || req.envc > VD_SPAWNER_MAX_ENV) {
			reply.err = EINVAL;
			break;
		}
		argv = calloc(req.argc + 1, sizeof(*argv));
		env = calloc(req.envc + 1, sizeof(*env));
		if (argv == NULL || env == NULL) {
			reply.err = ENOMEM;
			break;
		}
		if (!split_strings(strings, req.size, req.argc, req.envc, argv, env)) {
			reply.err = EINVAL;
			break;
		}
		int stdio[3] = {-1, -1, -1};
		for (size_t i = 0, next = 0; i < 3; i++) {
			if (req.fd_mask & (1u << i)) {
				stdio[i] = fds[next++];
			} else if (req.inherit_mask & (1u << i)) {
				stdio[i] = VD_SPAWN_INHERIT;
			}
		}
		if (!guard_allows(s, &req, argv, env, stdio)) {
			reply.err = EPERM;
			break;
		}
		reply.err = spawn_program(s, &req, argv, env, stdio, &reply);
		unsigned long long start;
		if (reply.err == 0 && vd_proc_start_time(reply.pid, &start)) {
			reply.start = start; // else it ended already: its report is on the way
		}
		if (reply.err == 0 && (req.flags & VD_SPAWN_PIDFD)) {
			pidfd = pidfd_open(reply.pid, 0);
			reply.has_pidfd = pidfd >= 0;
		}
		break;
	}
	default:
		framed = false;
		break;
	}
	for (size_t i = 0; i < nfds; i++) {
		close(fds[i]);
	}
	free(argv);
	free(env);
	free(strings);
	if (!framed) {
		return false;
	}
	bool sent = spawner_send_all(s->req, &reply, sizeof(reply), &pidfd, pidfd >= 0 ? 1 : 0);
	if (pidfd >= 0) {
		close(pidfd);
	}
	return sent;
}

static void reap(struct spawner_state *s) {
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			return;
		}
		struct tracked *child = find_child(s, pid);
		if (child == NULL) {
			continue; // an orphan of a program (we are a subreaper): nobody asked
		}
		*child = s->children[--s->nchildren];
		s->queue[s->queued++] = (struct event){.pid = pid, .status = status};
	}
}

static bool flush_events(struct spawner_state *s) {
	size_t sent = 0;
	while (sent < s->queued) {
		ssize_t n = send(s->ev, &s->queue[sent], sizeof(s->queue[sent]),
			MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			break;
		}
		if (n < 0) {
			return false;
		}
		sent++;
	}
	memmove(s->queue, s->queue + sent, (s->queued - sent) * sizeof(s->queue[0]));
	s->queued -= sent;
	return true;
}

/* The spawner's loop: what it can write of its reports is written, the rest waits. */
static void spawner_flush(struct spawner_state *s) {
	if (!flush_events(s)) {
		_exit(0); // the daemon is gone
	}
	wl_event_source_fd_update(s->ev_source, s->queued > 0 ? WL_EVENT_WRITABLE : 0);
}

static int handle_spawner_request(int fd, uint32_t mask, void *data) {
	struct spawner_state *s = data;
	if (!serve_request(s)) {
		_exit(0); // the daemon is gone (or sent what cannot be framed)
	}
	spawner_flush(s);
	return 0;
}

static int handle_spawner_child(int signo, void *data) {
	struct spawner_state *s = data;
	reap(s);
	spawner_flush(s);
	return 0;
}

static int handle_spawner_events(int fd, uint32_t mask, void *data) {
	spawner_flush(data);
	return 0;
}

void spawner_serve_all(int req, int ev, const struct vd_spawner_guard *guard) {
	static struct spawner_state s;
	s = (struct spawner_state){.req = req, .ev = ev, .guard = guard};
	while (serve_request(&s)) {
	}
}

void spawner_main(int req, int ev, const struct vd_spawner_guard *guard) {
	// it owns its two sockets, and nothing else of the daemon; it ends when the
	// daemon closes its end, not on the session's signals
	const int keep[] = {req, ev};
	vd_helper_detach(keep, 2);
	prctl(PR_SET_NAME, "vmdesk-spawner");
	// a detached program's parent exits at once: it comes back to us to be reaped
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	fcntl(ev, F_SETFL, fcntl(ev, F_GETFL) | O_NONBLOCK);
	static struct spawner_state s;
	s.req = req;
	s.ev = ev;
	s.guard = guard;
	/* a loop of its own (a new epoll: the daemon's stays the daemon's) */
	struct wl_event_loop *loop = wl_event_loop_create();
	if (loop == NULL ||
			wl_event_loop_add_fd(loop, req, WL_EVENT_READABLE, handle_spawner_request,
				&s) == NULL ||
			(s.ev_source = wl_event_loop_add_fd(loop, ev, 0, handle_spawner_events,
				&s)) == NULL ||
			wl_event_loop_add_signal(loop, SIGCHLD, handle_spawner_child, &s) == NULL) {
		_exit(1);
	}
	for (;;) {
		if (wl_event_loop_dispatch(loop, -1) < 0 && errno != EINTR) {
			_exit(1);
		}
	}
}
