#define LOG_TAG "transport"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "protocols/number.h"
#include "protocols/transport.h"

static bool parse_u32(const char *str, size_t len, uint32_t *out) {
	long long v;
	if (!vd_parse_number_len(str, len, 0, UINT32_MAX, &v)) {
		return false;
	}
	*out = (uint32_t)v;
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
	if (strncmp(str, "serial:", 7) == 0) {
		if (!listen) {
			snprintf(err, err_size, "a serial port is an address inside the guest: the "
				"host reaches it through its VMM (unix:PATH of QEMU's chardev)");
			return false;
		}
		addr->kind = VD_ADDR_SERIAL;
		return set_path(addr, str + 7, strlen(str + 7), err, err_size);
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
		listen ? "vsock:PORT, unix:PATH or serial:DEVICE" :
		"vsock:CID:PORT, hvsock:PATH:PORT or unix:PATH");
	return false;
}

void vd_addr_format(const struct vd_addr *addr, char *buf, size_t size) {
	switch (addr->kind) {
	case VD_ADDR_UNIX:
		snprintf(buf, size, "unix:%s", addr->path);
		break;
	case VD_ADDR_SERIAL:
		snprintf(buf, size, "serial:%s", addr->path);
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

int vd_transport_open_serial(const struct vd_addr *addr, char *err, size_t err_size) {
	int fd = open(addr->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_size, "cannot open the serial port %s: %s%s", addr->path,
			strerror(errno), errno == EBUSY ? " (a port opens once: another program "
			"has it)" : "");
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) {
		snprintf(err, err_size, "%s is not a serial port (a virtio-serial port is "
			"/dev/virtio-ports/NAME)", addr->path);
		close(fd);
		return -1;
	}
	return fd;
}

bool vd_transport_listen(const struct vd_addr *addr, struct vd_listener *listener, char *err,
		size_t err_size) {
	vd_listener_init(listener);
	if (addr->kind == VD_ADDR_UNIX) {
		return vd_listen_unix(listener, addr->path, err, err_size);
	}
	if (addr->kind == VD_ADDR_SERIAL) {
		snprintf(err, err_size, "serial:%s is opened (one link), not listened on",
			addr->path);
		return false;
	}
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_size, "socket: %s", strerror(errno));
		return false;
	}
	union vd_sockaddr sa;
	socklen_t len = fill_sockaddr(addr, &sa);
	if (bind(fd, &sa.sa, len) < 0 || listen(fd, 16) < 0) {
		char name[160];
		vd_addr_format(addr, name, sizeof(name));
		snprintf(err, err_size, "cannot listen on %s: %s", name, strerror(errno));
		close(fd);
		return false;
	}
	listener->fd = fd;
	return true;
}

int vd_transport_accept(int listen_fd) {
	return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* ---- dialing ---- */

enum dial_state {
	DIAL_CONNECTING,
	DIAL_SEND_CONNECT,
	DIAL_RECV_OK,
};

struct vd_dialer {
	struct vd_addr addr;
	enum dial_state state;
	int fd;
	struct wl_event_source *fd_source;
	struct wl_event_source *timer;
	struct wl_event_source *idle; // reporting a result reached inside vd_dial
	char line[VD_HVSOCK_REPLY_MAX + 1];
	size_t sent;
	bool done_ok;
	char err[160];
	vd_dial_done done;
	void *data;
};

static void dialer_free(struct vd_dialer *dialer) {
	if (dialer->fd_source != NULL) {
		wl_event_source_remove(dialer->fd_source);
	}
	if (dialer->timer != NULL) {
		wl_event_source_remove(dialer->timer);
	}
	if (dialer->idle != NULL) {
		wl_event_source_remove(dialer->idle);
	}
	if (dialer->fd >= 0) {
		close(dialer->fd);
	}
	free(dialer);
}

void vd_dialer_cancel(struct vd_dialer *dialer) {
	if (dialer != NULL) {
		dialer_free(dialer);
	}
}

/* Reports the result and frees the dialer; nothing may touch it afterwards. */
static void report(struct vd_dialer *dialer) {
	int fd = -1;
	if (dialer->done_ok) {
		fd = dialer->fd;
		dialer->fd = -1;
	}
	vd_dial_done done = dialer->done;
	void *data = dialer->data;
	char err[sizeof(dialer->err)];
	memcpy(err, dialer->err, sizeof(err));
	dialer_free(dialer);
	done(data, fd, fd >= 0 ? NULL : err);
}

static void dial_fail(struct vd_dialer *dialer, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void dial_fail(struct vd_dialer *dialer, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	vsnprintf(dialer->err, sizeof(dialer->err), fmt, args);
	va_end(args);
	dialer->done_ok = false;
	report(dialer);
}

/* Parses the muxer's answer, strictly "OK <decimal>\n". */
static bool hvsock_reply_ok(const char *line, size_t len) {
	uint32_t port;
	return len >= 5 && strncmp(line, "OK ", 3) == 0 && line[len - 1] == '\n' &&
		parse_u32(line + 3, len - 4, &port);
}

/* Reads the OK line; false if the dialer is gone (reported). */
static bool recv_ok(struct vd_dialer *dialer) {
	/*
	 * One byte at a time, so that whatever the guest sends right after the OK
	 * line stays in the socket for the link. The line is short.
	 */
	for (;;) {
		char c;
		ssize_t n = recv(dialer->fd, &c, 1, 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return true;
		}
		if (n < 0) {
			dial_fail(dialer, "hybrid vsock handshake: %s", strerror(errno));
			return false;
		}
		if (n == 0) {
			dial_fail(dialer, "hybrid vsock handshake: connection closed before OK "
				"(is the guest listening on that port?)");
			return false;
		}
		if (dialer->sent >= VD_HVSOCK_REPLY_MAX) {
			dial_fail(dialer, "hybrid vsock handshake: reply line too long");
			return false;
		}
		dialer->line[dialer->sent++] = c;
		if (c == '\n') {
			break;
		}
	}
	size_t len = dialer->sent;
	dialer->line[len] = '\0';
	if (!hvsock_reply_ok(dialer->line, len)) {
		/* the reply with anything unprintable replaced */
		char shown[VD_HVSOCK_REPLY_MAX + 1];
		size_t j = 0;
		for (size_t i = 0; i < len && dialer->line[i] != '\n'; i++) {
			unsigned char b = (unsigned char)dialer->line[i];
			shown[j++] = b >= 0x20 && b < 0x7f ? (char)b : '?';
		}
		shown[j] = '\0';
		dial_fail(dialer, "hybrid vsock handshake: unexpected reply \"%s\"", shown);
		return false;
	}
	dialer->done_ok = true;
	report(dialer);
	return false;
}

/* Moves the dial on after the socket became ready; false if it is over. */
static bool step(struct vd_dialer *dialer) {
	switch (dialer->state) {
	case DIAL_CONNECTING: {
		int error = 0;
		socklen_t len = sizeof(error);
		if (getsockopt(dialer->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) {
			error = errno;
		}
		if (error != 0) {
			dial_fail(dialer, "connect: %s", strerror(error));
			return false;
		}
		if (dialer->addr.kind != VD_ADDR_HVSOCK) {
			dialer->done_ok = true;
			report(dialer);
			return false;
		}
		dialer->state = DIAL_SEND_CONNECT;
	}
		/* fallthrough */
	case DIAL_SEND_CONNECT: {
		char line[32];
		int len = snprintf(line, sizeof(line), "CONNECT %u\n", dialer->addr.port);
		ssize_t n = send(dialer->fd, line + dialer->sent, (size_t)len - dialer->sent,
			MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			return true;
		}
		if (n < 0) {
			dial_fail(dialer, "hybrid vsock handshake: %s", strerror(errno));
			return false;
		}
		dialer->sent += (size_t)n;
		if (dialer->sent < (size_t)len) {
			return true;
		}
		dialer->sent = 0;
		dialer->state = DIAL_RECV_OK;
		wl_event_source_fd_update(dialer->fd_source, WL_EVENT_READABLE);
		return recv_ok(dialer);
	}
	case DIAL_RECV_OK:
		return recv_ok(dialer);
	}
	return true;
}

static int handle_fd(int fd, uint32_t mask, void *data) {
	step(data);
	return 0;
}

static int handle_timeout(void *data) {
	struct vd_dialer *dialer = data;
	dial_fail(dialer, "%s", dialer->state == DIAL_CONNECTING ? "connect timed out" :
		"hybrid vsock handshake timed out (no OK line)");
	return 0;
}

static void handle_idle(void *data) {
	struct vd_dialer *dialer = data;
	dialer->idle = NULL; // the loop removes it
	report(dialer);
}

struct vd_dialer *vd_dial(struct wl_event_loop *loop, const struct vd_addr *addr, int timeout_ms,
		vd_dial_done done, void *data) {
	struct vd_dialer *dialer = calloc(1, sizeof(*dialer));
	if (dialer == NULL) {
		return NULL;
	}
	dialer->addr = *addr;
	dialer->done = done;
	dialer->data = data;
	dialer->fd = socket(addr_family(addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	union vd_sockaddr sa;
	socklen_t len = fill_sockaddr(addr, &sa);
	if (dialer->fd < 0) {
		snprintf(dialer->err, sizeof(dialer->err), "socket: %s", strerror(errno));
	} else if (connect(dialer->fd, &sa.sa, len) < 0 && errno != EINPROGRESS) {
		snprintf(dialer->err, sizeof(dialer->err), "connect: %s", strerror(errno));
	} else {
		dialer->fd_source = wl_event_loop_add_fd(loop, dialer->fd, WL_EVENT_WRITABLE,
			handle_fd, dialer);
		dialer->timer = wl_event_loop_add_timer(loop, handle_timeout, dialer);
		if (dialer->fd_source == NULL || dialer->timer == NULL) {
			dialer_free(dialer);
			return NULL;
		}
		wl_event_source_timer_update(dialer->timer, timeout_ms > 0 ? timeout_ms : 1);
		return dialer;
	}
	/* failed at once: report from the loop, not from inside this call */
	dialer->idle = wl_event_loop_add_idle(loop, handle_idle, dialer);
	if (dialer->idle == NULL) {
		dialer_free(dialer);
		return NULL;
	}
	return dialer;
}
