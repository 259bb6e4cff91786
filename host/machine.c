#define LOG_TAG "machine"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/child.h"
#include "host/console.h"
#include "host/machine-private.h"
#include "host/qmp.h"
#include "host/vmstate.h"
#include "protocols/clock.h"
#include "protocols/log.h"

static const char *const state_names[] = {
	[VD_MACHINE_STOPPED] = "stopped",
	[VD_MACHINE_STARTING] = "starting",
	[VD_MACHINE_RUNNING] = "running",
	[VD_MACHINE_STOPPING] = "stopping",
};

const char *vd_machine_state_name(enum vd_machine_state state) {
	return state_names[state];
}

/* ---- log and progress ---- */

/* A line of hostd's in NAME.log, between the VMM's and the proxy's own. */
void machine_log(struct vd_machine *m, const char *fmt, ...) {
	if (m->log_fd < 0) {
		return;
	}
	char text[1024], stamp[32];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	dprintf(m->log_fd, "%s vmdesk-hostd: %s\n", stamp, text);
}

/* A step of a start or stop: to the waiting commands, hostd's log and NAME.log. */
void machine_say(struct vd_machine *m, const char *fmt, ...) {
	char text[1024], line[1100];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	uint64_t since = m->stop_requested ? m->stop_ms : m->start_ms;
	double t = since != 0 ? (double)(vd_now_ms() - since) / 1000.0 : 0.0;
	snprintf(line, sizeof(line), "[%6.1f s] %s", t, text);
	vd_log(VD_INFO, "vm=%s %s", m->name, line);
	machine_log(m, "%s", text);
	m->impl->progress(m->data, m, line);
}

void machine_changed(struct vd_machine *m) {
	m->impl->changed(m->data, m);
}

/* The last lines of NAME.log since offset, for a failure message. */
void machine_log_tail(struct vd_machine *m, off_t from, char *out, size_t size) {
	out[0] = '\0';
	int fd = open(m->log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return;
	}
	struct stat st;
	char buf[600];
	if (fstat(fd, &st) == 0 && st.st_size > from) {
		off_t start = st.st_size - (off_t)sizeof(buf) + 1 > from ?
			st.st_size - (off_t)sizeof(buf) + 1 : from;
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, start);
		if (n > 0) {
			buf[n] = '\0';
			/* the last non-empty line not written by hostd */
			char *save = NULL, *last = NULL;
			for (char *l = strtok_r(buf, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
				if (strstr(l, " vmdesk-hostd: ") == NULL) {
					last = l;
				}
			}
			if (last != NULL) {
				snprintf(out, size, ": %.300s", last);
			}
		}
	}
	close(fd);
}

static void cut_log(const char *path) {
	struct stat st;
	if (path[0] != '\0' && stat(path, &st) == 0 && st.st_size > LOG_MAX_BYTES) {
		/* writers append (O_APPEND): they go on at the new end */
		if (truncate(path, 0) == 0) {
			vd_log(VD_INFO, "%s grew past %d MiB: cut back", path, LOG_MAX_BYTES >> 20);
		}
	}
}

static int handle_log_timer(void *data) {
	struct vd_machine *m = data;
	cut_log(m->log_path);
	cut_log(m->console_log);
	wl_event_source_timer_update(m->log_timer, LOG_CHECK_MS);
	return 0;
}

bool machine_open_log(struct vd_machine *m, char *err, size_t err_size) {
	if (m->log_fd >= 0) {
		return true;
	}
	if (mkdir(m->config.state_dir, 0700) < 0 && errno != EEXIST) {
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", m->config.state_dir);
		char *slash = strrchr(parent, '/');
		if (slash != NULL && slash != parent) {
			*slash = '\0';
			mkdir(parent, 0700);
		}
		mkdir(m->config.state_dir, 0700);
	}
	cut_log(m->log_path);
	m->log_fd = open(m->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (m->log_fd < 0) {
		snprintf(err, err_size, "cannot open the VM's log %s: %s", m->log_path,
			strerror(errno));
		return false;
	}
	return true;
}

/* ---- the state file ---- */

void machine_write_state(struct vd_machine *m) {
	struct vd_vmstate st = {
		.vmm = m->kind,
		.vmm_pid = m->vmm.pid,
		.vmm_start = m->vmm.start,
		.proxy_pid = m->proxy.pid,
		.proxy_start = m->proxy.pid != 0 ? m->proxy.start : 0,
		.started = m->started,
		.agent_serial = m->agent_serial,
		.control = m->control,
		.powerdown = m->powerdown, // borrowed: not finished here
		.force_stop = m->force_stop,
		.proxy = m->proxy_argv,
	};
	for (size_t i = 0; i < m->nhelpers; i++) {
		if (vd_child_running(&m->helpers[i])) {
			st.helper_pid[st.nhelpers] = m->helpers[i].pid;
			st.helper_start[st.nhelpers++] = m->helpers[i].start;
		}
	}
	snprintf(st.agent, sizeof(st.agent), "%s", m->agent_str);
	char err[PATH_MAX + 64];
	if (!vd_vmstate_write(m->dir, &st, err, sizeof(err))) {
		vd_log(VD_WARN, "vm=%s: %s (a restarted hostd would not find this VM)", m->name, err);
	}
}

void machine_spawn_proxy(struct vd_machine *m) {
	if (m->proxy_argv.argc == 0 || vd_child_running(&m->proxy)) {
		return;
	}
	char err[512];
	char *line = vd_vmm_cmd_format(&m->proxy_argv);
	machine_log(m, "proxy: %s", line != NULL ? line : "?");
	free(line);
	if (!vd_child_spawn(&m->proxy, m->config.children, m->proxy_argv.argv, m->log_fd,
			machine_proxy_exited, m, err, sizeof(err))) {
		snprintf(m->proxy_note, sizeof(m->proxy_note), "%s; trying again", err);
		vd_log(VD_WARN, "vm=%s: %s", m->name, m->proxy_note);
		wl_event_source_timer_update(m->proxy_timer, (int)vd_backoff_next(&m->proxy_backoff));
		return;
	}
	m->proxy_note[0] = '\0';
	vd_backoff_connected(&m->proxy_backoff, vd_now_ms());
}

static int handle_proxy_timer(void *data) {
	struct vd_machine *m = data;
	if ((m->state == VD_MACHINE_STARTING || m->state == VD_MACHINE_RUNNING) &&
			m->step == STEP_NONE) {
		machine_spawn_proxy(m);
		machine_write_state(m);
		machine_changed(m);
	}
	return 0;
}

static int handle_timer(void *data) {
	struct vd_machine *m = data;
	if (!machine_stop_timer(m)) {
		machine_start_timer(m);
	}
	return 0;
}

/* ---- the rest ---- */

void vd_machine_agent_ready(struct vd_machine *machine) {
	if (machine->state == VD_MACHINE_STARTING && machine->step == STEP_NONE &&
			!machine->tearing_down) {
		machine->state = VD_MACHINE_RUNNING;
		if (machine->start_ms != 0) {
			machine_say(machine, "agent connected: the VM is running");
		} else {
			machine_log(machine, "the agent answered");
		}
		machine_changed(machine);
	}
}

struct vd_machine *vd_machine_create(const struct vd_machine_config *config, const char *name,
		const struct vd_machine_impl *impl, void *data) {
	struct vd_machine *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return NULL;
	}
	m->config = *config;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->impl = impl;
	m->data = data;
	m->log_fd = -1;
	vd_child_init(&m->vmm);
	vd_child_init(&m->proxy);
	vd_child_init(&m->powerdown_cmd);
	vd_child_init(&m->force_cmd);
	for (size_t i = 0; i < VD_VMM_MAX_SHARES; i++) {
		vd_child_init(&m->helpers[i]);
	}
	snprintf(m->log_path, sizeof(m->log_path), "%s/%s.log", config->state_dir, name);
	vd_backoff_init(&m->proxy_backoff, PROXY_RETRY_MIN_MS, PROXY_RETRY_MAX_MS, PROXY_STABLE_MS);
	m->timer = wl_event_loop_add_timer(config->loop, handle_timer, m);
	m->proxy_timer = wl_event_loop_add_timer(config->loop, handle_proxy_timer, m);
	m->log_timer = wl_event_loop_add_timer(config->loop, handle_log_timer, m);
	if (m->timer == NULL || m->proxy_timer == NULL || m->log_timer == NULL) {
		vd_machine_destroy(m);
		return NULL;
	}
	return m;
}

void vd_machine_destroy(struct vd_machine *machine) {
	struct vd_machine *m = machine;
	if (m == NULL) {
		return;
	}
	if (vd_child_running(&m->vmm) && m->step == STEP_NONE) {
		machine_write_state(m); // for the next hostd
		machine_log(m, "vmdesk-hostd leaves; the VM runs on (VMM pid %d)", (int)m->vmm.pid);
	}
	vd_qmp_cancel(m->qmp);
	vd_console_destroy(m->console, "vmdesk-hostd is leaving");
	vd_child_finish(&m->vmm);
	vd_child_finish(&m->proxy);
	vd_child_finish(&m->powerdown_cmd);
	vd_child_finish(&m->force_cmd);
	for (size_t i = 0; i < VD_VMM_MAX_SHARES; i++) {
		vd_child_finish(&m->helpers[i]);
	}
	if (m->launch != NULL) {
		vd_launch_finish(m->launch);
		free(m->launch);
	}
	vd_vmm_cmd_finish(&m->powerdown);
	vd_vmm_cmd_finish(&m->force_stop);
	vd_vmm_cmd_finish(&m->proxy_argv);
	if (m->timer != NULL) {
		wl_event_source_remove(m->timer);
	}
	if (m->proxy_timer != NULL) {
		wl_event_source_remove(m->proxy_timer);
	}
	if (m->log_timer != NULL) {
		wl_event_source_remove(m->log_timer);
	}
	if (m->log_fd >= 0) {
		close(m->log_fd);
	}
	free(m);
}

void vd_machine_progress(struct vd_machine *machine, const char *text) {
	machine_say(machine, "%s", text);
}

const char *vd_machine_name(const struct vd_machine *machine) {
	return machine->name;
}

enum vd_machine_state vd_machine_state(const struct vd_machine *machine) {
	return machine->state;
}

pid_t vd_machine_pid(const struct vd_machine *machine) {
	return machine->vmm.pid;
}

long long vd_machine_uptime(const struct vd_machine *machine) {
	if (machine->started == 0 || machine->state == VD_MACHINE_STOPPED) {
		return 0;
	}
	long long up = (long long)time(NULL) - machine->started;
	return up > 0 ? up : 0;
}

const struct vd_addr *vd_machine_agent(const struct vd_machine *machine, bool *serial) {
	if (!machine->agent_known || machine->state == VD_MACHINE_STOPPED ||
			machine->tearing_down) {
		return NULL;
	}
	*serial = machine->agent_serial;
	return &machine->agent;
}

const char *vd_machine_last_stop(const struct vd_machine *machine) {
	return machine->last_stop;
}

struct vd_console *vd_machine_console(struct vd_machine *machine) {
	return machine->state == VD_MACHINE_STOPPED || machine->tearing_down ? NULL :
		machine->console;
}

void vd_machine_status(const struct vd_machine *machine, FILE *out) {
	const struct vd_machine *m = machine;
	fprintf(out, "state: %s\n", state_names[m->state]);
	if (vd_child_running(&m->vmm)) {
		fprintf(out, "pid: %d\nuptime: %lld s\n", (int)m->vmm.pid, vd_machine_uptime(m));
		if (vd_child_running(&m->proxy)) {
			fprintf(out, "proxy: running (pid %d)\n", (int)m->proxy.pid);
		} else if (m->proxy_argv.argc == 0) {
			fprintf(out, "proxy: none\n");
		} else {
			fprintf(out, "proxy: not running: %s\n", m->proxy_note[0] ? m->proxy_note :
				"not started yet");
		}
		fprintf(out, "run directory: %s\n", m->dir);
	}
	if (m->last_stop[0] != '\0') {
		fprintf(out, "last stop: %s\n", m->last_stop);
	}
	fprintf(out, "log: %s\n", m->log_path);
}
