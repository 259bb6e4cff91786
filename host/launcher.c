#define LOG_TAG "launcher"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/channel.h"
#include "host/launcher-private.h"
#include "host/machine.h"
#include "host/vms.h"
#include "protocols/clock.h"
#include "protocols/link.h"
#include "protocols/log.h"
#include "protocols/names.h"

/* VMs known by name (definitions, and proxies reporting windows): a bound on entries. */
#define MAX_ENTRIES 1024

static void schedule_sync(struct vd_launcher *launcher);

/* ---- entries ---- */

struct entry *launcher_find_entry(struct vd_launcher *launcher, const char *name) {
	struct entry *e;
	wl_list_for_each(e, &launcher->entries, link) {
		if (strcmp(e->name, name) == 0) {
			return e;
		}
	}
	return NULL;
}

static struct entry *get_entry(struct vd_launcher *launcher, const char *name) {
	struct entry *e = launcher_find_entry(launcher, name);
	if (e != NULL || launcher->nentries >= MAX_ENTRIES ||
			!vd_vm_name_valid(name, strlen(name))) {
		return e;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		return NULL;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	wl_list_insert(launcher->entries.prev, &e->link);
	launcher->nentries++;
	return e;
}

static void entry_free(struct vd_launcher *launcher, struct entry *e) {
	vd_machine_destroy(e->machine);
	free(e->started_conf);
	wl_list_remove(&e->link);
	launcher->nentries--;
	free(e);
}

const struct vd_vmconf *launcher_find_conf(struct vd_launcher *launcher, const char *name) {
	struct vd_channel *channel = vd_vms_find(launcher->config.vms, name);
	return channel != NULL ? vd_channel_conf(channel) : NULL;
}

/* ---- operations ---- */

static void op_free(struct vd_launcher_op *op) {
	wl_list_remove(&op->link);
	if (op->timer != NULL) {
		wl_event_source_remove(op->timer);
	}
	free(op);
}

static void op_event(struct vd_launcher_op *op, enum vd_launcher_event_kind kind, uint32_t code,
		const char *text) {
	if (op->event != NULL) {
		op->event(op->data, kind, code, text);
	}
}

static void op_end(struct vd_launcher_op *op, enum vd_launcher_event_kind kind, uint32_t code,
		const char *text) {
	wl_list_remove(&op->link);
	wl_list_init(&op->link);
	op_event(op, kind, code, text);
	op_free(op);
}

static int handle_op_timeout(void *data) {
	struct vd_launcher_op *op = data;
	char text[512];
	snprintf(text, sizeof(text), "the agent of VM %s did not answer within %u s; the VM runs "
		"on (vmdesk status %s; vmdesk stop %s)", op->name, op->timeout_s, op->name, op->name);
	op_end(op, VD_LAUNCHER_FAILED, VD_LINK_ERROR_CODE_TIMEOUT, text);
	return 0;
}

static struct vd_launcher_op *op_create(struct vd_launcher *launcher, enum op_kind kind,
		const char *name, vd_launcher_event event, void *data) {
	struct vd_launcher_op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		return NULL;
	}
	op->launcher = launcher;
	op->kind = kind;
	snprintf(op->name, sizeof(op->name), "%s", name);
	op->event = event;
	op->data = data;
	wl_list_insert(launcher->ops.prev, &op->link);
	schedule_sync(launcher);
	return op;
}

void vd_launcher_op_detach(struct vd_launcher_op *op) {
	op->event = NULL;
	op_free(op);
}

/* Settles the operations on VM name as its machine now stands. */
static void settle_ops(struct vd_launcher *launcher, struct entry *e) {
	struct vd_machine *m = e->machine;
	enum vd_machine_state state = m != NULL ? vd_machine_state(m) : VD_MACHINE_STOPPED;
	struct vd_launcher_op *op, *tmp;
	wl_list_for_each_safe(op, tmp, &launcher->ops, link) {
		if (strcmp(op->name, e->name) != 0) {
			continue;
		}
		char text[700];
		if (op->kind == OP_STOP) {
			if (state == VD_MACHINE_STOPPED) {
				const char *last = m != NULL ? vd_machine_last_stop(m) : "";
				snprintf(text, sizeof(text), "VM %s is stopped%s%s", e->name,
					last[0] ? ": " : "", last);
				op_end(op, VD_LAUNCHER_DONE, 0, text);
			}
			continue;
		}
		bool serial;
		if (state == VD_MACHINE_RUNNING) {
			snprintf(text, sizeof(text), "VM %s is running (VMM pid %d)", e->name,
				(int)vd_machine_pid(m));
			op_end(op, VD_LAUNCHER_DONE, 0, text);
		} else if (state == VD_MACHINE_STARTING && op->no_wait &&
				vd_machine_agent(m, &serial) != NULL) {
			snprintf(text, sizeof(text), "VM %s started (VMM pid %d); its agent has not "
				"answered yet", e->name, (int)vd_machine_pid(m));
			op_end(op, VD_LAUNCHER_DONE, 0, text);
		} else if (state == VD_MACHINE_STOPPED || state == VD_MACHINE_STOPPING) {
			const char *last = m != NULL ? vd_machine_last_stop(m) : "";
			snprintf(text, sizeof(text), "VM %s %s%s%s", e->name,
				state == VD_MACHINE_STOPPED ? "did not start" : "is stopping",
				last[0] && state == VD_MACHINE_STOPPED ? ": " : "",
				state == VD_MACHINE_STOPPED ? last : "");
			op_end(op, VD_LAUNCHER_FAILED, VD_LINK_ERROR_CODE_EXEC, text);
		} else if (!op->announced && vd_machine_agent(m, &serial) != NULL) {
			struct vd_launcher_op *other;
			wl_list_for_each(other, &launcher->ops, link) {
				other->announced |= strcmp(other->name, op->name) == 0;
			}
			snprintf(text, sizeof(text), "waiting for the agent (at most %u s)", op->timeout_s);
			vd_machine_progress(m, text); // to every op on this VM: they all wait for it
		}
	}
}

/* ---- idle shutdown ---- */

/* Whether VM e should stop for idleness now; else when to look again (0: not idle). */
static uint64_t check_idle(struct vd_launcher *launcher, struct entry *e, uint64_t now) {
	const struct vd_vmconf *conf = launcher_find_conf(launcher, e->name);
	struct vd_machine *m = e->machine;
	e->idle_note[0] = '\0';
	if (m == NULL || vd_machine_state(m) != VD_MACHINE_RUNNING || conf == NULL ||
			conf->machine.idle_shutdown_s == 0) {
		return 0;
	}
	struct vd_channel *channel = vd_vms_find(launcher->config.vms, e->name);
	uint64_t guest_since;
	if (e->windows > 0) {
		snprintf(e->idle_note, sizeof(e->idle_note), "busy: %u window%s open", e->windows,
			e->windows == 1 ? "" : "s");
		return 0;
	}
	if (vd_channel_runs(channel) > 0) {
		snprintf(e->idle_note, sizeof(e->idle_note), "busy: vmdesk run commands waiting");
		return 0;
	}
	if (!vd_channel_guest_idle(channel, &guest_since)) {
		snprintf(e->idle_note, sizeof(e->idle_note), "busy: programs run in the guest (or "
			"its agent is not connected)");
		return 0;
	}
	uint64_t since = guest_since;
	if (e->windows_zero_since > since) {
		since = e->windows_zero_since;
	}
	if (e->running_since > since) {
		since = e->running_since;
	}
	uint64_t deadline = since + (uint64_t)conf->machine.idle_shutdown_s * 1000;
	if (now >= deadline) {
		char why[160];
		snprintf(why, sizeof(why), "idle-shutdown: no windows and no programs for %u s",
			conf->machine.idle_shutdown_s);
		vd_log(VD_INFO, "vm=%s: %s: powering it off", e->name, why);
		vd_machine_stop(m, false, why);
		return 0;
	}
	snprintf(e->idle_note, sizeof(e->idle_note), "idle for %llu s; powered off after %u s",
		(unsigned long long)((now - since) / 1000), conf->machine.idle_shutdown_s);
	return deadline;
}

static int handle_idle_timer(void *data) {
	schedule_sync(data);
	return 0;
}

/* ---- keeping everything in step (from an idle callback, never re-entered) ---- */

static void sync_entry(struct vd_launcher *launcher, struct entry *e) {
	struct vd_machine *m = e->machine;
	if (m == NULL) {
		return;
	}
	struct vd_channel *channel = vd_vms_find(launcher->config.vms, e->name);
	const struct vd_vmconf *conf = channel != NULL ? vd_channel_conf(channel) : NULL;
	enum vd_machine_state state = vd_machine_state(m);
	if (conf == NULL || !conf->machine.defined) {
		if (state == VD_MACHINE_STARTING || state == VD_MACHINE_RUNNING) {
			vd_log(VD_INFO, "vm=%s: its definition is gone: powering it off", e->name);
			vd_machine_stop(m, false, "its definition is gone");
		}
		return;
	}
	bool serial = false;
	const struct vd_addr *agent = vd_machine_agent(m, &serial);
	vd_channel_set_agent(channel, agent, serial);
	if (state == VD_MACHINE_STARTING && agent != NULL &&
			vd_channel_state(channel) == VD_CHANNEL_READY) {
		vd_machine_agent_ready(m); // changed() schedules another pass
	}
	state = vd_machine_state(m);
	if (state == VD_MACHINE_RUNNING && e->running_since == 0) {
		e->running_since = vd_now_ms();
	} else if (state != VD_MACHINE_RUNNING) {
		e->running_since = 0;
	}
}

static void sync_all(struct vd_launcher *launcher) {
	uint64_t now = vd_now_ms(), next = 0;
	struct entry *e, *tmp;
	wl_list_for_each_safe(e, tmp, &launcher->entries, link) {
		sync_entry(launcher, e);
		settle_ops(launcher, e);
		uint64_t at = check_idle(launcher, e, now);
		if (at != 0 && (next == 0 || at < next)) {
			next = at;
		}
		bool defined = launcher_find_conf(launcher, e->name) != NULL;
		if (!defined && (e->machine == NULL ||
				vd_machine_state(e->machine) == VD_MACHINE_STOPPED) &&
				(!e->windows_known || e->windows == 0)) {
			/* no definition, nothing running, no windows: forget it */
			struct vd_launcher_op *op, *otmp;
			wl_list_for_each_safe(op, otmp, &launcher->ops, link) {
				if (strcmp(op->name, e->name) == 0) {
					op_end(op, op->kind == OP_STOP ? VD_LAUNCHER_DONE : VD_LAUNCHER_FAILED,
						VD_LINK_ERROR_CODE_NO_VM, "the VM's definition is gone");
				}
			}
			entry_free(launcher, e);
		}
	}
	/* operations on VMs without an entry (never ran): a start made one, so only stops */
	struct vd_launcher_op *op, *otmp;
	wl_list_for_each_safe(op, otmp, &launcher->ops, link) {
		if (launcher_find_entry(launcher, op->name) == NULL) {
			char text[128];
			snprintf(text, sizeof(text), "VM %s is not running", op->name);
			op_end(op, op->kind == OP_STOP ? VD_LAUNCHER_DONE : VD_LAUNCHER_FAILED,
				VD_LINK_ERROR_CODE_EXEC, text);
		}
	}
	wl_event_source_timer_update(launcher->idle_timer,
		next == 0 ? 0 : (int)(next - now > 0x7fffffff ? 0x7fffffff : next - now) + 1);
	if (launcher->shutdown_done != NULL) {
		bool left = false;
		wl_list_for_each(e, &launcher->entries, link) {
			left |= e->machine != NULL && vd_machine_state(e->machine) != VD_MACHINE_STOPPED;
		}
		if (!left) {
			void (*done)(void *) = launcher->shutdown_done;
			launcher->shutdown_done = NULL;
			done(launcher->shutdown_data);
		}
	}
}

static void handle_sync_idle(void *data) {
	struct vd_launcher *launcher = data;
	launcher->sync_idle = NULL; // the loop removes it
	launcher->syncing = true;
	sync_all(launcher);
	launcher->syncing = false;
}

static void schedule_sync(struct vd_launcher *launcher) {
	if (launcher->sync_idle == NULL) {
		launcher->sync_idle = wl_event_loop_add_idle(launcher->config.loop, handle_sync_idle,
			launcher);
	}
}

void vd_launcher_channel_changed(struct vd_launcher *launcher, struct vd_channel *channel) {
	schedule_sync(launcher);
}

void vd_launcher_vms_reloaded(struct vd_launcher *launcher) {
	schedule_sync(launcher);
}

void vd_launcher_windows(struct vd_launcher *launcher, const char *vm, uint32_t count) {
	struct entry *e = get_entry(launcher, vm);
	if (e == NULL) {
		return;
	}
	if (count == 0 && (!e->windows_known || e->windows > 0)) {
		e->windows_zero_since = vd_now_ms();
	}
	if (!e->windows_known || e->windows != count) {
		vd_log(VD_DEBUG, "vm=%s: %u window%s", vm, count, count == 1 ? "" : "s");
	}
	e->windows_known = true;
	e->windows = count;
	schedule_sync(launcher);
}

/* ---- machines' news ---- */

static void handle_machine_progress(void *data, struct vd_machine *machine, const char *text) {
	struct vd_launcher *launcher = data;
	struct vd_launcher_op *op;
	wl_list_for_each(op, &launcher->ops, link) {
		if (strcmp(op->name, vd_machine_name(machine)) == 0) {
			op_event(op, VD_LAUNCHER_PROGRESS, 0, text);
		}
	}
}

static void handle_machine_changed(void *data, struct vd_machine *machine) {
	schedule_sync(data);
}

static const struct vd_machine_impl machine_impl = {
	.progress = handle_machine_progress,
	.changed = handle_machine_changed,
};

static struct vd_machine *entry_machine(struct vd_launcher *launcher, struct entry *e) {
	if (e->machine == NULL) {
		struct vd_machine_config config = {
			.loop = launcher->config.loop,
			.children = launcher->config.children,
			.state_dir = launcher->config.state_dir,
			.stop_timeout_ms = launcher->config.stop_timeout_s * 1000,
			.ready_timeout_ms = 30000,
		};
		e->machine = vd_machine_create(&config, e->name, &machine_impl, launcher);
	}
	return e->machine;
}

/* ---- requests ---- */

/* The definition of a VM vmdesk starts, or NULL with code and err. */
static const struct vd_vmconf *startable(struct vd_launcher *launcher, const char *name,
		uint32_t *code, char *err, size_t err_size) {
	const struct vd_vmconf *conf = launcher_find_conf(launcher, name);
	if (conf == NULL) {
		*code = VD_LINK_ERROR_CODE_NO_VM;
		snprintf(err, err_size, "no VM named %s", name);
		return NULL;
	}
	if (conf->error[0] != '\0') {
		*code = VD_LINK_ERROR_CODE_UNSUPPORTED;
		snprintf(err, err_size, "VM %s: %s", name, conf->error);
		return NULL;
	}
	if (!conf->machine.defined) {
		*code = VD_LINK_ERROR_CODE_UNSUPPORTED;
		snprintf(err, err_size, "VM %s is not started by vmdesk: its definition %s has no "
			"vmm, image or kernel", name, conf->path);
		return NULL;
	}
	return conf;
}

bool vd_launcher_needs_start(struct vd_launcher *launcher, const char *name) {
	const struct vd_vmconf *conf = launcher_find_conf(launcher, name);
	if (conf == NULL || !conf->machine.defined || conf->error[0] != '\0') {
		return false;
	}
	struct entry *e = launcher_find_entry(launcher, name);
	return e == NULL || e->machine == NULL || vd_machine_state(e->machine) != VD_MACHINE_RUNNING;
}

struct vd_launcher_op *vd_launcher_start(struct vd_launcher *launcher, const char *name,
		bool no_wait, uint32_t timeout_s, vd_launcher_event event, void *data, uint32_t *code,
		char *err, size_t err_size) {
	const struct vd_vmconf *conf = startable(launcher, name, code, err, err_size);
	if (conf == NULL) {
		return NULL;
	}
	struct entry *e = get_entry(launcher, name);
	struct vd_machine *m = e != NULL ? entry_machine(launcher, e) : NULL;
	if (m == NULL) {
		*code = VD_LINK_ERROR_CODE_INTERNAL;
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	enum vd_machine_state state = vd_machine_state(m);
	if (state == VD_MACHINE_STOPPING) {
		*code = VD_LINK_ERROR_CODE_BUSY;
		snprintf(err, err_size, "VM %s is stopping; start it again once it stopped", name);
		return NULL;
	}
	struct vd_launcher_op *op = op_create(launcher, OP_START, name, event, data);
	if (op == NULL) {
		*code = VD_LINK_ERROR_CODE_INTERNAL;
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	op->no_wait = no_wait;
	op->timeout_s = timeout_s != 0 ? timeout_s : (uint32_t)launcher->config.start_timeout_s;
	if (state == VD_MACHINE_STOPPED) {
		if (e->started_conf == NULL) {
			e->started_conf = malloc(sizeof(*e->started_conf));
		}
		if (e->started_conf != NULL) {
			*e->started_conf = *conf;
		}
		if (!vd_machine_start(m, conf, &launcher->config.env, err, err_size)) {
			op->event = NULL;
			op_free(op);
			*code = VD_LINK_ERROR_CODE_EXEC;
			return NULL;
		}
	}
	if (!no_wait) {
		op->timer = wl_event_loop_add_timer(launcher->config.loop, handle_op_timeout, op);
		if (op->timer != NULL) {
			wl_event_source_timer_update(op->timer, (int)op->timeout_s * 1000);
		}
	}
	return op;
}

struct vd_launcher_op *vd_launcher_stop(struct vd_launcher *launcher, const char *name,
		bool force, vd_launcher_event event, void *data, uint32_t *code, char *err,
		size_t err_size) {
	struct entry *e = launcher_find_entry(launcher, name);
	bool running = e != NULL && e->machine != NULL &&
		vd_machine_state(e->machine) != VD_MACHINE_STOPPED;
	if (!running && startable(launcher, name, code, err, err_size) == NULL) {
		return NULL;
	}
	struct vd_launcher_op *op = op_create(launcher, OP_STOP, name, event, data);
	if (op == NULL) {
		*code = VD_LINK_ERROR_CODE_INTERNAL;
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	if (running) {
		vd_machine_stop(e->machine, force, force ? "vmdesk stop --force" : "vmdesk stop");
	}
	return op;
}

char *vd_launcher_dry_run(struct vd_launcher *launcher, const char *name, uint32_t *code,
		char *err, size_t err_size) {
	const struct vd_vmconf *conf = startable(launcher, name, code, err, err_size);
	if (conf == NULL) {
		return NULL;
	}
	struct vd_launch *l = malloc(sizeof(*l));
	if (l == NULL) {
		*code = VD_LINK_ERROR_CODE_INTERNAL;
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	char *text = NULL;
	if (vd_launch_prepare(l, conf, &launcher->config.env, err, err_size)) {
		text = vd_launch_describe(l);
		vd_launch_finish(l);
		if (text == NULL) {
			snprintf(err, err_size, "out of memory");
		}
	}
	free(l);
	if (text == NULL) {
		*code = VD_LINK_ERROR_CODE_EXEC;
	}
	return text;
}

struct vd_console *vd_launcher_console(struct vd_launcher *launcher, const char *name,
		uint32_t *code, char *err, size_t err_size) {
	struct entry *e = launcher_find_entry(launcher, name);
	struct vd_console *console = e != NULL && e->machine != NULL ?
		vd_machine_console(e->machine) : NULL;
	if (console != NULL) {
		return console;
	}
	if (e == NULL && startable(launcher, name, code, err, err_size) == NULL) {
		return NULL;
	}
	*code = VD_LINK_ERROR_CODE_NOT_CONNECTED;
	if (e != NULL && e->machine != NULL && vd_machine_state(e->machine) != VD_MACHINE_STOPPED) {
		snprintf(err, err_size, "VM %s has no console now (see its log)", name);
	} else {
		snprintf(err, err_size, "VM %s is not running (vmdesk start %s)", name, name);
	}
	return NULL;
}

/* ---- life ---- */

/* VMs a previous hostd left running: their run directories. */
static void adopt_all(struct vd_launcher *launcher) {
	const char *run_dir = launcher->config.env.run_dir;
	DIR *d = run_dir != NULL ? opendir(run_dir) : NULL;
	if (d == NULL) {
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!vd_vm_name_valid(de->d_name, strlen(de->d_name))) {
			continue;
		}
		struct entry *e = get_entry(launcher, de->d_name);
		struct vd_machine *m = e != NULL ? entry_machine(launcher, e) : NULL;
		if (m != NULL && vd_machine_state(m) == VD_MACHINE_STOPPED) {
			vd_machine_adopt(m, run_dir);
		}
	}
	closedir(d);
}

static void autostart_all(struct vd_launcher *launcher) {
	struct vd_vms *vms = launcher->config.vms;
	for (size_t i = 0; i < vd_vms_count(vms); i++) {
		const struct vd_vmconf *conf = vd_channel_conf(vd_vms_at(vms, i));
		if (!conf->machine.defined || !conf->machine.autostart || conf->error[0] != '\0') {
			continue;
		}
		struct entry *e = get_entry(launcher, conf->name);
		struct vd_machine *m = e != NULL ? entry_machine(launcher, e) : NULL;
		if (m == NULL || vd_machine_state(m) != VD_MACHINE_STOPPED) {
			continue;
		}
		char err[1024];
		vd_log(VD_INFO, "vm=%s: autostart", conf->name);
		if (e->started_conf == NULL) {
			e->started_conf = malloc(sizeof(*e->started_conf));
		}
		if (e->started_conf != NULL) {
			*e->started_conf = *conf;
		}
		if (!vd_machine_start(m, conf, &launcher->config.env, err, sizeof(err))) {
			vd_log(VD_ERROR, "vm=%s: autostart failed: %s", conf->name, err);
		}
	}
}

struct vd_launcher *vd_launcher_create(const struct vd_launcher_config *config) {
	struct vd_launcher *launcher = calloc(1, sizeof(*launcher));
	if (launcher == NULL) {
		return NULL;
	}
	launcher->config = *config;
	wl_list_init(&launcher->entries);
	wl_list_init(&launcher->ops);
	launcher->idle_timer = wl_event_loop_add_timer(config->loop, handle_idle_timer, launcher);
	if (launcher->idle_timer == NULL) {
		free(launcher);
		return NULL;
	}
	adopt_all(launcher);
	autostart_all(launcher);
	schedule_sync(launcher);
	return launcher;
}

bool vd_launcher_shutdown(struct vd_launcher *launcher, bool force,
		void (*done)(void *data), void *data) {
	if (launcher->config.on_exit == VD_LAUNCHER_EXIT_KEEP) {
		return false;
	}
	bool waiting = false;
	struct entry *e;
	wl_list_for_each(e, &launcher->entries, link) {
		if (e->machine != NULL && vd_machine_state(e->machine) != VD_MACHINE_STOPPED) {
			vd_machine_stop(e->machine, force, "vmdesk-hostd is stopping");
			waiting = true;
		}
	}
	if (waiting) {
		launcher->shutdown_done = done;
		launcher->shutdown_data = data;
		schedule_sync(launcher);
	}
	return waiting;
}

void vd_launcher_destroy(struct vd_launcher *launcher) {
	if (launcher == NULL) {
		return;
	}
	struct vd_launcher_op *op, *otmp;
	wl_list_for_each_safe(op, otmp, &launcher->ops, link) {
		op_end(op, VD_LAUNCHER_FAILED, VD_LINK_ERROR_CODE_INTERNAL, "vmdesk-hostd is leaving");
	}
	struct entry *e, *tmp;
	wl_list_for_each_safe(e, tmp, &launcher->entries, link) {
		entry_free(launcher, e);
	}
	if (launcher->sync_idle != NULL) {
		wl_event_source_remove(launcher->sync_idle);
	}
	wl_event_source_remove(launcher->idle_timer);
	free(launcher);
}
