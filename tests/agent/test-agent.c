#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/apps.h"
#include "host/child.h"
#include "protocols/proc.h"
#include "host/menu.h"
#include "host/vmconf.h"
#include "host/vmstate.h"
#include "protocols/names.h"
#include "protocols/backoff.h"
#include "protocols/listen.h"
#include "protocols/number.h"
#include "protocols/transport.h"
#include "tests/unit/tap.h"

/* Unit tests of the agents' parts: addresses, backoff, Exec splitting,
 * categories, VM definitions (with the launcher's keys), state files, image
 * names, menu icons, socket locks and numbers. */

static bool test_addresses(void) {
	struct vd_addr addr;
	char err[256], buf[200];
	CHECK(vd_addr_parse("vsock:3:5000", false, &addr, err, sizeof(err)), "%s", err);
	CHECK(addr.kind == VD_ADDR_VSOCK && addr.cid == 3 && addr.port == 5000, "vsock fields");
	CHECK(vd_addr_parse("hvsock:/run/vm:a.sock:52", false, &addr, err, sizeof(err)), "%s", err);
	CHECK(addr.kind == VD_ADDR_HVSOCK && addr.port == 52, "hvsock fields");
	CHECK_STR(addr.path, "/run/vm:a.sock");
	vd_addr_format(&addr, buf, sizeof(buf));
	CHECK_STR(buf, "hvsock:/run/vm:a.sock:52");
	CHECK(vd_addr_parse("vsock:5000", true, &addr, err, sizeof(err)), "%s", err);
	CHECK(addr.cid == VMADDR_CID_ANY, "listen CID");
	static const char *const bad_connect[] = {"vsock:3", "vsock:x:1", "vsock:3:99999999999",
		"vsock:-1:2", "hvsock:/p", "hvsock::5", "unix:", "tcp:1.2.3.4:5", "vsock:3:4294967295",
		"vsock:+3:5", "vsock: 3:5"};
	for (size_t i = 0; i < sizeof(bad_connect) / sizeof(bad_connect[0]); i++) {
		CHECK(!vd_addr_parse(bad_connect[i], false, &addr, err, sizeof(err)), "accepted %s",
			bad_connect[i]);
	}
	CHECK(!vd_addr_parse("hvsock:/p:5", true, &addr, err, sizeof(err)), "listen on hvsock");
	return true;
}

static bool test_backoff(void) {
	struct vd_backoff b;
	vd_backoff_init(&b, 100, 1000, 10000);
	uint32_t want[] = {100, 200, 400, 800, 1000, 1000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint32_t got = vd_backoff_next(&b);
		CHECK(got == want[i], "step %zu: %u, want %u", i, got, want[i]);
	}
	/* a short connection keeps the long pause, a stable one earns quick retries */
	vd_backoff_connected(&b, 5000);
	vd_backoff_disconnected(&b, 6000);
	CHECK(vd_backoff_next(&b) == 1000, "short connection reset the pause");
	vd_backoff_connected(&b, 10000);
	vd_backoff_disconnected(&b, 20000);
	CHECK(vd_backoff_next(&b) == 100, "stable connection kept the pause");
	vd_backoff_max(&b);
	CHECK(vd_backoff_next(&b) == 1000, "max");
	return true;
}

static bool test_numbers(void) {
	long long v;
	CHECK(vd_parse_number("5000", 1, 10000, &v) && v == 5000, "5000");
	CHECK(vd_parse_number("007", 0, 10, &v) && v == 7, "leading zeros");
	CHECK(!vd_parse_number("", 0, 10, &v) && !vd_parse_number("-1", -5, 10, &v) &&
		!vd_parse_number("+1", 0, 10, &v) && !vd_parse_number("1x", 0, 10, &v) &&
		!vd_parse_number(" 1", 0, 10, &v) && !vd_parse_number("11", 0, 10, &v) &&
		!vd_parse_number("99999999999999999999999", 0, 1LL << 62, &v), "bad numbers");
	return true;
}

static bool test_exec_split(void) {
	char **argv = vd_desktop_exec_split("foo --new-window %U");
	CHECK(argv != NULL && argv[2] == NULL, "field code kept");
	CHECK_STR(argv[1], "--new-window");
	vd_strv_free(argv);
	argv = vd_desktop_exec_split("\"/opt/My App/run\" \"a \\\"q\\\" b\" 100%% %f");
	CHECK(argv != NULL, "quoted Exec refused");
	CHECK_STR(argv[0], "/opt/My App/run");
	CHECK_STR(argv[1], "a \"q\" b");
	CHECK_STR(argv[2], "100%");
	CHECK(argv[3] == NULL, "too many args");
	vd_strv_free(argv);
	CHECK(vd_desktop_exec_split("\"unterminated") == NULL, "unterminated quote accepted");
	CHECK(vd_desktop_exec_split("foo %z") == NULL, "unknown field code accepted");
	CHECK(vd_desktop_exec_split("   ") == NULL, "empty Exec accepted");
	return true;
}

static bool test_categories(void) {
	char out[256];
	vd_menu_filter_categories("Audio;Player;Screensaver;TrayIcon;X-Foo;Utility", out,
		sizeof(out));
	CHECK_STR(out, "AudioVideo;Audio;Utility;");
	vd_menu_filter_categories("", out, sizeof(out));
	CHECK_STR(out, "");
	return true;
}

/* Writes text to a temporary NAME.conf and loads it. */
static bool load_conf(const char *text, struct vd_vmconf *conf) {
	char dir[] = "/tmp/vmdesk-vmconf-XXXXXX";
	if (mkdtemp(dir) == NULL) {
		return false;
	}
	char path[256];
	snprintf(path, sizeof(path), "%s/work.conf", dir);
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		return false;
	}
	fputs(text, f);
	fclose(f);
	bool ok = vd_vmconf_load(path, "work", conf);
	unlink(path);
	rmdir(dir);
	return ok;
}

static bool test_vmconf(void) {
	static struct vd_vmconf conf;
	CHECK(load_conf("[vm]\ncolor = purple\n; comment\nagent = hvsock:/run/ch.vsock:5000\n",
		&conf), "%s", conf.error);
	CHECK(conf.color.r == 0x75 && conf.color.g == 0x50 && conf.color.b == 0x7b, "color");
	CHECK(conf.has_agent && conf.agent.kind == VD_ADDR_HVSOCK && conf.agent.port == 5000,
		"agent");
	CHECK(conf.nwarnings == 0, "warnings on a clean file");
	CHECK(load_conf("color = #123456\n", &conf), "keys before any section: %s", conf.error);
	CHECK(!conf.has_agent && conf.color.b == 0x56, "defaults");
	/* Qubes' label, capitals, unknown sections and keys */
	CHECK(load_conf("[VM]\nLabel = red\nAgent = unix:/x\ncolour = blue\n[launcher]\n"
		"kernel = /boot/vmlinuz\n", &conf), "%s", conf.error);
	CHECK(conf.color.r == 0xcc && conf.has_agent, "[VM]/Label/Agent not taken");
	CHECK(conf.nwarnings == 2, "%zu warnings", conf.nwarnings);
	CHECK(strstr(conf.warnings[0], "work.conf:4: unknown key \"colour\"") != NULL, "%s",
		conf.warnings[0]);
	CHECK(strstr(conf.warnings[1], "work.conf:6: unknown section [launcher]") != NULL, "%s",
		conf.warnings[1]);
	CHECK(!load_conf("[vm]\ncolor = red\nlabel = blue\n", &conf), "color and label twice");
	CHECK(strstr(conf.error, "work.conf:3: duplicate key") != NULL, "%s", conf.error);
	CHECK(!load_conf("[vm]\n\ncolor = chartreuse-ish\n", &conf), "bad color accepted");
	CHECK(strstr(conf.error, "work.conf:3: color: ") != NULL, "%s", conf.error);
	CHECK(!load_conf("[vm]\nagent = tcp:1.2.3.4:5\n", &conf), "bad agent accepted");
	CHECK(strstr(conf.error, "work.conf:2: agent: unknown address") != NULL, "%s", conf.error);
	CHECK(!load_conf("[vm]\ncolor = red\nthis line is not ini\ncolor = blue\n", &conf),
		"syntax error accepted");
	CHECK(strstr(conf.error, "work.conf:3: syntax error") != NULL, "%s", conf.error);
	return true;
}

/* The launcher's keys: each value rule, each error at its line, what goes together. */
static bool test_vmconf_launcher(void) {
	static struct vd_vmconf conf;
	CHECK(load_conf("[vm]\ncolor = red\nvmm = qemu\nimage = debian-12\nmemory = 2048\n"
		"cpus = 4\ncid = 7\noverlay = tmpfs:2G\nshare = /home/u/Shared:shared:ro\n"
		"share = /home/u/Music:music\nnetwork = user\nwayland = link\ngpu = none\n"
		"idle-shutdown = 15\nautostart = yes\ncmdline = quiet loglevel=3\n", &conf),
		"%s", conf.error);
	const struct vd_vmconf_machine *m = &conf.machine;
	CHECK(m->defined && m->vmm == VD_VMM_QEMU && strcmp(m->image, "debian-12") == 0, "vmm");
	CHECK(m->memory_mib == 2048 && m->cpus == 4 && m->cid == 7 && m->cid_line == 7, "numbers");
	CHECK(m->overlay.kind == VD_VMM_OVERLAY_TMPFS && strcmp(m->overlay.tmpfs_size, "2G") == 0,
		"overlay");
	CHECK(m->nshares == 2 && m->shares[0].read_only && !m->shares[1].read_only &&
		strcmp(m->shares[1].tag, "music") == 0, "shares");
	CHECK(m->network == VD_VMM_NETWORK_USER && m->idle_shutdown_s == 900 && m->autostart,
		"network, idle, autostart");
	CHECK_STR(m->cmdline, "quiet loglevel=3");
	CHECK(conf.nwarnings == 0, "%zu warnings", conf.nwarnings);
	/* defaults, and a definition without launcher keys is not started by vmdesk */
	CHECK(load_conf("[vm]\nimage = x\n", &conf), "%s", conf.error);
	CHECK(conf.machine.vmm == VD_VMM_QEMU && conf.machine.memory_mib == 1024 &&
		conf.machine.cpus == 2 && conf.machine.idle_shutdown_s == 0 && !conf.machine.autostart,
		"defaults");
	CHECK(load_conf("[vm]\nagent = unix:/x\n", &conf) && !conf.machine.defined, "agent only");
	CHECK(load_conf("[vm]\nkernel = /k\ninitrd = /i\nroot = /r\nidle-shutdown = 30s\n"
		"autostart = off\n", &conf), "%s", conf.error);
	CHECK(conf.machine.idle_shutdown_s == 30 && !conf.machine.autostart, "30s");
	CHECK(load_conf("[vm]\nimage = x\nidle-shutdown = 2m\nIDLE-SHUTDOWN = 3\n", &conf) == false,
		"duplicate idle-shutdown");
	static const struct {
		const char *text, *error;
	} bad[] = {
		{"[vm]\nvmm = kvm\n", "work.conf:2: vmm: 'kvm' is not qemu, crosvm or"},
		{"[vm]\nimage = ../etc\n", "work.conf:2: image: '../etc' is not an image name"},
		{"[vm]\nimage = a\nimage = b\n", "work.conf:3: duplicate key \"image\""},
		{"[vm]\nkernel = vmlinuz\n", "work.conf:2: kernel: want an absolute path"},
		{"[vm]\nimage = x\nmemory = 64\n", "work.conf:3: memory: '64' is not a number of MiB"},
		{"[vm]\nimage = x\nmemory = 1G\n", "work.conf:3: memory: '1G' is not"},
		{"[vm]\nimage = x\ncpus = 0\n", "work.conf:3: cpus: '0' is not a number in 1-256"},
		{"[vm]\nimage = x\ncid = 2\n", "work.conf:3: cid: '2' is not a guest context id"},
		{"[vm]\nimage = x\ncid = 4294967295\n", "work.conf:3: cid: '4294967295'"},
		{"[vm]\nimage = x\noverlay = tmpfs:lots\n", "work.conf:3: overlay 'tmpfs:lots'"},
		{"[vm]\nimage = x\noverlay = rel/path\n", "work.conf:3: overlay 'rel/path'"},
		{"[vm]\nimage = x\nshare = /a:t\nshare = /b:t\n", "work.conf:4: share: the tag t is"},
		{"[vm]\nimage = x\nshare = /a:t:rw\n", "work.conf:3: share '/a:t:rw': the only option"},
		{"[vm]\nimage = x\nnetwork = bridge\n", "work.conf:3: network: 'bridge' is not"},
		{"[vm]\nimage = x\nwayland = virtwl\n", "work.conf:3: wayland: 'virtwl' is not"},
		{"[vm]\nimage = x\ngpu = virgl\n", "work.conf:3: gpu: 'virgl' is not"},
		{"[vm]\nimage = x\nidle-shutdown = -5\n", "work.conf:3: idle-shutdown: '-5' is not"},
		{"[vm]\nimage = x\nidle-shutdown = 20000\n", "work.conf:3: idle-shutdown: '20000'"},
		{"[vm]\nimage = x\nautostart = maybe\n", "work.conf:3: autostart: 'maybe' is not"},
		{"[vm]\nimage = x\ncmdline = a\tb\n", "work.conf:3: cmdline: control characters"},
		{"[vm]\nimage = x\nagent = vsock:3:5000\n", "work.conf:3: agent: vmdesk starts this VM"},
		{"[vm]\nimage = x\nkernel = /k\n", "work.conf:3: image = NAME and kernel, initrd, root"},
		{"[vm]\nkernel = /k\nroot = /r\n", "work.conf: to start this VM, vmdesk needs image"},
		{"[vm]\nvmm = crosvm\nimage = x\n", "work.conf: crosvm needs cid = N"},
		{"[vm]\nimage = x\nwayland = cross-domain\ngpu = cross-domain\n",
			"work.conf: wayland = cross-domain needs crosvm"},
		{"[vm]\nvmm = crosvm\ncid = 5\nimage = x\nwayland = cross-domain\n",
			"work.conf: wayland = cross-domain and gpu = cross-domain go together"},
		{"[vm]\nvmm = cloud-hypervisor\ncid = 5\nimage = x\nshare = /s:s:ro\n",
			"work.conf: share s: virtiofs cannot make a folder read-only"},
		{"[vm]\nvmm = crosvm\ncid = 5\nimage = x\nnetwork = user\n",
			"work.conf: network = user: crosvm has no user-mode network"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!load_conf(bad[i].text, &conf), "accepted: %s", bad[i].text);
		CHECK(strstr(conf.error, bad[i].error) != NULL, "%s: got '%s', want '%s'", bad[i].text,
			conf.error, bad[i].error);
	}
	/* seventeen shares: the seventeenth is refused at its line */
	char text[2048] = "[vm]\nimage = x\n";
	for (int i = 0; i < 17; i++) {
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "share = /s%d:t%d\n", i, i);
	}
	CHECK(!load_conf(text, &conf) && strstr(conf.error, "work.conf:19: share: at most 16") != NULL,
		"%s", conf.error);
	return true;
}

/* A cid belongs to one VM: the later definition (by name) repeating it is broken. */
static bool test_vmconf_unique_cids(void) {
	char dir[] = "/tmp/vmdesk-cids-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	static const char *const files[][2] = {
		{"alpha", "[vm]\nimage = x\ncid = 9\n"},
		{"beta", "[vm]\nvmm = crosvm\nimage = x\n\ncid = 9\n"},
		{"gamma", "[vm]\nimage = x\ncid = 10\n"},
	};
	char path[256];
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s.conf", dir, files[i][0]);
		FILE *f = fopen(path, "w");
		CHECK(f != NULL, "fopen");
		fputs(files[i][1], f);
		fclose(f);
	}
	const char *dirs[] = {dir};
	struct vd_vmconf *confs;
	size_t n = vd_vmconf_load_dirs(dirs, 1, &confs);
	CHECK(n == 3, "%zu VMs", n);
	CHECK(confs[0].error[0] == '\0' && confs[2].error[0] == '\0', "alpha or gamma broken");
	CHECK(strstr(confs[1].error, "beta.conf:5: cid 9 is VM alpha's already") != NULL, "%s",
		confs[1].error);
	free(confs);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s.conf", dir, files[i][0]);
		unlink(path);
	}
	rmdir(dir);
	return true;
}

static bool test_image_names(void) {
	static const char *const good[] = {"debian", "Debian-12", "a", "0x", "test_build",
		"abcdefghijabcdefghijabcdefghij12"};
	static const char *const bad[] = {"", "-x", "_x", "a.b", "a/b", "..", "a b", "é",
		"abcdefghijabcdefghijabcdefghij123", "x\n"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(vd_image_name_valid(good[i], strlen(good[i])), "refused %s", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!vd_image_name_valid(bad[i], strlen(bad[i])), "accepted '%s'", bad[i]);
	}
	return true;
}

/* State files: what is written reads back; broken and hostile ones are refused. */
static bool test_vmstate(void) {
	char dir[] = "/tmp/vmdesk-vmstate-XXXXXX";
	char err[512];
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	struct vd_vmstate st = {.vmm = VD_VMM_CLOUD_HYPERVISOR, .vmm_pid = 4242, .vmm_start = 99,
		.proxy_pid = 4250, .proxy_start = 100, .nhelpers = 1, .helper_pid = {4240},
		.helper_start = {98}, .started = 1764888000, .agent_serial = false,
		.control = VD_VMM_CONTROL_COMMAND};
	snprintf(st.agent, sizeof(st.agent), "hvsock:/run/x/vsock.sock:5000");
	CHECK(vd_vmm_cmd_add(&st.powerdown, "ch-remote") && vd_vmm_cmd_add(&st.powerdown,
		"power button with spaces"), "oom");
	CHECK(vd_vmm_cmd_add(&st.force_stop, "ch-remote") && vd_vmm_cmd_add(&st.proxy,
		"vmdesk-proxy") && vd_vmm_cmd_add(&st.proxy, "--color") &&
		vd_vmm_cmd_add(&st.proxy, "rgb(1, 2, 3)"), "oom");
	CHECK(vd_vmstate_write(dir, &st, err, sizeof(err)), "%s", err);
	struct vd_vmstate back;
	CHECK(vd_vmstate_read(dir, &back, err, sizeof(err)), "%s", err);
	CHECK(back.vmm == VD_VMM_CLOUD_HYPERVISOR && back.vmm_pid == 4242 && back.vmm_start == 99 &&
		back.proxy_pid == 4250 && back.nhelpers == 1 && back.helper_pid[0] == 4240 &&
		back.started == 1764888000 && back.control == VD_VMM_CONTROL_COMMAND, "fields");
	CHECK_STR(back.agent, "hvsock:/run/x/vsock.sock:5000");
	CHECK(back.powerdown.argc == 2 && strcmp(back.powerdown.argv[1],
		"power button with spaces") == 0, "powerdown argv");
	CHECK(back.proxy.argc == 3 && strcmp(back.proxy.argv[2], "rgb(1, 2, 3)") == 0, "proxy");
	vd_vmstate_finish(&back);
	/* an argument with a newline cannot be written (it would forge a line) */
	CHECK(vd_vmm_cmd_add(&st.proxy, "x\nvmm-pid=1"), "oom");
	CHECK(!vd_vmstate_write(dir, &st, err, sizeof(err)), "a newline was written");
	vd_vmstate_finish(&st);
	static const char *const broken[] = {
		"",
		"not a state file\n",
		"vmdesk-vmstate 2\nvmm=qemu\n",
		"vmdesk-vmstate 1\nvmm=qemu\nvmm-pid=1\nvmm-start=5\nagent=unix:/x\n", // pid 1
		"vmdesk-vmstate 1\nvmm=qemu\nvmm-pid=-4\nvmm-start=5\nagent=unix:/x\n",
		"vmdesk-vmstate 1\nvmm=qemu\nvmm-pid=44\nvmm-start=5\n", // no agent
		"vmdesk-vmstate 1\nvmm=xen\nvmm-pid=44\nvmm-start=5\nagent=unix:/x\n",
		"vmdesk-vmstate 1\nvmm=qemu\nvmm-pid=44x\nvmm-start=5\nagent=unix:/x\n",
		// no powerdown
		"vmdesk-vmstate 1\nvmm=crosvm\nvmm-pid=44\nvmm-start=5\nagent=vsock:3:5000\ncontrol=command\n",
		"vmdesk-vmstate 1\nnoequals\n",
		"vmdesk-vmstate 1\nhelper=1\n",
	};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		CHECK(!vd_vmstate_parse(broken[i], strlen(broken[i]), &back, err, sizeof(err)),
			"accepted: %s", broken[i]);
	}
	/* a NUL inside, and more than the cap */
	CHECK(!vd_vmstate_parse("vmdesk-vmstate 1\n\0vmm=qemu\n", 27, &back, err, sizeof(err)),
		"a NUL was accepted");
	size_t big = 65 * 1024;
	char *huge = malloc(big);
	CHECK(huge != NULL, "oom");
	memset(huge, 'a', big);
	CHECK(!vd_vmstate_parse(huge, big, &back, err, sizeof(err)), "65 KiB accepted");
	free(huge);
	/* seventeen helpers: one too many */
	char text[2048] = "vmdesk-vmstate 1\nvmm=qemu\nvmm-pid=44\nvmm-start=5\nagent=unix:/x\n";
	for (int i = 0; i < 17; i++) {
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "helper=%d 1\n", 100 + i);
	}
	CHECK(!vd_vmstate_parse(text, strlen(text), &back, err, sizeof(err)), "17 helpers");
	vd_vmstate_remove_dir(dir);
	CHECK(access(dir, F_OK) != 0, "the directory is left");
	return true;
}

/* A process is known by its pid and its start time; a zombie or a gone pid by neither. */
static bool test_process_identity(void) {
	unsigned long long self, again;
	CHECK(vd_proc_start_time(getpid(), &self) && self > 0, "no start time for ourselves");
	CHECK(vd_proc_start_time(getpid(), &again) && again == self, "it changed");
	pid_t child = fork();
	if (child == 0) {
		_exit(0);
	}
	CHECK(child > 0, "fork");
	/* the child is a zombie until reaped: not alive */
	unsigned long long t;
	for (int i = 0; i < 200 && vd_proc_start_time(child, &t); i++) {
		usleep(10000);
	}
	CHECK(!vd_proc_start_time(child, &t), "a zombie counts as running");
	waitpid(child, NULL, 0);
	CHECK(!vd_proc_start_time(child, &t), "a reaped pid counts as running");
	struct vd_child c;
	CHECK(!vd_child_adopt(&c, NULL, getpid(), self + 1, NULL, NULL), "adopted a wrong start");
	CHECK(!vd_child_adopt(&c, NULL, 1, 0, NULL, NULL), "adopted pid 1");
	char path[4096];
	CHECK(vd_child_find_program("sh", path, sizeof(path)) && path[0] == '/', "no sh");
	CHECK(!vd_child_find_program("no-such-program-vmdesk", path, sizeof(path)), "found");
	return true;
}

static bool test_menu_icon(void) {
	/* 2x1: opaque blue, and a pixel whose channels exceed its alpha (QSB-104) */
	uint8_t rgba[8] = {0, 0, 255, 255, 255, 250, 0, 254};
	uint8_t *png;
	size_t len;
	int size;
	struct vd_color red = {0xcc, 0, 0};
	CHECK(vd_menu_icon_png(rgba, 2, 1, red, &png, &len, &size), "no icon");
	CHECK(size == 16 && len > 8 && memcmp(png, "\x89PNG", 4) == 0, "size %d", size);
	free(png);
	CHECK(!vd_menu_icon_png(rgba, 0, 1, red, &png, &len, &size), "empty icon drawn");
	CHECK(!vd_menu_icon_png(rgba, 257, 1, red, &png, &len, &size), "oversize icon drawn");
	return true;
}

static bool test_listen_lock(void) {
	char dir[] = "/tmp/vmdesk-listen-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char path[64], err[512];
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	/* a stale socket file (its owner died) is replaced */
	int stale = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(bind(stale, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind");
	close(stale);
	struct vd_listener a, b;
	CHECK(vd_listen_unix(&a, path, err, sizeof(err)), "%s", err);
	/* a second server for the same path fails and touches nothing */
	struct stat before, after;
	CHECK(stat(path, &before) == 0, "stat");
	CHECK(!vd_listen_unix(&b, path, err, sizeof(err)), "a second listener took the socket");
	char want[64];
	snprintf(want, sizeof(want), "served by pid %d", (int)getpid());
	CHECK(strstr(err, want) != NULL, "reason: %s", err);
	CHECK(stat(path, &after) == 0 && before.st_ino == after.st_ino, "the socket was replaced");
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0, "the first one stopped serving");
	close(c);
	CHECK((after.st_mode & 0777) == 0600, "mode %o", after.st_mode & 0777);
	vd_listener_finish(&a);
	CHECK(access(path, F_OK) != 0, "socket left behind");
	CHECK(vd_listen_unix(&b, path, err, sizeof(err)), "after the first: %s", err);
	vd_listener_finish(&b);
	CHECK(!vd_listen_unix(&b, "/nonexistent-dir/x.sock", err, sizeof(err)), "no directory");
	rmdir(dir);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_addresses),
	TAP_CASE(test_backoff),
	TAP_CASE(test_numbers),
	TAP_CASE(test_exec_split),
	TAP_CASE(test_categories),
	TAP_CASE(test_vmconf),
	TAP_CASE(test_vmconf_launcher),
	TAP_CASE(test_vmconf_unique_cids),
	TAP_CASE(test_image_names),
	TAP_CASE(test_vmstate),
	TAP_CASE(test_process_identity),
	TAP_CASE(test_menu_icon),
	TAP_CASE(test_listen_lock),
};

TAP_MAIN(cases)
