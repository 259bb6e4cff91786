#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/link.h"

/*
 * One direction of a link (protocols/link.c) under the fuzzer: the bytes a
 * peer of role FUZZ_SENDER sends on a link of set FUZZ_SET, fed through the
 * capped reader in pieces whose sizes come from the input, every frame
 * decoded as the receiving end does. Beyond memory safety it checks that
 * decoding is canonical (an accepted message encodes back to exactly its
 * frame and validates), that errors say why, and that after a framing error
 * hunting for SYNC never yields a frame that was not after a SYNC marker.
 *
 * Built six times (tests/fuzz/meson.build): guest set from the guest (what
 * vmdesk-hostd reads from a VM) and from the host (what vmdesk-guestd
 * reads), host set from a client (what vmdesk-hostd reads from the CLI and
 * the proxies) and from the server (what they read back), Wayland set from
 * the guest (what vmdesk-proxy reads from a VM's bridge) and from the host
 * (what vmdesk-guest-wayland reads).
 */

#ifndef FUZZ_SET
#error "define FUZZ_SET and FUZZ_SENDER"
#endif

static void check_error(const char *err) {
	size_t len = strnlen(err, 512);
	if (len == 0 || len == 512) {
		abort();
	}
}

static void check_frame(const struct vd_link_header *header, const uint8_t *payload) {
	/* an exact-size copy: the sanitizers see any read past the payload */
	uint8_t *copy = malloc(header->length ? header->length : 1);
	if (copy == NULL) {
		abort();
	}
	memcpy(copy, payload, header->length);
	struct vd_link_msg msg;
	char err[512] = "";
	if (!vd_link_decode(&FUZZ_SET, FUZZ_SENDER, header, copy, &msg, err, sizeof(err))) {
		check_error(err);
		free(copy);
		return;
	}
	if (!vd_link_validate(&FUZZ_SET, &msg, err, sizeof(err))) {
		abort(); // decoded but invalid
	}
	struct vd_link_buf buf = {0};
	if (!vd_link_encode(&FUZZ_SET, &msg, FUZZ_SET.max_frame, &buf, err, sizeof(err))) {
		abort(); // the encoder refuses what the decoder accepted
	}
	uint8_t head[VD_LINK_HEADER_SIZE];
	head[0] = (uint8_t)header->length;
	head[1] = (uint8_t)(header->length >> 8);
	head[2] = (uint8_t)(header->length >> 16);
	head[3] = (uint8_t)(header->length >> 24);
	head[4] = (uint8_t)header->type;
	head[5] = (uint8_t)(header->type >> 8);
	head[6] = head[7] = 0;
	head[8] = (uint8_t)header->id;
	head[9] = (uint8_t)(header->id >> 8);
	head[10] = (uint8_t)(header->id >> 16);
	head[11] = (uint8_t)(header->id >> 24);
	if (buf.len != VD_LINK_HEADER_SIZE + header->length ||
			memcmp(buf.data, head, VD_LINK_HEADER_SIZE) != 0 ||
			memcmp(buf.data + VD_LINK_HEADER_SIZE, copy, header->length) != 0) {
		abort(); // not canonical
	}
	vd_link_buf_finish(&buf);
	vd_link_msg_finish(&msg);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size < 1) {
		return 0;
	}
	/* the first byte picks the piece size of the reads (1..256) */
	size_t step = (size_t)data[0] + 1;
	data++;
	size--;
	struct vd_link_reader reader;
	vd_link_reader_init(&reader, FUZZ_SET.max_frame);
	size_t done = 0;
	while (done < size) {
		size_t space;
		uint8_t *p = vd_link_reader_space(&reader, &space);
		if (p == NULL) {
			abort();
		}
		size_t n = size - done < step ? size - done : step;
		n = n < space ? n : space;
		memcpy(p, data + done, n);
		vd_link_reader_commit(&reader, n);
		done += n;
		for (;;) {
			struct vd_link_header header;
			const uint8_t *payload;
			char err[512] = "";
			enum vd_link_next next = vd_link_reader_next(&reader, &header, &payload, err,
				sizeof(err));
			if (next == VD_LINK_NEXT_NONE) {
				break;
			}
			if (next == VD_LINK_NEXT_ERROR) {
				check_error(err);
				vd_link_reader_hunt(&reader); // as on a serial carrier
				continue;
			}
			if (header.length > FUZZ_SET.max_frame || header.flags != 0) {
				abort(); // the reader let a bad header through
			}
			check_frame(&header, payload);
		}
		if (vd_link_reader_pending(&reader) > FUZZ_SET.max_frame + VD_LINK_HEADER_SIZE +
				64u * 1024u + VD_LINK_SYNC_SIZE) {
			abort(); // the cap does not hold
		}
	}
	vd_link_reader_finish(&reader);
	return 0;
}
