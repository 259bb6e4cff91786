#define LOG_TAG "launch"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/launch.h"
#include "protocols/log.h"
#include "protocols/names.h"

/* Kernel parameters the launcher adds: guestd reports idleness at once (the
 * launcher applies idle-shutdown's own delay). */
#define LAUNCHER_CMDLINE "vmdesk.idle-seconds=0"
/* image.conf is a few lines written by vmdesk-image. */
#define IMAGE_CONF_MAX 8192

static const char *const binary_names[VD_LAUNCH_BIN_COUNT] = {
	[VD_LAUNCH_BIN_QEMU] = "qemu",
	[VD_LAUNCH_BIN_CROSVM] = "crosvm",
	[VD_LAUNCH_BIN_CLOUD_HYPERVISOR] = "cloud-hypervisor",
	[VD_LAUNCH_BIN_CH_REMOTE] = "ch-remote",
	[VD_LAUNCH_BIN_VIRTIOFSD] = "virtiofsd",
};

bool vd_launch_binary_parse(const char *name, enum vd_launch_binary *out) {
	for (size_t i = 0; i < VD_LAUNCH_BIN_COUNT; i++) {
		if (strcmp(name, binary_names[i]) == 0) {
			*out = (enum vd_launch_binary)i;
			return true;
		}
	}
	return false;
}

static bool fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t err_size, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	vsnprintf(err, err_size, fmt, args);
	va_end(args);
	return false;
}

/* A file name of image.conf: a plain name in the image's directory, a regular file. */
static bool image_file(const char *dir, const char *image, const char *key, const char *value,
		char *out, char *err, size_t err_size) {
	if (value == NULL || value[0] == '\0' || strchr(value, '/') != NULL ||
			strcmp(value, ".") == 0 || strcmp(value, "..") == 0) {
		return fail(err, err_size, "image %s: image.conf has no usable %s= (run vmdesk image "
			"build %s)", image, key, image);
	}
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, value);
	struct stat st;
	if (n < 0 || n >= PATH_MAX) {
		return fail(err, err_size, "image %s: the path of its %s is too long", image, key);
	}
	if (stat(out, &st) < 0 || !S_ISREG(st.st_mode)) {
		return fail(err, err_size, "image %s: %s is missing (run vmdesk image build %s)",
			image, out, image);
	}
	return true;
}

/* The image's kernel, initrd, root and kernel parameters (IMAGES/NAME/image.conf). */
static bool read_image(struct vd_launch *l, const char *images_dir, const char *image,
		char *image_cmdline, size_t cmdline_size, char *err, size_t err_size) {
	if (images_dir == NULL || images_dir[0] != '/') {
		return fail(err, err_size, "no images directory (XDG_DATA_HOME or HOME is not set)");
	}
	char dir[PATH_MAX], path[PATH_MAX + 16];
	int n = snprintf(dir, sizeof(dir), "%s/%s", images_dir, image);
	if (n < 0 || (size_t)n >= sizeof(dir) - 16) {
		return fail(err, err_size, "image %s: the images directory's path is too long", image);
	}
	snprintf(path, sizeof(path), "%s/image.conf", dir);
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		return fail(err, err_size, "image %s is not built (%s: %s): run vmdesk image build %s",
			image, path, strerror(errno), image);
	}
	char buf[IMAGE_CONF_MAX + 1];
	size_t len = fread(buf, 1, IMAGE_CONF_MAX + 1, f);
	fclose(f);
	if (len > IMAGE_CONF_MAX) {
		return fail(err, err_size, "image %s: %s is larger than %d bytes", image, path,
			IMAGE_CONF_MAX);
	}
	buf[len] = '\0';
	const char *kernel = NULL, *initrd = NULL, *root = NULL;
	image_cmdline[0] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line != NULL;
			line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (eq == NULL) {
			continue;
		}
		*eq = '\0';
		const char *value = eq + 1;
		if (strcmp(line, "kernel") == 0) {
			kernel = value;
		} else if (strcmp(line, "initrd") == 0) {
			initrd = value;
		} else if (strcmp(line, "root") == 0) {
			root = value;
		} else if (strcmp(line, "cmdline") == 0) {
			if (strlen(value) >= cmdline_size) {
				return fail(err, err_size, "image %s: its cmdline is too long", image);
			}
			snprintf(image_cmdline, cmdline_size, "%s", value);
		}
	}
	return image_file(dir, image, "kernel", kernel, l->kernel, err, err_size) &&
		image_file(dir, image, "initrd", initrd, l->initrd, err, err_size) &&
		image_file(dir, image, "root", root, l->root, err, err_size);
}

/* Joins the non-empty parts with spaces into out. */
static bool join_cmdline(char *out, size_t size, const char *const *parts, size_t count) {
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		if (parts[i] == NULL || parts[i][0] == '\0') {
			continue;
		}
		int n = snprintf(out + len, size - len, "%s%s", len > 0 ? " " : "", parts[i]);
		if (n < 0 || (size_t)n >= size - len) {
			return false;
		}
		len += (size_t)n;
	}
	return true;
}

static bool build_proxy(struct vd_launch *l, const struct vd_vmconf *conf,
		const struct vd_launch_env *env) {
	struct vd_vmm_cmd *c = &l->proxy;
	if (env->proxy == NULL) {
		return true;
	}
	bool ok = vd_vmm_cmd_add(c, "%s", env->proxy) && vd_vmm_cmd_add(c, "--vm") &&
		vd_vmm_cmd_add(c, "%s", conf->name) && vd_vmm_cmd_add(c, "--color") &&
		vd_vmm_cmd_add(c, "%s", conf->color_str);
	if (ok && env->proxy_hostd != NULL) {
		ok = vd_vmm_cmd_add(c, "--hostd") && vd_vmm_cmd_add(c, "%s", env->proxy_hostd);
	}
	if (ok && l->plan.proxy_listens) {
		/* cross-domain: crosvm connects to the proxy's socket for each guest context */
		ok = vd_vmm_cmd_add(c, "--socket") && vd_vmm_cmd_add(c, "%s", l->sockets.proxy);
	} else if (ok && l->plan.has_link) {
		char addr[VD_ADDR_PATH_MAX + 32];
		vd_addr_format(&l->plan.link, addr, sizeof(addr));
		ok = vd_vmm_cmd_add(c, "--guest") && vd_vmm_cmd_add(c, "%s", addr);
	} else if (ok) {
		vd_vmm_cmd_finish(c); // no Wayland path: no proxy
	}
	return ok;
}

bool vd_launch_prepare(struct vd_launch *l, const struct vd_vmconf *conf,
		const struct vd_launch_env *env, char *err, size_t err_size) {
	memset(l, 0, sizeof(*l));
	const struct vd_vmconf_machine *m = &conf->machine;
	if (!m->defined) {
		return fail(err, err_size, "VM %s is not started by vmdesk (its definition %s has no "
			"vmm, image or kernel)", conf->name, conf->path);
	}
	if (conf->error[0] != '\0') {
		return fail(err, err_size, "%s", conf->error);
	}
	if (env->run_dir == NULL || env->run_dir[0] != '/') {
		return fail(err, err_size, "no runtime directory (XDG_RUNTIME_DIR is not set)");
	}
	int n = snprintf(l->dir, sizeof(l->dir), "%s/%s", env->run_dir, conf->name);
	if (n < 0 || (size_t)n >= sizeof(l->dir)) {
		return fail(err, err_size, "the runtime directory's path is too long");
	}
	if (!vd_vmm_sockets_init(&l->sockets, l->dir, err, err_size)) {
		return false;
	}
	char image_cmdline[VD_VMM_CMDLINE_MAX] = "";
	if (m->image[0] != '\0') {
		if (!read_image(l, env->images_dir, m->image, image_cmdline, sizeof(image_cmdline),
				err, err_size)) {
			return false;
		}
	} else {
		snprintf(l->kernel, sizeof(l->kernel), "%s", m->kernel);
		snprintf(l->initrd, sizeof(l->initrd), "%s", m->initrd);
		snprintf(l->root, sizeof(l->root), "%s", m->root);
	}
	const char *parts[] = {image_cmdline, m->cmdline, LAUNCHER_CMDLINE};
	if (!join_cmdline(l->cmdline, sizeof(l->cmdline), parts, 3)) {
		return fail(err, err_size, "the kernel command line is too long");
	}
	memcpy(l->shares, m->shares, m->nshares * sizeof(m->shares[0]));
	static const enum vd_launch_binary vmm_binary[] = {
		[VD_VMM_QEMU] = VD_LAUNCH_BIN_QEMU,
		[VD_VMM_CROSVM] = VD_LAUNCH_BIN_CROSVM,
		[VD_VMM_CLOUD_HYPERVISOR] = VD_LAUNCH_BIN_CLOUD_HYPERVISOR,
	};
	l->launch = (struct vd_vmm_launch){
		.vmm = m->vmm,
		.name = conf->name,
		.binary = env->binaries[vmm_binary[m->vmm]],
		.virtiofsd = env->binaries[VD_LAUNCH_BIN_VIRTIOFSD],
		.ch_remote = env->binaries[VD_LAUNCH_BIN_CH_REMOTE],
		.kernel = l->kernel,
		.initrd = l->initrd,
		.root = l->root,
		.cmdline = l->cmdline,
		.overlay = m->overlay,
		.memory_mib = m->memory_mib,
		.cpus = m->cpus,
		.cid = m->cid,
		.shares = l->shares,
		.share_count = m->nshares,
		.network = m->network,
		.wayland = m->wayland,
		.gpu = m->gpu,
		.sockets = &l->sockets,
		.kvm = env->kvm,
		.vhost_vsock = env->vhost_vsock,
	};
	if (!vd_vmm_plan_build(&l->launch, &l->plan, err, err_size)) {
		return false;
	}
	l->agent_serial = m->vmm == VD_VMM_QEMU && !env->vhost_vsock;
	if (!build_proxy(l, conf, env)) {
		vd_launch_finish(l);
		return fail(err, err_size, "out of memory");
	}
	return true;
}

void vd_launch_finish(struct vd_launch *l) {
	vd_vmm_plan_finish(&l->plan);
	vd_vmm_cmd_finish(&l->proxy);
}

char *vd_launch_describe(const struct vd_launch *l) {
	char *plan = vd_vmm_plan_describe(&l->plan, &l->launch);
	char *proxy = l->proxy.argc > 0 ? vd_vmm_cmd_format(&l->proxy) : strdup("(none)");
	char *text = NULL;
	if (plan == NULL || proxy == NULL || asprintf(&text, "%sproxy: %s\n", plan, proxy) < 0) {
		text = NULL;
	}
	free(plan);
	free(proxy);
	return text;
}
