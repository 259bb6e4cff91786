#define LOG_TAG "qmp"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/qmp.h"
#include "protocols/log.h"
#include "protocols/transport.h"

#define LINE_MAX_BYTES (64 * 1024)

enum qmp_state {
	QMP_DIALING,
	QMP_GREETING, // waiting for {"QMP": ...}
	QMP_CAPABILITIES, // waiting for the return of qmp_capabilities
	QMP_COMMAND, // waiting for the return of the command
};

struct vd_qmp {
	struct wl_event_loop *loop;
	enum qmp_state state;
	char *command;
	struct vd_dialer *dialer;
	int fd;
	struct wl_event_source *source;
	struct wl_event_source *timer;
	char *buf; // the line being read
	size_t len;
	vd_qmp_done done;
	void *data;
};

static void qmp_free(struct vd_qmp *qmp) {
	vd_dialer_cancel(qmp->dialer);
	if (qmp->source != NULL) {
		wl_event_source_remove(qmp->source);
	}
	if (qmp->timer != NULL) {
		wl_event_source_remove(qmp->timer);
	}
	if (qmp->fd >= 0) {
		close(qmp->fd);
	}
	free(qmp->command);
	free(qmp->buf);
	free(qmp);
}

static void finish(struct vd_qmp *qmp, bool ok, const char *err) {
	vd_qmp_done done = qmp->done;
	void *data = qmp->data;
	char why[512];
	snprintf(why, sizeof(why), "%s", err != NULL ? err : "");
	qmp_free(qmp);
	done(data, ok, ok ? NULL : why);
}

static bool send_line(struct vd_qmp *qmp, const char *json) {
	size_t len = strlen(json), off = 0;
	/* a few dozen bytes to a fresh socket: they fit its buffer */
	while (off < len) {
		ssize_t n = write(qmp->fd, json + off, len - off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return false;
		}
		off += (size_t)n;
	}
	return write(qmp->fd, "\n", 1) == 1;
}

/* One line from QEMU. Returns false once the command is over (qmp freed). */
static bool handle_line(struct vd_qmp *qmp, const char *line) {
	while (*line == ' ' || *line == '\t') {
		line++;
	}
	bool is_return = strncmp(line, "{\"return\"", 9) == 0;
	bool is_error = strncmp(line, "{\"error\"", 8) == 0;
	/* events ({"timestamp": ..., "event": "POWERDOWN"}) come whenever they happen */
	if (line[0] == '\0' || (!is_return && !is_error && strstr(line, "\"event\":") != NULL &&
			qmp->state != QMP_GREETING)) {
		return true;
	}
	switch (qmp->state) {
	case QMP_GREETING:
		if (strncmp(line, "{\"QMP\"", 6) != 0) {
			finish(qmp, false, "the monitor did not greet as QMP does");
			return false;
		}
		if (!send_line(qmp, "{\"execute\":\"qmp_capabilities\"}")) {
			finish(qmp, false, "cannot write to the monitor");
			return false;
		}
		qmp->state = QMP_CAPABILITIES;
		return true;
	case QMP_CAPABILITIES:
	case QMP_COMMAND:
		if (!is_return && !is_error) {
			char why[300];
			snprintf(why, sizeof(why), "an answer the monitor should not give: %.200s", line);
			finish(qmp, false, why);
			return false;
		}
		if (is_error) {
			char why[300];
			snprintf(why, sizeof(why), "QEMU refused: %.200s", line);
			finish(qmp, false, why);
			return false;
		}
		if (qmp->state == QMP_COMMAND) {
			finish(qmp, true, NULL);
			return false;
		}
		if (!send_line(qmp, qmp->command)) {
			finish(qmp, false, "cannot write to the monitor");
			return false;
		}
		qmp->state = QMP_COMMAND;
		return true;
	default:
		return true;
	}
}

static int handle_readable(int fd, uint32_t mask, void *data) {
	struct vd_qmp *qmp = data;
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return 0;
	}
	if (n <= 0) {
		finish(qmp, false, n == 0 ? "QEMU closed the monitor" : strerror(errno));
		return 0;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (chunk[i] == '\n') {
			qmp->buf[qmp->len] = '\0';
			if (qmp->len > 0 && qmp->buf[qmp->len - 1] == '\r') {
				qmp->buf[qmp->len - 1] = '\0';
			}
			qmp->len = 0;
			if (!handle_line(qmp, qmp->buf)) {
				return 0;
			}
		} else if (qmp->len == LINE_MAX_BYTES) {
			finish(qmp, false, "a line longer than 64 KiB from the monitor");
			return 0;
		} else {
			qmp->buf[qmp->len++] = chunk[i];
		}
	}
	return 0;
}

static void handle_dialed(void *data, int fd, const char *err) {
	struct vd_qmp *qmp = data;
	qmp->dialer = NULL;
	if (fd < 0) {
		finish(qmp, false, err);
		return;
	}
	qmp->fd = fd;
	qmp->state = QMP_GREETING;
	qmp->source = wl_event_loop_add_fd(qmp->loop, fd, WL_EVENT_READABLE, handle_readable, qmp);
	if (qmp->source == NULL) {
		finish(qmp, false, "out of memory");
	}
}

static int handle_timeout(void *data) {
	finish(data, false, "no answer from the monitor in time");
	return 0;
}

struct vd_qmp *vd_qmp_command(struct wl_event_loop *loop, const char *socket_path,
		const char *command, int timeout_ms, vd_qmp_done done, void *data) {
	struct vd_qmp *qmp = calloc(1, sizeof(*qmp));
	if (qmp == NULL) {
		return NULL;
	}
	qmp->loop = loop;
	qmp->fd = -1;
	qmp->done = done;
	qmp->data = data;
	qmp->command = strdup(command);
	qmp->buf = malloc(LINE_MAX_BYTES + 1);
	struct vd_addr addr = {.kind = VD_ADDR_UNIX};
	if (qmp->command == NULL || qmp->buf == NULL || strlen(socket_path) >= sizeof(addr.path)) {
		qmp_free(qmp);
		return NULL;
	}
	snprintf(addr.path, sizeof(addr.path), "%s", socket_path);
	qmp->timer = wl_event_loop_add_timer(loop, handle_timeout, qmp);
	qmp->dialer = vd_dial(loop, &addr, timeout_ms, handle_dialed, qmp);
	if (qmp->timer == NULL || qmp->dialer == NULL) {
		qmp_free(qmp);
		return NULL;
	}
	wl_event_source_timer_update(qmp->timer, timeout_ms);
	return qmp;
}

void vd_qmp_cancel(struct vd_qmp *qmp) {
	if (qmp != NULL) {
		qmp_free(qmp);
	}
}
