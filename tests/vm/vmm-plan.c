/*
 * vmm-plan: prints, as JSON, the plan host/vmm.c makes for one launch, so
 * that the vm tests boot QEMU with exactly the argv hostd will use.
 *
 *   vmm-plan --vmm qemu|crosvm|cloud-hypervisor --name NAME --kernel K --initrd I
 *            --root R --sockets DIR [--cmdline TEXT] [--overlay SPEC] [--memory MIB]
 *            [--cpus N] [--cid N] [--share HOSTDIR:TAG[:ro]]... [--network none|user]
 *            [--wayland link|cross-domain] [--host | --kvm --vhost-vsock]
 *
 * --host asks this machine (/dev/kvm, /dev/vhost-vsock); otherwise neither is
 * usable unless --kvm or --vhost-vsock says so. Exit status 2 on bad
 * arguments, 1 when the plan cannot be built (the reason on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/vmm.h"

static void json_string(const char *s) {
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			printf("\\%c", *p);
		} else if (*p < 0x20) {
			printf("\\u%04x", *p);
		} else {
			putchar(*p);
		}
	}
	putchar('"');
}

static void json_argv(const char *key, const struct vd_vmm_cmd *cmd) {
	printf("\"%s\": [", key);
	for (size_t i = 0; i < cmd->argc; i++) {
		if (i > 0) {
			printf(", ");
		}
		json_string(cmd->argv[i]);
	}
	printf("]");
}

static uint32_t number(const char *opt, const char *value) {
	char *end = NULL;
	unsigned long n = strtoul(value, &end, 10);
	if (end == value || *end != '\0' || n > UINT32_MAX) {
		fprintf(stderr, "vmm-plan: %s: not a number: %s\n", opt, value);
		exit(2);
	}
	return (uint32_t)n;
}

int main(int argc, char **argv) {
	struct vd_vmm_launch launch = {
		.memory_mib = 1024,
		.cpus = 2,
		.cid = 3,
		.overlay = { .kind = VD_VMM_OVERLAY_TMPFS },
	};
	static struct vd_vmm_share shares[VD_VMM_MAX_SHARES];
	struct vd_vmm_sockets sockets;
	const char *sockets_dir = NULL;
	char err[512];
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		if (strcmp(opt, "--host") == 0) {
			vd_vmm_probe_host(&launch.kvm, &launch.vhost_vsock);
			continue;
		} else if (strcmp(opt, "--kvm") == 0) {
			launch.kvm = true;
			continue;
		} else if (strcmp(opt, "--vhost-vsock") == 0) {
			launch.vhost_vsock = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "vmm-plan: %s needs a value\n", opt);
			return 2;
		}
		const char *value = argv[++i];
		if (strcmp(opt, "--vmm") == 0) {
			if (!vd_vmm_kind_parse(value, &launch.vmm)) {
				fprintf(stderr, "vmm-plan: unknown VMM %s\n", value);
				return 2;
			}
		} else if (strcmp(opt, "--name") == 0) {
			launch.name = value;
		} else if (strcmp(opt, "--kernel") == 0) {
			launch.kernel = value;
		} else if (strcmp(opt, "--initrd") == 0) {
			launch.initrd = value;
		} else if (strcmp(opt, "--root") == 0) {
			launch.root = value;
		} else if (strcmp(opt, "--cmdline") == 0) {
			launch.cmdline = value;
		} else if (strcmp(opt, "--sockets") == 0) {
			sockets_dir = value;
		} else if (strcmp(opt, "--overlay") == 0) {
			if (!vd_vmm_overlay_parse(value, &launch.overlay, err, sizeof(err))) {
				fprintf(stderr, "vmm-plan: %s\n", err);
				return 2;
			}
		} else if (strcmp(opt, "--share") == 0) {
			if (launch.share_count >= VD_VMM_MAX_SHARES ||
				!vd_vmm_share_parse(value, &shares[launch.share_count], err, sizeof(err))) {
				fprintf(stderr, "vmm-plan: %s\n", err);
				return 2;
			}
			launch.share_count++;
		} else if (strcmp(opt, "--memory") == 0) {
			launch.memory_mib = number(opt, value);
		} else if (strcmp(opt, "--cpus") == 0) {
			launch.cpus = number(opt, value);
		} else if (strcmp(opt, "--cid") == 0) {
			launch.cid = number(opt, value);
		} else if (strcmp(opt, "--network") == 0) {
			launch.network = strcmp(value, "user") == 0 ? VD_VMM_NETWORK_USER :
				VD_VMM_NETWORK_NONE;
		} else if (strcmp(opt, "--wayland") == 0) {
			bool cross = strcmp(value, "cross-domain") == 0;
			launch.wayland = cross ? VD_VMM_WAYLAND_CROSS_DOMAIN : VD_VMM_WAYLAND_LINK;
			launch.gpu = cross ? VD_VMM_GPU_CROSS_DOMAIN : VD_VMM_GPU_NONE;
		} else {
			fprintf(stderr, "vmm-plan: unknown option %s\n", opt);
			return 2;
		}
	}
	if (sockets_dir == NULL || !vd_vmm_sockets_init(&sockets, sockets_dir, err, sizeof(err))) {
		fprintf(stderr, "vmm-plan: %s\n", sockets_dir ? err : "--sockets DIR is required");
		return 2;
	}
	launch.sockets = &sockets;
	launch.shares = shares;

	struct vd_vmm_plan plan;
	if (!vd_vmm_plan_build(&launch, &plan, err, sizeof(err))) {
		fprintf(stderr, "vmm-plan: %s\n", err);
		return 1;
	}
	char addr[VD_ADDR_PATH_MAX + 32];
	printf("{");
	json_argv("argv", &plan.vmm);
	printf(", \"agent\": ");
	vd_addr_format(&plan.agent, addr, sizeof(addr));
	json_string(addr);
	printf(", \"link\": ");
	if (plan.has_link) {
		vd_addr_format(&plan.link, addr, sizeof(addr));
	} else {
		addr[0] = '\0';
	}
	json_string(addr);
	printf(", \"cmdline\": ");
	json_string(plan.cmdline);
	printf(", \"warning\": ");
	json_string(plan.warning);
	printf(", \"control\": \"%s\", \"sockets\": {\"console\": ",
		plan.control == VD_VMM_CONTROL_QMP ? "qmp" : "command");
	json_string(sockets.console);
	printf(", \"control\": ");
	json_string(sockets.control);
	printf(", \"console_log\": ");
	json_string(sockets.console_log);
	printf("}, \"describe\": ");
	char *text = vd_vmm_plan_describe(&plan, &launch);
	json_string(text ? text : "");
	free(text);
	printf("}\n");
	vd_vmm_plan_finish(&plan);
	return 0;
}
