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
#include "host/menu.h"
#include "host/vmconf.h"
#include "protocols/backoff.h"
#include "protocols/listen.h"
#include "protocols/number.h"
#include "protocols/transport.h"
#include "tests/unit/tap.h"

/* Unit tests of the agents' parts: addresses, backoff, Exec splitting,
 * categories, VM definitions, menu icons, socket locks and numbers. */

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
	TAP_CASE(test_menu_icon),
	TAP_CASE(test_listen_lock),
};

TAP_MAIN(cases)
