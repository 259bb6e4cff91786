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

#include "protocols/log.h"
#include "protocols/spawner-private.h"
#include "protocols/spawner.h"

/*
 * The daemon's end of its spawner: vd_spawner_create forks the spawner
 * process (spawner-process.c) before the daemon's filter; requests go on a
 * blocking stream and are answered at once (the spawner answers when the
 * program has run exec, as an in-process fork would), and the reports of
 * programs that ended are read by the daemon's loop.
 */

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

bool spawner_send_all(int fd, const void *buf, size_t len, const int *fds, size_t nfds) {
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

bool spawner_recv_all(int fd, void *buf, size_t len, int *fds, size_t max_fds, size_t *nfds,
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
		vd_spawner_lost lost, void *data, const struct vd_spawner_guard *guard) {
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
		spawner_main(req[1], ev[1], guard);
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
	bool ok = spawner_send_all(spawner->req, &req, sizeof(req), fds, nfds) &&
		spawner_send_all(spawner->req, strings, size, NULL, 0) &&
		spawner_recv_all(spawner->req, &reply, sizeof(reply), &pidfd, 1, &got, &fds_bad);
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
	*result = (struct vd_spawn_result){.pid = reply.pid, .start = reply.start, .pgid = reply.pgid,
		.pidfd = pidfd};
	return true;
}

/* A request that comes with no fds and is answered without one. */
static bool round_trip(struct vd_spawner *spawner, const struct request *req,
		struct reply *reply, int *err_no) {
	size_t got = 0;
	bool fds_bad = false;
	if (!spawner_send_all(spawner->req, req, sizeof(*req), NULL, 0) ||
			!spawner_recv_all(spawner->req, reply, sizeof(*reply), NULL, 0, &got, &fds_bad)) {
		*err_no = EPIPE;
		return false;
	}
	*err_no = reply->err;
	return reply->err == 0;
}

bool vd_spawner_start_time(struct vd_spawner *spawner, pid_t pid, unsigned long long *start,
		int *err_no) {
	struct request req = {.type = REQUEST_START_TIME, .pid = pid};
	struct reply reply = {0};
	bool ok = round_trip(spawner, &req, &reply, err_no);
	*start = reply.start;
	return ok;
}

bool vd_spawner_signal(struct vd_spawner *spawner, pid_t pid, int signo, bool group,
		int *err_no) {
	struct request req = {.type = REQUEST_SIGNAL, .flags = group ? 1 : 0, .pid = pid,
		.signo = signo};
	struct reply reply;
	return round_trip(spawner, &req, &reply, err_no);
}

bool vd_spawner_adopt(struct vd_spawner *spawner, pid_t pid, int *pidfd,
		unsigned long long *start, int *err_no) {
	struct request req = {.type = REQUEST_ADOPT, .pid = pid};
	struct reply reply = {0};
	int fd = -1;
	size_t got = 0;
	bool fds_bad = false;
	*pidfd = -1;
	if (!spawner_send_all(spawner->req, &req, sizeof(req), NULL, 0) ||
			!spawner_recv_all(spawner->req, &reply, sizeof(reply), &fd, 1, &got, &fds_bad)) {
		if (fd >= 0) {
			close(fd);
		}
		*err_no = EPIPE;
		return false;
	}
	if (reply.err != 0 || fd < 0) {
		if (fd >= 0) {
			close(fd);
		}
		*err_no = reply.err != 0 ? reply.err : EPROTO;
		return false;
	}
	*pidfd = fd;
	*start = reply.start;
	return true;
}
