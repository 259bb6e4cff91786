#define LOG_TAG "spawner"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocols/log.h"
#include "protocols/spawner.h"

/*
 * Two socket pairs between the daemon and the spawner:
 * - requests (SOCK_STREAM, blocking on both ends): a request header, with
 *   the program's fds (SCM_RIGHTS) on its first bytes, its strings, and one
 *   reply (with a pidfd when asked) before the next request;
 * - events (SOCK_SEQPACKET): one struct event per program that ended, read
 *   by the daemon's loop; the spawner queues them while the socket is full.
 */

enum request_type {
	REQUEST_SPAWN = 1,
	REQUEST_SIGNAL = 2,
};

struct request {
	uint32_t type;
	uint32_t flags; // SPAWN: enum vd_spawn_flags; SIGNAL: 1 for the process group
	uint32_t argc; // SPAWN
	uint32_t envc; // SPAWN
	uint32_t fd_mask; // SPAWN: which of stdin, stdout, stderr come as fds, in order
	uint32_t inherit_mask; // SPAWN: which of them are the spawner's own (else /dev/null)
	int32_t pid; // SIGNAL
	int32_t signo; // SIGNAL
	uint32_t size; // SPAWN: bytes of NUL-terminated strings that follow (argv, then env)
};

struct reply {
	int32_t err; // 0, or an errno
	int32_t pid;
	int32_t pgid;
	uint32_t has_pidfd; // the pidfd comes with the reply (SCM_RIGHTS)
};

struct event {
	int32_t pid;
	int32_t status;
};

struct vd_spawner {
	pid_t pid;
	int req; // blocking stream
	int ev; // events, read by the loop
	struct wl_event_source *source;
	vd_spawner_exited exited;
	vd_spawner_lost lost;
	void *data;
};

/* ---- both ends ---- */

static bool send_all(int fd, const void *buf, size_t len, const int *fds, size_t nfds) {
	const uint8_t *p = buf;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 3)];
	} control;
	while (len > 0) {
		struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		if (nfds > 0) {
			memset(&control, 0, sizeof(control));
			msg.msg_control = control.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
		}
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return false;
		}
		nfds = 0; // the fds went with the first bytes
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * Reads exactly len bytes (false at the end of the stream or on an error);
 * fds that come with them (up to max_fds) go to fds[*nfds...]. More fds
 * than that, or a truncated control message, set *fds_bad (the extra ones
 * are closed).
 */
static bool recv_all(int fd, void *buf, size_t len, int *fds, size_t max_fds, size_t *nfds,
		bool *fds_bad) {
	uint8_t *p = buf;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} control;
	while (len > 0) {
		struct iovec iov = {.iov_base = p, .iov_len = len};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			.msg_controllen = sizeof(control.buf)};
		ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return false;
		}
		if (msg.msg_flags & MSG_CTRUNC) {
			*fds_bad = true;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
				continue;
			}
			size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int got[4];
			memcpy(got, CMSG_DATA(c), sizeof(int) * (count < 4 ? count : 4));
			for (size_t i = 0; i < count && i < 4; i++) {
				if (fds != NULL && *nfds < max_fds) {
					fds[(*nfds)++] = got[i];
				} else {
					close(got[i]);
					*fds_bad = true;
				}
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* ---- the spawner process ---- */

struct tracked {
	pid_t pid;
	pid_t pgid;
};

struct spawner_state {
	int req, ev;
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

/* One request; false if it could not be framed (the spawner then ends). */
static bool serve_request(struct spawner_state *s) {
	struct request req;
	int fds[3];
	size_t nfds = 0;
	bool fds_bad = false;
	if (!recv_all(s->req, &req, sizeof(req), fds, 3, &nfds, &fds_bad)) {
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
	case REQUEST_SPAWN: {
		// the frame: the strings' size is checked before anything is read
		if (req.size == 0 || req.size > VD_SPAWNER_MAX_STRINGS) {
			framed = false;
			break;
		}
		strings = malloc(req.size);
		if (strings == NULL || !recv_all(s->req, strings, req.size, fds, 3, &nfds, &fds_bad)) {
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
		reply.err = spawn_program(s, &req, argv, env, stdio, &reply);
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
	bool sent = send_all(s->req, &reply, sizeof(reply), &pidfd, pidfd >= 0 ? 1 : 0);
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

static void close_all_but(int a, int b) {
	int lo = a < b ? a : b, hi = a < b ? b : a;
	if (lo > 3) {
		close_range(3, (unsigned)lo - 1, 0);
	}
	if (hi > lo + 1) {
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	}
	close_range((unsigned)hi + 1, ~0u, 0);
}

static void spawner_main(int req, int ev) __attribute__((noreturn));

static void spawner_main(int req, int ev) {
	// it owns its two sockets, and nothing else of the daemon
	close_all_but(req, ev);
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		close(null_fd);
	}
	prctl(PR_SET_NAME, "vmdesk-spawner");
	// a detached program's parent exits at once: it comes back to us to be reaped
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	// it ends when the daemon closes its end, not on the session's signals
	for (int sig = 1; sig < NSIG; sig++) {
		signal(sig, SIG_DFL);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_SETMASK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	fcntl(ev, F_SETFL, fcntl(ev, F_GETFL) | O_NONBLOCK);
	static struct spawner_state s;
	s.req = req;
	s.ev = ev;
	for (;;) {
		struct pollfd pfd[3] = {
			{.fd = req, .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
			{.fd = ev, .events = s.queued > 0 ? POLLOUT : 0},
		};
		if (poll(pfd, 3, sfd < 0 ? 100 : -1) < 0 && errno != EINTR) {
			_exit(1);
		}
		if (sfd < 0 || (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo info;
			while (sfd >= 0 && read(sfd, &info, sizeof(info)) > 0) {
			}
			reap(&s);
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!serve_request(&s)) {
				_exit(0); // the daemon is gone (or sent what cannot be framed)
			}
		}
		if (!flush_events(&s)) {
			_exit(0);
		}
	}
}

/* ---- the daemon's end ---- */

static int handle_events(int fd, uint32_t mask, void *data) {
	struct vd_spawner *spawner = data;
	for (;;) {
		struct event ev;
		ssize_t n = recv(fd, &ev, sizeof(ev), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN && !(mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR))) {
			return 0;
		}
		if (n != (ssize_t)sizeof(ev)) {
			vd_log(VD_ERROR, "the spawner (pid %d) is gone: no program can start",
				(int)spawner->pid);
			wl_event_source_remove(spawner->source);
			spawner->source = NULL;
			spawner->lost(spawner->data);
			return 0;
		}
		spawner->exited(ev.pid, ev.status, spawner->data);
	}
}

struct vd_spawner *vd_spawner_create(struct wl_event_loop *loop, vd_spawner_exited exited,
		vd_spawner_lost lost, void *data) {
	struct vd_spawner *spawner = calloc(1, sizeof(*spawner));
	int req[2] = {-1, -1}, ev[2] = {-1, -1};
	if (spawner == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, req) < 0 ||
			socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) < 0) {
		vd_log_errno(VD_ERROR, "cannot make the spawner's sockets");
		goto fail;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		vd_log_errno(VD_ERROR, "cannot fork the spawner");
		goto fail;
	}
	if (pid == 0) {
		spawner_main(req[1], ev[1]);
	}
	close(req[1]);
	close(ev[1]);
	spawner->pid = pid;
	spawner->req = req[0];
	spawner->ev = ev[0];
	spawner->exited = exited;
	spawner->lost = lost;
	spawner->data = data;
	spawner->source = wl_event_loop_add_fd(loop, spawner->ev, WL_EVENT_READABLE,
		handle_events, spawner);
	if (spawner->source == NULL) {
		vd_spawner_destroy(spawner);
		return NULL;
	}
	vd_log(VD_DEBUG, "spawner started (pid %d)", (int)pid);
	return spawner;

fail:
	for (int i = 0; i < 2; i++) {
		if (req[i] >= 0) {
			close(req[i]);
		}
		if (ev[i] >= 0) {
			close(ev[i]);
		}
	}
	free(spawner);
	return NULL;
}

void vd_spawner_destroy(struct vd_spawner *spawner) {
	if (spawner == NULL) {
		return;
	}
	if (spawner->source != NULL) {
		wl_event_source_remove(spawner->source);
	}
	close(spawner->req);
	close(spawner->ev);
	// it ends at the end of its requests: reap it
	while (waitpid(spawner->pid, NULL, 0) < 0 && errno == EINTR) {
	}
	free(spawner);
}

pid_t vd_spawner_pid(const struct vd_spawner *spawner) {
	return spawner->pid;
}

int vd_spawner_request_fd(const struct vd_spawner *spawner) {
	return spawner->req;
}

bool vd_spawner_spawn(struct vd_spawner *spawner, const struct vd_spawn *spawn,
		struct vd_spawn_result *result, int *err_no) {
	struct request req = {.type = REQUEST_SPAWN, .flags = spawn->flags};
	size_t size = 0, argc = 0;
	for (; spawn->argv[argc] != NULL; argc++) {
		size += strlen(spawn->argv[argc]) + 1;
	}
	for (size_t i = 0; i < spawn->env_count; i++) {
		size += strlen(spawn->env[i]) + 1;
	}
	if (argc == 0 || argc > VD_SPAWNER_MAX_ARGS || spawn->env_count > VD_SPAWNER_MAX_ENV ||
			size > VD_SPAWNER_MAX_STRINGS || (spawn->flags & ~VD_SPAWN_FLAGS_ALL) != 0) {
		*err_no = E2BIG;
		return false;
	}
	char *strings = malloc(size);
	if (strings == NULL) {
		*err_no = ENOMEM;
		return false;
	}
	size_t pos = 0;
	for (size_t i = 0; i < argc; i++) {
		size_t n = strlen(spawn->argv[i]) + 1;
		memcpy(strings + pos, spawn->argv[i], n);
		pos += n;
	}
	for (size_t i = 0; i < spawn->env_count; i++) {
		size_t n = strlen(spawn->env[i]) + 1;
		memcpy(strings + pos, spawn->env[i], n);
		pos += n;
	}
	int fds[3];
	size_t nfds = 0;
	for (int i = 0; i < 3; i++) {
		if (spawn->fds[i] >= 0) {
			req.fd_mask |= 1u << i;
			fds[nfds++] = spawn->fds[i];
		} else if (spawn->fds[i] == VD_SPAWN_INHERIT) {
			req.inherit_mask |= 1u << i;
		}
	}
	req.argc = (uint32_t)argc;
	req.envc = (uint32_t)spawn->env_count;
	req.size = (uint32_t)size;
	struct reply reply;
	int pidfd = -1;
	size_t got = 0;
	bool fds_bad = false;
	bool ok = send_all(spawner->req, &req, sizeof(req), fds, nfds) &&
		send_all(spawner->req, strings, size, NULL, 0) &&
		recv_all(spawner->req, &reply, sizeof(reply), &pidfd, 1, &got, &fds_bad);
	free(strings);
	if (!ok) {
		if (pidfd >= 0) {
			close(pidfd);
		}
		*err_no = EPIPE;
		return false;
	}
	if (reply.err != 0) {
		*err_no = reply.err;
		return false;
	}
	*result = (struct vd_spawn_result){.pid = reply.pid, .pgid = reply.pgid, .pidfd = pidfd};
	return true;
}

bool vd_spawner_signal(struct vd_spawner *spawner, pid_t pid, int signo, bool group,
		int *err_no) {
	struct request req = {.type = REQUEST_SIGNAL, .flags = group ? 1 : 0, .pid = pid,
		.signo = signo};
	struct reply reply;
	size_t got = 0;
	bool fds_bad = false;
	if (!send_all(spawner->req, &req, sizeof(req), NULL, 0) ||
			!recv_all(spawner->req, &reply, sizeof(reply), NULL, 0, &got, &fds_bad)) {
		*err_no = EPIPE;
		return false;
	}
	*err_no = reply.err;
	return reply.err == 0;
}
