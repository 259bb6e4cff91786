#define LOG_TAG "server"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "protocols/log.h"
#include "protocols/wire.h"
#include "proxy/clipboard.h"
#include "proxy/hostd-link.h"
#include "proxy/policy.h"
#include "protocols/listen.h"
#include "proxy/server.h"
#include "proxy/session-private.h"

bool vd_server_resolve_display(const char *display, char *path, size_t path_size, char *err,
		size_t err_size) {
	if (display == NULL || display[0] == '\0') {
		snprintf(err, err_size, "no compositor to connect to: WAYLAND_DISPLAY is not "
			"set and --display was not given");
		return false;
	}
	int n;
	if (display[0] == '/') {
		n = snprintf(path, path_size, "%s", display);
	} else {
		const char *runtime = getenv("XDG_RUNTIME_DIR");
		if (runtime == NULL || runtime[0] == '\0') {
			snprintf(err, err_size, "display '%s' is relative but XDG_RUNTIME_DIR is "
				"not set", display);
			return false;
		}
		n = snprintf(path, path_size, "%s/%s", runtime, display);
	}
	if (n < 0 || (size_t)n >= path_size) {
		snprintf(err, err_size, "display path for '%s' is too long for a Unix socket",
			display);
		return false;
	}
	return true;
}

/*
 * What the proxy has sent but the compositor not yet read. A libwayland
 * compositor drops a client whose events overflow its socket; keeping its
 * backlog of requests small keeps the events they cause within that buffer
 * even when the proxy is not scheduled for a while.
 */
#define UPSTREAM_SNDBUF 32768

int vd_server_connect_upstream(struct vd_server *server) {
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -1;
	}
	int sndbuf = UPSTREAM_SNDBUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	memcpy(addr.sun_path, server->upstream_path, sizeof(addr.sun_path));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		/* a local socket connects at once or not at all */
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int handle_listen(int fd, uint32_t mask, void *data) {
	struct vd_server *server = data;
	int client_fd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (client_fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			vd_log_errno(VD_ERROR, "vm=%s: accept failed", server->vm);
		}
		return 0;
	}
	int upstream_fd = vd_server_connect_upstream(server);
	if (upstream_fd < 0) {
		vd_log_errno(VD_ERROR, "vm=%s: cannot connect to the compositor at %s",
			server->vm, server->upstream_path);
		/* tell the client why, as a compositor would */
		uint8_t buf[VD_WIRE_MAX_MESSAGE_SIZE];
		struct vd_wire_writer writer;
		vd_wire_writer_init(&writer, buf, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_ERROR);
		vd_wire_writer_put_u32(&writer, VD_DISPLAY_ID);
		vd_wire_writer_put_u32(&writer, VD_WL_DISPLAY_ERROR_IMPLEMENTATION);
		vd_wire_writer_put_string(&writer, "vmdesk-proxy: cannot reach the compositor");
		if (vd_wire_writer_finish(&writer)) {
			(void)!send(client_fd, buf, writer.size, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		close(client_fd);
		return 0;
	}
	vd_session_create(server, client_fd, upstream_fd);
	return 0;
}

bool vd_server_init(struct vd_server *server, struct wl_event_loop *loop) {
	server->loop = loop;
	server->listen_fd = -1;
	server->lock_fd = -1;
	wl_list_init(&server->sessions);
	server->hooks = dispatch_hooks_create();
	server->clipboard = clipboard_create(server);
	return server->hooks != NULL && server->clipboard != NULL;
}

void server_focus_changed(struct vd_server *server, bool focused) {
	vd_log(VD_DEBUG, "vm=%s: keyboard focus %s", server->vm, focused ? "in" : "out");
	hostd_link_focus_changed(server, focused);
}

void server_windows_changed(struct vd_server *server, int delta) {
	server->windows = delta < 0 && server->windows == 0 ? 0 : server->windows + (uint32_t)delta;
	hostd_link_windows_changed(server);
}

static bool start_listening(struct vd_server *server, int fd) {
	server->listen_fd = fd;
	server->listen_source = wl_event_loop_add_fd(server->loop, fd, WL_EVENT_READABLE,
		handle_listen, server);
	return server->listen_source != NULL;
}

/* The one way to listen (protocols/listen.h): PATH.lock, so that a second proxy
 * cannot steal a live socket, and a stale one is replaced. */
bool vd_server_listen(struct vd_server *server, const char *path) {
	struct vd_listener listener;
	char err[512];
	if (!vd_listen_unix(&listener, path, err, sizeof(err))) {
		vd_log(VD_ERROR, "%s", err);
		return false;
	}
	size_t lock_len = strlen(path) + sizeof(".lock");
	server->socket_path = strdup(path);
	server->lock_path = malloc(lock_len);
	server->lock_fd = listener.lock_fd;
	if (server->socket_path == NULL || server->lock_path == NULL) {
		close(listener.fd);
		return false; // vd_server_finish removes the files
	}
	snprintf(server->lock_path, lock_len, "%s.lock", path);
	return start_listening(server, listener.fd);
}

bool vd_server_adopt(struct vd_server *server, int fd) {
	int accepting = 0;
	socklen_t len = sizeof(accepting);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) {
		vd_log(VD_ERROR, "fd %d from socket activation is not a listening socket", fd);
		return false;
	}
	int flags = fcntl(fd, F_GETFD);
	fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	return start_listening(server, fd);
}

void vd_server_finish(struct vd_server *server) {
	struct vd_session *session, *tmp;
	wl_list_for_each_safe(session, tmp, &server->sessions, link) {
		vd_session_destroy(session);
	}
	clipboard_destroy(server->clipboard);
	server->clipboard = NULL;
	vd_hook_registry_destroy(server->hooks);
	server->hooks = NULL;
	if (server->listen_source != NULL) {
		wl_event_source_remove(server->listen_source);
		server->listen_source = NULL;
	}
	if (server->listen_fd >= 0) {
		close(server->listen_fd);
		server->listen_fd = -1;
	}
	if (server->socket_path != NULL) {
		unlink(server->socket_path);
		free(server->socket_path);
		server->socket_path = NULL;
	}
	if (server->lock_path != NULL) {
		unlink(server->lock_path);
		free(server->lock_path);
		server->lock_path = NULL;
	}
	if (server->lock_fd >= 0) {
		close(server->lock_fd);
		server->lock_fd = -1;
	}
}
