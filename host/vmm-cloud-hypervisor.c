/*
 * cloud-hypervisor command lines, from cloud-hypervisor vmm/src/config.rs and
 * console_devices.rs (../shared/notes/vmm-and-cross-domain.md); virtiofsd
 * serves its shares. Part of host/vmm.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/vmm-private.h"

bool vmm_build_cloud_hypervisor(struct vmm_builder *b) {
	const struct vd_vmm_launch *l = b->launch;
	const struct vd_vmm_sockets *s = l->sockets;
	struct vd_vmm_plan *p = b->plan;
	struct vd_vmm_cmd *c = &p->vmm;
	const char *ch_remote = l->ch_remote ? l->ch_remote : "ch-remote";
	if (!l->kvm) {
		return vmm_fail(b,
			"cloud-hypervisor needs /dev/kvm, which is not usable here");
	}
	if (l->wayland == VD_VMM_WAYLAND_CROSS_DOMAIN) {
		return vmm_fail(b, "wayland = cross-domain needs crosvm "
			"(cloud-hypervisor has no virtio-gpu without out-of-tree patches)");
	}
	if (l->network != VD_VMM_NETWORK_NONE) {
		return vmm_fail(b,
			"network = user: cloud-hypervisor has no user-mode network (only tap devices)");
	}
	if (!vmm_check_plain_path(b, "root", l->root, ",") ||
		(l->overlay.kind == VD_VMM_OVERLAY_DISK &&
			!vmm_check_plain_path(b, "overlay", l->overlay.disk, ",")) ||
		!vmm_check_plain_path(b, "socket directory", s->vsock, ",")) {
		return false;
	}
	for (size_t i = 0; i < l->share_count; i++) {
		if (l->shares[i].read_only) {
			return vmm_fail(b, "share %s: virtiofs cannot make a folder "
				"read-only (use QEMU, whose 9p can)", l->shares[i].tag);
		}
		// virtiofsd serves each folder on its own vhost-user socket.
		struct vd_vmm_cmd *h = &p->helpers[p->helper_count++];
		VMM_ADD(b, h, "%s", l->virtiofsd ? l->virtiofsd : "/usr/libexec/virtiofsd");
		VMM_ADD(b, h, "--socket-path=%s%zu.sock", s->fs_prefix, i);
		VMM_ADD(b, h, "--shared-dir=%s", l->shares[i].host_dir);
		VMM_ADD(b, h, "--cache=auto");
	}
	VMM_ADD(b, c, "%s", l->binary ? l->binary : "cloud-hypervisor");
	VMM_ADD(b, c, "--api-socket");
	VMM_ADD(b, c, "path=%s", s->control);
	VMM_ADD(b, c, "--kernel");
	VMM_ADD(b, c, "%s", l->kernel);
	VMM_ADD(b, c, "--initramfs");
	VMM_ADD(b, c, "%s", l->initrd);
	VMM_ADD(b, c, "--cmdline");
	VMM_ADD(b, c, "%s", p->cmdline);
	VMM_ADD(b, c, "--cpus");
	VMM_ADD(b, c, "boot=%u", l->cpus);
	VMM_ADD(b, c, "--memory");
	// vhost-user devices (virtiofsd) need the guest's memory shared.
	VMM_ADD(b, c, "size=%uM%s", l->memory_mib, l->share_count > 0 ? ",shared=on" : "");
	VMM_ADD(b, c, "--disk");
	VMM_ADD(b, c, "path=%s,readonly=on", l->root);
	if (l->overlay.kind == VD_VMM_OVERLAY_DISK) {
		VMM_ADD(b, c, "path=%s", l->overlay.disk);
	}
	VMM_ADD(b, c, "--serial");
	VMM_ADD(b, c, "socket=%s", s->console);
	VMM_ADD(b, c, "--console");
	VMM_ADD(b, c, "off");
	VMM_ADD(b, c, "--vsock");
	VMM_ADD(b, c, "cid=%u,socket=%s", l->cid, s->vsock);
	if (l->share_count > 0) {
		VMM_ADD(b, c, "--fs");
		for (size_t i = 0; i < l->share_count; i++) {
			VMM_ADD(b, c, "tag=%s,socket=%s%zu.sock", l->shares[i].tag, s->fs_prefix, i);
		}
	}
	p->control = VD_VMM_CONTROL_COMMAND;
	VMM_ADD(b, &p->powerdown, "%s", ch_remote);
	VMM_ADD(b, &p->powerdown, "--api-socket");
	VMM_ADD(b, &p->powerdown, "%s", s->control);
	VMM_ADD(b, &p->powerdown, "power-button");
	VMM_ADD(b, &p->force_stop, "%s", ch_remote);
	VMM_ADD(b, &p->force_stop, "--api-socket");
	VMM_ADD(b, &p->force_stop, "%s", s->control);
	VMM_ADD(b, &p->force_stop, "shutdown-vmm");
	return true;
}
