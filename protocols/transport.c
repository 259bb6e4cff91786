#define LOG_TAG "transport"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "protocols/log.h"
#include "protocols/transport.h"

uint64_t vd_now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool parse_u32(const char *str, size_t len, uint32_t *out) {
	if (len == 0 || len > 10) {
		return false;
	}
	uint64_t value = 0;
	for (size_t i = 0; i < len; i++) {
		if (str[i] < '0' || str[i] > '9') {
			return false;
		}
		value = value * 10 + (uint64_t)(str[i] - '0');
	}
	if (value > UINT32_MAX) {
		return false;
	}
	*out = (uint32_t)value;
	return true;
}

static bool set_path(struct vd_addr *addr, const char *path, size_t len, char *err,
		size_t err_size) {
	if (len == 0) {
		snprintf(err, err_size, "empty socket path");
		return false;
	}
	if (len >= sizeof(addr->path)) {
		snprintf(err, err_size, "socket path longer than %zu bytes",
			sizeof(addr->path) - 1);
		return false;
	}
	if (memchr(path, '\0', len) != NULL) {
		snprintf(err, err_size, "NUL in socket path");
		return false;
	}
	memcpy(addr->path, path, len);
	addr->path[len] = '\0';
	return true;
}

bool vd_addr_parse(const char *str, bool listen, struct vd_addr *addr, char *err,
		size_t err_size) {
	memset(addr, 0, sizeof(*addr));
	if (strncmp(str, "unix:", 5) == 0) {
		addr->kind = VD_ADDR_UNIX;
		return set_path(addr, str + 5, strlen(str + 5), err, err_size);
	}
	if (strncmp(str, "vsock:", 6) == 0) {
		addr->kind = VD_ADDR_VSOCK;
		const char *rest = str + 6;
		if (listen) {
			addr->cid = VMADDR_CID_ANY;
			if (!parse_u32(rest, strlen(rest), &addr->port) ||
					addr->port == VMADDR_PORT_ANY) {
				snprintf(err, err_size, "bad vsock port in \"%s\" (want vsock:PORT)", str);
				return false;
			}
			return true;
		}
		const char *colon = strchr(rest, ':');
		if (colon == NULL || !parse_u32(rest, (size_t)(colon - rest), &addr->cid) ||
				addr->cid == VMADDR_CID_ANY ||
				!parse_u32(colon + 1, strlen(colon + 1), &addr->port) ||
				addr->port == VMADDR_PORT_ANY) {
			snprintf(err, err_size, "bad vsock address \"%s\" (want vsock:CID:PORT)", str);
			return false;
		}
		return true;
	}
	if (strncmp(str, "hvsock:", 7) == 0) {
		if (listen) {
			snprintf(err, err_size, "cannot listen on a hybrid vsock address");
			return false;
		}
		addr->kind = VD_ADDR_HVSOCK;
		const char *rest = str + 7;
		const char *colon = strrchr(rest, ':');
		if (colon == NULL || !parse_u32(colon + 1, strlen(colon + 1), &addr->port)) {
			snprintf(err, err_size, "bad hybrid vsock address \"%s\" (want hvsock:PATH:PORT)",
				str);
			return false;
		}
		return set_path(addr, rest, (size_t)(colon - rest), err, err_size);
	}
	snprintf(err, err_size, "unknown address \"%s\" (want %s)", str,
		listen ? "vsock:PORT or unix:PATH" : "vsock:CID:PORT, hvsock:PATH:PORT or unix:PATH");
	return false;
}

void vd_addr_format(const struct vd_addr *addr, char *buf, size_t size) {
	switch (addr->kind) {
	case VD_ADDR_UNIX:
		snprintf(buf, size, "unix:%s", addr->path);
		break;
	case VD_ADDR_HVSOCK:
		snprintf(buf, size, "hvsock:%s:%u", addr->path, addr->port);
		break;
	case VD_ADDR_VSOCK:
		if (addr->cid == VMADDR_CID_ANY) {
			snprintf(buf, size, "vsock:%u", addr->port);
		} else {
			snprintf(buf, size, "vsock:%u:%u", addr->cid, addr->port);
		}
		break;
	}
}

union vd_sockaddr {
	struct sockaddr sa;
	struct sockaddr_un un;
	struct sockaddr_vm vm;
};

static socklen_t fill_sockaddr(const struct vd_addr *addr, union vd_sockaddr *sa) {
	memset(sa, 0, sizeof(*sa));
	if (addr->kind == VD_ADDR_VSOCK) {
		sa->vm.svm_family = AF_VSOCK;
		sa->vm.svm_cid = addr->cid;
		sa->vm.svm_port = addr->port;
		return sizeof(sa->vm);
	}
	sa->un.sun_family = AF_UNIX;
	memcpy(sa->un.sun_path, addr->path, strlen(addr->path) + 1);
	return sizeof(sa->un);
}

static int addr_family(const struct vd_addr *addr) {
	return addr->kind == VD_ADDR_VSOCK ? AF_VSOCK : AF_UNIX;
}

int vd_transport_listen(const struct vd_addr *addr, char *err, size_t err_size) {
	int fd = socket(addr_family(addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_size, "socket: %s", strerror(errno));
		return -1;
	}
	union vd_sockaddr sa;
	socklen_t len = fill_sockaddr(addr, &sa);
	if (addr->kind == VD_ADDR_UNIX) {
		struct stat st;
		if (lstat(addr->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			unlink(addr->path);
		}
	}
	if (bind(fd, &sa.sa, len) < 0) {
		char name[160];
		vd_addr_format(addr, name, sizeof(name));
		snprintf(err, err_size, "bind %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, 16) < 0) {
		snprintf(err, err_size, "listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int vd_transport_accept(int listen_fd) {
	return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static enum vd_dial_status dial_fail(struct vd_dial *dial, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum vd_dial_status dial_fail(struct vd_dial *dial, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	vsnprintf(dial->err, sizeof(dial->err), fmt, args);
	va_end(args);
	if (dial->fd >= 0) {
		close(dial->fd);
		dial->fd = -1;
	}
	dial->state = VD_DIAL_STATE_FAILED;
	return VD_DIAL_FAILED;
}

enum vd_dial_status vd_dial_start(struct vd_dial *dial, const struct vd_addr *addr,
		int timeout_ms) {
	memset(dial, 0, sizeof(*dial));
	dial->addr = *addr;
	dial->fd = -1;
	dial->deadline_ms = vd_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	dial->fd = socket(addr_family(addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (dial->fd < 0) {
		return dial_fail(dial, "socket: %s", strerror(errno));
	}
	union vd_sockaddr sa;
	socklen_t len = fill_sockaddr(addr, &sa);
	if (connect(dial->fd, &sa.sa, len) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			return dial_fail(dial, "connect: %s", strerror(errno));
		}
		dial->state = VD_DIAL_CONNECTING;
		return VD_DIAL_AGAIN;
	}
	dial->state = addr->kind == VD_ADDR_HVSOCK ? VD_DIAL_SEND_CONNECT : VD_DIAL_STATE_DONE;
	return vd_dial_step(dial);
}

int vd_dial_fd(const struct vd_dial *dial) {
	return dial->fd;
}

short vd_dial_events(const struct vd_dial *dial) {
	switch (dial->state) {
	case VD_DIAL_CONNECTING:
	case VD_DIAL_SEND_CONNECT:
		return POLLOUT;
	case VD_DIAL_RECV_OK:
		return POLLIN;
	default:
		return 0;
	}
}

int vd_dial_timeout(const struct vd_dial *dial) {
	uint64_t now = vd_now_ms();
	if (now >= dial->deadline_ms) {
		return 0;
	}
	uint64_t left = dial->deadline_ms - now;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Parses the muxer's answer, strictly "OK <decimal>\n". */
static bool hvsock_reply_ok(const char *line, size_t len) {
	if (len < 5 || strncmp(line, "OK ", 3) != 0 || line[len - 1] != '\n') {
		return false;
	}
	uint32_t port;
	return parse_u32(line + 3, len - 4, &port);
}

static enum vd_dial_status dial_recv_ok(struct vd_dial *dial) {
	/*
	 * One byte at a time, so that whatever the guest sends right after the OK
	 * line stays in the socket for the agent protocol. The line is short.
	 */
	for (;;) {
		char c;
		ssize_t n = recv(dial->fd, &c, 1, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				return VD_DIAL_AGAIN;
			}
			return dial_fail(dial, "hybrid vsock handshake: %s", strerror(errno));
		}
		if (n == 0) {
			return dial_fail(dial, "hybrid vsock handshake: %s",
				"connection closed before OK (is the guest listening on that port?)");
		}
		if (dial->sent >= VD_HVSOCK_REPLY_MAX) {
			return dial_fail(dial, "hybrid vsock handshake: %s", "reply line too long");
		}
		dial->line[dial->sent++] = c;
		if (c == '\n') {
			break;
		}
	}
	size_t len = dial->sent;
	dial->line[len] = '\0';
	if (!hvsock_reply_ok(dial->line, len)) {
		/* Show the reply with anything unprintable replaced. */
		char shown[VD_HVSOCK_REPLY_MAX + 1];
		size_t j = 0;
		for (size_t i = 0; i < len && dial->line[i] != '\n'; i++) {
			unsigned char c = (unsigned char)dial->line[i];
			shown[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		shown[j] = '\0';
		return dial_fail(dial, "hybrid vsock handshake: unexpected reply \"%s\"", shown);
	}
	dial->state = VD_DIAL_STATE_DONE;
	return VD_DIAL_DONE;
}

enum vd_dial_status vd_dial_step(struct vd_dial *dial) {
	for (;;) {
		switch (dial->state) {
		case VD_DIAL_CONNECTING: {
			int error = 0;
			socklen_t len = sizeof(error);
			if (getsockopt(dial->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) {
				return dial_fail(dial, "connect: %s", strerror(errno));
			}
			if (error == 0) {
				struct pollfd pfd = {.fd = dial->fd, .events = POLLOUT};
				if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
					dial->state = dial->addr.kind == VD_ADDR_HVSOCK ?
						VD_DIAL_SEND_CONNECT : VD_DIAL_STATE_DONE;
					continue;
				}
				break;
			}
			return dial_fail(dial, "connect: %s", strerror(error));
		}
		case VD_DIAL_SEND_CONNECT: {
			char line[32];
			int len = snprintf(line, sizeof(line), "CONNECT %u\n", dial->addr.port);
			ssize_t n = send(dial->fd, line + dial->sent, (size_t)len - dial->sent,
				MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					break;
				}
				return dial_fail(dial, "hybrid vsock handshake: %s", strerror(errno));
			}
			dial->sent += (size_t)n;
			if (dial->sent < (size_t)len) {
				break;
			}
			dial->sent = 0;
			dial->state = VD_DIAL_RECV_OK;
			continue;
		}
		case VD_DIAL_RECV_OK: {
			enum vd_dial_status status = dial_recv_ok(dial);
			if (status != VD_DIAL_AGAIN) {
				return status;
			}
			break;
		}
		case VD_DIAL_STATE_DONE:
			return VD_DIAL_DONE;
		case VD_DIAL_STATE_FAILED:
			return VD_DIAL_FAILED;
		}
		/* Waiting for the socket: fail once the deadline has passed. */
		if (vd_now_ms() >= dial->deadline_ms) {
			return dial_fail(dial, "%s", dial->state == VD_DIAL_CONNECTING ?
				"connect timed out" : "hybrid vsock handshake timed out (no OK line)");
		}
		return VD_DIAL_AGAIN;
	}
}

int vd_dial_take_fd(struct vd_dial *dial) {
	int fd = dial->fd;
	dial->fd = -1;
	return fd;
}

void vd_dial_finish(struct vd_dial *dial) {
	if (dial->fd >= 0) {
		close(dial->fd);
	}
	dial->fd = -1;
}

int vd_transport_connect(const struct vd_addr *addr, int timeout_ms, char *err,
		size_t err_size) {
	struct vd_dial dial;
	enum vd_dial_status status = vd_dial_start(&dial, addr, timeout_ms);
	while (status == VD_DIAL_AGAIN) {
		struct pollfd pfd = {.fd = vd_dial_fd(&dial), .events = vd_dial_events(&dial)};
		if (poll(&pfd, 1, vd_dial_timeout(&dial)) < 0 && errno != EINTR) {
			snprintf(dial.err, sizeof(dial.err), "poll: %s", strerror(errno));
			vd_dial_finish(&dial);
			status = VD_DIAL_FAILED;
			break;
		}
		status = vd_dial_step(&dial);
	}
	if (status != VD_DIAL_DONE) {
		snprintf(err, err_size, "%s", dial.err);
		vd_dial_finish(&dial);
		return -1;
	}
	return vd_dial_take_fd(&dial);
}

void vd_backoff_init(struct vd_backoff *backoff, uint32_t min_ms, uint32_t max_ms) {
	backoff->min_ms = min_ms > 0 ? min_ms : 1;
	backoff->max_ms = max_ms > backoff->min_ms ? max_ms : backoff->min_ms;
	backoff->cur_ms = 0;
}

uint32_t vd_backoff_next(struct vd_backoff *backoff) {
	if (backoff->cur_ms == 0) {
		backoff->cur_ms = backoff->min_ms;
	} else if (backoff->cur_ms >= backoff->max_ms / 2) {
		backoff->cur_ms = backoff->max_ms;
	} else {
		backoff->cur_ms *= 2;
	}
	return backoff->cur_ms;
}

void vd_backoff_reset(struct vd_backoff *backoff) {
	backoff->cur_ms = 0;
}
