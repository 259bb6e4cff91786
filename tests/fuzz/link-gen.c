#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/fuzz/link-gen.h"

/* Samples for strings: a field takes the k-th that passes its rule. */
static const char *const samples[] = {
	"work", "banking", "foot.desktop", "text/plain;charset=utf-8", "LANG", "hello",
	"org.gnome.Evolution.desktop", "text/plain", "UTF8_STRING", "TEXT", "STRING", "LC_ALL",
	"C.UTF-8", "System;TerminalEmulator;", "utilities-terminal", "foot", "host", "",
	"work-2", "a", "sh", "-c", "echo hi", "true", "hello world\tand\nnewline", "image/png",
	"TZ", "NO_COLOR", "COLUMNS", "PATH", "LD_PRELOAD", "Bad", "../x.desktop", "x.desktop",
	"-rf.desktop", ("\xe2\x80\xae" "evil"), "line\nbreak", "\x1b[31mred", "\xff\xfe",
	"vm=banking pid=1 disconnected", "untrusted", "a-very-long-vm-name-of-32-chars", "sys-usb",
	"text/html", "Utility;", "vmdesk.banking.foot", " text/plain", "0work",
};
#define SAMPLE_COUNT (sizeof(samples) / sizeof(samples[0]))
_Static_assert(SAMPLE_COUNT <= 64, "passing_samples() keeps a 64-bit mask");

static bool put_le(struct vd_link_buf *out, uint64_t v, size_t size) {
	uint8_t b[8];
	for (size_t i = 0; i < size; i++) {
		b[i] = (uint8_t)(v >> (8 * i));
	}
	return lg_put(out, b, size);
}

/*
 * While lg_build builds a frame: where its payload passes the set's
 * max_frame by 2 bytes. A longer frame is refused by its header (its length,
 * even one too short, is still past max_frame), so the bytes past that point
 * are never read: they are dropped rather than built (a LEN or U32 value
 * asks for up to 16 MiB), and such a frame costs as little as a small one.
 */
static size_t frame_end = SIZE_MAX;

bool lg_put(struct vd_link_buf *out, const void *data, size_t len) {
	if (out->len >= frame_end) {
		return true;
	}
	if (len > frame_end - out->len) {
		len = frame_end - out->len;
	}
	if (len > out->cap - out->len) {
		size_t cap = out->cap ? out->cap : 4096;
		while (cap - out->len < len) {
			cap *= 2;
		}
		uint8_t *p = realloc(out->data, cap);
		if (p == NULL) {
			return false;
		}
		out->data = p;
		out->cap = cap;
	}
	if (len > 0) {
		memcpy(out->data + out->len, data, len);
	}
	out->len += len;
	return true;
}

static size_t number_size(enum vd_link_field_kind kind) {
	return kind == VD_LINK_FIELD_U8 ? 1 : kind == VD_LINK_FIELD_U16 ? 2 :
		kind == VD_LINK_FIELD_U32 ? 4 : 8;
}

static uint64_t choose_number(const struct vd_link_field *f, uint64_t k) {
	if (f->values != NULL && f->nvalues > 0) {
		return f->values[k % f->nvalues];
	}
	if (f->mask != 0) {
		/* the k-th subset of the allowed bits */
		uint64_t v = 0, bit = 1;
		for (uint64_t m = f->mask; m != 0 && k != 0; bit <<= 1) {
			if (m & bit) {
				if (k & 1) {
					v |= bit;
				}
				k >>= 1;
				m &= ~bit;
			}
		}
		return v;
	}
	uint64_t span = f->max - f->min;
	return span == UINT64_MAX ? f->min + k : f->min + k % (span + 1);
}

static uint64_t special_number(const struct vd_link_field *f, uint8_t p) {
	switch (p % 8) {
	case 0:
		return f->max;
	case 1:
		return f->min;
	case 2:
		return f->max + 1;
	case 3:
		return f->min - 1;
	case 4:
		return 0;
	case 5:
		return UINT64_MAX;
	case 6: { // outside the enum
		uint64_t v = f->min;
		for (size_t i = 0; f->values != NULL && i < f->nvalues; i++) {
			if (f->values[i] >= v) {
				v = f->values[i] + 1;
			}
		}
		return v;
	}
	default:
		return f->mask != 0 ? ~f->mask & (f->mask + 1) : f->max;
	}
}

static bool put_string(struct vd_link_buf *out, const struct vd_link_field *f,
		const void *data, size_t len, uint64_t wire_len, bool terminate) {
	return put_le(out, wire_len, f->length_size) && lg_put(out, data, len) &&
		(!terminate || lg_put(out, "", 1));
}

static bool fill(struct vd_link_buf *out, size_t n) {
	/* the pattern is made once: filling it per call (4,096 instrumented
	 * steps) was half of fuzz-hostd-channel's time */
	static uint8_t chunk[4096];
	if (chunk[0] == 0) {
		for (size_t i = 0; i < sizeof(chunk); i++) {
			chunk[i] = (uint8_t)('a' + i % 26);
		}
	}
	while (n > 0 && out->len < frame_end) {
		size_t m = n < sizeof(chunk) ? n : sizeof(chunk);
		if (!lg_put(out, chunk, m)) {
			return false;
		}
		n -= m;
	}
	return true;
}

/* Which samples pass a field's rule (bit i: samples[i]), worked out once per
 * field: checking all of them on every string was an eighth of the time. */
static uint64_t passing_samples(const struct vd_link_field *f) {
	static struct {
		const struct vd_link_field *field;
		uint64_t mask;
	} cache[256];
	size_t slot = ((uintptr_t)f / sizeof(*f)) % (sizeof(cache) / sizeof(cache[0]));
	if (cache[slot].field == f) {
		return cache[slot].mask;
	}
	uint64_t mask = 0;
	for (size_t i = 0; i < SAMPLE_COUNT; i++) {
		size_t len = strlen(samples[i]);
		if (len >= f->min && len <= f->max && (f->check == NULL || f->check(samples[i], len))) {
			mask |= UINT64_C(1) << i;
		}
	}
	cache[slot].field = f;
	cache[slot].mask = mask;
	return mask;
}

static const char *sample_for(const struct vd_link_field *f, uint64_t k) {
	uint64_t mask = passing_samples(f);
	if (mask == 0) {
		return samples[k % SAMPLE_COUNT];
	}
	size_t want = k % (size_t)__builtin_popcountll(mask);
	for (size_t i = 0; i < SAMPLE_COUNT; i++) {
		if ((mask & (UINT64_C(1) << i)) && want-- == 0) {
			return samples[i];
		}
	}
	return samples[0];
}

static bool gen_fields(const struct vd_link_field *fields, size_t n, struct fz_reader *r,
	struct vd_link_buf *out, int depth);

static bool gen_field(const struct vd_link_field *f, struct fz_reader *r, struct vd_link_buf *out,
		int depth) {
	struct fz_value v;
	fz_take_value(r, &v);
	switch (f->kind) {
	case VD_LINK_FIELD_U8:
	case VD_LINK_FIELD_U16:
	case VD_LINK_FIELD_U32:
	case VD_LINK_FIELD_U64: {
		uint64_t n;
		switch (v.cls) {
		case FZ_SMALL:
		case FZ_SEL:
			n = choose_number(f, v.v);
			break;
		case FZ_SPECIAL:
			n = special_number(f, v.p);
			break;
		default:
			n = fz_value_number(&v);
			break;
		}
		return put_le(out, n, number_size(f->kind));
	}
	case VD_LINK_FIELD_STRING: {
		uint64_t limit = f->max + 1;
		switch (v.cls) {
		case FZ_BYTES:
			return put_string(out, f, v.bytes, v.len, v.len, true);
		case FZ_LEN: {
			uint64_t len = v.v < limit ? v.v : limit;
			return put_le(out, len, f->length_size) && fill(out, len) && lg_put(out, "", 1);
		}
		case FZ_U32:
		case FZ_U64: { // the length lies
			const char *s = sample_for(f, 0);
			return put_string(out, f, s, strlen(s), v.v, true);
		}
		case FZ_SPECIAL:
			switch (v.p % 4) {
			case 0:
				return put_string(out, f, "", 0, 0, true);
			case 1:
				return put_le(out, f->max, f->length_size) && fill(out, f->max) &&
					lg_put(out, "", 1);
			case 2:
				return put_le(out, limit, f->length_size) && fill(out, limit) &&
					lg_put(out, "", 1);
			default: { // no NUL at its end
				const char *s = sample_for(f, 0);
				return put_string(out, f, s, strlen(s), strlen(s), false) &&
					lg_put(out, "x", 1);
			}
			}
		default: {
			const char *s = sample_for(f, v.v);
			return put_string(out, f, s, strlen(s), strlen(s), true);
		}
		}
	}
	case VD_LINK_FIELD_DATA: {
		uint64_t limit = f->max + 1;
		switch (v.cls) {
		case FZ_BYTES:
			return put_le(out, v.len, f->length_size) && lg_put(out, v.bytes, v.len);
		case FZ_SPECIAL:
			switch (v.p % 3) {
			case 0:
				return put_le(out, f->max, f->length_size) && fill(out, f->max);
			case 1:
				return put_le(out, limit, f->length_size) && fill(out, limit);
			default: // the length lies
				return put_le(out, f->max, f->length_size) && fill(out, 3);
			}
		case FZ_SMALL:
		case FZ_SEL: {
			uint64_t len = v.present ? v.v : f->min;
			len = len < f->min ? f->min : len;
			return put_le(out, len, f->length_size) && fill(out, len);
		}
		default: {
			uint64_t len = v.v < (16u << 20) ? v.v : (16u << 20);
			return put_le(out, len, f->length_size) && fill(out, len);
		}
		}
	}
	case VD_LINK_FIELD_ARRAY: {
		uint64_t count, items;
		switch (v.cls) {
		case FZ_U32:
		case FZ_U64:
		case FZ_LEN:
			count = v.v;
			items = count < 64 ? count : 64;
			break;
		case FZ_SPECIAL:
			count = v.p % 2 == 0 ? f->max : f->max + 1;
			items = count < 4096 ? count : 4096;
			break;
		case FZ_SMALL:
		case FZ_SEL:
			count = v.present ? v.v : f->min;
			items = count;
			break;
		default:
			count = items = fz_value_number(&v) % 64;
			break;
		}
		if (!put_le(out, count, f->length_size)) {
			return false;
		}
		for (uint64_t i = 0; i < items; i++) {
			if (depth > 4 || !gen_fields(f->items, f->nitems, r, out, depth + 1)) {
				return false;
			}
		}
		return true;
	}
	}
	return false;
}

static bool gen_fields(const struct vd_link_field *fields, size_t n, struct fz_reader *r,
		struct vd_link_buf *out, int depth) {
	for (size_t i = 0; i < n; i++) {
		if (!gen_field(&fields[i], r, out, depth)) {
			return false;
		}
	}
	return true;
}

/* The messages role may send (other: of the other role), per set and role: made once. */
struct lg_choice {
	const struct vd_link_set *set;
	int role;
	bool other;
	size_t count;
	const struct vd_link_message **messages;
};

static const struct lg_choice *choices_of(const struct vd_link_set *set, int role, bool other) {
	/* every run builds frames: scanning the set each time was a tenth of
	 * fuzz-hostd-channel's time */
	static struct lg_choice choices[32];
	static size_t nchoices;
	for (size_t i = 0; i < nchoices; i++) {
		if (choices[i].set == set && choices[i].role == role && choices[i].other == other) {
			return &choices[i];
		}
	}
	if (nchoices == sizeof(choices) / sizeof(choices[0])) {
		abort(); // more sets and roles than exist
	}
	struct lg_choice *c = &choices[nchoices];
	*c = (struct lg_choice){.set = set, .role = role, .other = other};
	c->messages = calloc(set->count > 0 ? set->count : 1, sizeof(*c->messages));
	if (c->messages == NULL) {
		abort();
	}
	for (size_t i = 0; i < set->count; i++) {
		bool mine = set->messages[i].senders & (1u << role);
		if (mine != other) {
			c->messages[c->count++] = &set->messages[i];
		}
	}
	nchoices++;
	return c;
}

/* The k-th message role may send (other: of the other role). */
static const struct vd_link_message *choose_message(const struct vd_link_set *set, int role,
		bool other, uint64_t k) {
	const struct lg_choice *c = choices_of(set, role, other);
	return c->count > 0 ? c->messages[k % c->count] : NULL;
}

bool lg_build(const struct vd_link_set *set, int role, struct fz_reader *r,
		const struct lg_ids *ids, struct vd_link_buf *out, uint16_t *type) {
	struct fz_value vt, vid, vshape;
	fz_take_value(r, &vt);
	fz_take_value(r, &vid);
	fz_take_value(r, &vshape);
	const struct vd_link_message *desc = NULL;
	uint16_t t;
	if (vt.cls == FZ_U32 || vt.cls == FZ_U64 || vt.cls == FZ_BYTES) {
		t = (uint16_t)fz_value_number(&vt);
		desc = vd_link_set_find(set, t);
	} else {
		desc = choose_message(set, role, vt.cls == FZ_SPECIAL, vt.v);
		if (desc == NULL) {
			desc = choose_message(set, role, false, vt.v);
		}
		t = desc != NULL ? desc->type : 0;
	}
	*type = t;
	uint32_t id;
	if (vid.cls == FZ_SEL) {
		id = ids != NULL && ids->count > 0 ? ids->ids[vid.v % ids->count] : 0;
	} else {
		id = (uint32_t)fz_value_number(&vid);
	}
	unsigned shape = vshape.cls == FZ_SMALL ? vshape.p : 0;
	if ((shape & 16) && !lg_put(out, vd_link_sync, VD_LINK_SYNC_SIZE)) {
		return false;
	}
	size_t header_at = out->len;
	uint8_t header[VD_LINK_HEADER_SIZE] = {0};
	if (!lg_put(out, header, sizeof(header))) {
		return false;
	}
	bool ok = true;
	frame_end = out->len + (size_t)set->max_frame + 2;
	if (desc != NULL) {
		ok = gen_fields(desc->fields, desc->nfields, r, out, 0);
	} else {
		/* a type the set lacks: its payload as the values say */
		struct fz_value v;
		while (ok && fz_take_value(r, &v)) {
			ok = v.cls == FZ_BYTES ? lg_put(out, v.bytes, v.len) :
				put_le(out, fz_value_number(&v), 4);
		}
	}
	frame_end = SIZE_MAX;
	if (!ok) {
		return false;
	}
	if ((shape & 8) && !lg_put(out, "", 1)) {
		return false;
	}
	uint64_t length = out->len - header_at - VD_LINK_HEADER_SIZE;
	if (shape & 2) {
		length++;
	}
	if ((shape & 4) && length > 0) {
		length--;
	}
	uint8_t *h = out->data + header_at;
	for (int i = 0; i < 4; i++) {
		h[i] = (uint8_t)(length >> (8 * i));
		h[8 + i] = (uint8_t)(id >> (8 * i));
	}
	h[4] = (uint8_t)t;
	h[5] = (uint8_t)(t >> 8);
	h[6] = (shape & 1) ? 1 : 0;
	h[7] = 0;
	return true;
}

bool lg_hello(const struct vd_link_set *set, int role, uint32_t caps, uint64_t nonce,
		struct vd_link_buf *out) {
	char software[] = "fuzz";
	struct vd_link_msg msg = {.type = VD_LINK_HELLO};
	msg.body.hello = (struct vd_link_hello){.magic = VD_LINK_MAGIC, .set = set->id,
		.min_version = VD_LINK_VERSION, .max_version = VD_LINK_VERSION,
		.max_frame = set->max_frame, .caps = caps, .nonce = nonce, .peer_nonce = 0,
		.software = software};
	char err[256];
	(void)role;
	return vd_link_buf_put_sync(out) && vd_link_encode(set, &msg, set->max_frame, out, err,
		sizeof(err));
}

void lg_generate_after_type(struct fz_rng *rng, struct fz_writer *w) {
	fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, 4));
	fz_put_tag(w, FZ_SMALL, fz_below(rng, 8) == 0 ? (uint8_t)fz_below(rng, 32) : 0);
	fz_random_values(rng, w, 6);
}

enum lg_read lg_read_checked(int fd, struct vd_link_reader *reader, const struct vd_link_set *set,
		int role, const char *who, lg_frame_fn frame, void *data) {
	enum lg_read result = LG_READ_NOTHING;
	for (;;) {
		size_t space;
		uint8_t *p = vd_link_reader_space(reader, &space);
		if (p == NULL) {
			abort();
		}
		ssize_t n = recv(fd, p, space, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			return LG_READ_CLOSED;
		}
		if (n < 0) {
			return result;
		}
		result = LG_READ_SOME;
		bool drained = (size_t)n < space; // no second recv to learn that
		vd_link_reader_commit(reader, (size_t)n);
		for (;;) {
			struct vd_link_header header;
			const uint8_t *payload;
			char err[512];
			enum vd_link_next next = vd_link_reader_next(reader, &header, &payload, err,
				sizeof(err));
			if (next == VD_LINK_NEXT_NONE) {
				break;
			}
			struct vd_link_msg msg;
			if (next == VD_LINK_NEXT_ERROR) {
				fprintf(stderr, "%s: a broken frame: %s\n", who, err);
				abort();
			}
			if (!vd_link_decode(set, role, &header, payload, &msg, err, sizeof(err))) {
				fprintf(stderr, "%s: a frame that does not decode: %s\n", who, err);
				abort();
			}
			if (frame != NULL) {
				frame(data, &header, payload, &msg);
			}
			vd_link_msg_finish(&msg);
		}
		if (drained) {
			return result;
		}
	}
}
