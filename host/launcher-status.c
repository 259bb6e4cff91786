#define LOG_TAG "launcher"

#include <stdio.h>

#include "host/launcher-private.h"
#include "host/machine.h"

/* What `vmdesk list` and `vmdesk status VM` show of the launcher's VMs. */

void vd_launcher_list_fields(struct vd_launcher *launcher, const char *name, char *state,
		size_t state_size, char *pid, size_t pid_size, char *uptime, size_t uptime_size,
		char *windows, size_t windows_size) {
	const struct vd_vmconf *conf = launcher_find_conf(launcher, name);
	struct entry *e = launcher_find_entry(launcher, name);
	struct vd_machine *m = e != NULL ? e->machine : NULL;
	snprintf(state, state_size, "-");
	snprintf(pid, pid_size, "-");
	snprintf(uptime, uptime_size, "-");
	snprintf(windows, windows_size, "-");
	if ((conf != NULL && conf->machine.defined) || m != NULL) {
		enum vd_machine_state s = m != NULL ? vd_machine_state(m) : VD_MACHINE_STOPPED;
		snprintf(state, state_size, "%s", vd_machine_state_name(s));
		if (m != NULL && vd_machine_pid(m) != 0) {
			snprintf(pid, pid_size, "%d", (int)vd_machine_pid(m));
			snprintf(uptime, uptime_size, "%llds", vd_machine_uptime(m));
		}
	}
	if (e != NULL && e->windows_known) {
		snprintf(windows, windows_size, "%u", e->windows);
	}
}

void vd_launcher_status(struct vd_launcher *launcher, const char *name, FILE *out) {
	const struct vd_vmconf *conf = launcher_find_conf(launcher, name);
	struct entry *e = launcher_find_entry(launcher, name);
	if (conf != NULL && conf->machine.defined) {
		const struct vd_vmconf_machine *mc = &conf->machine;
		fprintf(out, "vmm: %s\n", vd_vmm_kind_name(mc->vmm));
		if (mc->image[0] != '\0') {
			fprintf(out, "image: %s (%s/%s)\n", mc->image, launcher->config.env.images_dir,
				mc->image);
		} else {
			fprintf(out, "kernel: %s\n", mc->kernel);
		}
		fprintf(out, "memory: %u MiB\ncpus: %u\n", mc->memory_mib, mc->cpus);
	} else if (e == NULL || e->machine == NULL) {
		fprintf(out, "state: - (vmdesk does not start this VM: no vmm, image or kernel)\n");
	}
	if (e != NULL && e->machine != NULL) {
		vd_machine_status(e->machine, out);
	} else if (conf != NULL && conf->machine.defined) {
		fprintf(out, "state: stopped\n");
	}
	if (e != NULL && e->windows_known) {
		fprintf(out, "windows: %u\n", e->windows);
	}
	if (conf != NULL && conf->machine.defined) {
		if (conf->machine.idle_shutdown_s > 0) {
			fprintf(out, "idle shutdown: after %u s without windows and programs%s%s\n",
				conf->machine.idle_shutdown_s, e != NULL && e->idle_note[0] ? "; " : "",
				e != NULL ? e->idle_note : "");
		}
		fprintf(out, "autostart: %s\n", conf->machine.autostart ? "yes" : "no");
		if (e != NULL && e->machine != NULL && e->started_conf != NULL &&
				vd_machine_state(e->machine) != VD_MACHINE_STOPPED &&
				!vd_vmconf_equal(e->started_conf, conf)) {
			fprintf(out, "definition: changed since the VM started (stop and start it to "
				"apply)\n");
		}
	}
}
