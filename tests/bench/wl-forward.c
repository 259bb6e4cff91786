/*
 * wl-forward: the cheapest possible out-of-process Wayland proxy, as a floor
 * for the benchmark. It parses nothing: bytes and fds are copied as they come,
 * one upstream connection per client, one thread, epoll.
 *
 *   wl-forward SOCKET UPSTREAM
 *
 * SOCKET is the path to listen on; UPSTREAM the compositor's socket path.
 * Runs until killed. Not a security boundary: a benchmark tool only.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FORWARD_BUF_SIZE 65536
#define FORWARD_MAX_FDS 28

struct forward_pair;

struct forward_end {
	int fd;
	struct forward_end *peer;
	struct forward_pair *pair;
};

struct forward_pair {
	struct forward_end client, upstream;
};

static int forward_connect(const char *path) {
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, path);
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

static int forward_listen(const char *path) {
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, path);
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
static bool forward_send(int fd, const char *buf, size_t len, const int *fds, size_t fd_count) {
	union {
		char buf[CMSG_SPACE(sizeof(int) * FORWARD_MAX_FDS)];
		struct cmsghdr align;
	} control;
	size_t done = 0;
	while (done < len) {
		struct iovec iov = { .iov_base = (char *)buf + done, .iov_len = len - done };
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
static bool forward_move(struct forward_end *end, char *buf) {
	union {
		char buf[CMSG_SPACE(sizeof(int) * FORWARD_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = FORWARD_BUF_SIZE };
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
	int fds[FORWARD_MAX_FDS];
	size_t fd_count = 0;
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
			cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
			continue;
		}
		size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count && fd_count < FORWARD_MAX_FDS; i++) {
			memcpy(&fds[fd_count++], CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
		}
	}
	bool ok = n > 0 && forward_send(end->peer->fd, buf, (size_t)n, fds, fd_count);
	for (size_t i = 0; i < fd_count; i++) {
		close(fds[i]);
	}
	return ok;
}

static void forward_pair_destroy(struct forward_pair *pair) {
	if (pair == NULL) {
		return;
	}
	// Closing removes the fds from the epoll set.
	close(pair->client.fd);
	close(pair->upstream.fd);
	free(pair);
}

static bool forward_accept(int epoll_fd, int listen_fd, const char *upstream) {
	int client = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (client < 0) {
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED;
	}
	int upstream_fd = forward_connect(upstream);
	if (upstream_fd < 0) {
		perror("wl-forward: connect upstream");
		close(client);
		return true;
	}
	struct forward_pair *pair = calloc(1, sizeof(*pair));
	if (pair == NULL) {
		close(client);
		close(upstream_fd);
		return false;
	}
	pair->client = (struct forward_end){ .fd = client, .peer = &pair->upstream, .pair = pair };
	pair->upstream = (struct forward_end){
		.fd = upstream_fd, .peer = &pair->client, .pair = pair,
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &pair->client };
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, client, &ev) < 0) {
		forward_pair_destroy(pair);
		return false;
	}
	ev.data.ptr = &pair->upstream;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, upstream_fd, &ev) < 0) {
		forward_pair_destroy(pair);
		return false;
	}
	return true;
}

int main(int argc, char *argv[]) {
	if (argc != 3) {
		fprintf(stderr, "usage: wl-forward SOCKET UPSTREAM\n");
		return 2;
	}
	char *buf = malloc(FORWARD_BUF_SIZE);
	int listen_fd = forward_listen(argv[1]);
	int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (buf == NULL || listen_fd < 0 || epoll_fd < 0) {
		perror("wl-forward: setup");
		return 1;
	}
	// The listening socket is told apart by a NULL pointer.
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
		perror("wl-forward: epoll_ctl");
		return 1;
	}
	while (true) {
		struct epoll_event events[16];
		int n = epoll_wait(epoll_fd, events, 16, -1);
		if (n < 0 && errno != EINTR) {
			perror("wl-forward: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct forward_end *end = events[i].data.ptr;
			if (events[i].events == 0) {
				continue; // its pair was destroyed earlier in this batch
			}
			if (end == NULL) {
				if (!forward_accept(epoll_fd, listen_fd, argv[2])) {
					perror("wl-forward: accept");
				}
				continue;
			}
			if (!forward_move(end, buf)) {
				struct forward_pair *pair = end->pair;
				// Later events of this batch may name the pair: drop them.
				for (int j = i + 1; j < n; j++) {
					struct forward_end *other = events[j].data.ptr;
					if (other != NULL && other->pair == pair) {
						events[j].data.ptr = NULL;
						events[j].events = 0;
					}
				}
				forward_pair_destroy(pair);
			}
		}
	}
}
