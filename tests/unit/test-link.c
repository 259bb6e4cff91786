#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/link-conn.h"
#include "protocols/link.h"
#include "protocols/names.h"
#include "protocols/text.h"
#include "tests/unit/tap.h"

/*
 * The link codec (protocols/link.c) and a link end on an event loop
 * (protocols/link-conn.c): round trips, every rule the decoder enforces,
 * the capped reader, resynchronisation, the handshake, flow control and the
 * lifetime rule.
 */

static char err[512];

/* Encodes in, reads it back through a reader, decodes as sent by role sender. */
static bool roundtrip(const struct vd_link_set *set, int sender, const struct vd_link_msg *in,
		struct vd_link_msg *out) {
	struct vd_link_buf buf = {0};
	if (!vd_link_encode(set, in, set->max_frame, &buf, err, sizeof(err))) {
		printf("# encode: %s\n", err);
		return false;
	}
	struct vd_link_reader reader;
	vd_link_reader_init(&reader, set->max_frame);
	size_t space;
	uint8_t *p = vd_link_reader_space(&reader, &space);
	if (p == NULL || space < buf.len) {
		/* a frame over one chunk: feed it in pieces */
		size_t done = 0;
		while (done < buf.len) {
			p = vd_link_reader_space(&reader, &space);
			size_t n = buf.len - done < space ? buf.len - done : space;
			memcpy(p, buf.data + done, n);
			vd_link_reader_commit(&reader, n);
			done += n;
		}
	} else {
		memcpy(p, buf.data, buf.len);
		vd_link_reader_commit(&reader, buf.len);
	}
	struct vd_link_header header;
	const uint8_t *payload;
	bool ok = vd_link_reader_next(&reader, &header, &payload, err, sizeof(err)) ==
			VD_LINK_NEXT_FRAME &&
		vd_link_decode(set, sender, &header, payload, out, err, sizeof(err));
	if (ok) {
		/* the strings point into the reader: keep a copy of the frame alive */
		static uint8_t *keep;
		free(keep);
		keep = malloc(header.length + 1);
		memcpy(keep, payload, header.length);
		vd_link_msg_finish(out);
		ok = vd_link_decode(set, sender, &header, keep, out, err, sizeof(err));
	} else {
		printf("# decode: %s\n", err);
	}
	vd_link_reader_finish(&reader);
	vd_link_buf_finish(&buf);
	return ok;
}

/* Decodes a hand-made payload of type; whether it was accepted. */
static bool decode_raw(const struct vd_link_set *set, int sender, uint16_t type,
		const void *payload, size_t len) {
	struct vd_link_header header = {.length = (uint32_t)len, .type = type};
	struct vd_link_msg msg;
	err[0] = '\0';
	bool ok = vd_link_decode(set, sender, &header, payload, &msg, err, sizeof(err));
	if (ok) {
		vd_link_msg_finish(&msg);
	}
	return ok;
}

static bool test_run_roundtrip(void) {
	const char *argv[] = {"sh", "-c", "echo \x01\xff"};
	struct vd_link_run_env env[] = {{"LANG", "C.UTF-8"}, {"TZ", "UTC"}};
	struct vd_link_msg in = {.type = VD_LINK_RUN, .id = 7};
	in.body.run = (struct vd_link_run){.flags = VD_LINK_RUN_FLAGS_WAIT, .argv_count = 3,
		.argv = argv, .env_count = 2, .env = env};
	struct vd_link_msg out;
	CHECK(roundtrip(&vd_link_guest, VD_LINK_ROLE_HOST, &in, &out), "RUN did not round-trip");
	CHECK(out.id == 7 && out.body.run.flags == VD_LINK_RUN_FLAGS_WAIT &&
		out.body.run.argv_count == 3 && out.body.run.env_count == 2, "fields changed");
	CHECK_STR(out.body.run.argv[2], "echo \x01\xff");
	CHECK_STR(out.body.run.env[1].value, "UTC");
	vd_link_msg_finish(&out);
	return true;
}

static bool test_app_roundtrip_and_icon_rule(void) {
	uint8_t rgba[4 * 3 * 2];
	memset(rgba, 0x7f, sizeof(rgba));
	struct vd_link_msg in = {.type = VD_LINK_APP};
	in.body.app = (struct vd_link_app){.id = "org.example.Foo.desktop", .name = "Foo",
		.generic_name = "", .comment = "Zürich ☃", .categories = "Utility;X-Foo;",
		.icon_name = "foo", .wm_class = "Foo", .icon_width = 3, .icon_height = 2,
		.icon = rgba, .icon_len = sizeof(rgba)};
	struct vd_link_msg out;
	CHECK(roundtrip(&vd_link_guest, VD_LINK_ROLE_GUEST, &in, &out), "APP did not round-trip");
	CHECK_STR(out.body.app.comment, "Zürich ☃");
	CHECK(out.body.app.icon_len == sizeof(rgba) && memcmp(out.body.app.icon, rgba, 24) == 0,
		"icon");
	vd_link_msg_finish(&out);
	struct vd_link_buf buf = {0};
	in.body.app.icon_width = 4; // lies about the size
	CHECK(!vd_link_encode(&vd_link_guest, &in, UINT32_MAX, &buf, err, sizeof(err)),
		"lying icon size encoded");
	CHECK(strstr(err, "not 4x2 RGBA") != NULL, "reason: %s", err);
	in.body.app.icon_width = 3;
	in.body.app.name = "Bad \xe2\x80\xae name"; // U+202E
	CHECK(!vd_link_encode(&vd_link_guest, &in, UINT32_MAX, &buf, err, sizeof(err)),
		"bidi override encoded");
	CHECK(strstr(err, "invalid name") != NULL, "reason: %s", err);
	CHECK(buf.len == 0, "a refused frame left bytes");
	vd_link_buf_finish(&buf);
	return true;
}

static bool test_host_messages(void) {
	const char *mimes[] = {"text/plain;charset=utf-8", "TEXT"};
	struct vd_link_msg in = {.type = VD_LINK_CLIP_COPY_REQUEST, .id = 42};
	in.body.clip_copy_request = (struct vd_link_clip_copy_request){.max_size = 1024,
		.timeout_ms = 2000, .mimes_count = 2, .mimes = mimes};
	struct vd_link_msg out;
	CHECK(roundtrip(&vd_link_host, VD_LINK_ROLE_SERVER, &in, &out), "COPY_REQUEST");
	CHECK(out.id == 42 && out.body.clip_copy_request.mimes_count == 2, "fields");
	CHECK_STR(out.body.clip_copy_request.mimes[1], "TEXT");
	vd_link_msg_finish(&out);
	char *text = malloc(300000);
	memset(text, 'x', 299999);
	text[299999] = '\0';
	text[5] = '\n';
	in = (struct vd_link_msg){.type = VD_LINK_CTL_TEXT};
	in.body.ctl_text.text = text;
	CHECK(roundtrip(&vd_link_host, VD_LINK_ROLE_SERVER, &in, &out), "CTL_TEXT (u32 string)");
	CHECK(strlen(out.body.ctl_text.text) == 299999, "text length");
	vd_link_msg_finish(&out);
	free(text);
	/* a failed copy carries no data */
	in = (struct vd_link_msg){.type = VD_LINK_CLIP_COPY_REPLY};
	in.body.clip_copy_reply = (struct vd_link_clip_copy_reply){.status =
		VD_LINK_CLIP_STATUS_EMPTY, .mime = "", .data = (const uint8_t *)"x", .data_len = 1,
		.text = "empty"};
	struct vd_link_buf buf = {0};
	CHECK(!vd_link_encode(&vd_link_host, &in, UINT32_MAX, &buf, err, sizeof(err)),
		"data in a failed reply");
	vd_link_buf_finish(&buf);
	return true;
}

/* An empty data field decodes as zero bytes somewhere, not NULL: its
 * consumers copy it (a paste of nothing from the global clipboard). */
static bool test_empty_data_is_not_null(void) {
	const char *mimes[] = {"text/plain"};
	struct vd_link_msg in = {.type = VD_LINK_CLIP_PASTE_REQUEST, .id = 3};
	in.body.clip_paste_request = (struct vd_link_clip_paste_request){.mimes_count = 1,
		.mimes = mimes, .data = NULL, .data_len = 0};
	struct vd_link_msg out;
	CHECK(roundtrip(&vd_link_host, VD_LINK_ROLE_SERVER, &in, &out), "PASTE_REQUEST");
	CHECK(out.body.clip_paste_request.data_len == 0, "length %u",
		out.body.clip_paste_request.data_len);
	CHECK(out.body.clip_paste_request.data != NULL, "empty data decoded as NULL");
	vd_link_msg_finish(&out);
	return true;
}

static bool test_sets_and_roles(void) {
	uint8_t run[] = {0, 0, 0, 0, 1, 0, 4, 0, 't', 'r', 'u', 'e', 0, 0, 0};
	CHECK(decode_raw(&vd_link_guest, VD_LINK_ROLE_HOST, VD_LINK_RUN, run, sizeof(run)),
		"RUN from the host: %s", err);
	CHECK(!decode_raw(&vd_link_guest, VD_LINK_ROLE_GUEST, VD_LINK_RUN, run, sizeof(run)),
		"RUN from a guest accepted");
	CHECK(strstr(err, "RUN may not come from the guest") != NULL, "reason: %s", err);
	/* A guest link does not know host-local types at all. */
	uint8_t ctl[] = {2, 0, 'v', 'm', 0};
	CHECK(decode_raw(&vd_link_host, VD_LINK_ROLE_CLIENT, VD_LINK_CTL_APPS, ctl, sizeof(ctl)),
		"CTL_APPS on a host link: %s", err);
	for (uint32_t type = 0x7f00; type <= 0xffff; type++) {
		CHECK(!decode_raw(&vd_link_guest, VD_LINK_ROLE_GUEST, (uint16_t)type, ctl,
			sizeof(ctl)), "type 0x%04x accepted on the guest link", type);
	}
	CHECK(strstr(err, "unknown message type") != NULL, "reason: %s", err);
	for (size_t i = 0; i < vd_link_host.count; i++) {
		CHECK(vd_link_set_find(&vd_link_guest, vd_link_host.messages[i].type) == NULL ||
			vd_link_host.messages[i].type < 0x100, "type shared by the sets");
	}
	return true;
}

static bool test_decoder_rejects(void) {
	const struct vd_link_set *g = &vd_link_guest;
	uint8_t idle[6] = {1, 5, 0, 0, 0, 9};
	CHECK(!decode_raw(g, 1, VD_LINK_IDLE, idle, sizeof(idle)), "trailing byte");
	CHECK(strstr(err, "trailing") != NULL, "reason: %s", err);
	CHECK(!decode_raw(g, 1, VD_LINK_IDLE, idle, 3), "truncated accepted");
	CHECK(strstr(err, "truncated") != NULL, "reason: %s", err);
	idle[0] = 2;
	CHECK(!decode_raw(g, 1, VD_LINK_IDLE, idle, 5), "idle 2 accepted");
	uint8_t begin[8] = {1, 0, 0, 0, 0x40, 0x42, 0x0f, 0}; // a million apps
	CHECK(!decode_raw(g, 1, VD_LINK_APPS_BEGIN, begin, sizeof(begin)), "a million apps");
	uint8_t sig[4] = {11, 0, 0, 0}; // SIGSEGV
	CHECK(!decode_raw(g, 0, VD_LINK_SIGNAL, sig, sizeof(sig)), "SIGSEGV allowed");
	CHECK(strstr(err, "unknown signo 11") != NULL, "reason: %s", err);
	uint8_t ex[5] = {0, 0, 1, 0, 0}; // status 256
	CHECK(!decode_raw(g, 1, VD_LINK_RUN_EXIT, ex, sizeof(ex)), "status 256");
	uint8_t flags[15] = {4, 0, 0, 0, 1, 0, 4, 0, 't', 'r', 'u', 'e', 0, 0, 0};
	CHECK(!decode_raw(g, 0, VD_LINK_RUN, flags, sizeof(flags)), "unknown run flag");
	CHECK(strstr(err, "unknown flags bits 0x4") != NULL, "reason: %s", err);
	uint8_t nul[15] = {0, 0, 0, 0, 1, 0, 4, 0, 't', 0, 'u', 'e', 0, 0, 0};
	CHECK(!decode_raw(g, 0, VD_LINK_RUN, nul, sizeof(nul)), "NUL inside a string");
	uint8_t unterminated[15] = {0, 0, 0, 0, 1, 0, 4, 0, 't', 'r', 'u', 'e', 'x', 0, 0};
	CHECK(!decode_raw(g, 0, VD_LINK_RUN, unterminated, sizeof(unterminated)),
		"unterminated string");
	uint8_t many[10] = {0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}; // 65535 arguments
	CHECK(!decode_raw(g, 0, VD_LINK_RUN, many, sizeof(many)), "65535 arguments");
	uint8_t empty_argv0[11] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	CHECK(!decode_raw(g, 0, VD_LINK_RUN, empty_argv0, sizeof(empty_argv0)), "empty argv[0]");
	CHECK(strstr(err, "empty program name") != NULL, "reason: %s", err);
	uint8_t env[] = {0, 0, 0, 0, 1, 0, 1, 0, 'x', 0, 1, 0, 10, 0, 'L', 'D', '_', 'P', 'R', 'E',
		'L', 'O', 'A', 'D', 0, 1, 0, 'x', 0};
	CHECK(!decode_raw(g, 0, VD_LINK_RUN, env, sizeof(env)), "LD_PRELOAD accepted");
	CHECK(strstr(err, "invalid name") != NULL, "reason: %s", err);
	return true;
}

static bool test_text_rules(void) {
	static const struct {
		const char *s;
		unsigned flags;
		bool ok;
	} cases[] = {
		{"Fir\xc3\xa9" "fox", 0, true},
		{"\xc0\xaf", 0, false}, // overlong
		{"\xed\xa0\x80", 0, false}, // surrogate
		{"\xf4\x90\x80\x80", 0, false}, // past U+10FFFF
		{"\xc2\x85", 0, false}, // C1
		{"a\x1b[31m", 0, false},
		{"a\nb", 0, false},
		{"a\nb\tc", VD_TEXT_NEWLINES, true},
		{"a\rb", VD_TEXT_NEWLINES, false},
		{"a\r\nb", VD_TEXT_NEWLINES | VD_TEXT_CR, true},
		{"\xe2\x98", 0, false}, // truncated
		{"a\xe2\x80\xae", 0, false}, // U+202E
		{"a\xe2\x80\xae", VD_TEXT_FORMAT, true},
		{"a\xe2\x80\xa8", VD_TEXT_NEWLINES, false}, // U+2028
		{"\xef\xbf\xbe", 0, false}, // U+FFFE
		{"\xf0\x9f\x99\x82 \xe2\x80\x8b", 0, true}, // emoji, zero-width space
		{"\x7f", VD_TEXT_NEWLINES | VD_TEXT_CR | VD_TEXT_FORMAT, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(vd_text_valid(cases[i].s, strlen(cases[i].s), cases[i].flags) == cases[i].ok,
			"case %zu", i);
	}
	CHECK(vd_mime_valid("text/plain;charset=utf-8", 24) && !vd_mime_valid(" x", 2) &&
		!vd_mime_valid("a\tb", 3) && !vd_mime_valid("", 0), "MIME names");
	CHECK(vd_text_data_safe("STRING", (const uint8_t *)"caf\xe9", 4) &&
		!vd_text_data_safe("STRING", (const uint8_t *)"\x9b" "2J", 3) &&
		!vd_text_data_safe("text/plain", (const uint8_t *)"caf\xe9", 4),
		"clipboard data by type");
	return true;
}

static bool test_names(void) {
	static const char *const good[] = {"a", "work", "work-2", "a-b-c", "x9",
		"abcdefghijklmnopqrstuvwxyz012345"};
	static const char *const bad[] = {"", "host", "Work", "2work", "-x", "a_b", "a.b", "a b",
		"abcdefghijklmnopqrstuvwxyz0123456", "wörk", "a/b"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(vd_vm_name_valid(good[i], strlen(good[i])), "refused %s", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!vd_vm_name_valid(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
	}
	CHECK(vd_domain_name_valid("host", 4) && !vd_domain_name_valid("Host", 4), "domains");
	char dbus[VD_VM_NAME_MAX + 1];
	vd_vm_name_dbus("my-work-2", dbus);
	CHECK_STR(dbus, "my_work_2");
	CHECK(vd_desktop_id_valid("org.gnome.Foo.desktop", 21) &&
		!vd_desktop_id_valid("../x.desktop", 12) && !vd_desktop_id_valid("a..b.desktop", 12) &&
		!vd_desktop_id_valid(".x.desktop", 10) && !vd_desktop_id_valid(".desktop", 8),
		"desktop IDs");
	return true;
}

/* Feeds bytes to a reader in pieces of step; counts frames (and errors). */
static int read_frames(struct vd_link_reader *reader, const uint8_t *data, size_t len,
		size_t step, int *errors) {
	int frames = 0;
	*errors = 0;
	for (size_t done = 0; done < len;) {
		size_t space;
		uint8_t *p = vd_link_reader_space(reader, &space);
		size_t n = len - done < step ? len - done : step;
		n = n < space ? n : space;
		memcpy(p, data + done, n);
		vd_link_reader_commit(reader, n);
		done += n;
		for (;;) {
			struct vd_link_header header;
			const uint8_t *payload;
			enum vd_link_next next = vd_link_reader_next(reader, &header, &payload, err,
				sizeof(err));
			if (next == VD_LINK_NEXT_NONE) {
				break;
			}
			if (next == VD_LINK_NEXT_ERROR) {
				(*errors)++;
				vd_link_reader_hunt(reader);
				continue;
			}
			frames++;
		}
	}
	return frames;
}

static bool test_reader(void) {
	struct vd_link_buf buf = {0};
	struct vd_link_msg msg = {.type = VD_LINK_IDLE};
	msg.body.idle = (struct vd_link_idle){.idle = 1, .seconds = 5};
	for (int i = 0; i < 3; i++) {
		CHECK(vd_link_encode(&vd_link_guest, &msg, 1 << 20, &buf, err, sizeof(err)), "%s",
			err);
	}
	vd_link_buf_put_sync(&buf);
	struct vd_link_reader reader;
	int errors;
	for (size_t step = 1; step <= buf.len; step++) {
		vd_link_reader_init(&reader, 1 << 20);
		int frames = read_frames(&reader, buf.data, buf.len, step, &errors);
		CHECK(frames == 3 && errors == 0, "step %zu: %d frames, %d errors", step, frames,
			errors);
		CHECK(vd_link_reader_pending(&reader) == 0, "bytes left");
		vd_link_reader_finish(&reader);
	}
	/* reads shorter than a chunk fill the space already there: one buffer for
	 * a thousand 16-byte reads, not a reallocation (and copy) for each */
	vd_link_reader_init(&reader, 1 << 20);
	size_t space;
	CHECK(vd_link_reader_space(&reader, &space) != NULL && space >= 16, "no space");
	size_t cap = reader.cap;
	for (int i = 0; i < 1000; i++) {
		uint8_t *p = vd_link_reader_space(&reader, &space);
		CHECK(p != NULL && space >= 16 && reader.cap == cap,
			"read %d: the buffer grew from %zu to %zu bytes", i, cap, reader.cap);
		memset(p, 0xf0, 16);
		vd_link_reader_commit(&reader, 16);
	}
	CHECK(vd_link_reader_pending(&reader) == 16000, "bytes lost");
	vd_link_reader_finish(&reader);
	/* over the cap, and unknown flags */
	uint8_t big[12] = {1, 0, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0};
	vd_link_reader_init(&reader, 1 << 20);
	read_frames(&reader, big, sizeof(big), 12, &errors);
	CHECK(errors == 1 && strstr(err, "over the 1048576-byte limit") != NULL, "%s", err);
	vd_link_reader_finish(&reader);
	uint8_t flags[12] = {0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0};
	vd_link_reader_init(&reader, 1 << 20);
	read_frames(&reader, flags, sizeof(flags), 12, &errors);
	CHECK(errors == 1 && strstr(err, "flags") != NULL, "%s", err);
	vd_link_reader_finish(&reader);
	/* Resynchronising: garbage, a broken frame, then SYNC and good frames. */
	size_t len = 200 + buf.len;
	uint8_t *stream = malloc(len);
	for (size_t i = 0; i < 200; i++) {
		stream[i] = (uint8_t)(i * 37 + 0xf0);
	}
	memcpy(stream + 200, vd_link_sync, VD_LINK_SYNC_SIZE);
	memcpy(stream + 200 + VD_LINK_SYNC_SIZE, buf.data, buf.len - VD_LINK_SYNC_SIZE);
	for (size_t step = 1; step < 40; step += 7) {
		vd_link_reader_init(&reader, 1 << 20);
		int frames = read_frames(&reader, stream, len, step, &errors);
		CHECK(frames == 3 && errors >= 1, "resync step %zu: %d frames, %d errors", step,
			frames, errors);
		vd_link_reader_finish(&reader);
	}
	free(stream);
	vd_link_buf_finish(&buf);
	return true;
}

/* ---- link ends on an event loop ---- */

struct end {
	struct vd_link_conn *conn;
	int messages;
	int ready, drained, resets;
	uint32_t last_type;
	uint32_t last_error;
	bool closed;
	char reason[512];
	bool destroy_on_message;
};

static void end_ready(struct vd_link_conn *conn) {
	struct end *end = vd_link_conn_data(conn);
	end->ready++;
}

static void end_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct end *end = vd_link_conn_data(conn);
	end->messages++;
	end->last_type = msg->type;
	if (msg->type == VD_LINK_ERROR) {
		end->last_error = msg->body.error.code;
	}
	if (end->destroy_on_message) {
		vd_link_conn_destroy(conn);
		end->conn = NULL;
	}
}

static void end_drained(struct vd_link_conn *conn) {
	struct end *end = vd_link_conn_data(conn);
	end->drained++;
}

static void end_reset(struct vd_link_conn *conn) {
	struct end *end = vd_link_conn_data(conn);
	end->resets++;
}

static void end_closed(struct vd_link_conn *conn, const char *reason) {
	struct end *end = vd_link_conn_data(conn);
	end->closed = true;
	snprintf(end->reason, sizeof(end->reason), "%s", reason ? reason : "(orderly)");
	vd_link_conn_destroy(conn);
	end->conn = NULL;
}

static const struct vd_link_conn_impl end_impl = {
	.ready = end_ready,
	.message = end_message,
	.drained = end_drained,
	.reset = end_reset,
	.closed = end_closed,
};

static struct vd_link_conn *end_create(struct wl_event_loop *loop, int fd, int role,
		uint32_t caps, enum vd_link_carrier carrier, struct end *end) {
	struct vd_link_conn_config config = {.set = &vd_link_guest, .role = role, .caps = caps,
		.software = "test-link", .carrier = carrier, .max_queue = 256 * 1024};
	*end = (struct end){0};
	end->conn = vd_link_conn_create(loop, fd, &config, &end_impl, end);
	return end->conn;
}

static void spin(struct wl_event_loop *loop, int rounds) {
	for (int i = 0; i < rounds; i++) {
		wl_event_loop_dispatch(loop, 10);
	}
}

static bool test_conn_handshake_and_caps(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "pair");
	struct end host, guest;
	end_create(loop, sv[0], VD_LINK_ROLE_HOST, VD_LINK_GUEST_CAPS_ALL, VD_LINK_CARRIER_STREAM,
		&host);
	end_create(loop, sv[1], VD_LINK_ROLE_GUEST, VD_LINK_CAP_RUN, VD_LINK_CARRIER_STREAM,
		&guest);
	spin(loop, 5);
	CHECK(host.ready == 1 && guest.ready == 1, "ready %d %d", host.ready, guest.ready);
	CHECK(vd_link_conn_caps(host.conn) == VD_LINK_CAP_RUN, "caps 0x%x",
		vd_link_conn_caps(host.conn));
	CHECK_STR(vd_link_conn_peer_software(host.conn), "test-link");
	struct vd_link_msg msg = {.type = VD_LINK_RUN_STARTED, .id = 3};
	msg.body.run_started.pid = 99;
	CHECK(vd_link_conn_send(guest.conn, &msg), "send");
	spin(loop, 3);
	CHECK(host.messages == 1 && host.last_type == VD_LINK_RUN_STARTED, "message");
	/* a capability that was not negotiated ends the link */
	msg = (struct vd_link_msg){.type = VD_LINK_IDLE};
	msg.body.idle.idle = 1;
	CHECK(vd_link_conn_send(guest.conn, &msg), "send IDLE");
	spin(loop, 5);
	CHECK(host.closed && strstr(host.reason, "IDLE without its capability") != NULL,
		"host: %s", host.reason);
	CHECK(guest.closed && guest.last_error == VD_LINK_ERROR_CODE_PROTOCOL,
		"the guest was not told: %s", guest.reason);
	wl_event_loop_destroy(loop);
	return true;
}

static bool test_conn_peer_not_reading(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "pair");
	struct end host;
	end_create(loop, sv[0], VD_LINK_ROLE_HOST, VD_LINK_GUEST_CAPS_ALL, VD_LINK_CARRIER_STREAM,
		&host);
	/* the other end never reads: the queue stops at max_queue */
	uint8_t chunk[60000];
	memset(chunk, 'x', sizeof(chunk));
	const char *argv[] = {(const char *)chunk};
	chunk[sizeof(chunk) - 1] = '\0';
	struct vd_link_msg msg = {.type = VD_LINK_RUN};
	msg.body.run = (struct vd_link_run){.argv_count = 1, .argv = argv};
	int sent = 0;
	while (sent < 1000 && vd_link_conn_send(host.conn, &msg)) {
		sent++;
		spin(loop, 1);
	}
	CHECK(sent < 1000, "the queue grew without bound");
	CHECK(vd_link_conn_closing(host.conn), "not failing");
	CHECK(!host.closed, "closed() ran inside send");
	spin(loop, 2);
	CHECK(host.closed && strstr(host.reason, "does not read") != NULL, "%s", host.reason);
	close(sv[1]);
	wl_event_loop_destroy(loop);
	return true;
}

static bool test_conn_destroy_inside_handler(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "pair");
	struct end host, guest;
	end_create(loop, sv[0], VD_LINK_ROLE_HOST, VD_LINK_GUEST_CAPS_ALL, VD_LINK_CARRIER_STREAM,
		&host);
	end_create(loop, sv[1], VD_LINK_ROLE_GUEST, VD_LINK_GUEST_CAPS_ALL, VD_LINK_CARRIER_STREAM,
		&guest);
	spin(loop, 5);
	host.destroy_on_message = true;
	struct vd_link_msg msg = {.type = VD_LINK_IDLE};
	for (int i = 0; i < 20; i++) {
		vd_link_conn_send(guest.conn, &msg); // many frames in one read
	}
	spin(loop, 5);
	CHECK(host.messages == 1 && host.conn == NULL, "messages after destroy: %d",
		host.messages);
	CHECK(guest.closed, "the guest did not see the end");
	wl_event_loop_destroy(loop);
	return true;
}

static bool test_conn_serial_restart(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "pair");
	int guest_fd = dup(sv[1]);
	struct end host, guest;
	end_create(loop, sv[0], VD_LINK_ROLE_HOST, VD_LINK_GUEST_CAPS_ALL, VD_LINK_CARRIER_SERIAL,
		&host);
	end_create(loop, sv[1], VD_LINK_ROLE_GUEST, VD_LINK_GUEST_CAPS_ALL,
		VD_LINK_CARRIER_SERIAL, &guest);
	spin(loop, 5);
	CHECK(host.ready == 1 && guest.ready == 1, "ready %d %d", host.ready, guest.ready);
	/* The guest dies in the middle of a frame; the carrier stays. */
	vd_link_conn_destroy(guest.conn);
	uint8_t half[] = {200, 0, 0, 0, 0x03, 0x01, 0, 0, 1, 0, 0, 0, 1, 50, 0};
	CHECK(write(guest_fd, half, sizeof(half)) == (ssize_t)sizeof(half), "write");
	spin(loop, 2);
	end_create(loop, guest_fd, VD_LINK_ROLE_GUEST, VD_LINK_GUEST_CAPS_ALL,
		VD_LINK_CARRIER_SERIAL, &guest);
	for (int i = 0; i < 800 && (host.ready < 2 || guest.ready < 1); i++) {
		spin(loop, 1);
	}
	CHECK(host.resets >= 1 && host.ready >= 2 && guest.ready >= 1,
		"after the restart: resets %d, ready %d/%d", host.resets, host.ready, guest.ready);
	struct vd_link_msg msg = {.type = VD_LINK_IDLE};
	msg.body.idle.seconds = 7;
	CHECK(vd_link_conn_send(guest.conn, &msg), "send");
	int before = host.messages;
	for (int i = 0; i < 50 && host.messages == before; i++) {
		spin(loop, 1);
	}
	CHECK(host.messages == before + 1 && host.last_type == VD_LINK_IDLE, "message after resync");
	CHECK(!host.closed, "host closed: %s", host.reason);
	vd_link_conn_destroy(host.conn);
	vd_link_conn_destroy(guest.conn);
	wl_event_loop_destroy(loop);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_run_roundtrip),
	TAP_CASE(test_app_roundtrip_and_icon_rule),
	TAP_CASE(test_host_messages),
	TAP_CASE(test_empty_data_is_not_null),
	TAP_CASE(test_sets_and_roles),
	TAP_CASE(test_decoder_rejects),
	TAP_CASE(test_text_rules),
	TAP_CASE(test_names),
	TAP_CASE(test_reader),
	TAP_CASE(test_conn_handshake_and_caps),
	TAP_CASE(test_conn_peer_not_reading),
	TAP_CASE(test_conn_destroy_inside_handler),
	TAP_CASE(test_conn_serial_restart),
};

TAP_MAIN(cases)
