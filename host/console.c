#define LOG_TAG "console"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/console.h"
#include "protocols/link.h"
#include "protocols/listen.h"
#include "protocols/log.h"
#include "protocols/transport.h"

/* A client's input in flight, as the run window of the link (protocols/link.xml). */
#define INPUT_MAX VD_LINK_RUN_WINDOW

struct vd_console {
	struct wl_event_loop *loop;
	char path[108];
	bool host_listens;
	bool keep; // the connection is kept for the VM's life (host_listens, or a log)
	struct vd_listener listener; // host_listens: crosvm connects here
	struct wl_event_source *listen_source;
	int fd; // the console's connection; -1 none
	struct wl_event_source *source;
	int log_fd; // every byte of output; -1 none
	bool paused;
	uint8_t *in; // input not yet written
	size_t in_len;

	const struct vd_console_client *client; // NULL: nobody attached
	void *client_data;
};

static void close_conn(struct vd_console *console) {
	if (console->source != NULL) {
		wl_event_source_remove(console->source);
		console->source = NULL;
	}
	if (console->fd >= 0) {
		close(console->fd);
		console->fd = -1;
	}
	console->in_len = 0;
}

static void end_client(struct vd_console *console, const char *reason) {
	const struct vd_console_client *client = console->client;
	void *data = console->client_data;
	console->client = NULL;
	console->client_data = NULL;
	console->paused = false;
	if (client != NULL) {
		client->ended(data, reason);
	}
}

static void update_mask(struct vd_console *console) {
	if (console->source == NULL) {
		return;
	}
	uint32_t mask = 0;
	if (!console->paused || console->client == NULL) {
		mask |= WL_EVENT_READABLE;
	}
	if (console->in_len > 0) {
		mask |= WL_EVENT_WRITABLE;
	}
	wl_event_source_fd_update(console->source, mask);
}

static void flush_input(struct vd_console *console) {
	size_t done = 0;
	while (done < console->in_len) {
		ssize_t n = write(console->fd, console->in + done, console->in_len - done);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		done += (size_t)n;
	}
	if (done > 0) {
		memmove(console->in, console->in + done, console->in_len - done);
		console->in_len -= done;
		if (console->client != NULL) {
			console->client->input_taken(console->client_data, (uint32_t)done);
		}
	}
}

static int handle_fd(int fd, uint32_t mask, void *data) {
	struct vd_console *console = data;
	if ((mask & WL_EVENT_WRITABLE) && console->in_len > 0) {
		flush_input(console);
	}
	if (mask & (WL_EVENT_READABLE | WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		uint8_t buf[16384];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			update_mask(console);
			return 0;
		}
		if (n <= 0) {
			close_conn(console);
			end_client(console, "the VMM closed the console");
			return 0;
		}
		if (console->log_fd >= 0) {
			(void)!write(console->log_fd, buf, (size_t)n);
		}
		if (console->client != NULL) {
			console->client->output(console->client_data, buf, (size_t)n);
		}
	}
	update_mask(console);
	return 0;
}

static bool watch_conn(struct vd_console *console, int fd) {
	console->fd = fd;
	console->source = wl_event_loop_add_fd(console->loop, fd, WL_EVENT_READABLE, handle_fd,
		console);
	if (console->source == NULL) {
		close(fd);
		console->fd = -1;
		return false;
	}
	return true;
}

/* crosvm connected (once): keep it for the VM's life. */
static int handle_accept(int fd, uint32_t mask, void *data) {
	struct vd_console *console = data;
	int cfd = vd_transport_accept(fd);
	if (cfd < 0) {
		return 0;
	}
	if (console->fd >= 0) {
		vd_log(VD_WARN, "%s: a second connection to the console refused", console->path);
		close(cfd);
		return 0;
	}
	watch_conn(console, cfd);
	return 0;
}

static int connect_console(const char *path) {
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -1;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct vd_console *vd_console_create(struct wl_event_loop *loop, const char *socket_path,
		bool host_listens, const char *log_path, char *err, size_t err_size) {
	struct vd_console *console = calloc(1, sizeof(*console));
	if (console == NULL || strlen(socket_path) >= sizeof(console->path)) {
		snprintf(err, err_size, console == NULL ? "out of memory" : "console path too long");
		free(console);
		return NULL;
	}
	console->loop = loop;
	console->fd = -1;
	console->log_fd = -1;
	console->host_listens = host_listens;
	vd_listener_init(&console->listener);
	snprintf(console->path, sizeof(console->path), "%s", socket_path);
	console->in = malloc(INPUT_MAX);
	if (console->in == NULL) {
		snprintf(err, err_size, "out of memory");
		free(console);
		return NULL;
	}
	if (log_path != NULL && log_path[0] != '\0') {
		console->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
			0600);
		if (console->log_fd < 0) {
			vd_log_errno(VD_WARN, "console log %s", log_path);
		}
	}
	console->keep = host_listens || console->log_fd >= 0;
	if (!host_listens && console->keep) {
		/* the VMM listens: connect now and stay, so that all of its output is logged */
		int fd = connect_console(socket_path);
		if (fd < 0) {
			vd_log_errno(VD_WARN, "console %s (tried again at `vmdesk console`)", socket_path);
		} else if (!watch_conn(console, fd)) {
			snprintf(err, err_size, "out of memory");
			vd_console_destroy(console, NULL);
			return NULL;
		}
	}
	if (host_listens) {
		if (!vd_listen_unix(&console->listener, socket_path, err, err_size)) {
			vd_console_destroy(console, NULL);
			return NULL;
		}
		console->listen_source = wl_event_loop_add_fd(loop, console->listener.fd,
			WL_EVENT_READABLE, handle_accept, console);
		if (console->listen_source == NULL) {
			snprintf(err, err_size, "out of memory");
			vd_console_destroy(console, NULL);
			return NULL;
		}
	}
	return console;
}

void vd_console_destroy(struct vd_console *console, const char *reason) {
	if (console == NULL) {
		return;
	}
	end_client(console, reason != NULL ? reason : "the console is gone");
	close_conn(console);
	if (console->listen_source != NULL) {
		wl_event_source_remove(console->listen_source);
	}
	vd_listener_finish(&console->listener);
	if (console->log_fd >= 0) {
		close(console->log_fd);
	}
	free(console->in);
	free(console);
}

bool vd_console_attach(struct vd_console *console, const struct vd_console_client *client,
		void *data, char *err, size_t err_size) {
	if (console->client != NULL) {
		snprintf(err, err_size, "the console is in use by another vmdesk console");
		return false;
	}
	if (!console->host_listens && console->fd < 0) {
		int fd = connect_console(console->path);
		if (fd < 0) {
			snprintf(err, err_size, "cannot reach the console at %s: %s", console->path,
				strerror(errno));
			return false;
		}
		if (!watch_conn(console, fd)) {
			snprintf(err, err_size, "out of memory");
			return false;
		}
	} else if (console->fd < 0) {
		snprintf(err, err_size, "the VMM has not connected its console (yet)");
		return false;
	}
	console->client = client;
	console->client_data = data;
	console->paused = false;
	update_mask(console);
	return true;
}

void vd_console_detach(struct vd_console *console) {
	console->client = NULL;
	console->client_data = NULL;
	console->paused = false;
	if (!console->keep) {
		close_conn(console); // the VMM serves the next one
	} else {
		console->in_len = 0;
		update_mask(console);
	}
}

void vd_console_input(struct vd_console *console, const uint8_t *bytes, size_t len) {
	if (console->client == NULL || console->fd < 0) {
		return;
	}
	if (len > INPUT_MAX - console->in_len) {
		if (!console->keep) {
			close_conn(console);
		}
		console->in_len = 0;
		end_client(console, "input beyond its window");
		return;
	}
	memcpy(console->in + console->in_len, bytes, len);
	console->in_len += len;
	flush_input(console);
	update_mask(console);
}

void vd_console_pause(struct vd_console *console, bool paused) {
	console->paused = paused;
	update_mask(console);
}
