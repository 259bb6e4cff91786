#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/clip-link.h"

/*
 * The clipboard link's decoder (protocols/clip-link.c), which reads what
 * proxies and CLI clients send to the global clipboard and what it sends
 * back. Input: u16 type (little-endian), then a payload. Beyond memory
 * safety it checks: a decoded message re-encodes and decodes to the same
 * fields, every string is valid for its kind, the error message of a
 * refused payload is non-empty printable text. The same bytes, taken as a
 * stream of frames, also go through a vd_clip_conn over a socketpair.
 */

static void check_error(const char *err, size_t size) {
	size_t len = strnlen(err, size);
	if (len == 0 || len == size) {
		abort();
	}
	for (size_t i = 0; i < len; i++) {
		if (err[i] < 0x20 || err[i] > 0x7e) {
			abort();
		}
	}
}

static void check_same(const struct vd_clip_msg *a, const struct vd_clip_msg *b) {
	if (a->type != b->type || a->id != b->id || a->version != b->version ||
			a->value != b->value || a->max_size != b->max_size ||
			a->timeout_ms != b->timeout_ms || strcmp(a->name, b->name) != 0 ||
			strcmp(a->mime, b->mime) != 0 || a->mime_count != b->mime_count ||
			a->size != b->size || strcmp(a->text, b->text) != 0) {
		abort();
	}
	for (size_t i = 0; i < a->mime_count; i++) {
		if (strcmp(a->mimes[i], b->mimes[i]) != 0 || !clip_link_mime_valid(a->mimes[i])) {
			abort();
		}
	}
	if (a->size > 0 && memcmp(a->data, b->data, a->size) != 0) {
		abort();
	}
}

static void fuzz_decode(const uint8_t *data, size_t size) {
	static struct vd_clip_msg msg, again;
	char err[256];
	/* must not read out of bounds whatever it says */
	(void)clip_link_data_safe(data, size, true);
	(void)clip_link_data_safe(data, size, false);
	if (size < 2) {
		return;
	}
	uint16_t type = (uint16_t)(data[0] | data[1] << 8);
	if (!clip_link_decode(type, data + 2, size - 2, &msg, err, sizeof(err))) {
		check_error(err, sizeof(err));
		return;
	}
	if (!clip_link_text_valid(msg.text) || (msg.name[0] != '\0' &&
			!clip_link_name_valid(msg.name))) {
		abort();
	}
	uint8_t *frame;
	size_t frame_size;
	if (!clip_link_encode(&msg, &frame, &frame_size)) {
		abort();
	}
	if (frame_size < VD_CLIP_HEADER_SIZE || !clip_link_decode(type,
			frame + VD_CLIP_HEADER_SIZE, frame_size - VD_CLIP_HEADER_SIZE, &again, err,
			sizeof(err))) {
		abort();
	}
	check_same(&msg, &again);
	free(frame);
}

static void fuzz_stream(const uint8_t *data, size_t size) {
	static struct vd_clip_msg msg;
	int sv[2];
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		return;
	}
	int sndbuf = 1 << 18;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	close(sv[0]);
	struct vd_clip_conn conn;
	clip_conn_init(&conn, sv[1], 1 << 20);
	char err[256];
	for (int i = 0; i < 1000; i++) {
		int r = clip_conn_read(&conn, err, sizeof(err));
		if (r < 0) {
			check_error(err, sizeof(err));
			break;
		}
		if (r == 0) {
			break;
		}
		r = clip_conn_next(&conn, &msg, err, sizeof(err));
		if (r < 0) {
			check_error(err, sizeof(err));
			break;
		}
		if (r == 0) {
			break;
		}
		if (!clip_conn_send(&conn, &msg)) {
			abort(); // anything decoded encodes
		}
		conn.out_size = 0; // the peer is gone: drop it

	}
	clip_conn_finish(&conn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	fuzz_decode(data, size);
	fuzz_stream(data, size);
	return 0;
}
