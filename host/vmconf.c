#define LOG_TAG "vmconf"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host/vmconf.h"
#include "protocols/log.h"
#include "protocols/number.h"
#include "protocols/text.h"

struct parse_state {
	struct vd_vmconf *conf;
	FILE *file;
	int line; // of the text inih is working on (counted by our reader)
	bool mid_line;
	int reason_line;
	char reason[256]; // of the first error the handler saw, at reason_line
	uint32_t seen; // keys given (bit per entry of keys[]), for duplicates
	int image_line, kernel_line, agent_line;
	char last_section[64];
	bool warned_section;
};

/* inih's line reader, counting lines so that an error reason and its line match. */
static char *read_line(char *buf, int size, void *stream) {
	struct parse_state *st = stream;
	char *got = fgets(buf, size, st->file);
	if (got == NULL) {
		return NULL;
	}
	if (!st->mid_line) {
		st->line++;
	}
	size_t len = strlen(buf);
	st->mid_line = len > 0 && buf[len - 1] != '\n' && !feof(st->file);
	if (st->mid_line && st->reason_line == 0) {
		st->reason_line = st->line;
		snprintf(st->reason, sizeof(st->reason), "line longer than %d bytes", size - 2);
	}
	return got;
}

static int fail(struct parse_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct parse_state *st, const char *fmt, ...) {
	if (st->reason_line == 0) {
		st->reason_line = st->line;
		va_list args;
		va_start(args, fmt);
		vsnprintf(st->reason, sizeof(st->reason), fmt, args);
		va_end(args);
	}
	return 0;
}

static void warn(struct parse_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn(struct parse_state *st, const char *fmt, ...) {
	struct vd_vmconf *conf = st->conf;
	if (conf->nwarnings == VD_VMCONF_MAX_WARNINGS) {
		return;
	}
	char text[380];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	snprintf(conf->warnings[conf->nwarnings++], sizeof(conf->warnings[0]), "%.110s:%d: %s",
		conf->path, st->line, text);
}

/* Printable, for messages: the name of a section or key as written. */
static void shown(const char *in, char *out, size_t size) {
	size_t j = 0;
	for (size_t i = 0; in[i] != '\0' && j + 1 < size; i++) {
		unsigned char c = (unsigned char)in[i];
		out[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[j] = '\0';
}

/* ---- the keys ---- */

static int key_color(struct parse_state *st, const char *key, const char *value) {
	struct vd_vmconf *conf = st->conf;
	char err[128];
	if (!vd_color_parse(value, &conf->color, err, sizeof(err))) {
		return fail(st, "%s: %s", key, err);
	}
	snprintf(conf->color_str, sizeof(conf->color_str), "%s", value);
	return 1;
}

static int key_agent(struct parse_state *st, const char *key, const char *value) {
	struct vd_vmconf *conf = st->conf;
	char err[160];
	if (!vd_addr_parse(value, false, &conf->agent, err, sizeof(err))) {
		return fail(st, "agent: %s", err);
	}
	conf->has_agent = true;
	st->agent_line = st->line;
	snprintf(conf->agent_str, sizeof(conf->agent_str), "%s", value);
	return 1;
}

static int key_vmm(struct parse_state *st, const char *key, const char *value) {
	if (!vd_vmm_kind_parse(value, &st->conf->machine.vmm)) {
		return fail(st, "vmm: '%s' is not qemu, crosvm or cloud-hypervisor", value);
	}
	return 1;
}

static int key_image(struct parse_state *st, const char *key, const char *value) {
	if (!vd_image_name_valid(value, strlen(value))) {
		return fail(st, "image: '%s' is not an image name ([A-Za-z0-9][A-Za-z0-9_-]{0,31})",
			value);
	}
	snprintf(st->conf->machine.image, sizeof(st->conf->machine.image), "%s", value);
	st->image_line = st->line;
	return 1;
}

static int key_path(struct parse_state *st, const char *key, const char *value) {
	struct vd_vmconf_machine *m = &st->conf->machine;
	char *dst = strcasecmp(key, "kernel") == 0 ? m->kernel :
		strcasecmp(key, "initrd") == 0 ? m->initrd : m->root;
	if (value[0] != '/' || strlen(value) >= PATH_MAX) {
		return fail(st, "%s: want an absolute path", key);
	}
	snprintf(dst, PATH_MAX, "%s", value);
	if (dst == m->kernel) {
		st->kernel_line = st->line;
	}
	return 1;
}

static int key_cmdline(struct parse_state *st, const char *key, const char *value) {
	if (strlen(value) >= VD_VMCONF_CMDLINE_MAX) {
		return fail(st, "cmdline: longer than %d bytes", VD_VMCONF_CMDLINE_MAX - 1);
	}
	if (!vd_text_valid(value, strlen(value), 0)) {
		return fail(st, "cmdline: control characters or invalid UTF-8");
	}
	snprintf(st->conf->machine.cmdline, sizeof(st->conf->machine.cmdline), "%s", value);
	return 1;
}

static int key_overlay(struct parse_state *st, const char *key, const char *value) {
	char err[256];
	if (!vd_vmm_overlay_parse(value, &st->conf->machine.overlay, err, sizeof(err))) {
		return fail(st, "%s", err);
	}
	return 1;
}

static int key_number(struct parse_state *st, const char *key, const char *value) {
	struct vd_vmconf_machine *m = &st->conf->machine;
	long long n;
	if (strcasecmp(key, "memory") == 0) {
		if (!vd_parse_number(value, VD_VMM_MEMORY_MIN_MIB, VD_VMM_MEMORY_MAX_MIB, &n)) {
			return fail(st, "memory: '%s' is not a number of MiB in %d-%d", value,
				VD_VMM_MEMORY_MIN_MIB, VD_VMM_MEMORY_MAX_MIB);
		}
		m->memory_mib = (uint32_t)n;
	} else if (strcasecmp(key, "cpus") == 0) {
		if (!vd_parse_number(value, 1, VD_VMM_CPUS_MAX, &n)) {
			return fail(st, "cpus: '%s' is not a number in 1-%d", value, VD_VMM_CPUS_MAX);
		}
		m->cpus = (uint32_t)n;
	} else {
		/* 0-2 are the hypervisor, loopback and the host; -1 is "any" */
		if (!vd_parse_number(value, 3, 0xfffffffeLL, &n)) {
			return fail(st, "cid: '%s' is not a guest context id (3-4294967294)", value);
		}
		m->cid = (uint32_t)n;
		m->cid_line = st->line;
	}
	return 1;
}

static int key_share(struct parse_state *st, const char *key, const char *value) {
	struct vd_vmconf_machine *m = &st->conf->machine;
	char err[256];
	if (m->nshares == VD_VMM_MAX_SHARES) {
		return fail(st, "share: at most %d shares", VD_VMM_MAX_SHARES);
	}
	struct vd_vmm_share *share = &m->shares[m->nshares];
	if (!vd_vmm_share_parse(value, share, err, sizeof(err))) {
		return fail(st, "%s", err);
	}
	for (size_t i = 0; i < m->nshares; i++) {
		if (strcmp(m->shares[i].tag, share->tag) == 0) {
			memset(share, 0, sizeof(*share));
			return fail(st, "share: the tag %s is used twice", m->shares[i].tag);
		}
	}
	m->nshares++;
	return 1;
}

static int key_choice(struct parse_state *st, const char *key, const char *value) {
	struct vd_vmconf_machine *m = &st->conf->machine;
	if (strcasecmp(key, "network") == 0) {
		if (strcmp(value, "none") == 0 || strcmp(value, "user") == 0) {
			m->network = value[0] == 'u' ? VD_VMM_NETWORK_USER : VD_VMM_NETWORK_NONE;
			return 1;
		}
		return fail(st, "network: '%s' is not none or user", value);
	}
	bool cross = strcmp(value, "cross-domain") == 0;
	if (strcasecmp(key, "wayland") == 0) {
		if (cross || strcmp(value, "link") == 0) {
			m->wayland = cross ? VD_VMM_WAYLAND_CROSS_DOMAIN : VD_VMM_WAYLAND_LINK;
			return 1;
		}
		return fail(st, "wayland: '%s' is not link or cross-domain", value);
	}
	if (cross || strcmp(value, "none") == 0) {
		m->gpu = cross ? VD_VMM_GPU_CROSS_DOMAIN : VD_VMM_GPU_NONE;
		return 1;
	}
	return fail(st, "gpu: '%s' is not none or cross-domain", value);
}

/* MINUTES, or a number with s or m (seconds are for tests and impatient users). */
static int key_idle(struct parse_state *st, const char *key, const char *value) {
	size_t len = strlen(value);
	long long n;
	uint32_t unit = 60;
	if (len > 1 && (value[len - 1] == 's' || value[len - 1] == 'm')) {
		unit = value[len - 1] == 's' ? 1 : 60;
		len--;
	}
	if (!vd_parse_number_len(value, len, 0, 7 * 24 * 3600 / unit, &n)) {
		return fail(st, "idle-shutdown: '%s' is not minutes (or a number with s or m), "
			"at most a week; 0 is never", value);
	}
	st->conf->machine.idle_shutdown_s = (uint32_t)n * unit;
	return 1;
}

static bool parse_bool(const char *value, bool *out) {
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
			*out = strcasecmp(value, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

static int key_bool(struct parse_state *st, const char *key, const char *value) {
	bool *out = strcasecmp(key, "tray") == 0 ? &st->conf->tray :
		&st->conf->machine.autostart;
	if (!parse_bool(value, out)) {
		return fail(st, "%s: '%.64s' is not true or false (yes or no)", key, value);
	}
	return 1;
}

static const struct key {
	const char *name;
	const char *alias;
	int (*handle)(struct parse_state *st, const char *key, const char *value);
	bool machine; // a launcher key: vmdesk starts the VM
	bool repeats;
} keys[] = {
	{"color", "label", key_color, false, false},
	{"agent", NULL, key_agent, false, false},
	{"tray", NULL, key_bool, false, false},
	{"vmm", NULL, key_vmm, true, false},
	{"image", NULL, key_image, true, false},
	{"kernel", NULL, key_path, true, false},
	{"initrd", NULL, key_path, true, false},
	{"root", NULL, key_path, true, false},
	{"cmdline", NULL, key_cmdline, true, false},
	{"overlay", NULL, key_overlay, true, false},
	{"memory", NULL, key_number, true, false},
	{"cpus", NULL, key_number, true, false},
	{"cid", NULL, key_number, true, false},
	{"share", NULL, key_share, true, true},
	{"network", NULL, key_choice, true, false},
	{"wayland", NULL, key_choice, true, false},
	{"gpu", NULL, key_choice, true, false},
	{"idle-shutdown", NULL, key_idle, true, false},
	{"autostart", NULL, key_bool, true, false},
};

/* inih handler: returns 0 to report an error at the current line. */
static int handle_key(void *user, const char *section, const char *key, const char *value) {
	struct parse_state *st = user;
	char name[64];
	if (section[0] != '\0' && strcasecmp(section, "vm") != 0) {
		if (!st->warned_section || strcmp(st->last_section, section) != 0) {
			shown(section, name, sizeof(name));
			warn(st, "unknown section [%s] ignored (VM settings go in [vm])", name);
			snprintf(st->last_section, sizeof(st->last_section), "%s", section);
			st->warned_section = true;
		}
		return 1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];
		if (strcasecmp(key, k->name) != 0 && (k->alias == NULL || strcasecmp(key, k->alias) != 0)) {
			continue;
		}
		if (!k->repeats && (st->seen & (1u << i))) {
			return k->alias != NULL ?
				fail(st, "duplicate key \"%s\" (%s and %s are one setting)", key, k->name,
					k->alias) :
				fail(st, "duplicate key \"%s\"", key);
		}
		st->seen |= 1u << i;
		st->conf->machine.defined |= k->machine;
		return k->handle(st, key, value);
	}
	shown(key, name, sizeof(name));
	warn(st, "unknown key \"%s\" ignored (known: color, label, agent, tray, vmm, image, kernel, "
		"initrd, root, cmdline, overlay, memory, cpus, cid, share, network, wayland, gpu, "
		"idle-shutdown, autostart)", name);
	return 1;
}

/*
 * The settings of a VM vmdesk starts, taken together: what is missing, what
 * contradicts, and what the VMM's plan refuses (host/vmm.c's rules, tried
 * with placeholder paths). False with conf->error set.
 */
static bool check_machine(struct vd_vmconf *conf, const struct parse_state *st) {
	struct vd_vmconf_machine *m = &conf->machine;
	const char *path = conf->path;
	if (!m->defined) {
		return true;
	}
	if (conf->has_agent) {
		snprintf(conf->error, sizeof(conf->error), "%.200s:%d: agent: vmdesk starts this VM and "
			"knows its agent's address; remove the agent key", path, st->agent_line);
		return false;
	}
	bool paths = m->kernel[0] != '\0' || m->initrd[0] != '\0' || m->root[0] != '\0';
	if (m->image[0] != '\0' && paths) {
		int line = st->image_line > st->kernel_line ? st->image_line : st->kernel_line;
		snprintf(conf->error, sizeof(conf->error), "%.200s:%d: image = NAME and kernel, initrd, "
			"root are two ways to say the same; keep one", path, line ? line : st->image_line);
		return false;
	}
	if (m->image[0] == '\0' &&
			(m->kernel[0] == '\0' || m->initrd[0] == '\0' || m->root[0] == '\0')) {
		snprintf(conf->error, sizeof(conf->error), "%.200s: to start this VM, vmdesk needs "
			"image = NAME (vmdesk image build NAME) or all of kernel, initrd and root", path);
		return false;
	}
	if (m->vmm != VD_VMM_QEMU && m->cid == 0) {
		snprintf(conf->error, sizeof(conf->error), "%.200s: %s needs cid = N (3 or more, unique "
			"on the host) for the agent's vsock", path, vd_vmm_kind_name(m->vmm));
		return false;
	}
	struct vd_vmm_sockets sockets;
	char err[256];
	if (!vd_vmm_sockets_init(&sockets, "/run/vmdesk-check", err, sizeof(err))) {
		snprintf(conf->error, sizeof(conf->error), "%.200s: %s", path, err);
		return false;
	}
	struct vd_vmm_launch launch = {
		.vmm = m->vmm,
		.name = conf->name,
		.kernel = m->kernel[0] ? m->kernel : "/image/vmlinuz",
		.initrd = m->initrd[0] ? m->initrd : "/image/initrd.img",
		.root = m->root[0] ? m->root : "/image/root.erofs",
		.cmdline = m->cmdline,
		.overlay = m->overlay,
		.memory_mib = m->memory_mib,
		.cpus = m->cpus,
		.cid = m->cid != 0 ? m->cid : 3,
		.shares = m->shares,
		.share_count = m->nshares,
		.network = m->network,
		.wayland = m->wayland,
		.gpu = m->gpu,
		.sockets = &sockets,
		/* what the host offers is checked at start; here only what goes together */
		.kvm = true,
		.vhost_vsock = m->vmm != VD_VMM_QEMU,
	};
	struct vd_vmm_plan plan;
	if (!vd_vmm_plan_build(&launch, &plan, err, sizeof(err))) {
		snprintf(conf->error, sizeof(conf->error), "%.200s: %s", path, err);
		return false;
	}
	vd_vmm_plan_finish(&plan);
	return true;
}

bool vd_vmconf_load(const char *path, const char *name, struct vd_vmconf *conf) {
	memset(conf, 0, sizeof(*conf));
	snprintf(conf->name, sizeof(conf->name), "%s", name);
	snprintf(conf->path, sizeof(conf->path), "%s", path);
	snprintf(conf->color_str, sizeof(conf->color_str), "gray");
	conf->tray = true;
	conf->machine.vmm = VD_VMM_QEMU;
	conf->machine.memory_mib = 1024;
	conf->machine.cpus = 2;
	char err[128];
	if (!vd_color_parse("gray", &conf->color, err, sizeof(err))) {
		conf->color = (struct vd_color){0x55, 0x55, 0x55};
	}
	struct parse_state st = {.conf = conf};
	st.file = fopen(path, "re");
	if (st.file == NULL) {
		snprintf(conf->error, sizeof(conf->error), "%.200s: cannot open: %s", path,
			strerror(errno));
		return false;
	}
	int line = ini_parse_stream(read_line, &st, handle_key, &st);
	fclose(st.file);
	/*
	 * inih returns the first line it found wrong, counting what the reader
	 * returned, so an over-long line (which we flag) shifts its count; our
	 * own reasons carry real line numbers. Report whichever came first.
	 */
	if (st.reason_line != 0 && (line <= 0 || st.reason_line <= line)) {
		snprintf(conf->error, sizeof(conf->error), "%.200s:%d: %s", path, st.reason_line,
			st.reason);
		return false;
	}
	if (line > 0) {
		snprintf(conf->error, sizeof(conf->error), "%.200s:%d: syntax error", path, line);
		return false;
	}
	if (line < 0) {
		snprintf(conf->error, sizeof(conf->error), "%.200s: cannot parse (out of memory)", path);
		return false;
	}
	return check_machine(conf, &st);
}

static bool machine_equal(const struct vd_vmconf_machine *a, const struct vd_vmconf_machine *b) {
	if (a->nshares != b->nshares) {
		return false;
	}
	for (size_t i = 0; i < a->nshares; i++) {
		if (strcmp(a->shares[i].host_dir, b->shares[i].host_dir) != 0 ||
				strcmp(a->shares[i].tag, b->shares[i].tag) != 0 ||
				a->shares[i].read_only != b->shares[i].read_only) {
			return false;
		}
	}
	return a->defined == b->defined && a->vmm == b->vmm && strcmp(a->image, b->image) == 0 &&
		strcmp(a->kernel, b->kernel) == 0 && strcmp(a->initrd, b->initrd) == 0 &&
		strcmp(a->root, b->root) == 0 && strcmp(a->cmdline, b->cmdline) == 0 &&
		a->overlay.kind == b->overlay.kind &&
		strcmp(a->overlay.tmpfs_size, b->overlay.tmpfs_size) == 0 &&
		strcmp(a->overlay.disk, b->overlay.disk) == 0 && a->memory_mib == b->memory_mib &&
		a->cpus == b->cpus && a->cid == b->cid && a->network == b->network &&
		a->wayland == b->wayland && a->gpu == b->gpu &&
		a->idle_shutdown_s == b->idle_shutdown_s && a->autostart == b->autostart;
}

bool vd_vmconf_equal(const struct vd_vmconf *a, const struct vd_vmconf *b) {
	return machine_equal(&a->machine, &b->machine) &&
		strcmp(a->name, b->name) == 0 && strcmp(a->path, b->path) == 0 &&
		strcmp(a->error, b->error) == 0 && a->has_agent == b->has_agent &&
		strcmp(a->agent_str, b->agent_str) == 0 && a->color.r == b->color.r &&
		a->color.g == b->color.g && a->color.b == b->color.b &&
		strcmp(a->color_str, b->color_str) == 0 && a->tray == b->tray;
}

static int conf_cmp(const void *a, const void *b) {
	return strcmp(((const struct vd_vmconf *)a)->name, ((const struct vd_vmconf *)b)->name);
}

/* Each cid belongs to one VM: a later VM (by name) that repeats one is broken. */
static void check_cids(struct vd_vmconf *confs, size_t count) {
	for (size_t j = 0; j < count; j++) {
		struct vd_vmconf *b = &confs[j];
		if (b->machine.cid == 0 || b->error[0] != '\0') {
			continue;
		}
		for (size_t i = 0; i < j; i++) {
			const struct vd_vmconf *a = &confs[i];
			if (a->machine.cid == b->machine.cid && a->error[0] == '\0') {
				snprintf(b->error, sizeof(b->error), "%.200s:%d: cid %u is VM %s's already "
					"(%.200s:%d); each VM needs its own", b->path, b->machine.cid_line,
					b->machine.cid, a->name, a->path, a->machine.cid_line);
				vd_log(VD_ERROR, "%s", b->error);
				break;
			}
		}
	}
}

size_t vd_vmconf_load_dirs(const char *const *dirs, size_t ndirs, struct vd_vmconf **out) {
	struct vd_vmconf *confs = NULL;
	size_t count = 0;
	for (size_t i = 0; i < ndirs; i++) {
		DIR *d = opendir(dirs[i]);
		if (d == NULL) {
			if (errno != ENOENT) {
				// EACCES: Landlock, for a directory made after hostd started
				vd_log_errno(VD_WARN, "VM definitions in %s", dirs[i]);
			}
			continue;
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);
			if (len <= 5 || strcmp(de->d_name + len - 5, ".conf") != 0 ||
					de->d_name[0] == '.') {
				continue;
			}
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			if (!vd_vm_name_valid(de->d_name, len - 5)) {
				vd_log(VD_WARN, "%s: ignored: VM names are [a-z][a-z0-9-]{0,31}, not "
					"\"host\"", path);
				continue;
			}
			char name[VD_VM_NAME_MAX + 1];
			snprintf(name, sizeof(name), "%.*s", (int)(len - 5), de->d_name);
			struct vd_vmconf *conf = malloc(sizeof(*conf));
			if (conf == NULL) {
				abort();
			}
			if (!vd_vmconf_load(path, name, conf)) {
				vd_log(VD_ERROR, "%s", conf->error);
			}
			for (size_t w = 0; w < conf->nwarnings; w++) {
				vd_log(VD_WARN, "%s", conf->warnings[w]);
			}
			size_t k = 0;
			while (k < count && strcmp(confs[k].name, name) != 0) {
				k++;
			}
			if (k == count) {
				struct vd_vmconf *c = realloc(confs, (count + 1) * sizeof(*c));
				if (c == NULL) {
					abort();
				}
				confs = c;
				count++;
			}
			confs[k] = *conf;
			free(conf);
		}
		closedir(d);
	}
	if (count > 1) {
		qsort(confs, count, sizeof(*confs), conf_cmp);
	}
	check_cids(confs, count);
	*out = confs;
	return count;
}
