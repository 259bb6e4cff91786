#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/agent-wire.h"

/*
 * The agent protocol decoder on a byte stream of frames, as a host or guest
 * would read it. Beyond memory safety it checks that the decoding is
 * canonical: every accepted message encodes back to exactly the bytes it
 * came from, and decodes again.
 */

static void check_roundtrip(const struct vd_agent_header *header, const uint8_t *frame,
		const struct vd_agent_msg *msg) {
	struct vd_agent_buf buf = {0};
	if (!vd_agent_encode(&buf, msg)) {
		abort(); // the decoder accepted what the encoder refuses
	}
	if (buf.len != VD_AGENT_HEADER_SIZE + header->length ||
			memcmp(buf.data, frame, buf.len) != 0) {
		abort(); // not canonical
	}
	struct vd_agent_msg again;
	char err[256];
	if (!vd_agent_decode(header->type, header->id, buf.data + VD_AGENT_HEADER_SIZE,
			header->length, &again, err, sizeof(err))) {
		abort();
	}
	vd_agent_msg_finish(&again);
	vd_agent_buf_finish(&buf);
}

static void check_error(const char *err, size_t size) {
	size_t len = strnlen(err, size);
	if (len == 0 || len == size) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	size_t pos = 0;
	while (size - pos >= VD_AGENT_HEADER_SIZE) {
		struct vd_agent_header header;
		char err[256] = "";
		if (!vd_agent_header_parse(data + pos, &header, err, sizeof(err))) {
			check_error(err, sizeof(err));
			break;
		}
		if (size - pos - VD_AGENT_HEADER_SIZE < header.length) {
			break; // truncated frame
		}
		/* An exact-size copy, so that the sanitizers see reads past the payload. */
		uint8_t *payload = malloc(header.length ? header.length : 1);
		if (payload == NULL) {
			abort();
		}
		memcpy(payload, data + pos + VD_AGENT_HEADER_SIZE, header.length);
		struct vd_agent_msg msg;
		if (vd_agent_decode(header.type, header.id, payload, header.length, &msg, err,
				sizeof(err))) {
			check_roundtrip(&header, data + pos, &msg);
			vd_agent_msg_finish(&msg);
		} else {
			check_error(err, sizeof(err));
		}
		free(payload);
		pos += VD_AGENT_HEADER_SIZE + header.length;
	}
	return 0;
}
