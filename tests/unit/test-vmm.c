#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/vmm.h"
#include "tests/unit/tap.h"

/*
 * Golden tests of host/vmm.c: each case builds a plan and compares
 * vd_vmm_plan_describe() (what `vmdesk start --dry-run` prints) with
 * tests/unit/vmm-golden/CASE.txt. VMDESK_UPDATE_GOLDEN=1 rewrites the files;
 * read the diff against ../shared/notes/vmm-and-cross-domain.md before
 * committing one. crosvm and cloud-hypervisor are not packaged for Debian 12:
 * their command lines are tested only here. QEMU's also runs in tests/vm.
 */

#define RUN_DIR "/run/user/1000/vmdesk/vms/work"

static struct vd_vmm_sockets sockets;

static struct vd_vmm_launch base_launch(enum vd_vmm_kind vmm) {
	char err[256];
	if (!vd_vmm_sockets_init(&sockets, RUN_DIR, err, sizeof(err))) {
		fprintf(stderr, "sockets: %s\n", err);
		abort();
	}
	return (struct vd_vmm_launch){
		.vmm = vmm,
		.name = "work",
		.kernel = "/home/u/.local/share/vmdesk/images/debian/vmlinuz",
		.initrd = "/home/u/.local/share/vmdesk/images/debian/initrd.img",
		.root = "/home/u/.local/share/vmdesk/images/debian/root.erofs",
		.cmdline = "panic=-1 quiet",
		.overlay = { .kind = VD_VMM_OVERLAY_TMPFS },
		.memory_mib = 1024,
		.cpus = 2,
		.cid = 7,
		.sockets = &sockets,
		.kvm = true,
		.vhost_vsock = true,
	};
}

static const struct vd_vmm_share two_shares[] = {
	{ .host_dir = "/home/u/Documents", .tag = "docs" },
	{ .host_dir = "/srv/media", .tag = "media", .read_only = true },
};

static const struct vd_vmm_share rw_share[] = {
	{ .host_dir = "/home/u/Shared", .tag = "shared" },
};

static char *read_file(const char *path) {
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		return NULL;
	}
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		fwrite(chunk, 1, n, mem);
	}
	fclose(f);
	fclose(mem);
	return buf;
}

/* Builds the plan and compares its description with the golden file. */
static bool check_golden(const char *name, const struct vd_vmm_launch *launch) {
	struct vd_vmm_plan plan;
	char err[256] = "";
	CHECK(vd_vmm_plan_build(launch, &plan, err, sizeof(err)), "%s: %s", name, err);
	char *got = vd_vmm_plan_describe(&plan, launch);
	vd_vmm_plan_finish(&plan);
	CHECK(got != NULL, "describe failed");

	const char *root = getenv("VMDESK_SOURCE_ROOT");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/unit/vmm-golden/%s.txt", root ? root : ".", name);
	const char *update = getenv("VMDESK_UPDATE_GOLDEN");
	if (update != NULL && strcmp(update, "1") == 0) {
		FILE *f = fopen(path, "we");
		CHECK(f != NULL, "cannot write %s: %s", path, strerror(errno));
		fputs(got, f);
		fclose(f);
	}
	char *want = read_file(path);
	bool same = want != NULL && strcmp(got, want) == 0;
	if (!same) {
		printf("# %s differs from the plan; got:\n", path);
		for (char *line = strtok(got, "\n"); line != NULL; line = strtok(NULL, "\n")) {
			printf("#   %s\n", line);
		}
	}
	free(got);
	free(want);
	CHECK(same, "golden file %s", path);
	return true;
}

/* Builds a plan that must fail with an error containing WANT. */
static bool check_error(const struct vd_vmm_launch *launch, const char *want) {
	struct vd_vmm_plan plan;
	char err[256] = "";
	bool ok = vd_vmm_plan_build(launch, &plan, err, sizeof(err));
	if (ok) {
		vd_vmm_plan_finish(&plan);
	}
	CHECK(!ok, "the plan was built, want an error with '%s'", want);
	CHECK(strstr(err, want) != NULL, "error '%s', want '%s' in it", err, want);
	CHECK(plan.vmm.argv == NULL && plan.helper_count == 0, "a failed plan is empty");
	return true;
}

static bool test_qemu_tcg_serial(void) {
	// What CI runs: no KVM, no vhost-vsock: virtio-serial ports, TCG, a warning.
	struct vd_vmm_launch l = base_launch(VD_VMM_QEMU);
	l.kvm = false;
	l.vhost_vsock = false;
	l.cmdline = "panic=-1 quiet vmdesk.init=minimal";
	return check_golden("qemu-tcg-serial", &l);
}

static bool test_qemu_kvm_vsock(void) {
	struct vd_vmm_launch l = base_launch(VD_VMM_QEMU);
	l.cid = 42;
	l.memory_mib = 2048;
	l.cpus = 4;
	l.shares = two_shares;
	l.share_count = 2;
	l.network = VD_VMM_NETWORK_USER;
	char err[256];
	CHECK(vd_vmm_overlay_parse("/home/u/.local/state/vmdesk/work.overlay", &l.overlay, err,
		sizeof(err)), "%s", err);
	return check_golden("qemu-kvm-vsock", &l);
}

static bool test_qemu_kvm_no_vhost(void) {
	// KVM without vhost-vsock still uses virtio-serial; tmpfs with a size.
	struct vd_vmm_launch l = base_launch(VD_VMM_QEMU);
	l.vhost_vsock = false;
	snprintf(l.overlay.tmpfs_size, sizeof(l.overlay.tmpfs_size), "512M");
	l.sockets = &sockets;
	return check_golden("qemu-kvm-serial", &l);
}

static bool test_qemu_escapes_commas(void) {
	// QEMU option values double their commas; the kernel path is a plain argument.
	struct vd_vmm_launch l = base_launch(VD_VMM_QEMU);
	l.root = "/images/a,b/root.erofs";
	l.kernel = "/images/a,b/vmlinuz";
	struct vd_vmm_share share = { .host_dir = "/srv/x,y", .tag = "xy" };
	l.shares = &share;
	l.share_count = 1;
	struct vd_vmm_plan plan;
	char err[256];
	CHECK(vd_vmm_plan_build(&l, &plan, err, sizeof(err)), "%s", err);
	bool drive = false, fsdev = false, kernel = false;
	for (size_t i = 0; i < plan.vmm.argc; i++) {
		const char *a = plan.vmm.argv[i];
		drive |= strcmp(a, "file=/images/a,,b/root.erofs,if=virtio,format=raw,readonly=on") == 0;
		fsdev |= strcmp(a, "local,id=share0,path=/srv/x,,y,security_model=none") == 0;
		kernel |= strcmp(a, "/images/a,b/vmlinuz") == 0;
	}
	vd_vmm_plan_finish(&plan);
	CHECK(drive && fsdev && kernel, "drive %d fsdev %d kernel %d", drive, fsdev, kernel);
	return true;
}

static bool test_crosvm_link(void) {
	struct vd_vmm_launch l = base_launch(VD_VMM_CROSVM);
	l.cid = 9;
	snprintf(l.overlay.tmpfs_size, sizeof(l.overlay.tmpfs_size), "2G");
	l.shares = rw_share;
	l.share_count = 1;
	return check_golden("crosvm-link", &l);
}

static bool test_crosvm_cross_domain(void) {
	struct vd_vmm_launch l = base_launch(VD_VMM_CROSVM);
	l.wayland = VD_VMM_WAYLAND_CROSS_DOMAIN;
	l.gpu = VD_VMM_GPU_CROSS_DOMAIN;
	l.overlay.kind = VD_VMM_OVERLAY_DISK;
	snprintf(l.overlay.disk, sizeof(l.overlay.disk), "/home/u/.local/state/vmdesk/work.overlay");
	return check_golden("crosvm-cross-domain", &l);
}

static bool test_cloud_hypervisor(void) {
	struct vd_vmm_launch l = base_launch(VD_VMM_CLOUD_HYPERVISOR);
	l.cid = 11;
	l.cpus = 3;
	return check_golden("cloud-hypervisor", &l);
}

static bool test_cloud_hypervisor_shares(void) {
	struct vd_vmm_launch l = base_launch(VD_VMM_CLOUD_HYPERVISOR);
	l.cid = 12;
	static const struct vd_vmm_share shares[] = {
		{ .host_dir = "/home/u/Shared", .tag = "shared" },
		{ .host_dir = "/home/u/Music", .tag = "music" },
	};
	l.shares = shares;
	l.share_count = 2;
	l.overlay.kind = VD_VMM_OVERLAY_DISK;
	snprintf(l.overlay.disk, sizeof(l.overlay.disk), "/home/u/.local/state/vmdesk/work.overlay");
	return check_golden("cloud-hypervisor-shares", &l);
}

static bool test_addresses(void) {
	// The addresses hostd and the proxy dial, as structures.
	struct vd_vmm_launch l = base_launch(VD_VMM_CLOUD_HYPERVISOR);
	struct vd_vmm_plan plan;
	char err[256];
	CHECK(vd_vmm_plan_build(&l, &plan, err, sizeof(err)), "%s", err);
	CHECK(plan.agent.kind == VD_ADDR_HVSOCK && plan.agent.port == 5000, "agent hvsock:5000");
	CHECK_STR(plan.agent.path, RUN_DIR "/vsock.sock");
	CHECK(plan.has_link && plan.link.kind == VD_ADDR_HVSOCK && plan.link.port == 5001,
		"link hvsock:5001");
	CHECK(plan.control == VD_VMM_CONTROL_COMMAND && !plan.host_listens_console, "control");
	vd_vmm_plan_finish(&plan);

	l = base_launch(VD_VMM_QEMU);
	l.vhost_vsock = false;
	CHECK(vd_vmm_plan_build(&l, &plan, err, sizeof(err)), "%s", err);
	CHECK(plan.agent.kind == VD_ADDR_UNIX && plan.link.kind == VD_ADDR_UNIX, "unix");
	CHECK_STR(plan.agent.path, RUN_DIR "/agent.sock");
	CHECK_STR(plan.link.path, RUN_DIR "/wayland.sock");
	CHECK(strstr(plan.cmdline, "vmdesk.agent=serial:/dev/virtio-ports/vmdesk.agent") != NULL,
		"cmdline %s", plan.cmdline);
	CHECK(plan.control == VD_VMM_CONTROL_QMP && plan.powerdown.argv == NULL, "qmp");
	CHECK(plan.warning[0] == '\0', "no warning with KVM");
	vd_vmm_plan_finish(&plan);

	l = base_launch(VD_VMM_CROSVM);
	l.wayland = VD_VMM_WAYLAND_CROSS_DOMAIN;
	l.gpu = VD_VMM_GPU_CROSS_DOMAIN;
	CHECK(vd_vmm_plan_build(&l, &plan, err, sizeof(err)), "%s", err);
	CHECK(!plan.has_link && plan.proxy_listens && plan.host_listens_console, "cross-domain");
	CHECK(plan.agent.kind == VD_ADDR_VSOCK && plan.agent.cid == 7 && plan.agent.port == 5000,
		"agent vsock:7:5000");
	vd_vmm_plan_finish(&plan);
	return true;
}

static bool test_refusals(void) {
	struct vd_vmm_launch l = base_launch(VD_VMM_QEMU);
	l.wayland = VD_VMM_WAYLAND_CROSS_DOMAIN;
	l.gpu = VD_VMM_GPU_CROSS_DOMAIN;
	if (!check_error(&l, "needs crosvm")) {
		return false;
	}
	l = base_launch(VD_VMM_CLOUD_HYPERVISOR);
	l.wayland = VD_VMM_WAYLAND_CROSS_DOMAIN;
	l.gpu = VD_VMM_GPU_CROSS_DOMAIN;
	if (!check_error(&l, "needs crosvm")) {
		return false;
	}
	l = base_launch(VD_VMM_CROSVM);
	l.gpu = VD_VMM_GPU_CROSS_DOMAIN;
	if (!check_error(&l, "go together")) {
		return false;
	}
	l = base_launch(VD_VMM_CROSVM);
	l.kvm = false;
	if (!check_error(&l, "crosvm needs /dev/kvm")) {
		return false;
	}
	l = base_launch(VD_VMM_CLOUD_HYPERVISOR);
	l.kvm = false;
	if (!check_error(&l, "cloud-hypervisor needs /dev/kvm")) {
		return false;
	}
	l = base_launch(VD_VMM_CROSVM);
	l.vhost_vsock = false;
	if (!check_error(&l, "/dev/vhost-vsock")) {
		return false;
	}
	l = base_launch(VD_VMM_CROSVM);
	l.network = VD_VMM_NETWORK_USER;
	if (!check_error(&l, "no user-mode network")) {
		return false;
	}
	l = base_launch(VD_VMM_CLOUD_HYPERVISOR);
	l.network = VD_VMM_NETWORK_USER;
	if (!check_error(&l, "no user-mode network")) {
		return false;
	}
	// virtiofs cannot enforce read-only: refused, not silently writable.
	l = base_launch(VD_VMM_CROSVM);
	l.shares = two_shares;
	l.share_count = 2;
	if (!check_error(&l, "share media: crosvm's virtiofs cannot make a folder read-only")) {
		return false;
	}
	l = base_launch(VD_VMM_CLOUD_HYPERVISOR);
	l.shares = two_shares;
	l.share_count = 2;
	if (!check_error(&l, "share media: virtiofs cannot make a folder read-only")) {
		return false;
	}
	l = base_launch(VD_VMM_CROSVM);
	l.root = "/images/a,b/root.erofs";
	if (!check_error(&l, "crosvm cannot take a path with ','")) {
		return false;
	}
	l = base_launch(VD_VMM_CROSVM);
	struct vd_vmm_share colon = { .host_dir = "/srv/a:b", .tag = "ab" };
	l.shares = &colon;
	l.share_count = 1;
	if (!check_error(&l, "crosvm cannot take a path with ',:'")) {
		return false;
	}
	return true;
}

static bool test_bad_launches(void) {
	struct vd_vmm_launch l = base_launch(VD_VMM_CROSVM);
	l.cid = 2;
	if (!check_error(&l, "cid: 2")) {
		return false;
	}
	l = base_launch(VD_VMM_QEMU);
	l.vhost_vsock = false;
	l.cid = 0; // no vsock: the cid does not matter
	struct vd_vmm_plan plan;
	char err[256];
	CHECK(vd_vmm_plan_build(&l, &plan, err, sizeof(err)), "virtio-serial needs no cid: %s", err);
	vd_vmm_plan_finish(&plan);
	l = base_launch(VD_VMM_QEMU);
	l.memory_mib = 64;
	if (!check_error(&l, "memory: 64")) {
		return false;
	}
	l = base_launch(VD_VMM_QEMU);
	l.cpus = 0;
	if (!check_error(&l, "cpus: 0")) {
		return false;
	}
	l = base_launch(VD_VMM_QEMU);
	l.name = "../etc";
	if (!check_error(&l, "bad VM name")) {
		return false;
	}
	l = base_launch(VD_VMM_QEMU);
	l.kernel = "vmlinuz";
	if (!check_error(&l, "kernel: want an absolute path")) {
		return false;
	}
	l = base_launch(VD_VMM_QEMU);
	l.cmdline = "quiet\ninit=/bin/sh";
	if (!check_error(&l, "one line only")) {
		return false;
	}
	static char long_cmdline[3000];
	memset(long_cmdline, 'x', sizeof(long_cmdline) - 1);
	l = base_launch(VD_VMM_QEMU);
	l.cmdline = long_cmdline;
	if (!check_error(&l, "too long")) {
		return false;
	}
	l = base_launch(VD_VMM_QEMU);
	struct vd_vmm_share twice[] = {
		{ .host_dir = "/a", .tag = "t" },
		{ .host_dir = "/b", .tag = "t" },
	};
	l.shares = twice;
	l.share_count = 2;
	if (!check_error(&l, "share tag t is used twice")) {
		return false;
	}
	l = base_launch(VD_VMM_QEMU);
	l.vmm = (enum vd_vmm_kind)7;
	return check_error(&l, "unknown VMM");
}

static bool test_sockets_init(void) {
	struct vd_vmm_sockets s;
	char err[256];
	CHECK(!vd_vmm_sockets_init(&s, "run/vm", err, sizeof(err)), "relative dir");
	char dir[200];
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	CHECK(!vd_vmm_sockets_init(&s, dir, err, sizeof(err)), "dir too long");
	CHECK(strstr(err, "too long") != NULL, "%s", err);
	// The longest directory (90 bytes) leaves room for "/vsock.sock" and the
	// hybrid vsock's "_5001" in a sun_path of 108 bytes.
	memset(dir, 'd', sizeof(dir));
	dir[0] = '/';
	dir[91] = '\0';
	CHECK(!vd_vmm_sockets_init(&s, dir, err, sizeof(err)), "no room for _5001");
	dir[90] = '\0';
	CHECK(vd_vmm_sockets_init(&s, dir, err, sizeof(err)), "%s", err);
	CHECK(strlen(s.vsock) + strlen("_5001") < VD_ADDR_PATH_MAX, "vsock fits");
	CHECK(vd_vmm_sockets_init(&s, "/run/vm", err, sizeof(err)), "%s", err);
	CHECK_STR(s.console, "/run/vm/console.sock");
	CHECK_STR(s.fs_prefix, "/run/vm/fs-");
	return true;
}

static bool test_parse_overlay(void) {
	struct vd_vmm_overlay o;
	char err[256];
	CHECK(vd_vmm_overlay_parse("tmpfs", &o, err, sizeof(err)), "%s", err);
	CHECK(o.kind == VD_VMM_OVERLAY_TMPFS && o.tmpfs_size[0] == '\0', "tmpfs");
	CHECK(vd_vmm_overlay_parse("tmpfs:512M", &o, err, sizeof(err)), "%s", err);
	CHECK_STR(o.tmpfs_size, "512M");
	CHECK(vd_vmm_overlay_parse("tmpfs:25%", &o, err, sizeof(err)), "%s", err);
	CHECK(vd_vmm_overlay_parse("/var/vm/work.img", &o, err, sizeof(err)), "%s", err);
	CHECK(o.kind == VD_VMM_OVERLAY_DISK, "disk");
	CHECK_STR(o.disk, "/var/vm/work.img");
	const char *bad[] = { "tmpfs:", "tmpfs:2X", "tmpfs:1G,nr_inodes=1", "tmpfs:-1",
		"tmpfs:12345678901234", "disk.img", "", "/a,b.img", "ramfs" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!vd_vmm_overlay_parse(bad[i], &o, err, sizeof(err)), "'%s' accepted", bad[i]);
		CHECK(strstr(err, "overlay") != NULL, "error '%s'", err);
	}
	return true;
}

static bool test_parse_share(void) {
	struct vd_vmm_share s;
	char err[256];
	CHECK(vd_vmm_share_parse("/home/u/Documents:docs", &s, err, sizeof(err)), "%s", err);
	CHECK_STR(s.host_dir, "/home/u/Documents");
	CHECK_STR(s.tag, "docs");
	CHECK(!s.read_only, "rw");
	CHECK(vd_vmm_share_parse("/srv/media:media_1:ro", &s, err, sizeof(err)), "%s", err);
	CHECK(s.read_only, "ro");
	const char *bad[] = { "docs", "/home/u:", ":docs", "relative:docs", "/a:b:rw", "/a:b:ro:x",
		"/a,b:c", "/a:b c", "/a:../x", "/a:0123456789012345678901234567890123",
		"/a:tag,with,commas" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!vd_vmm_share_parse(bad[i], &s, err, sizeof(err)), "'%s' accepted", bad[i]);
		CHECK(strstr(err, "share") != NULL, "error '%s'", err);
	}
	return true;
}

static bool test_parse_kind(void) {
	enum vd_vmm_kind k;
	CHECK(vd_vmm_kind_parse("qemu", &k) && k == VD_VMM_QEMU, "qemu");
	CHECK(vd_vmm_kind_parse("crosvm", &k) && k == VD_VMM_CROSVM, "crosvm");
	CHECK(vd_vmm_kind_parse("cloud-hypervisor", &k) && k == VD_VMM_CLOUD_HYPERVISOR, "ch");
	CHECK(!vd_vmm_kind_parse("QEMU", &k) && !vd_vmm_kind_parse("firecracker", &k) &&
		!vd_vmm_kind_parse("", &k), "unknown kinds");
	CHECK_STR(vd_vmm_kind_name(VD_VMM_CLOUD_HYPERVISOR), "cloud-hypervisor");
	return true;
}

static bool test_format_quotes(void) {
	struct vd_vmm_cmd cmd = {0};
	char *argv[] = { "qemu", "-append", "console=ttyS0 quiet", "it's", "", NULL };
	cmd.argv = argv;
	cmd.argc = 5;
	char *line = vd_vmm_cmd_format(&cmd);
	CHECK_STR(line, "qemu -append 'console=ttyS0 quiet' 'it'\\''s' ''");
	free(line);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_qemu_tcg_serial),
	TAP_CASE(test_qemu_kvm_vsock),
	TAP_CASE(test_qemu_kvm_no_vhost),
	TAP_CASE(test_qemu_escapes_commas),
	TAP_CASE(test_crosvm_link),
	TAP_CASE(test_crosvm_cross_domain),
	TAP_CASE(test_cloud_hypervisor),
	TAP_CASE(test_cloud_hypervisor_shares),
	TAP_CASE(test_addresses),
	TAP_CASE(test_refusals),
	TAP_CASE(test_bad_launches),
	TAP_CASE(test_sockets_init),
	TAP_CASE(test_parse_overlay),
	TAP_CASE(test_parse_share),
	TAP_CASE(test_parse_kind),
	TAP_CASE(test_format_quotes),
};

TAP_MAIN(cases)
