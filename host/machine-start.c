#define LOG_TAG "machine"

/* Starting a machine in steps, and adopting one a previous hostd left. Part of host/machine.c. */

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

/* ---- starting ---- */

static void fail_start(struct vd_machine *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail_start(struct vd_machine *m, const char *fmt, ...) {
	char reason[700];
	va_list args;
	va_start(args, fmt);
	vsnprintf(reason, sizeof(reason), fmt, args);
	va_end(args);
	machine_say(m, "failed: %s", reason);
	machine_teardown(m, reason);
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
	machine_say(m, "VMM ready: its sockets are up in %s", m->dir);
	if (!m->host_listens_console) {
		char err[256];
		m->console = vd_console_create(m->config.loop, m->console_socket, false,
			m->console_log, err, sizeof(err));
		if (m->console == NULL) {
			vd_log(VD_WARN, "vm=%s: no console: %s", m->name, err);
		}
	}
	if (!l->plan.proxy_listens && m->proxy_argv.argc > 0) {
		machine_spawn_proxy(m);
		if (vd_child_running(&m->proxy)) {
			machine_say(m, "proxy started (pid %d): %s %s", (int)m->proxy.pid,
				l->plan.has_link ? "--guest" : "--socket", l->plan.has_link ?
				m->proxy_argv.argv[m->proxy_argv.argc - 1] : m->console_socket);
		}
	} else if (m->proxy_argv.argc == 0) {
		machine_say(m, "no proxy (vmdesk-hostd --proxy none)");
	}
	machine_write_state(m);
	vd_launch_finish(l);
	free(l);
	m->launch = NULL;
	m->agent_known = true;
	machine_changed(m); // the launcher dials the agent now
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
	machine_log(m, "vmm: %s", line != NULL ? line : "?");
	free(line);
	if (!vd_child_spawn(&m->vmm, m->config.children, l->plan.vmm.argv, m->log_fd,
			machine_vmm_exited, m, err, sizeof(err))) {
		fail_start(m, "%s", err);
		return;
	}
	m->started = (long long)time(NULL);
	machine_say(m, "VMM started: %s (pid %d)", l->plan.vmm.argv[0], (int)m->vmm.pid);
	machine_write_state(m); // from here on a restarted hostd finds it
	step_wait(m, STEP_VMM);
}

static void start_proxy_first(struct vd_machine *m) {
	struct vd_launch *l = m->launch;
	if (!l->plan.proxy_listens || m->proxy_argv.argc == 0) {
		start_vmm(m);
		return;
	}
	machine_spawn_proxy(m);
	if (!vd_child_running(&m->proxy)) {
		fail_start(m, "%s", m->proxy_note);
		return;
	}
	machine_say(m, "proxy started (pid %d), waiting for its socket", (int)m->proxy.pid);
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
		bool alive = vd_children_start_time(m->config.children, st.vmm_pid, &start) &&
			start == st.vmm_start;
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
		snprintf(err, err_size, "VM %s is %s", m->name, vd_machine_state_name(m->state));
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
	if (!machine_open_log(m, err, err_size) || !clear_dir(m, err, err_size)) {
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
			!copy_cmd(&m->force_stop, &l->plan.force_stop) ||
			!copy_cmd(&m->proxy_argv, &l->proxy)) {
		machine_forget_run(m);
		snprintf(err, err_size, "out of memory");
		return false;
	}
	m->last_stop[0] = '\0';
	m->state = VD_MACHINE_STARTING;
	vd_backoff_reset(&m->proxy_backoff);
	machine_log(m, "starting VM %s (%s)", m->name, conf->path);
	machine_say(m, "%s for %s: %s%s, %u MiB, %u CPU%s%s%s", vd_vmm_kind_name(conf->machine.vmm),
		m->name, conf->machine.image[0] ? "image " : "kernel ",
		conf->machine.image[0] ? conf->machine.image : l->kernel, conf->machine.memory_mib,
		conf->machine.cpus, conf->machine.cpus == 1 ? "" : "s",
		l->plan.warning[0] ? "; " : "", l->plan.warning);
	wl_event_source_timer_update(m->log_timer, LOG_CHECK_MS);
	machine_changed(m);
	m->nhelpers = l->plan.helper_count;
	for (size_t i = 0; i < m->nhelpers; i++) {
		char why[512];
		vd_child_init(&m->helpers[i]);
		if (!vd_child_spawn(&m->helpers[i], m->config.children, l->plan.helpers[i].argv,
				m->log_fd, machine_helper_exited, m, why, sizeof(why))) {
			m->nhelpers = i;
			fail_start(m, "%s", why);
			return true; // started and failed: the command hears it as progress
		}
	}
	if (m->nhelpers > 0) {
		machine_say(m, "%zu helper%s started, waiting for their sockets", m->nhelpers,
			m->nhelpers == 1 ? "" : "s");
		step_wait(m, STEP_HELPERS);
		return true;
	}
	start_proxy_first(m);
	return true;
}

/* The timer while starting: waiting for sockets. */
void machine_start_timer(struct vd_machine *m) {
	uint64_t now = vd_now_ms();
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
				return;
			}
		}
		machine_say(m, "helpers ready (%zu virtiofsd)", m->nhelpers);
		start_proxy_first(m);
		return;
	case STEP_PROXY_FIRST:
		if (!socket_exists(l->sockets.proxy)) {
			if (now > m->step_deadline || !vd_child_running(&m->proxy)) {
				fail_start(m, "the proxy's socket %s did not appear (see %.200s)",
					l->sockets.proxy, m->log_path);
			} else {
				wl_event_source_timer_update(m->timer, POLL_MS);
			}
			return;
		}
		machine_say(m, "proxy ready (pid %d) on %s", (int)m->proxy.pid, l->sockets.proxy);
		start_vmm(m);
		return;
	case STEP_VMM:
		if (!socket_exists(m->control_socket) ||
				(!m->host_listens_console && !socket_exists(m->console_socket))) {
			if (now > m->step_deadline) {
				fail_start(m, "the VMM's sockets did not appear within %d s (see %.200s)",
					m->config.ready_timeout_ms / 1000, m->log_path);
			} else {
				wl_event_source_timer_update(m->timer, POLL_MS);
			}
			return;
		}
		vmm_ready(m);
		return;
	case STEP_NONE:
		return;
	}
	return;
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
	if (!vd_child_adopt(&m->vmm, m->config.children, st.vmm_pid, st.vmm_start, machine_vmm_exited,
			m)) {
		vd_log(VD_INFO, "vm=%s: its VMM (pid %d) ended while no vmdesk-hostd ran; cleaning up",
			m->name, (int)st.vmm_pid);
		/* what is left of that run goes: the proxy and the helpers, if still there */
		struct vd_child c;
		if (st.proxy_pid != 0 && vd_child_adopt(&c, m->config.children, st.proxy_pid,
				st.proxy_start, machine_proxy_exited, m)) {
			vd_child_signal(&c, SIGTERM);
			vd_child_finish(&c);
		}
		for (size_t i = 0; i < st.nhelpers; i++) {
			if (vd_child_adopt(&c, m->config.children, st.helper_pid[i], st.helper_start[i],
					machine_helper_exited, m)) {
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
	if (!machine_open_log(m, log_err, sizeof(log_err))) {
		vd_log(VD_WARN, "vm=%s: %s", m->name, log_err);
	}
	m->kind = st.vmm;
	m->started = st.started;
	m->control = st.control;
	m->agent_serial = st.agent_serial;
	snprintf(m->agent_str, sizeof(m->agent_str), "%s", st.agent);
	m->powerdown = st.powerdown;
	m->force_stop = st.force_stop;
	m->proxy_argv = st.proxy;
	st.powerdown = (struct vd_vmm_cmd){0};
	st.force_stop = (struct vd_vmm_cmd){0};
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
		if (vd_child_adopt(&m->helpers[m->nhelpers], m->config.children, st.helper_pid[i],
				st.helper_start[i], machine_helper_exited, m)) {
			m->nhelpers++;
		} else {
			vd_log(VD_WARN, "vm=%s: a helper (pid %d) is gone: its share is too", m->name,
				(int)st.helper_pid[i]);
		}
	}
	m->state = VD_MACHINE_STARTING; // running again once its agent answers
	if (st.proxy_pid != 0 && vd_child_adopt(&m->proxy, m->config.children, st.proxy_pid,
			st.proxy_start, machine_proxy_exited, m)) {
		vd_log(VD_INFO, "vm=%s: its proxy (pid %d) runs on", m->name, (int)st.proxy_pid);
	} else {
		machine_spawn_proxy(m);
	}
	if (!m->host_listens_console) {
		m->console = vd_console_create(m->config.loop, m->console_socket, false,
			m->console_log, err, sizeof(err));
	} else {
		vd_log(VD_WARN, "vm=%s: crosvm's console connection ended with the hostd that started "
			"it: no console until the VM restarts", m->name);
	}
	vd_vmstate_finish(&st);
	m->agent_known = agent_ok;
	machine_write_state(m);
	machine_log(m, "found again by a new vmdesk-hostd (VMM pid %d)", (int)m->vmm.pid);
	vd_log(VD_INFO, "vm=%s: found running (VMM pid %d, up %lld s)", m->name, (int)m->vmm.pid,
		vd_machine_uptime(m));
	wl_event_source_timer_update(m->log_timer, LOG_CHECK_MS);
	machine_changed(m);
	return true;
}

