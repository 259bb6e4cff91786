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
#include "host/machine.h"
#include "host/qmp.h"
#include "host/vmstate.h"
#include "protocols/backoff.h"
#include "protocols/clock.h"
#include "protocols/log.h"

#define POLL_MS 50
#define KILL_GRACE_MS 5000 // a proxy or helper that ignores SIGTERM this long is killed
#define QMP_TIMEOUT_MS 10000
/* A guest still booting misses the power button (no ACPI daemon yet): press it again. */
#define REPRESS_MS 10000
#define PROXY_RETRY_MIN_MS 500
#define PROXY_RETRY_MAX_MS 30000
#define PROXY_STABLE_MS 10000
#define LOG_CHECK_MS 30000
#define LOG_MAX_BYTES (8 * 1024 * 1024) // NAME.log and console.log are cut back to 0 beyond
#define EXIT_USAGE 2

enum start_step {
	STEP_NONE,
	STEP_HELPERS, // waiting for the helpers' sockets
	STEP_PROXY_FIRST, // cross-domain: waiting for the proxy's socket
	STEP_VMM, // waiting for the VMM's control socket
};

struct vd_machine {
	struct vd_machine_config config;
	char name[VD_VM_NAME_MAX + 1];
	const struct vd_machine_impl *impl;
	void *data;
	enum vd_machine_state state;
	char dir[PATH_MAX];
	char log_path[PATH_MAX];
	int log_fd;
	struct wl_event_source *log_timer;

	/* what it runs with: from the launch, or from the state file of an adopted VM */
	struct vd_launch *launch; // while starting only
	enum vd_vmm_kind kind;
	bool agent_known, agent_serial;
	struct vd_addr agent;
	char agent_str[160];
	enum vd_vmm_control control;
	struct vd_vmm_cmd powerdown; // control = command
	struct vd_vmm_cmd proxy_argv; // argc 0: no proxy
	char control_socket[VD_ADDR_PATH_MAX];
	char console_socket[VD_ADDR_PATH_MAX];
	char console_log[PATH_MAX];
	bool host_listens_console;
	bool proxy_listens;

	struct vd_child vmm;
	struct vd_child proxy;
	struct vd_child helpers[VD_VMM_MAX_SHARES];
	size_t nhelpers;
	struct vd_child powerdown_cmd;
	struct vd_qmp *qmp;
	struct vd_console *console;

	enum start_step step;
	uint64_t step_deadline;
	struct wl_event_source *timer; // start steps, the stop deadline, the kill grace
	struct wl_event_source *proxy_timer; // the proxy's restart
	struct vd_backoff proxy_backoff;
	char proxy_note[700]; // why the proxy is not running

	uint64_t start_ms; // CLOCK_MONOTONIC of this start ("" for adopted: 0)
	long long started; // CLOCK_REALTIME seconds the VMM started
	uint64_t stop_ms;
	bool stop_requested, force, tearing_down;
	bool pressed; // the power button was pressed (said once)
	char last_stop[512];
	char stop_reason[512]; // of the teardown in progress
};

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

static void log_line(struct vd_machine *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line of hostd's in NAME.log, between the VMM's and the proxy's own. */
static void log_line(struct vd_machine *m, const char *fmt, ...) {
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

static void progress(struct vd_machine *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A step of a start or stop: to the waiting commands, hostd's log and NAME.log. */
static void progress(struct vd_machine *m, const char *fmt, ...) {
	char text[1024], line[1100];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	uint64_t since = m->stop_requested ? m->stop_ms : m->start_ms;
	double t = since != 0 ? (double)(vd_now_ms() - since) / 1000.0 : 0.0;
	snprintf(line, sizeof(line), "[%6.1f s] %s", t, text);
	vd_log(VD_INFO, "vm=%s %s", m->name, line);
	log_line(m, "%s", text);
	m->impl->progress(m->data, m, line);
}

static void changed(struct vd_machine *m) {
	m->impl->changed(m->data, m);
}

/* The last lines of NAME.log since offset, for a failure message. */
static void log_tail(struct vd_machine *m, off_t from, char *out, size_t size) {
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

static bool open_log(struct vd_machine *m, char *err, size_t err_size) {
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

static void write_state(struct vd_machine *m) {
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

/* ---- stopping and teardown ---- */

static bool children_left(struct vd_machine *m) {
	if (vd_child_running(&m->vmm) || vd_child_running(&m->proxy) ||
			vd_child_running(&m->powerdown_cmd)) {
		return true;
	}
	for (size_t i = 0; i < m->nhelpers; i++) {
		if (vd_child_running(&m->helpers[i])) {
			return true;
		}
	}
	return false;
}

static void forget_run(struct vd_machine *m) {
	if (m->launch != NULL) {
		vd_launch_finish(m->launch);
		free(m->launch);
		m->launch = NULL;
	}
	vd_vmm_cmd_finish(&m->powerdown);
	vd_vmm_cmd_finish(&m->proxy_argv);
	m->agent_known = false;
	m->step = STEP_NONE;
	m->nhelpers = 0;
	m->started = 0;
	m->start_ms = 0;
	m->proxy_note[0] = '\0';
	wl_event_source_timer_update(m->timer, 0);
	wl_event_source_timer_update(m->proxy_timer, 0);
	wl_event_source_timer_update(m->log_timer, 0);
}

/* Everything of this run is gone: the sockets and state file go, the machine is stopped. */
static void finish_teardown(struct vd_machine *m) {
	vd_console_destroy(m->console, "the VM stopped");
	m->console = NULL;
	if (m->dir[0] != '\0') {
		vd_vmstate_remove_dir(m->dir);
	}
	snprintf(m->last_stop, sizeof(m->last_stop), "%s", m->stop_reason);
	m->state = VD_MACHINE_STOPPED;
	if (m->stop_requested) {
		progress(m, "stopped: %s", m->last_stop);
	} else {
		log_line(m, "stopped: %s", m->last_stop);
		vd_log(VD_INFO, "vm=%s stopped: %s", m->name, m->last_stop);
	}
	forget_run(m);
	m->tearing_down = false;
	m->stop_requested = false;
	m->force = false;
	m->pressed = false;
	m->stop_ms = 0;
	changed(m);
}

static void signal_rest(struct vd_machine *m, int signo) {
	vd_child_signal(&m->proxy, signo);
	vd_child_signal(&m->powerdown_cmd, signo);
	for (size_t i = 0; i < m->nhelpers; i++) {
		vd_child_signal(&m->helpers[i], signo);
	}
}

/* The VMM is gone (or never came): its proxy, helpers and sockets go too. */
static void teardown(struct vd_machine *m, const char *reason) {
	if (!m->tearing_down) {
		m->tearing_down = true;
		snprintf(m->stop_reason, sizeof(m->stop_reason), "%s", reason);
		if (m->state != VD_MACHINE_STOPPING) {
			m->state = VD_MACHINE_STOPPING;
			changed(m);
		}
	}
	vd_qmp_cancel(m->qmp);
	m->qmp = NULL;
	m->agent_known = false;
	vd_console_destroy(m->console, "the VM stopped");
	m->console = NULL;
	wl_event_source_timer_update(m->proxy_timer, 0);
	if (vd_child_running(&m->vmm)) {
		vd_child_signal(&m->vmm, SIGKILL); // a start that failed half-way
	}
	signal_rest(m, SIGTERM);
	if (!children_left(m)) {
		finish_teardown(m);
		return;
	}
	m->step = STEP_NONE;
	m->step_deadline = vd_now_ms() + KILL_GRACE_MS;
	wl_event_source_timer_update(m->timer, KILL_GRACE_MS);
}

static void kill_vmm(struct vd_machine *m, const char *why) {
	if (!m->force) {
		snprintf(m->stop_reason, sizeof(m->stop_reason), "killed: %s", why);
	}
	progress(m, "%s: killing the VMM (pid %d)", why, (int)m->vmm.pid);
	vd_child_signal(&m->vmm, SIGKILL);
}

static void handle_qmp_done(void *data, bool ok, const char *err) {
	struct vd_machine *m = data;
	m->qmp = NULL;
	if (ok) {
		if (!m->pressed) {
			progress(m, "ACPI power button pressed (QMP system_powerdown); waiting for the guest");
		}
		m->pressed = true;
	} else if (vd_child_running(&m->vmm)) {
		kill_vmm(m, err);
	}
}

static void handle_powerdown_exited(struct vd_child *child, void *data) {
	struct vd_machine *m = data;
	if (child->status == 0) {
		if (!m->pressed) {
			progress(m, "ACPI power button pressed; waiting for the guest");
		}
		m->pressed = true;
	} else if (vd_child_running(&m->vmm)) {
		char why[200];
		snprintf(why, sizeof(why), "the power-button command %s", child->how);
		kill_vmm(m, why);
	}
	if (m->tearing_down && !children_left(m)) {
		finish_teardown(m);
	}
}

/* The ACPI power button (QMP system_powerdown, or the VMM's command); again every REPRESS_MS. */
static void press_power_button(struct vd_machine *m) {
	uint64_t now = vd_now_ms();
	uint64_t left = m->step_deadline > now ? m->step_deadline - now : 0;
	wl_event_source_timer_update(m->timer, (int)(left < REPRESS_MS ? left + 1 : REPRESS_MS));
	if (m->qmp != NULL || vd_child_running(&m->powerdown_cmd)) {
		return; // the last press is still under way
	}
	if (m->control == VD_VMM_CONTROL_QMP) {
		m->qmp = vd_qmp_command(m->config.loop, m->control_socket, VD_VMM_QMP_POWERDOWN,
			QMP_TIMEOUT_MS, handle_qmp_done, m);
		if (m->qmp == NULL) {
			kill_vmm(m, "out of memory");
		}
	} else {
		char err[512];
		if (!vd_child_spawn(&m->powerdown_cmd, m->config.loop, m->powerdown.argv, m->log_fd,
				handle_powerdown_exited, m, err, sizeof(err))) {
			kill_vmm(m, err);
		}
	}
}

void vd_machine_stop(struct vd_machine *machine, bool force, const char *why) {
	struct vd_machine *m = machine;
	if (m->state == VD_MACHINE_STOPPED || (m->stop_requested && (!force || m->force))) {
		return;
	}
	if (!m->stop_requested) {
		m->stop_ms = vd_now_ms();
	}
	m->stop_requested = true;
	m->force = m->force || force;
	m->state = VD_MACHINE_STOPPING;
	changed(m);
	if (!vd_child_running(&m->vmm)) {
		char reason[300];
		snprintf(reason, sizeof(reason), "stopped while starting (%s)", why);
		teardown(m, reason);
		return;
	}
	if (force) {
		snprintf(m->stop_reason, sizeof(m->stop_reason), "killed (%s)", why);
		kill_vmm(m, why);
		return;
	}
	snprintf(m->stop_reason, sizeof(m->stop_reason), "powered off (%s)", why);
	log_line(m, "stopping (%s): clean power-off", why);
	m->step = STEP_NONE;
	m->step_deadline = vd_now_ms() + (uint64_t)m->config.stop_timeout_ms;
	press_power_button(m);
}

/* ---- children ---- */

static void handle_vmm_exited(struct vd_child *child, void *data) {
	struct vd_machine *m = data;
	char reason[900];
	if (m->stop_requested && !m->tearing_down) {
		bool killed = strncmp(m->stop_reason, "killed", 6) == 0;
		if (killed || child->status == 0 || child->status == -1) {
			snprintf(reason, sizeof(reason), "%s", m->stop_reason);
		} else {
			snprintf(reason, sizeof(reason), "%s; the VMM %s", m->stop_reason, child->how);
		}
	} else if (m->step != STEP_NONE || m->state == VD_MACHINE_STARTING) {
		char tail[320] = "";
		if (m->step != STEP_NONE || (child->status > 0 && child->status < 128)) {
			log_tail(m, 0, tail, sizeof(tail)); // what the VMM said when it gave up
		}
		snprintf(reason, sizeof(reason), "the VMM %s %s (see %.200s)%s", child->how,
			m->step != STEP_NONE ? "while starting" : "before its agent answered",
			m->log_path, tail);
	} else if (child->status == 0) {
		snprintf(reason, sizeof(reason), "the guest powered off (the VMM exited with status 0)");
	} else {
		snprintf(reason, sizeof(reason), "the VMM %s (see %.200s)", child->how, m->log_path);
	}
	log_line(m, "the VMM %s", child->how);
	if (m->step != STEP_NONE && !m->stop_requested) {
		progress(m, "failed: %s", reason);
	}
	teardown(m, reason);
}

static void spawn_proxy(struct vd_machine *m);

static void handle_proxy_exited(struct vd_child *child, void *data) {
	struct vd_machine *m = data;
	log_line(m, "the proxy %s", child->how);
	if (m->tearing_down || m->state == VD_MACHINE_STOPPING) {
		if (m->tearing_down && !children_left(m)) {
			finish_teardown(m);
		}
		return;
	}
	vd_log(VD_WARN, "vm=%s: vmdesk-proxy %s", m->name, child->how);
	if (child->status == EXIT_USAGE) {
		snprintf(m->proxy_note, sizeof(m->proxy_note), "vmdesk-proxy %s (it refused its "
			"arguments: see %.200s); not started again", child->how, m->log_path);
	} else {
		vd_backoff_disconnected(&m->proxy_backoff, vd_now_ms());
		uint32_t delay = vd_backoff_next(&m->proxy_backoff);
		snprintf(m->proxy_note, sizeof(m->proxy_note), "vmdesk-proxy %s; starting it again "
			"in %u ms", child->how, delay);
		wl_event_source_timer_update(m->proxy_timer, (int)delay);
	}
	if (m->step == STEP_NONE) {
		write_state(m);
	}
	changed(m);
}

static void handle_helper_exited(struct vd_child *child, void *data) {
	struct vd_machine *m = data;
	log_line(m, "a helper %s", child->how);
	if (m->tearing_down) {
		if (!children_left(m)) {
			finish_teardown(m);
		}
		return;
	}
	vd_log(VD_WARN, "vm=%s: a helper (virtiofsd) %s: its share is gone", m->name, child->how);
	if (m->step == STEP_HELPERS) {
		char reason[400];
		snprintf(reason, sizeof(reason), "a helper %s while starting (see %.200s)", child->how,
			m->log_path);
		progress(m, "failed: %s", reason);
		teardown(m, reason);
	}
}

static void spawn_proxy(struct vd_machine *m) {
	if (m->proxy_argv.argc == 0 || vd_child_running(&m->proxy)) {
		return;
	}
	char err[512];
	char *line = vd_vmm_cmd_format(&m->proxy_argv);
	log_line(m, "proxy: %s", line != NULL ? line : "?");
	free(line);
	if (!vd_child_spawn(&m->proxy, m->config.loop, m->proxy_argv.argv, m->log_fd,
			handle_proxy_exited, m, err, sizeof(err))) {
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
		spawn_proxy(m);
		write_state(m);
		changed(m);
	}
	return 0;
}

/* ---- starting ---- */

static void fail_start(struct vd_machine *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail_start(struct vd_machine *m, const char *fmt, ...) {
	char reason[700];
	va_list args;
	va_start(args, fmt);
	vsnprintf(reason, sizeof(reason), fmt, args);
	va_end(args);
	progress(m, "failed: %s", reason);
	teardown(m, reason);
}

static bool socket_exists(const char *path) {
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void step_wait(struct vd_machine *m, enum start_step step) {
	m->step = step;
	m->step_deadline = vd_now_ms() + (uint64_t)m->config.ready_timeout_ms;
	wl_event_source_timer_update(m->timer, POLL_MS);
}

static void start_proxy_first(struct vd_machine *m);
static void start_vmm(struct vd_machine *m);

/* The VMM's sockets are there: the VM runs; its agent and proxy can come. */
static void vmm_ready(struct vd_machine *m) {
	struct vd_launch *l = m->launch;
	m->step = STEP_NONE;
	wl_event_source_timer_update(m->timer, 0);
	progress(m, "VMM ready: its sockets are up in %s", m->dir);
	if (!m->host_listens_console) {
		char err[256];
		m->console = vd_console_create(m->config.loop, m->console_socket, false, "", err,
			sizeof(err));
		if (m->console == NULL) {
			vd_log(VD_WARN, "vm=%s: no console: %s", m->name, err);
		}
	}
	if (!l->plan.proxy_listens && m->proxy_argv.argc > 0) {
		spawn_proxy(m);
		if (vd_child_running(&m->proxy)) {
			progress(m, "proxy started (pid %d): %s %s", (int)m->proxy.pid,
				l->plan.has_link ? "--guest" : "--socket", l->plan.has_link ?
				m->proxy_argv.argv[m->proxy_argv.argc - 1] : m->console_socket);
		}
	} else if (m->proxy_argv.argc == 0) {
		progress(m, "no proxy (vmdesk-hostd --proxy none)");
	}
	write_state(m);
	vd_launch_finish(l);
	free(l);
	m->launch = NULL;
	m->agent_known = true;
	changed(m); // the launcher dials the agent now
}

static int handle_timer(void *data) {
	struct vd_machine *m = data;
	uint64_t now = vd_now_ms();
	if (m->tearing_down) {
		/* the grace is over: whatever is left is killed */
		if (vd_child_running(&m->vmm)) {
			vd_child_signal(&m->vmm, SIGKILL);
		}
		signal_rest(m, SIGKILL);
		return 0;
	}
	if (m->stop_requested) {
		if (m->force || now < m->step_deadline) {
			if (!m->force) {
				press_power_button(m);
			}
			return 0;
		}
		char why[128];
		snprintf(why, sizeof(why), "the guest did not power off within %d s",
			m->config.stop_timeout_ms / 1000);
		kill_vmm(m, why);
		return 0;
	}
	struct vd_launch *l = m->launch;
	switch (m->step) {
	case STEP_HELPERS:
		for (size_t i = 0; i < m->nhelpers; i++) {
			char path[VD_ADDR_PATH_MAX + 32];
			snprintf(path, sizeof(path), "%s%zu.sock", l->sockets.fs_prefix, i);
			if (!socket_exists(path)) {
				if (now > m->step_deadline) {
					fail_start(m, "%s did not appear within %d s (see %.200s)", path,
						m->config.ready_timeout_ms / 1000, m->log_path);
				} else {
					wl_event_source_timer_update(m->timer, POLL_MS);
				}
				return 0;
			}
		}
		progress(m, "helpers ready (%zu virtiofsd)", m->nhelpers);
		start_proxy_first(m);
		return 0;
	case STEP_PROXY_FIRST:
		if (!socket_exists(l->sockets.proxy)) {
			if (now > m->step_deadline || !vd_child_running(&m->proxy)) {
				fail_start(m, "the proxy's socket %s did not appear (see %.200s)",
					l->sockets.proxy, m->log_path);
			} else {
				wl_event_source_timer_update(m->timer, POLL_MS);
			}
			return 0;
		}
		progress(m, "proxy ready (pid %d) on %s", (int)m->proxy.pid, l->sockets.proxy);
		start_vmm(m);
		return 0;
	case STEP_VMM:
		if (!socket_exists(m->control_socket) ||
				(!m->host_listens_console && !socket_exists(m->console_socket))) {
			if (now > m->step_deadline) {
				fail_start(m, "the VMM's sockets did not appear within %d s (see %.200s)",
					m->config.ready_timeout_ms / 1000, m->log_path);
			} else {
				wl_event_source_timer_update(m->timer, POLL_MS);
			}
			return 0;
		}
		vmm_ready(m);
		return 0;
	case STEP_NONE:
		return 0;
	}
	return 0;
}

static void start_vmm(struct vd_machine *m) {
	struct vd_launch *l = m->launch;
	char err[PATH_MAX + 128];
	if (l->plan.host_listens_console) {
		m->console = vd_console_create(m->config.loop, m->console_socket, true, m->console_log,
			err, sizeof(err));
		if (m->console == NULL) {
			fail_start(m, "console: %s", err);
			return;
		}
	}
	char *line = vd_vmm_cmd_format(&l->plan.vmm);
	log_line(m, "vmm: %s", line != NULL ? line : "?");
	free(line);
	if (!vd_child_spawn(&m->vmm, m->config.loop, l->plan.vmm.argv, m->log_fd, handle_vmm_exited,
			m, err, sizeof(err))) {
		fail_start(m, "%s", err);
		return;
	}
	m->started = (long long)time(NULL);
	progress(m, "VMM started: %s (pid %d)", l->plan.vmm.argv[0], (int)m->vmm.pid);
	write_state(m); // from here on a restarted hostd finds it
	step_wait(m, STEP_VMM);
}

static void start_proxy_first(struct vd_machine *m) {
	struct vd_launch *l = m->launch;
	if (!l->plan.proxy_listens || m->proxy_argv.argc == 0) {
		start_vmm(m);
		return;
	}
	spawn_proxy(m);
	if (!vd_child_running(&m->proxy)) {
		fail_start(m, "%s", m->proxy_note);
		return;
	}
	progress(m, "proxy started (pid %d), waiting for its socket", (int)m->proxy.pid);
	step_wait(m, STEP_PROXY_FIRST);
}

static bool copy_cmd(struct vd_vmm_cmd *dst, const struct vd_vmm_cmd *src) {
	for (size_t i = 0; i < src->argc; i++) {
		if (!vd_vmm_cmd_add(dst, "%s", src->argv[i])) {
			return false;
		}
	}
	return true;
}

/* A run directory a hostd before us left: a live VMM in it means the VM runs. */
static bool clear_dir(struct vd_machine *m, char *err, size_t err_size) {
	struct vd_vmstate st;
	char why[PATH_MAX + 64];
	if (vd_vmstate_read(m->dir, &st, why, sizeof(why))) {
		unsigned long long start;
		bool alive = vd_proc_start_time(st.vmm_pid, &start) && start == st.vmm_start;
		pid_t pid = st.vmm_pid;
		vd_vmstate_finish(&st);
		if (alive) {
			snprintf(err, err_size, "a VMM of VM %s runs already (pid %d, started by another "
				"vmdesk-hostd)", m->name, (int)pid);
			return false;
		}
	}
	vd_vmstate_remove_dir(m->dir);
	return vd_vmstate_make_dir(m->dir, err, err_size);
}

bool vd_machine_start(struct vd_machine *machine, const struct vd_vmconf *conf,
		const struct vd_launch_env *env, char *err, size_t err_size) {
	struct vd_machine *m = machine;
	if (m->state != VD_MACHINE_STOPPED) {
		snprintf(err, err_size, "VM %s is %s", m->name, state_names[m->state]);
		return false;
	}
	struct vd_launch *l = malloc(sizeof(*l));
	if (l == NULL) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	uint64_t t0 = vd_now_ms();
	if (!vd_launch_prepare(l, conf, env, err, err_size)) {
		free(l);
		return false;
	}
	snprintf(m->dir, sizeof(m->dir), "%s", l->dir);
	if (!open_log(m, err, err_size) || !clear_dir(m, err, err_size)) {
		vd_launch_finish(l);
		free(l);
		return false;
	}
	m->launch = l;
	m->start_ms = t0;
	m->kind = conf->machine.vmm;
	m->agent = l->plan.agent;
	m->agent_serial = l->agent_serial;
	vd_addr_format(&l->plan.agent, m->agent_str, sizeof(m->agent_str));
	m->control = l->plan.control;
	m->host_listens_console = l->plan.host_listens_console;
	m->proxy_listens = l->plan.proxy_listens;
	snprintf(m->control_socket, sizeof(m->control_socket), "%s", l->sockets.control);
	snprintf(m->console_socket, sizeof(m->console_socket), "%s", l->sockets.console);
	snprintf(m->console_log, sizeof(m->console_log), "%s", l->sockets.console_log);
	if (!copy_cmd(&m->powerdown, &l->plan.powerdown) ||
			!copy_cmd(&m->proxy_argv, &l->proxy)) {
		forget_run(m);
		snprintf(err, err_size, "out of memory");
		return false;
	}
	m->last_stop[0] = '\0';
	m->state = VD_MACHINE_STARTING;
	vd_backoff_reset(&m->proxy_backoff);
	log_line(m, "starting VM %s (%s)", m->name, conf->path);
	progress(m, "%s for %s: %s%s, %u MiB, %u CPU%s%s%s", vd_vmm_kind_name(conf->machine.vmm),
		m->name, conf->machine.image[0] ? "image " : "kernel ",
		conf->machine.image[0] ? conf->machine.image : l->kernel, conf->machine.memory_mib,
		conf->machine.cpus, conf->machine.cpus == 1 ? "" : "s",
		l->plan.warning[0] ? "; " : "", l->plan.warning);
	wl_event_source_timer_update(m->log_timer, LOG_CHECK_MS);
	changed(m);
	m->nhelpers = l->plan.helper_count;
	for (size_t i = 0; i < m->nhelpers; i++) {
		char why[512];
		vd_child_init(&m->helpers[i]);
		if (!vd_child_spawn(&m->helpers[i], m->config.loop, l->plan.helpers[i].argv, m->log_fd,
				handle_helper_exited, m, why, sizeof(why))) {
			m->nhelpers = i;
			fail_start(m, "%s", why);
			return true; // started and failed: the command hears it as progress
		}
	}
	if (m->nhelpers > 0) {
		progress(m, "%zu helper%s started, waiting for their sockets", m->nhelpers,
			m->nhelpers == 1 ? "" : "s");
		step_wait(m, STEP_HELPERS);
		return true;
	}
	start_proxy_first(m);
	return true;
}

/* ---- adopting a VM a previous hostd left ---- */

bool vd_machine_adopt(struct vd_machine *machine, const char *run_dir) {
	struct vd_machine *m = machine;
	snprintf(m->dir, sizeof(m->dir), "%s/%s", run_dir, m->name);
	struct vd_vmstate st;
	char err[PATH_MAX + 64];
	if (!vd_vmstate_read(m->dir, &st, err, sizeof(err))) {
		vd_log(VD_INFO, "vm=%s: %s: the run directory is left over; removed", m->name, err);
		vd_vmstate_remove_dir(m->dir);
		return false;
	}
	if (!vd_child_adopt(&m->vmm, m->config.loop, st.vmm_pid, st.vmm_start, handle_vmm_exited,
			m)) {
		vd_log(VD_INFO, "vm=%s: its VMM (pid %d) ended while no vmdesk-hostd ran; cleaning up",
			m->name, (int)st.vmm_pid);
		/* what is left of that run goes: the proxy and the helpers, if still there */
		struct vd_child c;
		if (st.proxy_pid != 0 && vd_child_adopt(&c, m->config.loop, st.proxy_pid,
				st.proxy_start, handle_proxy_exited, m)) {
			vd_child_signal(&c, SIGTERM);
			vd_child_finish(&c);
		}
		for (size_t i = 0; i < st.nhelpers; i++) {
			if (vd_child_adopt(&c, m->config.loop, st.helper_pid[i], st.helper_start[i],
					handle_helper_exited, m)) {
				vd_child_signal(&c, SIGTERM);
				vd_child_finish(&c);
			}
		}
		snprintf(m->last_stop, sizeof(m->last_stop), "the VMM ended while no vmdesk-hostd "
			"ran (exit status unknown)");
		vd_vmstate_finish(&st);
		vd_vmstate_remove_dir(m->dir);
		return false;
	}
	char log_err[PATH_MAX + 64];
	if (!open_log(m, log_err, sizeof(log_err))) {
		vd_log(VD_WARN, "vm=%s: %s", m->name, log_err);
	}
	m->kind = st.vmm;
	m->started = st.started;
	m->control = st.control;
	m->agent_serial = st.agent_serial;
	snprintf(m->agent_str, sizeof(m->agent_str), "%s", st.agent);
	m->powerdown = st.powerdown;
	m->proxy_argv = st.proxy;
	st.powerdown = (struct vd_vmm_cmd){0};
	st.proxy = (struct vd_vmm_cmd){0};
	struct vd_vmm_sockets sockets;
	if (vd_vmm_sockets_init(&sockets, m->dir, err, sizeof(err))) {
		snprintf(m->control_socket, sizeof(m->control_socket), "%s", sockets.control);
		snprintf(m->console_socket, sizeof(m->console_socket), "%s", sockets.console);
		snprintf(m->console_log, sizeof(m->console_log), "%s", sockets.console_log);
	}
	m->host_listens_console = st.vmm == VD_VMM_CROSVM;
	bool agent_ok = vd_addr_parse(st.agent, false, &m->agent, err, sizeof(err));
	m->nhelpers = 0;
	for (size_t i = 0; i < st.nhelpers; i++) {
		if (vd_child_adopt(&m->helpers[m->nhelpers], m->config.loop, st.helper_pid[i],
				st.helper_start[i], handle_helper_exited, m)) {
			m->nhelpers++;
		} else {
			vd_log(VD_WARN, "vm=%s: a helper (pid %d) is gone: its share is too", m->name,
				(int)st.helper_pid[i]);
		}
	}
	m->state = VD_MACHINE_STARTING; // running again once its agent answers
	if (st.proxy_pid != 0 && vd_child_adopt(&m->proxy, m->config.loop, st.proxy_pid,
			st.proxy_start, handle_proxy_exited, m)) {
		vd_log(VD_INFO, "vm=%s: its proxy (pid %d) runs on", m->name, (int)st.proxy_pid);
	} else {
		spawn_proxy(m);
	}
	if (!m->host_listens_console) {
		m->console = vd_console_create(m->config.loop, m->console_socket, false, "", err,
			sizeof(err));
	} else {
		vd_log(VD_WARN, "vm=%s: crosvm's console connection ended with the hostd that started "
			"it: no console until the VM restarts", m->name);
	}
	vd_vmstate_finish(&st);
	m->agent_known = agent_ok;
	write_state(m);
	log_line(m, "found again by a new vmdesk-hostd (VMM pid %d)", (int)m->vmm.pid);
	vd_log(VD_INFO, "vm=%s: found running (VMM pid %d, up %lld s)", m->name, (int)m->vmm.pid,
		vd_machine_uptime(m));
	wl_event_source_timer_update(m->log_timer, LOG_CHECK_MS);
	changed(m);
	return true;
}

/* ---- the rest ---- */

void vd_machine_agent_ready(struct vd_machine *machine) {
	if (machine->state == VD_MACHINE_STARTING && machine->step == STEP_NONE &&
			!machine->tearing_down) {
		machine->state = VD_MACHINE_RUNNING;
		if (machine->start_ms != 0) {
			progress(machine, "agent connected: the VM is running");
		} else {
			log_line(machine, "the agent answered");
		}
		changed(machine);
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
		write_state(m); // for the next hostd
		log_line(m, "vmdesk-hostd leaves; the VM runs on (VMM pid %d)", (int)m->vmm.pid);
	}
	vd_qmp_cancel(m->qmp);
	vd_console_destroy(m->console, "vmdesk-hostd is leaving");
	vd_child_finish(&m->vmm);
	vd_child_finish(&m->proxy);
	vd_child_finish(&m->powerdown_cmd);
	for (size_t i = 0; i < VD_VMM_MAX_SHARES; i++) {
		vd_child_finish(&m->helpers[i]);
	}
	if (m->launch != NULL) {
		vd_launch_finish(m->launch);
		free(m->launch);
	}
	vd_vmm_cmd_finish(&m->powerdown);
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
	progress(machine, "%s", text);
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
