/*
 * fuzz-proxy-vm-link: vmdesk-proxy's VM link under the fuzzer, the path a
 * real VM's bytes take (vmdesk-proxy --guest): the link (proxy/vm-link.c),
 * its channels (proxy/channel.c), the pools' mirrors (proxy/mirror.c) and
 * what a channel brings (proxy/wl/channel-in.c), then each channel's
 * session through the whole message path to the fake compositor of
 * fuzz-proxy (tests/fuzz/proxy-harness.h).
 *
 * The harness plays the guest's vmdesk-guest-wayland on the link: it shakes
 * hands (HELLO with the nonces, its WL_LIMITS), answers pings, acknowledges
 * data, and turns the input's records into link frames: channels opened and
 * closed, Wayland requests built from the protocol tables as WL_DATA (their
 * fds as WL_POOL and WL_PIPE before them), buffer contents before a commit,
 * pool updates, raw and generated frames (tests/fuzz/link-gen.h) for the
 * decoder's refusals. Each channel's compositor connection is a socketpair
 * made when the proxy connects upstream for it (vd_server_connect_upstream
 * is wrapped at link time), so the harness knows which channel it serves.
 *
 * The oracle: what the proxy sends the compositor parses and names objects
 * the compositor has (as in fuzz-proxy); what it sends back on the link
 * decodes with the real codec as frames of the host, for channels the guest
 * opened and the host did not close, within the guest's windows, and their
 * Wayland bytes parse as events naming objects the guest's client has.
 *
 * Input header: fuzz-proxy's (proxy-harness.h), byte 3 the FZ_V_* flags.
 * Records: kinds VL_K_*, with fuzz-proxy's FZ_F_EXACT, FZ_F_MIRROR,
 * FZ_F_BROADCAST and FZ_F_BATCH flags. REQUEST and EVENT payloads are a
 * channel value (SEL/SMALL k: the k-th open channel; U32: its number), then
 * those of fuzz-proxy. CHANNEL: an operation (enum vl_op), a channel, then
 * the operation's values. FRAME: link-gen.h values (id SEL: among the
 * channels). RAW_LINK: bytes as they are. CONTROL: enum vl_control, values.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/link.h"
#include "proxy/session.h"
#include "proxy/vm-link.h"
#include "tests/fuzz/link-gen.h"
#include "tests/fuzz/proxy-harness.h"
#include "tests/fuzz/vm-guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);


enum vl_kind {
	VL_K_REQUEST, // a guest client's request on a channel
	VL_K_EVENT, // the compositor's event to a channel's session
	VL_K_FRAME, // a link frame from the tables (link-gen.h)
	VL_K_RAW_LINK, // raw bytes on the link
	VL_K_CHANNEL, // the guest does something on a channel (enum vl_op)
	VL_K_CONTROL, // a peer does something else (enum vl_control)
	VL_K_HOSTD, // vmdesk-hostd sends a frame
	VL_K_COUNT,
};

enum vl_op {
	VL_OP_OPEN, // WL_OPEN of a new channel (SMALL k: k numbers skipped)
	VL_OP_CLOSE, // WL_CLOSE (reason: BYTES, or a sample)
	VL_OP_CLOSE_MID, // WL_DATA of a message cut short (n bytes of it), then WL_CLOSE
	VL_OP_POOL_DATA, // pool, offset, width, rows, stride, split (SMALL 1: in two writes)
	VL_OP_POOL_DIFF, // pool, offset, then runs (skip, length) or BYTES: the data as is
	VL_OP_POOL_COPY, // src pool, dst pool, src offset, dst offset, width, rows, strides
	VL_OP_POOL_DISCARD, // pool, offset, length
	VL_OP_POOL_RESIZE, // pool, size
	VL_OP_POOL_SEALED, // pool
	VL_OP_POOL_FREE, // pool
	VL_OP_ACK, // bytes (absent: all the host sent)
	VL_OP_PIPE_DATA, // pipe, data (BYTES, LEN n), SMALL 1: the pipe stays open
	VL_OP_PIPE_CLOSE, // pipe
	VL_OP_COUNT,
};

enum vl_control {
	VL_C_COMPOSITOR_HANGUP, // a channel's compositor connection closes
	VL_C_COMPOSITOR_READING, // value: 0 stops reading the proxy's requests, else resumes
	VL_C_LINK_READING, // value: 0 the guest stops reading the link, else resumes
	VL_C_LINK_HANGUP, // the guest's end closes (the link is made again)
	VL_C_RESTART, // the guest's bridge restarts: HELLO with a new nonce
	VL_C_LIMITS, // WL_LIMITS again (value: window)
	VL_C_WAIT, // time passes (value: ms, at most 2): timers run (pings)
	VL_C_HOSTD_RAW, // raw bytes (BYTES value) on the hostd link
	VL_C_PONG, // WL_PONG (value: seq; absent: the last ping's)
	VL_C_COUNT,
};


static struct vl_pool *pool_of_object(struct vl_channel *c, uint32_t object) {
	for (size_t i = 0; i < c->npools; i++) {
		if (c->pools[i].object == object && object != 0) {
			return &c->pools[i];
		}
	}
	return NULL;
}

static uint32_t pool_add(struct vl_channel *c, uint32_t size, uint32_t object) {
	if (c->npools == VL_POOLS) {
		memmove(&c->pools[0], &c->pools[1], (VL_POOLS - 1) * sizeof(c->pools[0]));
		c->npools--;
	}
	uint32_t number = c->next_pool++;
	c->pools[c->npools++] = (struct vl_pool){.number = number, .object = object, .size = size};
	return number;
}

/* An fd of the client's request becomes a link object, as the guest's bridge makes it. */
static void send_fd_object(struct vl_harness *v, struct vl_channel *c, int fd, uint32_t object) {
	struct stat st;
	if (fstat(fd, &st) != 0) {
		return;
	}
	struct vd_link_msg msg = {.id = c->id};
	if (S_ISREG(st.st_mode)) {
		uint64_t size = (uint64_t)st.st_size;
		size = size == 0 ? 1 : size > INT32_MAX ? INT32_MAX : size;
		msg.type = VD_LINK_WL_POOL;
		msg.body.wl_pool = (struct vd_link_wl_pool){.size = (uint32_t)size};
		msg.body.wl_pool.pool = pool_add(c, (uint32_t)size, object);
	} else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		int flags = fcntl(fd, F_GETFL);
		uint8_t end = flags >= 0 && (flags & O_ACCMODE) == O_RDONLY ? VD_LINK_PIPE_END_READ :
			VD_LINK_PIPE_END_WRITE;
		msg.type = VD_LINK_WL_PIPE;
		msg.body.wl_pipe = (struct vd_link_wl_pipe){.pipe = c->next_pipe++, .end = end};
		vl_pipe_add(c, msg.body.wl_pipe.pipe, end, false);
	} else {
		return; // the bridge ends a client that sends another fd: here it goes without it
	}
	vl_link_put(v, &msg);
}

static uint32_t msg_word(const struct fz_msg *msg, size_t index) {
	uint32_t word = 0;
	size_t at = 8 + 4 * index;
	if (msg->size <= FZ_MSG_MAX && at + 4 <= msg->size) {
		memcpy(&word, msg->data + at, 4);
	}
	return word;
}

/* Rows of a pool, in frames of at most CONTENTS_FRAME; split: each in two writes. */
static void send_rows(struct vl_harness *v, struct vl_channel *c, uint32_t pool,
		uint32_t offset, uint32_t stride, uint32_t width, uint32_t rows, bool split) {
	if (width == 0 || width > CONTENTS_FRAME) {
		return;
	}
	uint32_t per_frame = stride == width ? CONTENTS_FRAME / width : 1;
	per_frame = per_frame > 0 ? per_frame : 1;
	uint64_t budget = CONTENTS_MAX;
	while (rows > 0 && budget >= width) {
		uint32_t n = rows < per_frame ? rows : per_frame;
		if ((uint64_t)n * width > budget) {
			n = (uint32_t)(budget / width);
		}
		struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_DATA, .id = c->id};
		msg.body.wl_pool_data = (struct vd_link_wl_pool_data){.pool = pool, .offset = offset,
			.stride = stride, .width = width, .data = vl_pattern, .data_len = n * width};
		size_t before = v->out.len;
		vl_link_put(v, &msg);
		if (split && v->out.len - before > 64) {
			/* the head and some data first: the proxy reads the rest straight to its
			 * place (link.md, "Bulk data") */
			size_t keep = v->out.len - before - (v->out.len - before) / 2;
			size_t rest_len = v->out.len - before - keep;
			uint8_t *rest = malloc(rest_len);
			if (rest != NULL) {
				memcpy(rest, v->out.data + before + keep, rest_len);
				v->out.len = before + keep;
				for (int i = 0; i < 4 && vl_pump_once(v); i++) {
				}
				if (v->fd >= 0) {
					lg_put(&v->out, rest, rest_len);
				}
				free(rest);
			}
		}
		budget -= (uint64_t)n * width;
		offset += n * stride;
		rows -= n;
	}
}

/* Before a commit: the attached buffer's contents (the whole buffer, as the first time). */
static void send_contents(struct vl_harness *v, struct vl_channel *c) {
	for (size_t i = 0; i < c->nbuffers; i++) {
		const struct vl_buffer *b = &c->buffers[i];
		if (b->object != c->attached || c->attached == 0) {
			continue;
		}
		const struct vl_pool *pool = vl_pool_find(c, b->pool);
		uint32_t row = b->stride < b->width * 4 ? b->stride : b->width * 4;
		if (pool == NULL || row == 0 || b->height == 0 || b->stride == 0 ||
				(uint64_t)b->offset + (uint64_t)(b->height - 1) * b->stride + row > pool->size) {
			return; // the compositor refuses such a buffer: the guest sends nothing
		}
		send_rows(v, c, b->pool, b->offset, b->stride, row, b->height, false);
		return;
	}
}

static void do_request(struct vl_harness *v, const struct fz_record *rec) {
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	struct fz_value vc;
	fz_take_value(&r, &vc);
	struct vl_channel *c = vl_channel_choose(v, &vc, true);
	struct fz_session *s = vl_channel_session(v, c);
	if (s == NULL) {
		return;
	}
	static struct fz_msg msg;
	if (!fz_build_request(s, rec->kind, &r, &msg)) {
		return;
	}
	if (msg.destructor) {
		if (msg.target >= FZ_SERVER_ID) {
			fz_model_free_id(&s->client_model, msg.target);
		} else {
			fz_model_kill(&s->client_model, msg.target);
		}
	}
	const struct vd_interface *iface = msg.interface;
	bool create_pool = iface == &vd_iface_wl_shm && msg.opcode == VD_WL_SHM_REQUEST_CREATE_POOL;
	for (size_t i = 0; i < msg.nfds; i++) {
		send_fd_object(v, c, msg.fds[i], create_pool ? msg_word(&msg, 0) : 0);
	}
	fz_msg_close_fds(&msg);
	struct vl_pool *pool = iface == &vd_iface_wl_shm_pool ? pool_of_object(c, msg.target) : NULL;
	if (pool != NULL && msg.opcode == VD_WL_SHM_POOL_REQUEST_RESIZE) {
		uint32_t size = msg_word(&msg, 0);
		if (size > pool->size && size <= INT32_MAX) {
			struct vd_link_msg m = {.type = VD_LINK_WL_POOL_RESIZE, .id = c->id};
			m.body.wl_pool_resize = (struct vd_link_wl_pool_resize){.pool = pool->number,
				.size = size};
			vl_link_put(v, &m);
			pool->size = size;
		}
	} else if (pool != NULL && msg.opcode == VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER &&
			c->nbuffers < VL_BUFFERS) {
		c->buffers[c->nbuffers++] = (struct vl_buffer){.object = msg_word(&msg, 0),
			.pool = pool->number, .offset = msg_word(&msg, 1), .width = msg_word(&msg, 2),
			.height = msg_word(&msg, 3), .stride = msg_word(&msg, 4)};
	} else if (iface == &vd_iface_wl_surface && msg.opcode == VD_WL_SURFACE_REQUEST_ATTACH) {
		c->attached = msg_word(&msg, 0);
	} else if (iface == &vd_iface_wl_surface && msg.opcode == VD_WL_SURFACE_REQUEST_COMMIT &&
			!(v->h.extra & FZ_V_NO_CONTENTS)) {
		send_contents(v, c);
	}
	vl_send_data(v, c, msg.data, msg.size > FZ_MSG_MAX ? FZ_MSG_MAX : msg.size);
	if (pool != NULL && msg.opcode == VD_WL_SHM_POOL_REQUEST_DESTROY) {
		struct vd_link_msg m = {.type = VD_LINK_WL_POOL_SEALED, .id = c->id};
		m.body.wl_pool_sealed.pool = pool->number;
		vl_link_put(v, &m);
		pool->object = 0;
	}
}

static void do_event(struct vl_harness *v, const struct fz_record *rec) {
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	struct fz_value vc;
	fz_take_value(&r, &vc);
	struct vl_channel *c = vl_channel_choose(v, &vc, true);
	struct fz_session *s = vl_channel_session(v, c);
	if (s == NULL) {
		return;
	}
	fz_send_event_record(s, rec->kind, &r, v->h.flags & FZ_H_MANUAL);
}

/* What a frame the harness did not build itself does to the guest's view. */
static void note_frame(struct vl_harness *v, const uint8_t *data, size_t len) {
	struct vd_link_header header;
	if (len >= VD_LINK_SYNC_SIZE + VD_LINK_HEADER_SIZE && vd_link_is_sync(data)) {
		data += VD_LINK_SYNC_SIZE;
		len -= VD_LINK_SYNC_SIZE;
	}
	if (len < VD_LINK_HEADER_SIZE) {
		v->dirty = true;
		return;
	}
	vd_link_header_read(data, &header);
	struct vd_link_msg msg;
	char err[256];
	if (header.flags != 0 || header.length != len - VD_LINK_HEADER_SIZE ||
			!vd_link_decode(&vd_link_wayland, VD_LINK_ROLE_GUEST, &header,
			data + VD_LINK_HEADER_SIZE, &msg, err, sizeof(err))) {
		v->dirty = true; // refused: the proxy resynchronises or ends the link
		return;
	}
	struct vl_channel *c = msg.id != 0 ? vl_channel_find(v, msg.id) : NULL;
	switch (msg.type) {
	case VD_LINK_WL_OPEN:
		if (msg.id > v->last_channel && vl_channel_add(v, msg.id) != NULL) {
			v->opens++;
		} else {
			v->dirty = true;
		}
		break;
	case VD_LINK_WL_DATA:
		if (c != NULL) {
			c->wl_dirty = true;
			c->sent += msg.body.wl_data.data_len;
		}
		break;
	case VD_LINK_WL_ACK:
		if (c != NULL) {
			uint32_t bytes = msg.body.wl_ack.bytes;
			if (bytes > c->host_unacked) {
				/*
				 * More than the guest got: the proxy may take it for bytes still
				 * in flight (or refuse it) and then send past what the checks
				 * count as the window. The guest broke the rule, not the proxy.
				 */
				v->dirty = true;
			}
			c->host_unacked -= bytes < c->host_unacked ? bytes : c->host_unacked;
		}
		break;
	case VD_LINK_WL_CLOSE:
		if (c != NULL) {
			c->guest_closed = true;
		}
		break;
	case VD_LINK_WL_POOL:
		if (c != NULL) {
			/* the fd of the next message: the client's model does not know it */
			c->wl_dirty = true;
			if (msg.body.wl_pool.pool >= c->next_pool) {
				c->next_pool = msg.body.wl_pool.pool;
				pool_add(c, msg.body.wl_pool.size, 0);
			}
		}
		break;
	case VD_LINK_WL_PIPE:
		if (c != NULL) {
			c->wl_dirty = true;
			vl_pipe_add(c, msg.body.wl_pipe.pipe, msg.body.wl_pipe.end, false);
		}
		break;
	case VD_LINK_WL_POOL_RESIZE:
	case VD_LINK_WL_POOL_SEALED:
	case VD_LINK_WL_POOL_DISCARD:
	case VD_LINK_WL_POOL_FREE:
	case VD_LINK_WL_POOL_DATA:
	case VD_LINK_WL_POOL_DIFF:
	case VD_LINK_WL_POOL_COPY:
	case VD_LINK_WL_PIPE_DATA:
	case VD_LINK_WL_PIPE_ACK:
	case VD_LINK_WL_PIPE_CLOSE:
	case VD_LINK_WL_PONG:
	case VD_LINK_ERROR:
		break; // nothing the checks follow (a channel they break is closed by the host)
	default:
		v->dirty = true; // HELLO, WL_LIMITS: the link starts over or ends
		break;
	}
	vd_link_msg_finish(&msg);
}

static void do_frame(struct vl_harness *v, const struct fz_record *rec) {
	if (v->fd < 0) {
		return;
	}
	uint32_t ids[VL_CHANNELS + 1];
	size_t nids = 0;
	for (size_t i = 0; i < v->nchannels; i++) {
		ids[nids++] = v->channels[i].id;
	}
	ids[nids++] = v->last_channel + 1;
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	struct lg_ids lids = {ids, nids};
	uint16_t type;
	size_t before = v->out.len;
	if (lg_build(&vd_link_wayland, VD_LINK_ROLE_GUEST, &r, &lids, &v->out, &type)) {
		note_frame(v, v->out.data + before, v->out.len - before);
	}
}

static void do_raw(struct vl_harness *v, const struct fz_record *rec) {
	if (v->fd >= 0 && rec->len > 0) {
		lg_put(&v->out, rec->payload, rec->len);
		v->dirty = true;
	}
}

/* ---- channel operations ---- */

static uint32_t pool_choice(const struct vl_channel *c, const struct fz_value *value) {
	if (value->cls == FZ_U32 || value->cls == FZ_U64 || value->cls == FZ_U8) {
		return (uint32_t)value->v;
	}
	if (c->npools == 0) {
		return 1;
	}
	return c->pools[fz_value_number(value) % c->npools].number;
}

/* A number of an operation: SMALL k scaled (by unit), exact otherwise; absent: fallback. */
static uint32_t op_number(const struct fz_value *value, uint32_t unit, uint32_t fallback) {
	if (!value->present) {
		return fallback;
	}
	if (value->cls == FZ_SMALL || value->cls == FZ_SEL) {
		return (uint32_t)value->v * unit;
	}
	return (uint32_t)fz_value_number(value);
}

static void op_pool_data(struct vl_harness *v, struct vl_channel *c, struct fz_reader *r) {
	struct fz_value vp, voff, vw, vrows, vstride, vsplit;
	fz_take_value(r, &vp);
	fz_take_value(r, &voff);
	fz_take_value(r, &vw);
	fz_take_value(r, &vrows);
	fz_take_value(r, &vstride);
	fz_take_value(r, &vsplit);
	uint32_t number = pool_choice(c, &vp);
	const struct vl_pool *pool = vl_pool_find(c, number);
	uint32_t size = pool != NULL ? pool->size : 4096;
	uint32_t offset = op_number(&voff, 4096, 0);
	uint32_t width = op_number(&vw, 64, size < 4096 ? size : 4096);
	width = width > 0 ? width : 1;
	uint32_t rows = vrows.present && (vrows.cls == FZ_SMALL || vrows.cls == FZ_SEL) ?
		(uint32_t)vrows.v + 1 : op_number(&vrows, 1, 1);
	uint32_t stride = vstride.present && vstride.cls == FZ_SMALL ? width + 4 * vstride.p :
		op_number(&vstride, 1, width);
	if (rows > 1 && stride < width) {
		stride = width; // the codec's rule: the proxy's refusal is for raw frames
	}
	send_rows(v, c, number, offset, stride, width, rows, vsplit.cls == FZ_SMALL &&
		vsplit.p == 1);
}

static void op_pool_diff(struct vl_harness *v, struct vl_channel *c, struct fz_reader *r) {
	struct fz_value vp, voff, value;
	fz_take_value(r, &vp);
	fz_take_value(r, &voff);
	static uint8_t data[16384];
	size_t len = 0;
	while (fz_take_value(r, &value) && len < sizeof(data) - 16) {
		if (value.cls == FZ_BYTES) {
			size_t n = value.len < sizeof(data) - len ? value.len : sizeof(data) - len;
			memcpy(data + len, value.bytes, n);
			len += n;
			continue;
		}
		/* a run: skip (this value), then its length (the next) and its bytes */
		struct fz_value vlen;
		fz_take_value(r, &vlen);
		uint32_t runs[2] = {op_number(&value, 64, 0), op_number(&vlen, 16, 16)};
		for (int i = 0; i < 2; i++) {
			uint32_t x = runs[i];
			do {
				data[len++] = (uint8_t)((x & 0x7f) | (x > 0x7f ? 0x80 : 0));
				x >>= 7;
			} while (x != 0);
		}
		size_t n = runs[1] < sizeof(data) - len ? runs[1] : sizeof(data) - len;
		memcpy(data + len, vl_pattern, n);
		len += n;
	}
	if (len < 2) {
		data[len++] = 0;
		data[len++] = 1;
	}
	struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_DIFF, .id = c->id};
	msg.body.wl_pool_diff = (struct vd_link_wl_pool_diff){.pool = pool_choice(c, &vp),
		.offset = op_number(&voff, 4096, 0), .data = data, .data_len = (uint32_t)len};
	vl_link_put(v, &msg);
}

static void op_pool_copy(struct vl_harness *v, struct vl_channel *c, struct fz_reader *r) {
	struct fz_value vals[8];
	for (int i = 0; i < 8; i++) {
		fz_take_value(r, &vals[i]);
	}
	uint32_t width = op_number(&vals[4], 64, 256);
	width = width > 0 ? width : 1;
	uint32_t rows = op_number(&vals[5], 1, 1);
	rows = rows == 0 ? 1 : rows > 65536 ? 65536 : rows;
	uint32_t src_stride = op_number(&vals[6], 4, width), dst_stride = op_number(&vals[7], 4,
		width);
	if (rows > 1) {
		src_stride = src_stride < width ? width : src_stride;
		dst_stride = dst_stride < width ? width : dst_stride;
	}
	struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_COPY, .id = c->id};
	msg.body.wl_pool_copy = (struct vd_link_wl_pool_copy){.src_pool = pool_choice(c, &vals[0]),
		.dst_pool = pool_choice(c, &vals[1]), .src_offset = op_number(&vals[2], 4096, 0),
		.dst_offset = op_number(&vals[3], 4096, 0), .width = width, .rows = rows,
		.src_stride = src_stride, .dst_stride = dst_stride};
	vl_link_put(v, &msg);
}

static void op_pool(struct vl_harness *v, struct vl_channel *c, enum vl_op op,
		struct fz_reader *r) {
	struct fz_value vp, a, b;
	fz_take_value(r, &vp);
	fz_take_value(r, &a);
	fz_take_value(r, &b);
	uint32_t number = pool_choice(c, &vp);
	struct vl_pool *pool = vl_pool_find(c, number);
	uint32_t size = pool != NULL ? pool->size : 4096;
	struct vd_link_msg msg = {.id = c->id};
	switch (op) {
	case VL_OP_POOL_DISCARD: {
		uint32_t offset = op_number(&a, 4096, 0);
		uint32_t length = op_number(&b, 4096, size > offset ? size - offset : 1);
		msg.type = VD_LINK_WL_POOL_DISCARD;
		msg.body.wl_pool_discard = (struct vd_link_wl_pool_discard){.pool = number,
			.offset = offset, .length = length == 0 ? 1 : length > INT32_MAX ? INT32_MAX :
			length};
		break;
	}
	case VL_OP_POOL_RESIZE: {
		uint64_t grown = a.present && (a.cls == FZ_SMALL || a.cls == FZ_SEL) ?
			(uint64_t)size + (a.v + 1) * 4096 : op_number(&a, 1, size * 2);
		grown = grown == 0 ? 1 : grown > INT32_MAX ? INT32_MAX : grown;
		msg.type = VD_LINK_WL_POOL_RESIZE;
		msg.body.wl_pool_resize = (struct vd_link_wl_pool_resize){.pool = number,
			.size = (uint32_t)grown};
		if (pool != NULL && grown > pool->size) {
			pool->size = (uint32_t)grown;
		}
		break;
	}
	case VL_OP_POOL_SEALED:
		msg.type = VD_LINK_WL_POOL_SEALED;
		msg.body.wl_pool_sealed.pool = number;
		break;
	default:
		msg.type = VD_LINK_WL_POOL_FREE;
		msg.body.wl_pool_free.pool = number;
		if (pool != NULL) {
			*pool = c->pools[--c->npools];
		}
		break;
	}
	vl_link_put(v, &msg);
}

static void op_pipe(struct vl_harness *v, struct vl_channel *c, enum vl_op op,
		struct fz_reader *r) {
	struct fz_value vp, data, keep;
	fz_take_value(r, &vp);
	fz_take_value(r, &data);
	fz_take_value(r, &keep);
	uint32_t id;
	if (vp.cls == FZ_U32 || vp.cls == FZ_U64) {
		id = (uint32_t)vp.v;
	} else if (c->npipes > 0) {
		id = c->pipes[fz_value_number(&vp) % c->npipes].id;
	} else {
		return;
	}
	if (op == VL_OP_PIPE_DATA) {
		const uint8_t *bytes = vl_pattern;
		size_t len = data.cls == FZ_BYTES ? data.len : op_number(&data, 16, 16);
		if (data.cls == FZ_BYTES) {
			bytes = data.bytes;
		}
		len = len == 0 ? 1 : len > VD_LINK_WL_MAX_DATA ? VD_LINK_WL_MAX_DATA : len;
		struct vd_link_msg msg = {.type = VD_LINK_WL_PIPE_DATA, .id = c->id};
		msg.body.wl_pipe_data = (struct vd_link_wl_pipe_data){.pipe = id, .data = bytes,
			.data_len = (uint32_t)len};
		vl_link_put(v, &msg);
		if (keep.cls == FZ_SMALL && keep.p == 1) {
			return;
		}
	}
	struct vd_link_msg msg = {.type = VD_LINK_WL_PIPE_CLOSE, .id = c->id};
	msg.body.wl_pipe_close.pipe = id;
	vl_link_put(v, &msg);
}

static void do_channel(struct vl_harness *v, const struct fz_record *rec) {
	if (v->fd < 0) {
		return;
	}
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	struct fz_value vop, vc;
	fz_take_value(&r, &vop);
	enum vl_op op = (enum vl_op)(fz_value_number(&vop) % VL_OP_COUNT);
	fz_take_value(&r, &vc);
	if (op == VL_OP_OPEN) {
		if (v->opens >= MAX_OPENS) {
			return;
		}
		uint32_t skip = vc.cls == FZ_SMALL ? vc.p : 0;
		struct vl_channel *c = vl_channel_add(v, v->last_channel + 1 + skip);
		if (c != NULL) {
			v->opens++;
			struct vd_link_msg msg = {.type = VD_LINK_WL_OPEN, .id = c->id};
			vl_link_put(v, &msg);
		}
		return;
	}
	struct vl_channel *c = vl_channel_choose(v, &vc, false);
	if (c == NULL) {
		return;
	}
	switch (op) {
	case VL_OP_CLOSE:
	case VL_OP_CLOSE_MID: {
		struct fz_value value;
		fz_take_value(&r, &value);
		if (op == VL_OP_CLOSE_MID) {
			/* the client's last message, cut short: wl_display.sync announcing 12 bytes */
			uint32_t msg_bytes[3] = {VD_DISPLAY_ID, 12u << 16 | VD_WL_DISPLAY_REQUEST_SYNC,
				0xff000000u};
			size_t n = 1 + (size_t)op_number(&value, 1, 7) % (sizeof(msg_bytes) - 1);
			vl_send_data(v, c, (const uint8_t *)msg_bytes, n);
			c->wl_dirty = true;
		}
		struct vd_link_msg msg = {.type = VD_LINK_WL_CLOSE, .id = c->id};
		char reason[64];
		snprintf(reason, sizeof(reason), "%s", "the client closed its connection");
		if (value.cls == FZ_BYTES) {
			size_t n = value.len < sizeof(reason) - 1 ? value.len : sizeof(reason) - 1;
			memcpy(reason, value.bytes, n);
			reason[n] = '\0';
			if (!vd_link_check_text(reason, strlen(reason))) {
				snprintf(reason, sizeof(reason), "%s", "bye");
			}
		}
		msg.body.wl_close.reason = reason;
		vl_link_put(v, &msg);
		c->guest_closed = true;
		return;
	}
	case VL_OP_POOL_DATA:
		op_pool_data(v, c, &r);
		return;
	case VL_OP_POOL_DIFF:
		op_pool_diff(v, c, &r);
		return;
	case VL_OP_POOL_COPY:
		op_pool_copy(v, c, &r);
		return;
	case VL_OP_POOL_DISCARD:
	case VL_OP_POOL_RESIZE:
	case VL_OP_POOL_SEALED:
	case VL_OP_POOL_FREE:
		op_pool(v, c, op, &r);
		return;
	case VL_OP_ACK: {
		struct fz_value value;
		fz_take_value(&r, &value);
		uint32_t bytes = op_number(&value, 1, c->host_unacked);
		if (bytes == 0 || bytes > 16u << 20) {
			return;
		}
		struct vd_link_msg msg = {.type = VD_LINK_WL_ACK, .id = c->id};
		msg.body.wl_ack.bytes = bytes;
		vl_link_put(v, &msg);
		c->host_unacked -= bytes < c->host_unacked ? bytes : c->host_unacked;
		return;
	}
	case VL_OP_PIPE_DATA:
	case VL_OP_PIPE_CLOSE:
		op_pipe(v, c, op, &r);
		return;
	default:
		return;
	}
}

static void do_control(struct vl_harness *v, const struct fz_record *rec) {
	struct fz_harness *h = &v->h;
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	struct fz_value op, arg;
	fz_take_value(&r, &op);
	fz_take_value(&r, &arg);
	h->loop_ready = true;
	struct vl_channel *c;
	struct fz_session *s;
	switch (fz_value_number(&op) % VL_C_COUNT) {
	case VL_C_COMPOSITOR_HANGUP:
		c = vl_channel_choose(v, &arg, true);
		s = vl_channel_session(v, c);
		if (s != NULL && s->upstream >= 0) {
			fz_compositor_flush(s);
			close(s->upstream);
			s->upstream = -1;
		}
		break;
	case VL_C_COMPOSITOR_READING: {
		struct fz_value which;
		fz_take_value(&r, &which);
		c = vl_channel_choose(v, &which, true);
		s = vl_channel_session(v, c);
		if (s != NULL) {
			s->compositor_paused = fz_value_number(&arg) == 0;
		}
		break;
	}
	case VL_C_LINK_READING:
		v->paused = fz_value_number(&arg) == 0;
		break;
	case VL_C_LINK_HANGUP:
		if (v->fd >= 0) {
			vl_link_flush(v);
			vl_link_close(v);
		}
		break;
	case VL_C_RESTART:
		if (v->fd >= 0) {
			/* the bridge starts over: its clients are gone, the host's old frames
			 * may still come until it answers */
			vl_channels_forget(v);
			v->session_window = 0; // the proxy takes the next WL_LIMITS
			v->nonce++;
			vl_send_hello(v, 0);
			v->dirty = true;
		}
		break;
	case VL_C_LIMITS:
		if (v->fd >= 0) {
			vl_send_limits(v, arg.present ? op_number(&arg, 4096, v->window) : v->window);
		}
		break;
	case VL_C_WAIT:
		wl_event_loop_dispatch(h->loop, (int)(fz_value_number(&arg) % 3));
		break;
	case VL_C_HOSTD_RAW:
		if (h->hostd_fd >= 0 && arg.cls == FZ_BYTES) {
			fz_buf_put(&h->hostd_out, arg.bytes, arg.len);
		}
		break;
	case VL_C_PONG:
		if (v->fd >= 0) {
			struct vd_link_msg pong = {.type = VD_LINK_WL_PONG};
			pong.body.wl_pong.seq = arg.present ? (uint32_t)fz_value_number(&arg) :
				v->last_ping;
			vl_link_put(v, &pong);
		}
		break;
	}
}

/* ---- the entry points ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	(void)argc;
	(void)argv;
	static bool initialized;
	if (!initialized) {
		initialized = true;
		fz_harness_global_init("fuzz-proxy-vm-link");
		vl_guest_init();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	LLVMFuzzerInitialize(NULL, NULL);
	static struct vl_harness v;
	struct fz_harness *h = &v.h;
	struct fz_reader input;
	fz_reader_init(&input, data, size);
	fz_harness_begin(h, &input);
	vl_link_start(&v);
	vl_pump(&v);
	struct fz_record rec;
	while (fz_next_record(&input, &rec)) {
		switch ((rec.kind & FZ_KIND_MASK) % VL_K_COUNT) {
		case VL_K_REQUEST:
			do_request(&v, &rec);
			break;
		case VL_K_EVENT:
			do_event(&v, &rec);
			break;
		case VL_K_FRAME:
			do_frame(&v, &rec);
			break;
		case VL_K_RAW_LINK:
			do_raw(&v, &rec);
			break;
		case VL_K_CHANNEL:
			do_channel(&v, &rec);
			break;
		case VL_K_CONTROL:
			do_control(&v, &rec);
			break;
		case VL_K_HOSTD:
			fz_hostd_frame(h, &rec);
			break;
		}
		if (!(rec.kind & FZ_F_BATCH)) {
			vl_pump(&v);
		}
	}
	vl_pump(&v);
	vl_link_stop(&v);
	fz_harness_end(h);
	return 0;
}

/* ---- the mutator ---- */

static bool vm_tagged(uint8_t kind) {
	return kind % VL_K_COUNT != VL_K_RAW_LINK;
}

/* A new record: mostly requests, events and channel operations a real guest makes. */
static void vm_generate(struct fz_rng *rng, struct fz_writer *w) {
	uint32_t r = fz_below(rng, 100);
	if (r < 40) {
		size_t start = fz_record_begin(w, VL_K_REQUEST);
		fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, 3)); // the channel
		fz_generate_request(rng, w);
		fz_record_end(w, start);
	} else if (r < 60) {
		static const struct vd_interface *const common[] = {
			&vd_iface_wl_keyboard, &vd_iface_wl_pointer, &vd_iface_xdg_toplevel,
			&vd_iface_xdg_surface, &vd_iface_wl_buffer, &vd_iface_wl_callback,
			&vd_iface_wl_data_source, &vd_iface_wl_data_device, &vd_iface_wl_surface,
		};
		const struct vd_interface *iface = fz_pick_interface(rng, common,
			sizeof(common) / sizeof(common[0]));
		uint8_t mode = (uint8_t)(iface == &vd_iface_wl_keyboard ? FZ_F_BROADCAST :
			fz_below(rng, 3) ? FZ_F_MIRROR : 0);
		size_t start = fz_record_begin(w, VL_K_EVENT | mode);
		fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, 3)); // the channel
		fz_generate_event(rng, w, iface);
		fz_record_end(w, start);
	} else if (r < 85) {
		size_t start = fz_record_begin(w, VL_K_CHANNEL);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, VL_OP_COUNT));
		fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, 3));
		fz_random_values(rng, w, 6);
		fz_record_end(w, start);
	} else if (r < 93) {
		size_t start = fz_record_begin(w, VL_K_FRAME);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 24));
		lg_generate_after_type(rng, w);
		fz_record_end(w, start);
	} else {
		size_t start = fz_record_begin(w, VL_K_CONTROL);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, VL_C_COUNT));
		fz_random_value(rng, w);
		fz_record_end(w, start);
	}
}

const struct fz_target fz_this_target = {
	.header_size = FZ_HEADER_SIZE,
	.kind_mask = FZ_KIND_MASK,
	.tagged = vm_tagged,
	.generate = vm_generate,
};
