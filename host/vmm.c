#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/vmm-private.h"
#include "protocols/names.h"

/*
 * What every VMM shares: the checks of a launch, the kernel command line the
 * image's initramfs and guest-setup read, the addresses, the plan's text. The
 * VMMs' own flags are in vmm-qemu.c, vmm-crosvm.c and vmm-cloud-hypervisor.c.
 */

static const char *const kind_names[] = {
	[VD_VMM_QEMU] = "qemu",
	[VD_VMM_CROSVM] = "crosvm",
	[VD_VMM_CLOUD_HYPERVISOR] = "cloud-hypervisor",
};

static bool device_usable(const char *path) {
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	close(fd);
	return true;
}

void vd_vmm_probe_host(bool *kvm, bool *vhost_vsock) {
	*kvm = device_usable("/dev/kvm");
	*vhost_vsock = device_usable("/dev/vhost-vsock");
}

bool vd_vmm_kind_parse(const char *str, enum vd_vmm_kind *kind) {
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strcmp(str, kind_names[i]) == 0) {
			*kind = (enum vd_vmm_kind)i;
			return true;
		}
	}
	return false;
}

const char *vd_vmm_kind_name(enum vd_vmm_kind kind) {
	return kind_names[kind];
}

static bool fmt_err(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fmt_err(char *err, size_t err_size, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	vsnprintf(err, err_size, fmt, args);
	va_end(args);
	return false;
}

bool vmm_fail(struct vmm_builder *b, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	vsnprintf(b->err, b->err_size, fmt, args);
	va_end(args);
	return false;
}

static bool copy_str(char *dst, size_t size, const char *src) {
	size_t len = strlen(src);
	if (len >= size) {
		return false;
	}
	memcpy(dst, src, len + 1);
	return true;
}

bool vd_vmm_sockets_init(struct vd_vmm_sockets *sockets, const char *dir, char *err,
	size_t err_size) {
	*sockets = (struct vd_vmm_sockets){0};
	if (dir[0] != '/') {
		return fmt_err(err, err_size, "socket directory %s is not an absolute path", dir);
	}
	struct {
		char *dst;
		size_t size;
		const char *name;
	} paths[] = {
		{ sockets->console, sizeof(sockets->console), "console.sock" },
		{ sockets->control, sizeof(sockets->control), "control.sock" },
		{ sockets->agent, sizeof(sockets->agent), "agent.sock" },
		{ sockets->wayland, sizeof(sockets->wayland), "wayland.sock" },
		{ sockets->vsock, sizeof(sockets->vsock), "vsock.sock" },
		{ sockets->proxy, sizeof(sockets->proxy), "proxy.sock" },
		{ sockets->fs_prefix, sizeof(sockets->fs_prefix), "fs-" },
		{ sockets->console_log, sizeof(sockets->console_log), "console.log" },
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int n = snprintf(paths[i].dst, paths[i].size, "%s/%s", dir, paths[i].name);
		if (n < 0 || (size_t)n >= paths[i].size) {
			return fmt_err(err, err_size, "socket directory %s is too long for %s", dir,
				paths[i].name);
		}
	}
	// Room for the hybrid vsock's "_5001" and for "99.sock".
	if (strlen(sockets->vsock) + 6 >= VD_ADDR_PATH_MAX ||
		strlen(sockets->fs_prefix) + 8 >= VD_ADDR_PATH_MAX) {
		return fmt_err(err, err_size, "socket directory %s is too long", dir);
	}
	return true;
}

/* SIZE for tmpfs: digits, then nothing, K, M, G (either case) or %. */
static bool tmpfs_size_valid(const char *size) {
	size_t digits = strspn(size, "0123456789");
	if (digits == 0 || digits > 12) {
		return false;
	}
	const char *rest = size + digits;
	return rest[0] == '\0' || (strchr("kKmMgG%", rest[0]) != NULL && rest[1] == '\0');
}

bool vd_vmm_overlay_parse(const char *str, struct vd_vmm_overlay *overlay, char *err,
	size_t err_size) {
	*overlay = (struct vd_vmm_overlay){ .kind = VD_VMM_OVERLAY_TMPFS };
	if (strcmp(str, "tmpfs") == 0) {
		return true;
	}
	if (strncmp(str, "tmpfs:", 6) == 0) {
		if (!tmpfs_size_valid(str + 6) || !copy_str(overlay->tmpfs_size,
				sizeof(overlay->tmpfs_size), str + 6)) {
			return fmt_err(err, err_size,
				"overlay '%s': the size is digits with K, M, G or %% (e.g. tmpfs:2G)", str);
		}
		return true;
	}
	if (str[0] != '/') {
		return fmt_err(err, err_size,
			"overlay '%s': want tmpfs, tmpfs:SIZE or the absolute path of a disk", str);
	}
	if (strchr(str, ',') != NULL || !copy_str(overlay->disk, sizeof(overlay->disk), str)) {
		return fmt_err(err, err_size, "overlay '%s': the path may not contain ','", str);
	}
	overlay->kind = VD_VMM_OVERLAY_DISK;
	return true;
}

static bool tag_valid(const char *tag) {
	size_t len = strlen(tag);
	return len > 0 && len <= VD_VMM_SHARE_TAG_MAX &&
		strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

bool vd_vmm_share_parse(const char *str, struct vd_vmm_share *share, char *err,
	size_t err_size) {
	*share = (struct vd_vmm_share){0};
	const char *colon = strchr(str, ':');
	if (str[0] != '/' || colon == NULL) {
		return fmt_err(err, err_size, "share '%s': want /HOST/DIR:TAG or /HOST/DIR:TAG:ro", str);
	}
	size_t dir_len = (size_t)(colon - str);
	if (dir_len >= sizeof(share->host_dir) || memchr(str, ',', dir_len) != NULL) {
		return fmt_err(err, err_size, "share '%s': the folder may not contain ',' or ':'", str);
	}
	memcpy(share->host_dir, str, dir_len);
	share->host_dir[dir_len] = '\0';
	const char *tag = colon + 1;
	const char *opt = strchr(tag, ':');
	size_t tag_len = opt != NULL ? (size_t)(opt - tag) : strlen(tag);
	if (tag_len == 0 || tag_len > VD_VMM_SHARE_TAG_MAX) {
		return fmt_err(err, err_size, "share '%s': the tag is 1-%d of [A-Za-z0-9_-]", str,
			VD_VMM_SHARE_TAG_MAX);
	}
	memcpy(share->tag, tag, tag_len);
	share->tag[tag_len] = '\0';
	if (!tag_valid(share->tag)) {
		return fmt_err(err, err_size, "share '%s': the tag is 1-%d of [A-Za-z0-9_-]", str,
			VD_VMM_SHARE_TAG_MAX);
	}
	if (opt != NULL) {
		if (strcmp(opt, ":ro") != 0) {
			return fmt_err(err, err_size, "share '%s': the only option is ':ro'", str);
		}
		share->read_only = true;
	}
	return true;
}

/* --- argv building ------------------------------------------------------------------- */

bool vd_vmm_cmd_add(struct vd_vmm_cmd *cmd, const char *fmt, ...) {
	if (cmd->argc + 2 > cmd->cap) {
		size_t cap = cmd->cap ? cmd->cap * 2 : 32;
		char **argv = realloc(cmd->argv, cap * sizeof(*argv));
		if (argv == NULL) {
			return false;
		}
		cmd->argv = argv;
		cmd->cap = cap;
	}
	va_list args;
	va_start(args, fmt);
	int n = vasprintf(&cmd->argv[cmd->argc], fmt, args);
	va_end(args);
	if (n < 0) {
		cmd->argv[cmd->argc] = NULL;
		return false;
	}
	cmd->argc++;
	cmd->argv[cmd->argc] = NULL;
	return true;
}

void vd_vmm_cmd_finish(struct vd_vmm_cmd *cmd) {
	for (size_t i = 0; i < cmd->argc; i++) {
		free(cmd->argv[i]);
	}
	free(cmd->argv);
	*cmd = (struct vd_vmm_cmd){0};
}

/* Appends " WORD" to the kernel command line. */
static bool cmdline_add(struct vmm_builder *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool cmdline_add(struct vmm_builder *b, const char *fmt, ...) {
	char *line = b->plan->cmdline;
	size_t len = strlen(line);
	if (len > 0) {
		if (len + 1 >= VD_VMM_CMDLINE_MAX) {
			return vmm_fail(b, "the kernel command line is too long");
		}
		line[len++] = ' ';
		line[len] = '\0';
	}
	va_list args;
	va_start(args, fmt);
	int n = vsnprintf(line + len, VD_VMM_CMDLINE_MAX - len, fmt, args);
	va_end(args);
	if (n < 0 || (size_t)n >= VD_VMM_CMDLINE_MAX - len) {
		return vmm_fail(b, "the kernel command line is too long");
	}
	return true;
}

static void addr_set_vsock(struct vd_addr *addr, uint32_t cid, uint32_t port) {
	*addr = (struct vd_addr){ .kind = VD_ADDR_VSOCK, .cid = cid, .port = port };
}

static void addr_set_path(struct vd_addr *addr, enum vd_addr_kind kind, const char *path,
	uint32_t port) {
	*addr = (struct vd_addr){ .kind = kind, .port = port };
	copy_str(addr->path, sizeof(addr->path), path);
}

/* --- checks common to all VMMs ------------------------------------------------------- */

static bool check_path(struct vmm_builder *b, const char *what, const char *path) {
	if (path == NULL || path[0] != '/') {
		return vmm_fail(b, "%s: want an absolute path", what);
	}
	if (strpbrk(path, "\n") != NULL) {
		return vmm_fail(b, "%s: the path contains a newline", what);
	}
	return true;
}

/* crosvm and cloud-hypervisor split their options at ',' (and crosvm's
 * --shared-dir at ':'), with no way to escape them. */
bool vmm_check_plain_path(struct vmm_builder *b, const char *what, const char *path,
	const char *forbidden) {
	if (strpbrk(path, forbidden) != NULL) {
		return vmm_fail(b, "%s %s: %s cannot take a path with '%s' in it",
			what, path, vd_vmm_kind_name(b->launch->vmm), forbidden);
	}
	return true;
}

static bool check_launch(struct vmm_builder *b) {
	const struct vd_vmm_launch *l = b->launch;
	if (l->name == NULL || !vd_vm_name_valid(l->name, strlen(l->name))) {
		return vmm_fail(b, "bad VM name");
	}
	if (!check_path(b, "kernel", l->kernel) || !check_path(b, "initrd", l->initrd) ||
		!check_path(b, "root", l->root)) {
		return false;
	}
	if (l->sockets == NULL) {
		return vmm_fail(b, "no socket paths");
	}
	if (l->memory_mib < VD_VMM_MEMORY_MIN_MIB || l->memory_mib > VD_VMM_MEMORY_MAX_MIB) {
		return vmm_fail(b, "memory: %u MiB is not in %d-%d", l->memory_mib,
			VD_VMM_MEMORY_MIN_MIB, VD_VMM_MEMORY_MAX_MIB);
	}
	if (l->cpus < 1 || l->cpus > VD_VMM_CPUS_MAX) {
		return vmm_fail(b, "cpus: %u is not in 1-%d", l->cpus, VD_VMM_CPUS_MAX);
	}
	if (l->share_count > VD_VMM_MAX_SHARES) {
		return vmm_fail(b, "at most %d shares", VD_VMM_MAX_SHARES);
	}
	for (size_t i = 0; i < l->share_count; i++) {
		if (!check_path(b, "share", l->shares[i].host_dir) || !tag_valid(l->shares[i].tag)) {
			return vmm_fail(b, "share %zu: bad folder or tag", i + 1);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(l->shares[i].tag, l->shares[j].tag) == 0) {
				return vmm_fail(b, "share tag %s is used twice",
					l->shares[i].tag);
			}
		}
	}
	if (l->overlay.kind == VD_VMM_OVERLAY_DISK && !check_path(b, "overlay", l->overlay.disk)) {
		return false;
	}
	if (l->overlay.kind == VD_VMM_OVERLAY_TMPFS && l->overlay.tmpfs_size[0] != '\0' &&
		!tmpfs_size_valid(l->overlay.tmpfs_size)) {
		return vmm_fail(b, "overlay: bad tmpfs size '%s'",
			l->overlay.tmpfs_size);
	}
	if (l->cmdline != NULL && strpbrk(l->cmdline, "\n\r") != NULL) {
		return vmm_fail(b, "cmdline: one line only");
	}
	if ((l->gpu == VD_VMM_GPU_CROSS_DOMAIN) != (l->wayland == VD_VMM_WAYLAND_CROSS_DOMAIN)) {
		return fmt_err(b->err, b->err_size,
			"wayland = cross-domain and gpu = cross-domain go together");
	}
	if (b->vsock && (l->cid < 3 || l->cid == UINT32_MAX)) {
		return vmm_fail(b, "cid: %u is not a guest context id (3 or more)",
			l->cid);
	}
	return true;
}

/* The kernel parameters vmdesk's initramfs and guest-setup read. */
static bool build_cmdline(struct vmm_builder *b, const char *agent, const char *wayland,
	const char *share_type) {
	const struct vd_vmm_launch *l = b->launch;
	if (l->vmm != VD_VMM_CROSVM && !cmdline_add(b, "console=ttyS0")) {
		return false; // crosvm adds console= for its --serial ...,console itself
	}
	if (!cmdline_add(b, "vmdesk.name=%s", l->name)) {
		return false;
	}
	bool ok = l->overlay.kind == VD_VMM_OVERLAY_DISK ?
		cmdline_add(b, "vmdesk.overlay=disk:/dev/vdb") :
		l->overlay.tmpfs_size[0] != '\0' ?
		cmdline_add(b, "vmdesk.overlay=tmpfs:%s", l->overlay.tmpfs_size) :
		cmdline_add(b, "vmdesk.overlay=tmpfs");
	if (!ok || !cmdline_add(b, "vmdesk.agent=%s", agent) ||
		!cmdline_add(b, "vmdesk.wayland=%s", wayland)) {
		return false;
	}
	for (size_t i = 0; i < l->share_count; i++) {
		if (!cmdline_add(b, "vmdesk.share=%s,%s,%s", l->shares[i].tag, share_type,
				l->shares[i].read_only ? "ro" : "rw")) {
			return false;
		}
	}
	if (l->cmdline != NULL && l->cmdline[0] != '\0' && !cmdline_add(b, "%s", l->cmdline)) {
		return false;
	}
	return true;
}

/* --- the plan ------------------------------------------------------------------------ */

/* Where the agent and the link are, on both sides. */
static bool plan_addresses(struct vmm_builder *b, char *agent, char *wayland, size_t size) {
	const struct vd_vmm_launch *l = b->launch;
	struct vd_vmm_plan *p = b->plan;
	p->has_link = l->wayland == VD_VMM_WAYLAND_LINK;
	if (!b->vsock) {
		// QEMU without vhost-vsock: virtio-serial ports, QEMU's sockets on the host.
		addr_set_path(&p->agent, VD_ADDR_UNIX, l->sockets->agent, 0);
		addr_set_path(&p->link, VD_ADDR_UNIX, l->sockets->wayland, 0);
		snprintf(agent, size, "serial:/dev/virtio-ports/%s", VD_VMM_AGENT_PORT_NAME);
		snprintf(wayland, size, "serial:/dev/virtio-ports/%s", VD_VMM_WAYLAND_PORT_NAME);
		return true;
	}
	if (l->vmm == VD_VMM_CLOUD_HYPERVISOR) {
		addr_set_path(&p->agent, VD_ADDR_HVSOCK, l->sockets->vsock, VD_VMM_AGENT_PORT);
		addr_set_path(&p->link, VD_ADDR_HVSOCK, l->sockets->vsock, VD_VMM_WAYLAND_PORT);
	} else {
		addr_set_vsock(&p->agent, l->cid, VD_VMM_AGENT_PORT);
		addr_set_vsock(&p->link, l->cid, VD_VMM_WAYLAND_PORT);
	}
	snprintf(agent, size, "vsock:%u", VD_VMM_AGENT_PORT);
	if (p->has_link) {
		snprintf(wayland, size, "vsock:%u", VD_VMM_WAYLAND_PORT);
	} else {
		snprintf(wayland, size, "cross-domain");
		p->link = (struct vd_addr){0};
	}
	return true;
}

bool vd_vmm_plan_build(const struct vd_vmm_launch *launch, struct vd_vmm_plan *plan,
	char *err, size_t err_size) {
	*plan = (struct vd_vmm_plan){0};
	struct vmm_builder b = {
		.launch = launch,
		.plan = plan,
		.vsock = launch->vmm != VD_VMM_QEMU || launch->vhost_vsock,
		.err = err,
		.err_size = err_size,
	};
	if ((unsigned)launch->vmm >= sizeof(kind_names) / sizeof(kind_names[0])) {
		return fmt_err(err, err_size, "unknown VMM");
	}
	if (!check_launch(&b)) {
		return false;
	}
	char agent[64], wayland[64];
	plan_addresses(&b, agent, wayland, sizeof(agent));
	const char *share_type = launch->vmm == VD_VMM_QEMU ? "9p" : "virtiofs";
	bool ok = build_cmdline(&b, agent, wayland, share_type);
	if (ok) {
		switch (launch->vmm) {
		case VD_VMM_QEMU:
			ok = vmm_build_qemu(&b);
			break;
		case VD_VMM_CROSVM:
			ok = vmm_build_crosvm(&b);
			break;
		case VD_VMM_CLOUD_HYPERVISOR:
			ok = vmm_build_cloud_hypervisor(&b);
			break;
		}
	}
	if (ok && b.oom) {
		ok = fmt_err(err, err_size, "out of memory");
	}
	if (!ok) {
		vd_vmm_plan_finish(plan);
	}
	return ok;
}

void vd_vmm_plan_finish(struct vd_vmm_plan *plan) {
	for (size_t i = 0; i < plan->helper_count; i++) {
		vd_vmm_cmd_finish(&plan->helpers[i]);
	}
	vd_vmm_cmd_finish(&plan->vmm);
	vd_vmm_cmd_finish(&plan->powerdown);
	vd_vmm_cmd_finish(&plan->force_stop);
	*plan = (struct vd_vmm_plan){0};
}

/* --- text ---------------------------------------------------------------------------- */

/* Appends to a heap string; on failure frees it and leaves NULL. */
static void text_add(char **text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(char **text, const char *fmt, ...) {
	if (*text == NULL) {
		return;
	}
	char *more = NULL;
	va_list args;
	va_start(args, fmt);
	int n = vasprintf(&more, fmt, args);
	va_end(args);
	char *joined = NULL;
	if (n < 0 || asprintf(&joined, "%s%s", *text, more) < 0) {
		joined = NULL;
	}
	free(*text);
	free(n < 0 ? NULL : more);
	*text = joined;
}

static bool shell_safe(const char *word) {
	return word[0] != '\0' && strspn(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789_-+=/.,:@%") == strlen(word);
}

char *vd_vmm_cmd_format(const struct vd_vmm_cmd *cmd) {
	char *text = strdup("");
	for (size_t i = 0; i < cmd->argc; i++) {
		const char *word = cmd->argv[i];
		text_add(&text, "%s", i > 0 ? " " : "");
		if (shell_safe(word)) {
			text_add(&text, "%s", word);
			continue;
		}
		text_add(&text, "'");
		for (const char *q = word; *q != '\0'; q++) {
			if (*q == '\'') {
				text_add(&text, "'\\''");
			} else {
				text_add(&text, "%c", *q);
			}
		}
		text_add(&text, "'");
	}
	return text;
}

static void describe_cmd(char **text, const char *label, const struct vd_vmm_cmd *cmd) {
	char *line = vd_vmm_cmd_format(cmd);
	if (line == NULL) {
		free(*text);
		*text = NULL;
		return;
	}
	text_add(text, "%s: %s\n", label, line);
	free(line);
}

char *vd_vmm_plan_describe(const struct vd_vmm_plan *plan, const struct vd_vmm_launch *launch) {
	char *text = strdup("");
	char addr[VD_ADDR_PATH_MAX + 32];
	if (plan->warning[0] != '\0') {
		text_add(&text, "# %s\n", plan->warning);
	}
	for (size_t i = 0; i < plan->helper_count; i++) {
		describe_cmd(&text, "helper", &plan->helpers[i]);
	}
	describe_cmd(&text, "vmm", &plan->vmm);
	if (plan->control == VD_VMM_CONTROL_QMP) {
		text_add(&text, "stop: qmp %s %s\n", launch->sockets->control, VD_VMM_QMP_POWERDOWN);
		text_add(&text, "force-stop: qmp %s %s\n", launch->sockets->control, VD_VMM_QMP_QUIT);
	} else {
		describe_cmd(&text, "stop", &plan->powerdown);
		describe_cmd(&text, "force-stop", &plan->force_stop);
	}
	vd_addr_format(&plan->agent, addr, sizeof(addr));
	text_add(&text, "agent: %s\n", addr);
	if (plan->has_link) {
		vd_addr_format(&plan->link, addr, sizeof(addr));
		text_add(&text, "link: %s\n", addr);
	}
	if (plan->proxy_listens) {
		text_add(&text, "proxy-listens: %s\n", launch->sockets->proxy);
	}
	text_add(&text, "console: %s (%s)\n", launch->sockets->console,
		plan->host_listens_console ? "the host listens, the VMM connects" : "the VMM listens");
	return text;
}
