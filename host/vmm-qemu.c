/*
 * QEMU 7.2 command lines (the vm tests run them): q35, KVM or TCG, virtio-serial
 * ports or vhost-vsock, 9p shares, QMP for stopping. Part of host/vmm.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/vmm-private.h"

/* A value inside a QEMU option list: commas are doubled. */
static char *qemu_escape(const char *value) {
	size_t len = strlen(value), commas = 0;
	for (size_t i = 0; i < len; i++) {
		commas += value[i] == ',';
	}
	char *out = malloc(len + commas + 1);
	if (out == NULL) {
		return NULL;
	}
	char *p = out;
	for (size_t i = 0; i < len; i++) {
		*p++ = value[i];
		if (value[i] == ',') {
			*p++ = ',';
		}
	}
	*p = '\0';
	return out;
}

static void add_qemu_escaped(struct vmm_builder *b, const char *prefix, const char *value,
	const char *suffix) {
	char *escaped = qemu_escape(value);
	if (escaped == NULL) {
		b->oom = true;
		return;
	}
	VMM_ADD(b, &b->plan->vmm, "%s%s%s", prefix, escaped, suffix);
	free(escaped);
}

/* --- QEMU ---------------------------------------------------------------------------- */

/* "-chardev socket,id=ID,path=PATH,server=on,wait=off": QEMU listens on PATH. */
static void qemu_socket_chardev(struct vmm_builder *b, const char *id, const char *path) {
	char *escaped = qemu_escape(path);
	if (escaped == NULL) {
		b->oom = true;
		return;
	}
	VMM_ADD(b, &b->plan->vmm, "-chardev");
	VMM_ADD(b, &b->plan->vmm, "socket,id=%s,path=%s,server=on,wait=off", id, escaped);
	free(escaped);
}

static void qemu_serial_port(struct vmm_builder *b, const char *id, const char *path,
	const char *name) {
	qemu_socket_chardev(b, id, path);
	VMM_ADD(b, &b->plan->vmm, "-device");
	VMM_ADD(b, &b->plan->vmm, "virtserialport,bus=vmdesk-serial.0,chardev=%s,name=%s", id, name);
}

/* The console: QEMU listens; hostd connects and logs it (host/console.h), never QEMU. */
static void qemu_console(struct vmm_builder *b) {
	qemu_socket_chardev(b, "console", b->launch->sockets->console);
	VMM_ADD(b, &b->plan->vmm, "-serial");
	VMM_ADD(b, &b->plan->vmm, "chardev:console");
}

static void qemu_shares(struct vmm_builder *b) {
	const struct vd_vmm_launch *l = b->launch;
	struct vd_vmm_cmd *c = &b->plan->vmm;
	for (size_t i = 0; i < l->share_count; i++) {
		char *dir = qemu_escape(l->shares[i].host_dir);
		if (dir == NULL) {
			b->oom = true;
			return;
		}
		// 9p, checked by QEMU itself: readonly=on is enforced on the host.
		VMM_ADD(b, c, "-fsdev");
		VMM_ADD(b, c, "local,id=share%zu,path=%s,security_model=none%s", i, dir,
			l->shares[i].read_only ? ",readonly=on" : "");
		VMM_ADD(b, c, "-device");
		VMM_ADD(b, c, "virtio-9p-pci,fsdev=share%zu,mount_tag=%s", i, l->shares[i].tag);
		free(dir);
	}
}

bool vmm_build_qemu(struct vmm_builder *b) {
	const struct vd_vmm_launch *l = b->launch;
	const struct vd_vmm_sockets *s = l->sockets;
	struct vd_vmm_plan *p = b->plan;
	struct vd_vmm_cmd *c = &p->vmm;
	if (l->wayland == VD_VMM_WAYLAND_CROSS_DOMAIN) {
		return vmm_fail(b,
			"wayland = cross-domain needs crosvm (QEMU 7.2 has no virtio-gpu-rutabaga)");
	}
	if (!l->kvm) {
		snprintf(p->warning, sizeof(p->warning), "warning: /dev/kvm is not usable: "
			"QEMU emulates the CPU (TCG), many times slower than with KVM");
	}
	VMM_ADD(b, c, "%s", l->binary ? l->binary : "qemu-system-x86_64");
	VMM_ADD(b, c, "-name");
	VMM_ADD(b, c, "%s,process=vmdesk-%s", l->name, l->name);
	VMM_ADD(b, c, "-machine");
	VMM_ADD(b, c, "q35");
	VMM_ADD(b, c, "-accel");
	VMM_ADD(b, c, "%s", l->kvm ? "kvm" : "tcg,thread=multi");
	if (l->kvm) {
		// Under TCG the default model boots at least as fast as "max" here.
		VMM_ADD(b, c, "-cpu");
		VMM_ADD(b, c, "host");
	}
	VMM_ADD(b, c, "-smp");
	VMM_ADD(b, c, "%u", l->cpus);
	VMM_ADD(b, c, "-m");
	VMM_ADD(b, c, "%u", l->memory_mib);
	VMM_ADD(b, c, "-nodefaults");
	VMM_ADD(b, c, "-no-user-config");
	VMM_ADD(b, c, "-display");
	VMM_ADD(b, c, "none");
	VMM_ADD(b, c, "-no-reboot");
	VMM_ADD(b, c, "-sandbox");
	VMM_ADD(b, c, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	VMM_ADD(b, c, "-kernel");
	VMM_ADD(b, c, "%s", l->kernel);
	VMM_ADD(b, c, "-initrd");
	VMM_ADD(b, c, "%s", l->initrd);
	VMM_ADD(b, c, "-append");
	VMM_ADD(b, c, "%s", p->cmdline);
	VMM_ADD(b, c, "-drive");
	add_qemu_escaped(b, "file=", l->root, ",if=virtio,format=raw,readonly=on");
	if (l->overlay.kind == VD_VMM_OVERLAY_DISK) {
		VMM_ADD(b, c, "-drive");
		add_qemu_escaped(b, "file=", l->overlay.disk, ",if=virtio,format=raw,discard=unmap");
	}
	qemu_console(b);
	qemu_socket_chardev(b, "control", s->control);
	VMM_ADD(b, c, "-mon");
	VMM_ADD(b, c, "chardev=control,mode=control");
	VMM_ADD(b, c, "-device");
	VMM_ADD(b, c, "virtio-rng-pci");
	if (l->vhost_vsock) {
		VMM_ADD(b, c, "-device");
		VMM_ADD(b, c, "vhost-vsock-pci,guest-cid=%u", l->cid);
	} else {
		VMM_ADD(b, c, "-device");
		VMM_ADD(b, c, "virtio-serial-pci,id=vmdesk-serial");
		qemu_serial_port(b, "agent", s->agent, VD_VMM_AGENT_PORT_NAME);
		qemu_serial_port(b, "wayland", s->wayland, VD_VMM_WAYLAND_PORT_NAME);
	}
	qemu_shares(b);
	if (l->network == VD_VMM_NETWORK_USER) {
		VMM_ADD(b, c, "-netdev");
		VMM_ADD(b, c, "user,id=net0");
		VMM_ADD(b, c, "-device");
		VMM_ADD(b, c, "virtio-net-pci,netdev=net0");
	}
	p->control = VD_VMM_CONTROL_QMP;
	return true;
}
