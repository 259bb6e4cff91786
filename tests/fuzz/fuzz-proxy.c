/*
 * Fuzzes the proxy's whole message path: a session between a fake client and
 * a fake compositor (two socketpairs), fed from the input. The input is a
 * sequence of records: one byte (bit 0: 0 = from the client, 1 = from the
 * compositor), two bytes of little-endian length, then that many bytes.
 * Whatever the bytes, the session must end cleanly or go on; ASan, UBSan and
 * LeakSanitizer watch the rest. The same records then go through a tracker
 * of the Wayland library (proxy/wl/tracker.h), the guest bridge's parser:
 * client bytes as requests, compositor bytes as events.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/log.h"
#include "proxy/policy.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/wl/tracker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const char vd_default_policy[];

static struct vd_server server;

static void setup(void) {
	static bool done;
	if (done) {
		return;
	}
	done = true;
	vd_log_init("fuzz-proxy", VD_SILENT);
	char err[256];
	server.vm = "fuzz";
	server.frames = true;
	server.color = (struct vd_color){ 0x73, 0xd2, 0x16 };
	server.limits = (struct vd_limits){ .max_objects = 1000, .max_queue = 1 << 20,
		.max_fds = 64 };
	server.policy = vd_policy_parse(vd_default_policy, strlen(vd_default_policy),
		"default.policy", err, sizeof(err));
	if (server.policy == NULL) {
		abort();
	}
	vd_server_init(&server, wl_event_loop_create());
}

static void drain(int fd) {
	uint8_t buf[65536];
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
		// the proxy's output is not checked here, only its survival
	}
}

/* Appends bytes to a connection's input; false when it is full. */
static bool feed(struct vd_connection *conn, const uint8_t *data, size_t len) {
	size_t space;
	uint8_t *tail = vd_connection_in_tail(conn, &space);
	if (len > space) {
		return false;
	}
	memcpy(tail, data, len);
	vd_connection_in_commit(conn, len);
	return true;
}

/* Tracks what a side's input holds; false once it is refused. */
static bool track(struct vd_tracker *tracker, struct vd_connection *in, bool requests) {
	struct vd_tracked out;
	for (;;) {
		enum vd_track_result result = requests ? vd_tracker_request(tracker, in, &out) :
			vd_tracker_event(tracker, in, &out);
		if (result == VD_TRACK_MORE) {
			return true;
		}
		for (uint32_t i = 0; i < out.msg.fd_count; i++) {
			if (out.fds[i] >= 0) {
				close(out.fds[i]);
			}
		}
		if (result == VD_TRACK_ERROR) {
			return false;
		}
		vd_tracker_done(tracker, in, &out);
	}
}

static void fuzz_tracker(const uint8_t *data, size_t size) {
	struct vd_tracker tracker;
	struct vd_connection requests, events;
	if (!vd_tracker_init(&tracker, NULL, 1000)) {
		return;
	}
	if (!vd_connection_init(&requests, 64, 1 << 16) ||
			!vd_connection_init(&events, 64, 1 << 16)) {
		vd_connection_finish(&requests);
		vd_tracker_finish(&tracker);
		return;
	}
	size_t pos = 0;
	bool alive = true;
	while (pos + 3 <= size && alive) {
		bool from_compositor = data[pos] & 1;
		size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
		pos += 3;
		if (len > size - pos) {
			len = size - pos;
		}
		struct vd_connection *in = from_compositor ? &events : &requests;
		alive = feed(in, data + pos, len) && track(&tracker, in, !from_compositor);
		pos += len;
	}
	vd_connection_finish(&requests);
	vd_connection_finish(&events);
	vd_tracker_finish(&tracker);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	setup();
	fuzz_tracker(data, size);
	int client[2], upstream[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, client) != 0) {
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, upstream) != 0) {
		close(client[0]);
		close(client[1]);
		return 0;
	}
	vd_session_create(&server, client[0], upstream[0]);
	size_t pos = 0;
	while (pos + 3 <= size && !wl_list_empty(&server.sessions)) {
		bool from_compositor = data[pos] & 1;
		size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
		pos += 3;
		if (len > size - pos) {
			len = size - pos;
		}
		int fd = from_compositor ? upstream[1] : client[1];
		if (len > 0) {
			(void)!send(fd, data + pos, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		pos += len;
		for (int i = 0; i < 8; i++) {
			wl_event_loop_dispatch(server.loop, 0);
		}
		drain(client[1]);
		drain(upstream[1]);
	}
	struct vd_session *session, *tmp;
	wl_list_for_each_safe(session, tmp, &server.sessions, link) {
		vd_session_destroy(session);
	}
	close(client[1]);
	close(upstream[1]);
	return 0;
}
