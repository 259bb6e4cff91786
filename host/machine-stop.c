#define LOG_TAG "machine"

/* Stopping a machine, the ends of its processes, the teardown. Part of host/machine.c. */

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

/* ---- stopping and teardown ---- */

bool machine_children_left(struct vd_machine *m) {
	if (vd_child_running(&m->vmm) || vd_child_running(&m->proxy) ||
			vd_child_running(&m->powerdown_cmd) || vd_child_running(&m->force_cmd)) {
		return true;
	}
	for (size_t i = 0; i < m->nhelpers; i++) {
		if (vd_child_running(&m->helpers[i])) {
			return true;
		}
	}
	return false;
}

void machine_forget_run(struct vd_machine *m) {
	if (m->launch != NULL) {
		vd_launch_finish(m->launch);
		free(m->launch);
		m->launch = NULL;
	}
	vd_vmm_cmd_finish(&m->powerdown);
	vd_vmm_cmd_finish(&m->force_stop);
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

/*
 * The console's last lines go into NAME.log before the run directory (and
 * console.log with it) goes: what the guest said before it stopped (a panic,
 * a failed mount). Escaped like every log line: they are the guest's bytes.
 */
static void keep_console_tail(struct vd_machine *m) {
	int fd = m->log_fd >= 0 && m->console_log[0] != '\0' ?
		open(m->console_log, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		return;
	}
	char buf[CONSOLE_TAIL_BYTES + 1];
	struct stat st;
	off_t from = fstat(fd, &st) == 0 && st.st_size > CONSOLE_TAIL_BYTES ?
		st.st_size - CONSOLE_TAIL_BYTES : 0;
	ssize_t n = pread(fd, buf, CONSOLE_TAIL_BYTES, from);
	close(fd);
	if (n <= 0) {
		return;
	}
	buf[n] = '\0';
	machine_log(m, "the console's last %zd bytes:", n);
	char *line = buf, *end = buf + n;
	if (from > 0) {
		char *nl = memchr(line, '\n', (size_t)(end - line)); // skip a cut first line
		line = nl != NULL ? nl + 1 : end;
	}
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = nl != NULL ? (size_t)(nl - line) : (size_t)(end - line);
		if (len > 0 && line[len - 1] == '\r') {
			len--;
		}
		char escaped[4 * CONSOLE_TAIL_BYTES + 1];
		vd_log_escape(escaped, sizeof(escaped), line, len, 0);
		dprintf(m->log_fd, "  | %s\n", escaped);
		line = nl != NULL ? nl + 1 : end;
	}
}

/* Everything of this run is gone: the sockets and state file go, the machine is stopped. */
static void finish_teardown(struct vd_machine *m) {
	vd_console_destroy(m->console, "the VM stopped");
	m->console = NULL;
	keep_console_tail(m);
	if (m->dir[0] != '\0') {
		vd_vmstate_remove_dir(m->dir);
	}
	snprintf(m->last_stop, sizeof(m->last_stop), "%s", m->stop_reason);
	m->state = VD_MACHINE_STOPPED;
	if (m->stop_requested) {
		machine_say(m, "stopped: %s", m->last_stop);
	} else {
		machine_log(m, "stopped: %s", m->last_stop);
		vd_log(VD_INFO, "vm=%s stopped: %s", m->name, m->last_stop);
	}
	machine_forget_run(m);
	m->tearing_down = false;
	m->stop_requested = false;
	m->force = false;
	m->pressed = false;
	m->stop_ms = 0;
	machine_changed(m);
}

static void signal_rest(struct vd_machine *m, int signo) {
	vd_child_signal(&m->proxy, signo);
	vd_child_signal(&m->powerdown_cmd, signo);
	vd_child_signal(&m->force_cmd, signo);
	for (size_t i = 0; i < m->nhelpers; i++) {
		vd_child_signal(&m->helpers[i], signo);
	}
}

/* The VMM is gone (or never came): its proxy, helpers and sockets go too. */
void machine_teardown(struct vd_machine *m, const char *reason) {
	if (!m->tearing_down) {
		m->tearing_down = true;
		snprintf(m->stop_reason, sizeof(m->stop_reason), "%s", reason);
		if (m->state != VD_MACHINE_STOPPING) {
			m->state = VD_MACHINE_STOPPING;
			machine_changed(m);
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
	if (!machine_children_left(m)) {
		finish_teardown(m);
		return;
	}
	m->step = STEP_NONE;
	m->step_deadline = vd_now_ms() + KILL_GRACE_MS;
	wl_event_source_timer_update(m->timer, KILL_GRACE_MS);
}

static void kill_vmm(struct vd_machine *m, const char *why) {
	if (!m->force) {
		snprintf(m->stop_reason, sizeof(m->stop_reason), "killed: %.500s", why);
	}
	machine_say(m, "%s: killing the VMM (pid %d)", why, (int)m->vmm.pid);
	vd_child_signal(&m->vmm, SIGKILL);
}

static void handle_qmp_done(void *data, bool ok, const char *err) {
	struct vd_machine *m = data;
	m->qmp = NULL;
	if (ok) {
		if (!m->pressed) {
			machine_say(m, "ACPI power button pressed (QMP system_powerdown); waiting for the guest");
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
			machine_say(m, "ACPI power button pressed; waiting for the guest");
		}
		m->pressed = true;
	} else if (vd_child_running(&m->vmm)) {
		char why[200];
		snprintf(why, sizeof(why), "the power-button command %s", child->how);
		kill_vmm(m, why);
	}
	if (m->tearing_down && !machine_children_left(m)) {
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
		if (!vd_child_spawn(&m->powerdown_cmd, m->config.children, m->powerdown.argv, m->log_fd,
				handle_powerdown_exited, m, err, sizeof(err))) {
			kill_vmm(m, err);
		}
	}
}

static void handle_force_done(void *data, bool ok, const char *err) {
	struct vd_machine *m = data;
	m->qmp = NULL; // QEMU quits (or the grace's end kills it)
}

static void handle_force_exited(struct vd_child *child, void *data) {
	struct vd_machine *m = data;
	if (m->tearing_down && !machine_children_left(m)) {
		finish_teardown(m);
	}
}

/* The plan's way to stop the VMM at once (QMP quit, crosvm stop, ch-remote shutdown-vmm), then
 * SIGKILL if it is still there after the grace. */
static void force_stop(struct vd_machine *m, const char *why) {
	machine_say(m, "%s: stopping the VMM (pid %d) at once", why, (int)m->vmm.pid);
	vd_qmp_cancel(m->qmp); // a power button under way
	m->qmp = NULL;
	bool asked = false;
	if (m->control == VD_VMM_CONTROL_QMP) {
		m->qmp = vd_qmp_command(m->config.loop, m->control_socket, VD_VMM_QMP_QUIT,
			QMP_TIMEOUT_MS, handle_force_done, m);
		asked = m->qmp != NULL;
	} else if (m->force_stop.argc > 0 && !vd_child_running(&m->force_cmd)) {
		char err[512];
		asked = vd_child_spawn(&m->force_cmd, m->config.children, m->force_stop.argv, m->log_fd,
			handle_force_exited, m, err, sizeof(err));
	}
	if (!asked) {
		vd_child_signal(&m->vmm, SIGKILL);
		return;
	}
	m->step_deadline = vd_now_ms() + KILL_GRACE_MS;
	wl_event_source_timer_update(m->timer, KILL_GRACE_MS);
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
	machine_changed(m);
	if (!vd_child_running(&m->vmm)) {
		char reason[300];
		snprintf(reason, sizeof(reason), "stopped while starting (%s)", why);
		machine_teardown(m, reason);
		return;
	}
	if (force) {
		snprintf(m->stop_reason, sizeof(m->stop_reason), "killed (%s)", why);
		force_stop(m, why);
		return;
	}
	snprintf(m->stop_reason, sizeof(m->stop_reason), "powered off (%s)", why);
	machine_log(m, "stopping (%s): clean power-off", why);
	m->step = STEP_NONE;
	m->step_deadline = vd_now_ms() + (uint64_t)m->config.stop_timeout_ms;
	press_power_button(m);
}

/* The timer while stopping: the kill grace, the power button again, the deadline. */
bool machine_stop_timer(struct vd_machine *m) {
	uint64_t now = vd_now_ms();
	if (m->tearing_down) {
		/* the grace is over: whatever is left is killed */
		if (vd_child_running(&m->vmm)) {
			vd_child_signal(&m->vmm, SIGKILL);
		}
		signal_rest(m, SIGKILL);
		return true;
	}
	if (m->stop_requested && m->force) {
		if (vd_child_running(&m->vmm)) {
			machine_say(m, "the VMM did not stop at once: killing it");
			vd_child_signal(&m->vmm, SIGKILL);
		}
		return true;
	}
	if (m->stop_requested) {
		if (now < m->step_deadline) {
			press_power_button(m);
			return true;
		}
		char why[128];
		snprintf(why, sizeof(why), "the guest did not power off within %d s",
			m->config.stop_timeout_ms / 1000);
		kill_vmm(m, why);
		return true;
	}
	return false;
}

/* ---- children ---- */

void machine_vmm_exited(struct vd_child *child, void *data) {
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
			machine_log_tail(m, 0, tail, sizeof(tail)); // what the VMM said when it gave up
		}
		snprintf(reason, sizeof(reason), "the VMM %s %s (see %.200s)%s", child->how,
			m->step != STEP_NONE ? "while starting" : "before its agent answered",
			m->log_path, tail);
	} else if (child->status == 0) {
		snprintf(reason, sizeof(reason), "the guest powered off (the VMM exited with status 0)");
	} else {
		snprintf(reason, sizeof(reason), "the VMM %s (see %.200s)", child->how, m->log_path);
	}
	machine_log(m, "the VMM %s", child->how);
	if (m->step != STEP_NONE && !m->stop_requested) {
		machine_say(m, "failed: %s", reason);
	}
	machine_teardown(m, reason);
}

void machine_proxy_exited(struct vd_child *child, void *data) {
	struct vd_machine *m = data;
	machine_log(m, "the proxy %s", child->how);
	if (m->tearing_down || m->state == VD_MACHINE_STOPPING) {
		if (m->tearing_down && !machine_children_left(m)) {
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
		machine_write_state(m);
	}
	machine_changed(m);
}

void machine_helper_exited(struct vd_child *child, void *data) {
	struct vd_machine *m = data;
	machine_log(m, "a helper %s", child->how);
	if (m->tearing_down) {
		if (!machine_children_left(m)) {
			finish_teardown(m);
		}
		return;
	}
	vd_log(VD_WARN, "vm=%s: a helper (virtiofsd) %s: its share is gone", m->name, child->how);
	if (m->step == STEP_HELPERS) {
		char reason[400];
		snprintf(reason, sizeof(reason), "a helper %s while starting (see %.200s)", child->how,
			m->log_path);
		machine_say(m, "failed: %s", reason);
		machine_teardown(m, reason);
	}
}

