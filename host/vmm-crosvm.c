/*
 * crosvm command lines, from crosvm src/crosvm/cmdline.rs and
 * devices/src/serial_device.rs (../shared/notes/vmm-and-cross-domain.md).
 * Part of host/vmm.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/vmm-private.h"

bool vmm_build_crosvm(struct vmm_builder *b) {
	const struct vd_vmm_launch *l = b->launch;
	const struct vd_vmm_sockets *s = l->sockets;
	struct vd_vmm_plan *p = b->plan;
	struct vd_vmm_cmd *c = &p->vmm;
	const char *crosvm = l->binary ? l->binary : "crosvm";
	if (!l->kvm) {
		return vmm_fail(b, "crosvm needs /dev/kvm, which is not usable here");
	}
	if (!l->vhost_vsock) {
		return vmm_fail(b,
			"crosvm needs /dev/vhost-vsock for the agent, which is not usable here");
	}
	if (l->network != VD_VMM_NETWORK_NONE) {
		return vmm_fail(b,
			"network = user: crosvm has no user-mode network (only tap devices)");
	}
	if (!vmm_check_plain_path(b, "root", l->root, ",") ||
		(l->overlay.kind == VD_VMM_OVERLAY_DISK &&
			!vmm_check_plain_path(b, "overlay", l->overlay.disk, ",")) ||
		!vmm_check_plain_path(b, "console socket", s->console, ",")) {
		return false;
	}
	for (size_t i = 0; i < l->share_count; i++) {
		if (l->shares[i].read_only) {
			return vmm_fail(b, "share %s: crosvm's virtiofs cannot make a "
				"folder read-only (use QEMU, whose 9p can)", l->shares[i].tag);
		}
		if (!vmm_check_plain_path(b, "share", l->shares[i].host_dir, ",:")) {
			return false;
		}
	}
	VMM_ADD(b, c, "%s", crosvm);
	VMM_ADD(b, c, "run");
	VMM_ADD(b, c, "--name");
	VMM_ADD(b, c, "vmdesk-%s", l->name);
	VMM_ADD(b, c, "--cpus");
	VMM_ADD(b, c, "%u", l->cpus);
	VMM_ADD(b, c, "--mem");
	VMM_ADD(b, c, "%u", l->memory_mib);
	VMM_ADD(b, c, "--initrd");
	VMM_ADD(b, c, "%s", l->initrd);
	VMM_ADD(b, c, "--params");
	VMM_ADD(b, c, "%s", p->cmdline);
	VMM_ADD(b, c, "--block");
	VMM_ADD(b, c, "%s,ro", l->root);
	if (l->overlay.kind == VD_VMM_OVERLAY_DISK) {
		VMM_ADD(b, c, "--block");
		VMM_ADD(b, c, "%s", l->overlay.disk);
	}
	// crosvm connects to the console socket (type unix-stream), once, at start.
	VMM_ADD(b, c, "--serial");
	VMM_ADD(b, c, "type=unix-stream,path=%s,hardware=serial,num=1,console", s->console);
	VMM_ADD(b, c, "--socket");
	VMM_ADD(b, c, "%s", s->control);
	VMM_ADD(b, c, "--vsock");
	VMM_ADD(b, c, "cid=%u", l->cid);
	for (size_t i = 0; i < l->share_count; i++) {
		VMM_ADD(b, c, "--shared-dir");
		VMM_ADD(b, c, "%s:%s:type=fs:cache=auto", l->shares[i].host_dir, l->shares[i].tag);
	}
	if (l->wayland == VD_VMM_WAYLAND_CROSS_DOMAIN) {
		// The unnamed --wayland-sock is the cross-domain channel: the VM's proxy.
		VMM_ADD(b, c, "--gpu");
		VMM_ADD(b, c, "context-types=cross-domain");
		VMM_ADD(b, c, "--wayland-sock");
		VMM_ADD(b, c, "%s", s->proxy);
		p->proxy_listens = true;
	}
	VMM_ADD(b, c, "%s", l->kernel);
	p->host_listens_console = true;
	p->control = VD_VMM_CONTROL_COMMAND;
	VMM_ADD(b, &p->powerdown, "%s", crosvm);
	VMM_ADD(b, &p->powerdown, "powerbtn");
	VMM_ADD(b, &p->powerdown, "%s", s->control);
	VMM_ADD(b, &p->force_stop, "%s", crosvm);
	VMM_ADD(b, &p->force_stop, "stop");
	VMM_ADD(b, &p->force_stop, "%s", s->control);
	return true;
}
