#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/apps.h"
#include "host/menu.h"
#include "host/vmconf.h"
#include "protocols/agent-conn.h"
#include "protocols/agent-wire.h"
#include "protocols/transport.h"
#include "tests/unit/tap.h"

/* Unit tests of the agent channel: codec, framing, addresses, backoff, Exec
 * splitting and category filtering. */

static bool encode_decode(const struct vd_agent_msg *in, struct vd_agent_msg *out) {
	struct vd_agent_buf buf = {0};
	if (!vd_agent_encode(&buf, in)) {
		return false;
	}
	struct vd_agent_header header;
	char err[256];
	bool ok = vd_agent_header_parse(buf.data, &header, err, sizeof(err)) &&
		header.length == buf.len - VD_AGENT_HEADER_SIZE &&
		vd_agent_decode(header.type, header.id, buf.data + VD_AGENT_HEADER_SIZE,
			header.length, out, err, sizeof(err));
	if (!ok) {
		printf("# %s\n", err);
	}
	vd_agent_buf_finish(&buf);
	return ok;
}

/* Decodes a hand-made payload; returns whether it was accepted, err gets the reason. */
static bool decode_raw(uint16_t type, const void *payload, size_t len, char *err, size_t size) {
	struct vd_agent_msg msg;
	bool ok = vd_agent_decode(type, 1, payload, len, &msg, err, size);
	if (ok) {
		vd_agent_msg_finish(&msg);
	}
	return ok;
}

static bool test_run_roundtrip(void) {
	char *argv[] = {"sh", "-c", "echo \x01\xff", NULL};
	char *env[] = {"LANG=C.UTF-8", "TZ=UTC", NULL};
	struct vd_agent_msg in = {.type = VD_AGENT_RUN, .id = 7, .flags = VD_AGENT_RUN_WAIT,
		.argv = argv, .argc = 3, .env = env, .envc = 2};
	struct vd_agent_msg out;
	CHECK(encode_decode(&in, &out), "RUN did not round-trip");
	CHECK(out.id == 7 && out.flags == VD_AGENT_RUN_WAIT && out.argc == 3 && out.envc == 2,
		"fields changed");
	CHECK_STR(out.argv[2], "echo \x01\xff");
	CHECK(out.argv[3] == NULL, "argv not NULL-terminated");
	CHECK_STR(out.env[1], "TZ=UTC");
	vd_agent_msg_finish(&out);
	return true;
}

static bool test_env_whitelist(void) {
	char *argv[] = {"true", NULL};
	char *env[] = {"LD_PRELOAD=/tmp/x.so", NULL};
	struct vd_agent_msg in = {.type = VD_AGENT_RUN, .argv = argv, .argc = 1, .env = env,
		.envc = 1};
	struct vd_agent_buf buf = {0};
	CHECK(vd_agent_encode(&buf, &in), "encoder should not judge");
	struct vd_agent_msg out;
	char err[256] = "";
	CHECK(!vd_agent_decode(VD_AGENT_RUN, 0, buf.data + VD_AGENT_HEADER_SIZE,
		buf.len - VD_AGENT_HEADER_SIZE, &out, err, sizeof(err)), "LD_PRELOAD accepted");
	CHECK(strstr(err, "whitelist") != NULL, "reason: %s", err);
	vd_agent_buf_finish(&buf);
	return true;
}

static bool test_app_roundtrip_and_icon_check(void) {
	/* a 1x1 PNG header, as far as the decoder looks (signature + IHDR) */
	uint8_t png[40] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D',
		'R', 0, 0, 0, 1, 0, 0, 0, 1};
	struct vd_agent_msg in = {.type = VD_AGENT_APP};
	in.app = (struct vd_agent_app){.id = "org.example.Foo.desktop", .name = "Foo",
		.generic_name = "", .comment = "Zürich ☃", .categories = "Utility;X-Foo;",
		.icon_name = "foo", .wm_class = "Foo",
		.icon = {.width = 1, .height = 1, .png = png, .len = sizeof(png)}};
	struct vd_agent_msg out;
	CHECK(encode_decode(&in, &out), "APP did not round-trip");
	CHECK_STR(out.app.comment, "Zürich ☃");
	CHECK(out.app.icon.len == sizeof(png), "icon length");
	vd_agent_msg_finish(&out);
	in.app.icon.width = 2; // lies about the size
	CHECK(!encode_decode(&in, &out), "lying icon size accepted");
	return true;
}

static bool test_text_rules(void) {
	CHECK(vd_agent_text_valid("Fir\xc3\xa9" "fox", 8, false), "valid UTF-8 refused");
	CHECK(!vd_agent_text_valid("\xc0\xaf", 2, false), "overlong accepted");
	CHECK(!vd_agent_text_valid("\xed\xa0\x80", 3, false), "surrogate accepted");
	CHECK(!vd_agent_text_valid("\xf4\x90\x80\x80", 4, false), "> U+10FFFF accepted");
	CHECK(!vd_agent_text_valid("\xc2\x85", 2, false), "C1 control accepted");
	CHECK(!vd_agent_text_valid("a\x1b[31m", 6, false), "ESC accepted");
	CHECK(!vd_agent_text_valid("a\nb", 3, false), "newline accepted in a line");
	CHECK(vd_agent_text_valid("a\nb\tc", 5, true), "newline refused in text");
	CHECK(!vd_agent_text_valid("\xe2\x98", 2, false), "truncated sequence accepted");
	CHECK(!vd_agent_text_valid("a\xe2\x80\xae", 4, false), "U+202E accepted");
	CHECK(!vd_agent_text_valid("a\xe2\x80\xa8", 4, true), "U+2028 accepted");
	CHECK(!vd_agent_text_valid("\xef\xbf\xbe", 3, false), "U+FFFE accepted");
	CHECK(!vd_agent_text_valid("\xf0\x9f\xbf\xbf", 4, false), "U+1FFFF accepted");
	CHECK(vd_agent_text_valid("\xf0\x9f\x99\x82 \xe2\x80\x8b", 8, false),
		"emoji or zero-width space refused");
	return true;
}

static bool test_desktop_ids(void) {
	static const char *const good[] = {"foo.desktop", "org.gnome.Foo.desktop",
		"kde4-kate.desktop", "a_b-c.desktop"};
	static const char *const bad[] = {"../x.desktop", "a/b.desktop", "a..b.desktop",
		".hidden.desktop", "-x.desktop", "foo", ".desktop", "a b.desktop", "a%u.desktop",
		"a;b.desktop", "x.desktop\n"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(vd_agent_desktop_id_valid(good[i], strlen(good[i])), "refused %s", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!vd_agent_desktop_id_valid(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
	}
	CHECK(vd_agent_vm_name_valid("work-2", 6) && !vd_agent_vm_name_valid("-x", 2) &&
		!vd_agent_vm_name_valid("a.b", 3) && !vd_agent_vm_name_valid("", 0), "VM names");
	return true;
}

static bool test_decoder_rejects(void) {
	char err[256];
	/* trailing byte after IDLE */
	uint8_t idle[6] = {1, 0, 0, 0, 0, 9};
	CHECK(!decode_raw(VD_AGENT_IDLE, idle, sizeof(idle), err, sizeof(err)), "trailing");
	CHECK(strstr(err, "trailing") != NULL, "reason: %s", err);
	/* truncated */
	CHECK(!decode_raw(VD_AGENT_IDLE, idle, 3, err, sizeof(err)), "truncated accepted");
	/* too many apps */
	uint8_t begin[8] = {1, 0, 0, 0, 0x40, 0x42, 0x0f, 0}; // 1,000,000
	CHECK(!decode_raw(VD_AGENT_APPS_BEGIN, begin, sizeof(begin), err, sizeof(err)),
		"a million apps accepted");
	/* unknown type */
	CHECK(!decode_raw(0x1000, NULL, 0, err, sizeof(err)), "reserved type accepted");
	CHECK(strstr(err, "unknown message type") != NULL, "reason: %s", err);
	/* signal not allowed */
	uint8_t sig[4] = {11, 0, 0, 0}; // SIGSEGV
	CHECK(!decode_raw(VD_AGENT_SIGNAL, sig, sizeof(sig), err, sizeof(err)), "SIGSEGV allowed");
	/* exit status out of range */
	uint8_t ex[5] = {0, 0, 1, 0, 0};
	CHECK(!decode_raw(VD_AGENT_RUN_EXIT, ex, sizeof(ex), err, sizeof(err)), "status 256");
	/* header: over the limit, flags set */
	struct vd_agent_header header;
	uint8_t big[12] = {1, 0, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0};
	CHECK(!vd_agent_header_parse(big, &header, err, sizeof(err)), "oversize frame accepted");
	uint8_t flags[12] = {0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
	CHECK(!vd_agent_header_parse(flags, &header, err, sizeof(err)), "flags accepted");
	return true;
}

static bool test_conn_framing(void) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "pair");
	struct vd_agent_conn a, b;
	vd_agent_conn_init(&a, sv[0], 0);
	vd_agent_conn_init(&b, sv[1], 0);
	struct vd_agent_msg idle = {.type = VD_AGENT_IDLE, .idle = 1, .idle_seconds = 5};
	CHECK(vd_agent_conn_send(&a, &idle) && vd_agent_conn_send(&a, &idle), "send");
	CHECK(vd_agent_conn_flush_blocking(&a), "flush");
	char err[256];
	CHECK(vd_agent_conn_read(&b, err, sizeof(err)) == VD_CONN_OK, "read");
	struct vd_agent_frame frame;
	enum vd_conn_status status;
	int frames = 0;
	while (vd_agent_conn_next(&b, &frame, &status, err, sizeof(err))) {
		frames++;
	}
	CHECK(frames == 2 && status == VD_CONN_OK, "frames %d", frames);
	/* half a frame, then EOF: truncated */
	uint8_t half[5] = {4, 0, 0, 0, 0};
	CHECK(write(sv[0], half, sizeof(half)) == 5, "write");
	vd_agent_conn_finish(&a);
	while (vd_agent_conn_read(&b, err, sizeof(err)) == VD_CONN_OK && !b.eof) {
	}
	CHECK(!vd_agent_conn_next(&b, &frame, &status, err, sizeof(err)), "frame from half");
	CHECK(status == VD_CONN_ERROR && strstr(err, "truncated") != NULL, "status %d: %s",
		status, err);
	vd_agent_conn_finish(&b);
	return true;
}

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
		"vsock:-1:2", "hvsock:/p", "hvsock::5", "unix:", "tcp:1.2.3.4:5", "vsock:3:4294967295"};
	for (size_t i = 0; i < sizeof(bad_connect) / sizeof(bad_connect[0]); i++) {
		CHECK(!vd_addr_parse(bad_connect[i], false, &addr, err, sizeof(err)), "accepted %s",
			bad_connect[i]);
	}
	CHECK(!vd_addr_parse("hvsock:/p:5", true, &addr, err, sizeof(err)), "listen on hvsock");
	char long_path[200];
	memset(long_path, 'a', sizeof(long_path));
	memcpy(long_path, "unix:/", 6);
	long_path[sizeof(long_path) - 1] = '\0';
	CHECK(!vd_addr_parse(long_path, false, &addr, err, sizeof(err)), "long path accepted");
	return true;
}

static bool test_backoff(void) {
	struct vd_backoff b;
	vd_backoff_init(&b, 100, 1000);
	uint32_t want[] = {100, 200, 400, 800, 1000, 1000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint32_t got = vd_backoff_next(&b);
		CHECK(got == want[i], "step %zu: %u, want %u", i, got, want[i]);
	}
	vd_backoff_reset(&b);
	CHECK(vd_backoff_next(&b) == 100, "reset");
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
	struct vd_vmconf conf;
	CHECK(load_conf("[vm]\ncolor = purple\n; comment\nagent = hvsock:/run/ch.vsock:5000\n"
		"[launcher]\nkernel = /boot/vmlinuz\n", &conf), "%s", conf.error);
	CHECK(conf.color.r == 0x75 && conf.color.g == 0x50 && conf.color.b == 0x7b, "color");
	CHECK(conf.has_agent && conf.agent.kind == VD_ADDR_HVSOCK && conf.agent.port == 5000,
		"agent");
	CHECK(load_conf("color = #123456\n", &conf), "keys before any section: %s", conf.error);
	CHECK(!conf.has_agent && conf.color.b == 0x56, "defaults");
	CHECK(!load_conf("[vm]\n\ncolor = chartreuse-ish\n", &conf), "bad color accepted");
	CHECK(strstr(conf.error, "work.conf:3: color: ") != NULL, "%s", conf.error);
	CHECK(!load_conf("[vm]\nagent = tcp:1.2.3.4:5\n", &conf), "bad agent accepted");
	CHECK(strstr(conf.error, "work.conf:2: agent: unknown address") != NULL, "%s", conf.error);
	CHECK(!load_conf("[vm]\ncolor = red\nthis line is not ini\ncolor = blue\n", &conf),
		"syntax error accepted");
	CHECK(strstr(conf.error, "work.conf:3: syntax error") != NULL, "%s", conf.error);
	char long_line[600];
	memset(long_line, 'x', sizeof(long_line));
	memcpy(long_line, "[vm]\n\n; ", 8);
	memcpy(long_line + sizeof(long_line) - 12, "\ncolor=red\n", 12);
	long_line[sizeof(long_line) - 1] = '\0';
	CHECK(!load_conf(long_line, &conf), "over-long line accepted");
	CHECK(strstr(conf.error, "work.conf:3: line longer than") != NULL, "%s", conf.error);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_vmconf),
	TAP_CASE(test_run_roundtrip),
	TAP_CASE(test_env_whitelist),
	TAP_CASE(test_app_roundtrip_and_icon_check),
	TAP_CASE(test_text_rules),
	TAP_CASE(test_desktop_ids),
	TAP_CASE(test_decoder_rejects),
	TAP_CASE(test_conn_framing),
	TAP_CASE(test_addresses),
	TAP_CASE(test_backoff),
	TAP_CASE(test_exec_split),
	TAP_CASE(test_categories),
};

TAP_MAIN(cases)
