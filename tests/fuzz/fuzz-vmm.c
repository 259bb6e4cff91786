#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/vmm.h"

/*
 * host/vmm.c on arbitrary VM settings: the first byte picks the VMM and the
 * host's devices, then lines are an overlay spec, share specs ("HOSTDIR:TAG"),
 * a VM name and extra kernel parameters, as a VM definition gives them.
 * Beyond memory safety it checks: a parse error or a refused plan has a
 * non-empty one-line message; a built plan has a NULL-terminated argv whose
 * strings have no newline, a kernel command line that fits, the addresses
 * of its transport, and a description.
 */

#define FUZZ_VMM_MAX 8192
#define FUZZ_VMM_LINES 24

static void check_message(const char *err, size_t size) {
	size_t len = strnlen(err, size);
	if (len == 0 || len == size || memchr(err, '\n', len) != NULL) {
		abort();
	}
}

static void check_cmd(const struct vd_vmm_cmd *cmd) {
	if (cmd->argc > 0 && (cmd->argv == NULL || cmd->argv[cmd->argc] != NULL)) {
		abort();
	}
	for (size_t i = 0; i < cmd->argc; i++) {
		if (cmd->argv[i] == NULL || strchr(cmd->argv[i], '\n') != NULL) {
			abort();
		}
	}
}

static void check_plan(const struct vd_vmm_launch *launch, const struct vd_vmm_plan *plan) {
	check_cmd(&plan->vmm);
	check_cmd(&plan->powerdown);
	check_cmd(&plan->force_stop);
	for (size_t i = 0; i < plan->helper_count; i++) {
		check_cmd(&plan->helpers[i]);
	}
	if (plan->vmm.argc == 0 || strlen(plan->cmdline) >= VD_VMM_CMDLINE_MAX) {
		abort();
	}
	bool vsock = launch->vmm != VD_VMM_QEMU || launch->vhost_vsock;
	if (!vsock && plan->agent.kind != VD_ADDR_UNIX) {
		abort();
	}
	char *text = vd_vmm_plan_describe(plan, launch);
	if (text == NULL || strstr(text, "vmm: ") == NULL) {
		abort();
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size == 0 || size > FUZZ_VMM_MAX) {
		return 0;
	}
	char *buf = malloc(size);
	if (buf == NULL) {
		return 0;
	}
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	char *lines[FUZZ_VMM_LINES];
	size_t count = 0;
	for (char *line = buf; line != NULL && count < FUZZ_VMM_LINES; count++) {
		lines[count] = line;
		line = strchr(line, '\n');
		if (line != NULL) {
			*line++ = '\0';
		}
	}

	uint8_t flags = data[0];
	struct vd_vmm_sockets sockets;
	char err[256];
	if (!vd_vmm_sockets_init(&sockets, "/run/user/1000/vmdesk/vms/fuzz", err, sizeof(err))) {
		abort();
	}
	struct vd_vmm_launch launch = {
		.vmm = (enum vd_vmm_kind)(flags % 3),
		.name = "fuzz",
		.kernel = "/images/fuzz/vmlinuz",
		.initrd = "/images/fuzz/initrd.img",
		.root = "/images/fuzz/root.erofs",
		.memory_mib = 1024,
		.cpus = 2,
		.cid = (flags & 0x80) ? 2 : 7,
		.sockets = &sockets,
		.kvm = flags & 0x04,
		.vhost_vsock = flags & 0x08,
		.network = (flags & 0x10) ? VD_VMM_NETWORK_USER : VD_VMM_NETWORK_NONE,
		.wayland = (flags & 0x20) ? VD_VMM_WAYLAND_CROSS_DOMAIN : VD_VMM_WAYLAND_LINK,
		.gpu = (flags & 0x40) ? VD_VMM_GPU_CROSS_DOMAIN : VD_VMM_GPU_NONE,
	};
	// Line 0: the overlay; the last two: name and kernel parameters; shares between.
	if (count > 0 && !vd_vmm_overlay_parse(lines[0], &launch.overlay, err, sizeof(err))) {
		check_message(err, sizeof(err));
		launch.overlay = (struct vd_vmm_overlay){ .kind = VD_VMM_OVERLAY_TMPFS };
	}
	static struct vd_vmm_share shares[VD_VMM_MAX_SHARES + 1];
	size_t share_count = 0;
	for (size_t i = 1; i + 2 < count && share_count <= VD_VMM_MAX_SHARES; i++) {
		if (vd_vmm_share_parse(lines[i], &shares[share_count], err, sizeof(err))) {
			share_count++;
		} else {
			check_message(err, sizeof(err));
		}
	}
	launch.shares = shares;
	launch.share_count = share_count;
	if (count >= 3) {
		launch.name = lines[count - 2];
		launch.cmdline = lines[count - 1];
	}

	struct vd_vmm_plan plan;
	if (vd_vmm_plan_build(&launch, &plan, err, sizeof(err))) {
		check_plan(&launch, &plan);
		vd_vmm_plan_finish(&plan);
	} else {
		check_message(err, sizeof(err));
		if (plan.vmm.argv != NULL || plan.helper_count != 0) {
			abort();
		}
	}
	free(buf);
	return 0;
}
