#define LOG_TAG "link"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocols/clock.h"
#include "protocols/link-conn-private.h"
#include "protocols/log.h"

/*
 * Frames in: the handshake, every whole frame to the owner, bulk data read
 * straight to the owner's memory, and the resynchronisation of serial
 * carriers.
 */

static void protocol_error(struct vd_link_conn *conn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void protocol_error(struct vd_link_conn *conn, const char *fmt, ...) {
	char text[600];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: %s", text);
}

static void handle_hello(struct vd_link_conn *conn, const struct vd_link_hello *hello) {
	const struct vd_link_set *set = conn->config.set;
	if (hello->set != set->id) {
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_UNSUPPORTED,
			"the peer speaks another link (set %u, not the %s set)", hello->set, set->name);
		return;
	}
	if (hello->min_version > VD_LINK_VERSION || hello->max_version < VD_LINK_VERSION ||
			hello->min_version > hello->max_version) {
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_UNSUPPORTED,
			"no common link version (the peer speaks %u..%u, we %u)", hello->min_version,
			hello->max_version, VD_LINK_VERSION);
		return;
	}
	bool serial = conn->config.carrier == VD_LINK_CARRIER_SERIAL;
	if (!serial && conn->state == STATE_READY) {
		protocol_error(conn, "a second HELLO");
		return;
	}
	if (serial) {
		bool new_peer = hello->nonce != conn->peer_nonce;
		if (new_peer && conn->state == STATE_READY) {
			conn->state = STATE_HANDSHAKE;
			if (conn->impl->reset != NULL) {
				conn->impl->reset(conn);
				if (conn->state != STATE_HANDSHAKE) {
					return;
				}
			}
		}
		conn->peer_nonce = hello->nonce;
		if (new_peer || hello->peer_nonce != conn->nonce) {
			link_conn_send_hello(conn); // the peer needs to see its session echoed
		}
		if (hello->peer_nonce != conn->nonce || conn->state == STATE_READY) {
			return;
		}
	} else {
		conn->peer_nonce = hello->nonce;
	}
	conn->caps = hello->caps & conn->config.caps;
	conn->peer_max_frame = hello->max_frame < conn->config.set->max_frame ?
		hello->max_frame : conn->config.set->max_frame;
	snprintf(conn->peer_software, sizeof(conn->peer_software), "%s", hello->software);
	conn->state = STATE_READY;
	wl_event_source_timer_update(conn->timer, 0);
	if (conn->impl->ready != NULL) {
		conn->impl->ready(conn);
	}
}

/*
 * Serial carriers: the byte stream lost its frame boundary (a peer restarted
 * in the middle of a frame, or sent garbage). Skip to the next SYNC marker
 * and shake hands again; what was in flight is lost (reset()).
 */
static void resync(struct vd_link_conn *conn, const char *why) {
	vd_log(VD_WARN, "link out of step, resynchronising: %s", why);
	vd_link_reader_hunt(&conn->reader);
	conn->peer_nonce = 0; // whoever answers is a new session
	if (conn->state == STATE_READY) {
		conn->state = STATE_HANDSHAKE;
		if (conn->impl->reset != NULL) {
			conn->impl->reset(conn);
			if (conn->state != STATE_HANDSHAKE) {
				return;
			}
		}
	}
	link_conn_send_hello(conn);
	wl_event_source_timer_update(conn->timer, HELLO_RESEND_MS);
}

/* Handles one frame; false when the link should read no further now. */
static bool handle_frame(struct vd_link_conn *conn, const struct vd_link_header *header,
		const uint8_t *payload) {
	const struct vd_link_set *set = conn->config.set;
	int peer_role = conn->config.role ^ 1;
	struct vd_link_msg msg;
	char err[512];
	bool serial = conn->config.carrier == VD_LINK_CARRIER_SERIAL;
	if (!vd_link_decode(set, peer_role, header, payload, &msg, err, sizeof(err))) {
		if (serial && conn->state == STATE_HANDSHAKE) {
			return true; // a remnant of an old session
		}
		if (serial) {
			resync(conn, err);
			return !conn->destroyed && !vd_link_conn_closing(conn);
		}
		if (conn->state == STATE_READY && header->type != VD_LINK_HELLO &&
				conn->impl->refused != NULL && conn->impl->refused(conn, header, err)) {
			return !vd_link_conn_closing(conn);
		}
		protocol_error(conn, "%s", err);
		return false;
	}
	if (msg.type == VD_LINK_HELLO) {
		handle_hello(conn, &msg.body.hello);
	} else if (conn->state != STATE_READY) {
		if (!serial) {
			protocol_error(conn, "%s before HELLO", vd_link_type_name(set, msg.type));
		}
	} else {
		const struct vd_link_message *desc = vd_link_set_find(set, msg.type);
		if ((desc->cap & conn->caps) != desc->cap) {
			protocol_error(conn, "%s without its capability", desc->name);
		} else {
			conn->impl->message(conn, &msg);
		}
	}
	vd_link_msg_finish(&msg);
	return !conn->destroyed && !vd_link_conn_closing(conn);
}


/* Delivers a bulk frame whose data has all arrived; false when reading should stop. */
static bool bulk_deliver(struct vd_link_conn *conn) {
	conn->partial_since_ms = 0;
	conn->bulk.active = false;
	conn->bulk.declined = false;
	conn->bulk.expect = true;
	conn->impl->message(conn, &conn->bulk.msg);
	return !conn->destroyed && !vd_link_conn_closing(conn);
}

/*
 * The frame at the head is of a bulk type and its data is not all here: the
 * owner may take it (bulk_target). Returns true if it did, with what was
 * read of the data already copied there.
 */
static bool bulk_begin(struct vd_link_conn *conn) {
	struct vd_link_header header;
	const uint8_t *payload;
	size_t avail, head_size;
	char err[256];
	if (conn->impl->bulk_target == NULL || conn->state != STATE_READY || conn->bulk.declined ||
			vd_link_reader_head(&conn->reader, &header, &payload, &avail, err,
				sizeof(err)) != VD_LINK_NEXT_FRAME || avail == header.length) {
		return false;
	}
	struct vd_link_msg *msg = &conn->bulk.msg;
	if (vd_link_decode_head(conn->config.set, conn->config.role ^ 1, &header, payload, avail,
			msg, &head_size, err, sizeof(err)) != VD_LINK_HEAD_OK) {
		return false; // read whole, and refused (or handled) as any frame
	}
	const struct vd_link_message *desc = vd_link_set_find(conn->config.set, msg->type);
	if ((desc->cap & conn->caps) != desc->cap) {
		return false;
	}
	uint8_t *target = conn->impl->bulk_target(conn, msg);
	if (target == NULL || conn->destroyed || vd_link_conn_closing(conn)) {
		conn->bulk.declined = true;
		return false;
	}
	const struct vd_link_field *data = &desc->fields[desc->nfields - 1];
	uint32_t len;
	memcpy(&len, (const uint8_t *)&msg->body + data->count_offset, sizeof(len));
	memcpy((uint8_t *)&msg->body + data->offset, &target, sizeof(target));
	size_t got = avail - head_size;
	memcpy(target, payload + head_size, got);
	vd_link_reader_skip(&conn->reader, VD_LINK_HEADER_SIZE + avail);
	conn->bulk.active = true;
	conn->bulk.target = target;
	conn->bulk.len = len;
	conn->bulk.got = got;
	return true;
}

/*
 * How much to read now: while a bulk frame's head is incomplete, only up to
 * its end, so that the data can still go straight to its place.
 */
static size_t read_limit(struct vd_link_conn *conn, size_t space) {
	struct vd_link_header header;
	const uint8_t *payload;
	size_t avail;
	char err[8];
	if (conn->impl->bulk_target == NULL || conn->state != STATE_READY ||
			conn->bulk.declined) {
		return space;
	}
	if (conn->bulk.expect && vd_link_reader_pending(&conn->reader) == 0) {
		/* after a bulk frame, read a head alone: its data may go straight to its place */
		conn->bulk.expect = false;
		return space < conn->bulk.head_max ? space : conn->bulk.head_max;
	}
	if (vd_link_reader_head(&conn->reader, &header, &payload, &avail, err,
			sizeof(err)) != VD_LINK_NEXT_FRAME) {
		return space; // no header yet: the reader asks for a chunk
	}
	const struct vd_link_message *desc = vd_link_set_find(conn->config.set, header.type);
	if (desc == NULL || !desc->bulk || avail >= 64 || avail == header.length) {
		return space;
	}
	size_t want = 64 - avail;
	return space < want ? space : want;
}

/* Handles every whole frame the reader holds; false when reading should stop. */
static bool handle_frames(struct vd_link_conn *conn) {
	for (;;) {
		if (bulk_begin(conn)) {
			return true;
		}
		if (conn->destroyed || vd_link_conn_closing(conn)) {
			return false;
		}
		struct vd_link_header header;
		const uint8_t *payload;
		char err[256];
		enum vd_link_next next = vd_link_reader_next(&conn->reader, &header, &payload,
			err, sizeof(err));
		if (next == VD_LINK_NEXT_NONE) {
			return true;
		}
		if (next == VD_LINK_NEXT_ERROR) {
			if (conn->config.carrier == VD_LINK_CARRIER_SERIAL) {
				resync(conn, err);
				if (conn->destroyed || vd_link_conn_closing(conn)) {
					return false;
				}
				continue;
			}
			protocol_error(conn, "%s", err);
			return false;
		}
		conn->bulk.declined = false; // the next frame is another one
		conn->partial_since_ms = 0;
		if (!handle_frame(conn, &header, payload)) {
			return false;
		}
	}
}

/*
 * Serial carriers: a frame that stays incomplete while bytes keep coming
 * (link.md, "Handshake"): a peer restarted in its middle, and what follows
 * is the new session's, whose SYNC and HELLO the frame swallows. Without
 * this the new session would wait until enough HELLOs completed the frame.
 */
static void check_stall(struct vd_link_conn *conn) {
	size_t pending = vd_link_reader_pending(&conn->reader);
	if (conn->config.carrier != VD_LINK_CARRIER_SERIAL || conn->reader.hunting ||
			(pending == 0 && !conn->bulk.active)) {
		conn->partial_since_ms = 0;
		return;
	}
	uint64_t now = vd_now_ms();
	if (conn->partial_since_ms == 0) {
		conn->partial_since_ms = now;
		return;
	}
	size_t length = conn->bulk.len;
	/* what the frame holds so far: a new session shows itself by a SYNC marker */
	const uint8_t *got = conn->bulk.target;
	size_t got_len = conn->bulk.got;
	struct vd_link_header header;
	const uint8_t *payload;
	size_t avail;
	char err[8];
	if (!conn->bulk.active) {
		if (vd_link_reader_head(&conn->reader, &header, &payload, &avail, err,
				sizeof(err)) != VD_LINK_NEXT_FRAME) {
			return;
		}
		length = header.length;
		got = payload;
		got_len = avail;
	}
	uint64_t limit = FRAME_STALL_MS + (length >> 12);
	if (now - conn->partial_since_ms < limit || got == NULL ||
			memmem(got, got_len, vd_link_sync, VD_LINK_SYNC_SIZE) == NULL) {
		return;
	}
	char why[128];
	snprintf(why, sizeof(why), "a frame of %zu bytes incomplete after %llu ms", length,
		(unsigned long long)(now - conn->partial_since_ms));
	conn->partial_since_ms = 0;
	conn->bulk.active = false; // the rest is not its data: the hunt reads it
	conn->bulk.declined = false;
	resync(conn, why);
}

/* Reads what is there (within the budget) and handles every whole frame. */
void link_conn_handle_readable(struct vd_link_conn *conn) {
	size_t budget = READ_BUDGET;
	bool eof = false;
	int error = 0;
	while (budget > 0 && !eof) {
		uint8_t *p;
		size_t space;
		if (conn->bulk.active) {
			p = conn->bulk.target + conn->bulk.got;
			space = conn->bulk.len - conn->bulk.got;
		} else {
			p = vd_link_reader_space(&conn->reader, &space);
			if (p == NULL) {
				link_conn_fail(conn, "out of memory");
				return;
			}
			space = read_limit(conn, space);
		}
		size_t want = space < budget ? space : budget;
		ssize_t n = read(conn->fd, p, want);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		}
		if (n < 0 && !(conn->port && errno == EIO)) {
			char reason[128];
			snprintf(reason, sizeof(reason), "read: %s", strerror(errno));
			link_conn_fail(conn, reason);
			return;
		}
		if (n <= 0) {
			eof = true;
			error = n < 0 ? errno : 0;
			break;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		if (conn->bulk.active) {
			conn->bulk.got += (size_t)n;
			if (conn->bulk.got == conn->bulk.len && !bulk_deliver(conn)) {
				return;
			}
		} else {
			vd_link_reader_commit(&conn->reader, (size_t)n);
			/* frames as they come, so that the buffer never holds more than one */
			if (!handle_frames(conn)) {
				return;
			}
		}
		if ((size_t)n < want) {
			break; // a short read: nothing more now (the loop says when there is)
		}
	}
	if (!eof && conn->state != STATE_FAILED && conn->state != STATE_CLOSED) {
		check_stall(conn);
		if (conn->reader.hunting && !conn->destroyed && !vd_link_conn_closing(conn) &&
				!handle_frames(conn)) {
			return; // what the frame swallowed holds the new HELLO
		}
	}
	if (eof) {
		if (conn->port) {
			(void)error;
			link_conn_port_host_away(conn);
		} else if (conn->config.carrier == VD_LINK_CARRIER_SERIAL) {
			link_conn_fail(conn, "the carrier closed");
		} else if (vd_link_reader_pending(&conn->reader) > 0 || conn->bulk.active) {
			char reason[128];
			snprintf(reason, sizeof(reason), "truncated frame (%zu bytes) at end of stream",
				vd_link_reader_pending(&conn->reader) + conn->bulk.got);
			link_conn_fail(conn, reason);
		} else {
			link_conn_fail(conn, NULL);
		}
	}
}
