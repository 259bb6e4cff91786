/*
 * The byte-and-fd relay behind wl-forward and wl-census (see relay.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "relay.h"

#define RELAY_BUF_SIZE 65536
#define RELAY_MAX_FDS 28

struct relay_pair;

struct relay_end {
	int fd;
	bool to_upstream; // data read here goes upstream
	struct relay_end *peer;
	struct relay_pair *pair;
};

struct relay_pair {
	struct relay_end client, upstream;
	void *conn; // the observer's state
};

struct relay {
	const struct relay_observer *observer;
	const char *upstream_path;
	int epoll_fd;
	uint8_t *buf;
};

static int relay_connect(const char *path) {
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int relay_listen(const char *path) {
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 128) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes all of buf (and fds with the first byte), waiting while the peer is full. */
static bool relay_send(int fd, const uint8_t *buf, size_t len, const int *fds, size_t fd_count) {
	union {
		char buf[CMSG_SPACE(sizeof(int) * RELAY_MAX_FDS)];
		struct cmsghdr align;
	} control;
	size_t done = 0;
	while (done < len) {
		struct iovec iov = { .iov_base = (uint8_t *)buf + done, .iov_len = len - done };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (fd_count > 0) {
			msg.msg_control = control.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
			struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
			memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * fd_count);
		}
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno != EAGAIN) {
				return false;
			}
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			poll(&pfd, 1, -1);
			continue;
		}
		fd_count = 0;
		done += (size_t)n;
	}
	return true;
}

/* Moves one read's worth from end to its peer; false when the pair is done. */
static bool relay_move(struct relay *relay, struct relay_end *end) {
	union {
		char buf[CMSG_SPACE(sizeof(int) * RELAY_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = relay->buf, .iov_len = RELAY_BUF_SIZE };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n = recvmsg(end->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		return errno == EAGAIN || errno == EINTR;
	}
	int fds[RELAY_MAX_FDS];
	size_t fd_count = 0;
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
			cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
			continue;
		}
		size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count && fd_count < RELAY_MAX_FDS; i++) {
			memcpy(&fds[fd_count++], CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
		}
	}
	bool ok = n > 0;
	const struct relay_observer *obs = relay->observer;
	if (ok && obs != NULL && obs->chunk != NULL) {
		ok = obs->chunk(end->pair->conn, end->to_upstream, relay->buf, (size_t)n,
			fds, fd_count);
	}
	ok = ok && relay_send(end->peer->fd, relay->buf, (size_t)n, fds, fd_count);
	for (size_t i = 0; i < fd_count; i++) {
		close(fds[i]);
	}
	return ok;
}

static void relay_pair_destroy(struct relay *relay, struct relay_pair *pair) {
	if (pair == NULL) {
		return;
	}
	if (relay->observer != NULL && relay->observer->close != NULL) {
		relay->observer->close(pair->conn);
	}
	// Closing removes the fds from the epoll set.
	close(pair->client.fd);
	close(pair->upstream.fd);
	free(pair);
}

static bool relay_accept(struct relay *relay, int listen_fd) {
	int client = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (client < 0) {
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED;
	}
	int upstream_fd = relay_connect(relay->upstream_path);
	if (upstream_fd < 0) {
		fprintf(stderr, "relay: connect to %s: %s\n", relay->upstream_path,
			strerror(errno));
		close(client);
		return true;
	}
	struct relay_pair *pair = calloc(1, sizeof(*pair));
	if (pair == NULL) {
		close(client);
		close(upstream_fd);
		return false;
	}
	pair->client = (struct relay_end){
		.fd = client, .to_upstream = true, .peer = &pair->upstream, .pair = pair,
	};
	pair->upstream = (struct relay_end){
		.fd = upstream_fd, .to_upstream = false, .peer = &pair->client, .pair = pair,
	};
	const struct relay_observer *obs = relay->observer;
	if (obs != NULL && obs->open != NULL) {
		pair->conn = obs->open(obs->data);
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &pair->client };
	if (epoll_ctl(relay->epoll_fd, EPOLL_CTL_ADD, client, &ev) < 0) {
		relay_pair_destroy(relay, pair);
		return false;
	}
	ev.data.ptr = &pair->upstream;
	if (epoll_ctl(relay->epoll_fd, EPOLL_CTL_ADD, upstream_fd, &ev) < 0) {
		relay_pair_destroy(relay, pair);
		return false;
	}
	return true;
}

bool relay_run(const char *listen_path, const char *upstream_path,
		const struct relay_observer *observer) {
	struct relay relay = {
		.observer = observer,
		.upstream_path = upstream_path,
		.buf = malloc(RELAY_BUF_SIZE),
		.epoll_fd = epoll_create1(EPOLL_CLOEXEC),
	};
	int listen_fd = relay_listen(listen_path);
	if (relay.buf == NULL || listen_fd < 0 || relay.epoll_fd < 0) {
		return false;
	}
	// The listening socket is told apart by a NULL pointer.
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(relay.epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
		return false;
	}
	while (true) {
		struct epoll_event events[16];
		int n = epoll_wait(relay.epoll_fd, events, 16, -1);
		if (n < 0 && errno != EINTR) {
			return false;
		}
		for (int i = 0; i < n; i++) {
			struct relay_end *end = events[i].data.ptr;
			if (events[i].events == 0) {
				continue; // its pair was destroyed earlier in this batch
			}
			if (end == NULL) {
				if (!relay_accept(&relay, listen_fd)) {
					perror("relay: accept");
				}
				continue;
			}
			if (!relay_move(&relay, end)) {
				struct relay_pair *pair = end->pair;
				// Later events of this batch may name the pair: drop them.
				for (int j = i + 1; j < n; j++) {
					struct relay_end *other = events[j].data.ptr;
					if (other != NULL && other->pair == pair) {
						events[j].data.ptr = NULL;
						events[j].events = 0;
					}
				}
				relay_pair_destroy(&relay, pair);
			}
		}
	}
}
