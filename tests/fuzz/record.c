#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/record.h"

/* In replay builds (no libFuzzer) the mutator is never called. */
__attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

uint8_t fz_take_u8(struct fz_reader *r) {
	if (r->left == 0) {
		return 0;
	}
	r->left--;
	return *r->p++;
}

uint16_t fz_take_u16(struct fz_reader *r) {
	uint16_t lo = fz_take_u8(r);
	return (uint16_t)(lo | fz_take_u8(r) << 8);
}

uint32_t fz_take_u32(struct fz_reader *r) {
	uint32_t lo = fz_take_u16(r);
	return lo | (uint32_t)fz_take_u16(r) << 16;
}

static uint64_t take_u64(struct fz_reader *r) {
	uint64_t lo = fz_take_u32(r);
	return lo | (uint64_t)fz_take_u32(r) << 32;
}

bool fz_take_value(struct fz_reader *r, struct fz_value *value) {
	memset(value, 0, sizeof(*value));
	if (r->left == 0) {
		return false;
	}
	uint8_t tag = fz_take_u8(r);
	value->present = true;
	value->cls = (enum fz_class)(tag >> 5);
	value->p = tag & 31;
	switch (value->cls) {
	case FZ_SMALL:
	case FZ_SPECIAL:
		value->v = value->p;
		break;
	case FZ_U8:
		value->v = fz_take_u8(r);
		break;
	case FZ_U32:
		value->v = fz_take_u32(r);
		break;
	case FZ_U64:
		value->v = take_u64(r);
		break;
	case FZ_BYTES: {
		size_t len = value->p < 31 ? value->p : fz_take_u16(r);
		if (len > r->left) {
			len = r->left;
		}
		value->bytes = r->p;
		value->len = len;
		value->v = len;
		r->p += len;
		r->left -= len;
		break;
	}
	case FZ_SEL:
		value->v = value->p < 31 ? value->p : fz_take_u8(r);
		break;
	case FZ_LEN:
		value->v = fz_take_u16(r);
		break;
	}
	return true;
}

size_t fz_value_size(const uint8_t *p, size_t left) {
	struct fz_reader r = {p, left};
	struct fz_value v;
	fz_take_value(&r, &v);
	return left - r.left;
}

uint64_t fz_value_number(const struct fz_value *value) {
	if (value->cls == FZ_BYTES) {
		uint64_t v = 0;
		memcpy(&v, value->bytes, value->len < 8 ? value->len : 8);
		return v;
	}
	return value->v;
}

bool fz_next_record(struct fz_reader *input, struct fz_record *record) {
	if (input->left == 0) {
		return false;
	}
	record->kind = fz_take_u8(input);
	size_t len = fz_take_u16(input);
	if (len > input->left) {
		len = input->left;
	}
	record->payload = input->p;
	record->len = len;
	input->p += len;
	input->left -= len;
	return true;
}

/* Writing */

void fz_put_bytes(struct fz_writer *w, const void *data, size_t len) {
	if (len > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (len > 0) {
		memcpy(w->data + w->len, data, len);
	}
	w->len += len;
}

void fz_put_u8(struct fz_writer *w, uint8_t v) {
	fz_put_bytes(w, &v, 1);
}

void fz_put_u16(struct fz_writer *w, uint16_t v) {
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	fz_put_bytes(w, b, 2);
}

void fz_put_u32(struct fz_writer *w, uint32_t v) {
	fz_put_u16(w, (uint16_t)v);
	fz_put_u16(w, (uint16_t)(v >> 16));
}

void fz_put_tag(struct fz_writer *w, enum fz_class cls, uint8_t p) {
	fz_put_u8(w, FZ_TAG(cls, p));
}

void fz_put_number(struct fz_writer *w, uint64_t v) {
	if (v < 256) {
		fz_put_tag(w, FZ_U8, 0);
		fz_put_u8(w, (uint8_t)v);
	} else if (v <= UINT32_MAX) {
		fz_put_tag(w, FZ_U32, 0);
		fz_put_u32(w, (uint32_t)v);
	} else {
		fz_put_tag(w, FZ_U64, 0);
		fz_put_u32(w, (uint32_t)v);
		fz_put_u32(w, (uint32_t)(v >> 32));
	}
}

void fz_put_blob(struct fz_writer *w, const void *data, size_t len) {
	if (len > UINT16_MAX) {
		len = UINT16_MAX;
	}
	if (len < 31) {
		fz_put_tag(w, FZ_BYTES, (uint8_t)len);
	} else {
		fz_put_tag(w, FZ_BYTES, 31);
		fz_put_u16(w, (uint16_t)len);
	}
	fz_put_bytes(w, data, len);
}

size_t fz_record_begin(struct fz_writer *w, uint8_t kind) {
	size_t start = w->len;
	fz_put_u8(w, kind);
	fz_put_u16(w, 0);
	return start;
}

void fz_record_end(struct fz_writer *w, size_t start) {
	if (w->overflow || start + FZ_RECORD_HEADER > w->len) {
		return;
	}
	size_t len = w->len - start - FZ_RECORD_HEADER;
	if (len > UINT16_MAX) {
		w->overflow = true;
		return;
	}
	w->data[start + 1] = (uint8_t)len;
	w->data[start + 2] = (uint8_t)(len >> 8);
}

/* The mutator */

static const uint32_t interesting[] = {
	0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 4095, 4096, 32767,
	32768, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xff000000,
	16384, 24, 100, 1000,
};

void fz_random_value(struct fz_rng *rng, struct fz_writer *w) {
	uint32_t r = fz_below(rng, 100);
	if (r < 35) {
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, r < 20 ? 4 : 32));
	} else if (r < 60) {
		fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, r < 50 ? 3 : 31));
	} else if (r < 68) {
		fz_put_tag(w, FZ_U8, 0);
		fz_put_u8(w, (uint8_t)fz_rand(rng));
	} else if (r < 78) {
		fz_put_tag(w, FZ_U32, 0);
		fz_put_u32(w, interesting[fz_below(rng, sizeof(interesting) / sizeof(interesting[0]))]);
	} else if (r < 86) {
		fz_put_tag(w, FZ_SPECIAL, (uint8_t)fz_below(rng, 16));
	} else if (r < 94) {
		uint8_t buf[24];
		size_t len = fz_below(rng, sizeof(buf) + 1);
		for (size_t i = 0; i < len; i++) {
			buf[i] = (uint8_t)(fz_below(rng, 4) == 0 ? fz_rand(rng) : 'a' + fz_below(rng, 26));
		}
		fz_put_blob(w, buf, len);
	} else {
		fz_put_tag(w, FZ_LEN, 0);
		fz_put_u16(w, (uint16_t)interesting[fz_below(rng, 20)]);
	}
}

void fz_random_values(struct fz_rng *rng, struct fz_writer *w, uint32_t max) {
	for (uint32_t i = fz_below(rng, max); i > 0; i--) {
		fz_random_value(rng, w);
	}
}

#define MAX_RECORDS 1024

struct rec {
	uint8_t kind;
	const uint8_t *payload;
	size_t len;
	uint8_t *owned; // a changed payload
};

struct parsed {
	const uint8_t *header;
	size_t header_len;
	struct rec recs[MAX_RECORDS];
	size_t count;
};

static void parse_input(const struct fz_target *target, const uint8_t *data, size_t size,
		struct parsed *out) {
	size_t header = size < target->header_size ? size : target->header_size;
	out->header = data;
	out->header_len = header;
	out->count = 0;
	struct fz_reader r = {data + header, size - header};
	struct fz_record record;
	while (out->count < MAX_RECORDS && fz_next_record(&r, &record)) {
		out->recs[out->count++] = (struct rec){record.kind, record.payload, record.len, NULL};
	}
}

static void free_parsed(struct parsed *p) {
	for (size_t i = 0; i < p->count; i++) {
		free(p->recs[i].owned);
	}
}

/* Writes header and records to out; the length if all fit, else 0. */
static size_t serialize(const struct fz_target *target, const struct parsed *p, uint8_t *out,
		size_t max) {
	struct fz_writer w = {out, 0, max, false};
	fz_put_bytes(&w, p->header, p->header_len);
	for (size_t i = p->header_len; i < target->header_size; i++) {
		fz_put_u8(&w, 0);
	}
	for (size_t i = 0; i < p->count && !w.overflow; i++) {
		size_t start = fz_record_begin(&w, p->recs[i].kind);
		fz_put_bytes(&w, p->recs[i].payload, p->recs[i].len);
		fz_record_end(&w, start);
	}
	return w.overflow ? 0 : w.len;
}

static void set_payload(struct rec *rec, uint8_t *owned, size_t len) {
	free(rec->owned);
	rec->owned = owned;
	rec->payload = owned;
	rec->len = len;
}

static bool insert_rec(struct parsed *p, size_t at, struct rec rec) {
	if (p->count == MAX_RECORDS) {
		free(rec.owned);
		return false;
	}
	memmove(&p->recs[at + 1], &p->recs[at], (p->count - at) * sizeof(p->recs[0]));
	p->recs[at] = rec;
	p->count++;
	return true;
}

static struct rec copy_rec(const struct rec *src) {
	uint8_t *owned = malloc(src->len ? src->len : 1);
	if (owned == NULL) {
		abort();
	}
	if (src->len > 0) {
		memcpy(owned, src->payload, src->len);
	}
	return (struct rec){src->kind, owned, src->len, owned};
}

/* The offsets of the values of a tagged payload (at most max). */
static size_t value_offsets(const struct rec *rec, size_t *offsets, size_t max) {
	size_t n = 0, pos = 0;
	while (pos < rec->len && n < max) {
		offsets[n++] = pos;
		pos += fz_value_size(rec->payload + pos, rec->len - pos);
	}
	return n;
}

/* Replaces bytes [from, to) of a record's payload with repl. */
static void splice(struct rec *rec, size_t from, size_t to, const uint8_t *repl, size_t repl_len) {
	size_t len = rec->len - (to - from) + repl_len;
	uint8_t *owned = malloc(len ? len : 1);
	if (owned == NULL) {
		abort();
	}
	/* payload and repl may be NULL when empty: no memcpy of them then */
	if (from > 0) {
		memcpy(owned, rec->payload, from);
	}
	if (repl_len > 0) {
		memcpy(owned + from, repl, repl_len);
	}
	if (rec->len > to) {
		memcpy(owned + from + repl_len, rec->payload + to, rec->len - to);
	}
	set_payload(rec, owned, len);
}

/* A value changed a little: same class, nearby number, or other bytes. */
static size_t tweak_value(struct fz_rng *rng, const uint8_t *old, size_t old_len, uint8_t *out,
		size_t max) {
	struct fz_reader r = {old, old_len};
	struct fz_value v;
	fz_take_value(&r, &v);
	struct fz_writer w = {out, 0, max, false};
	switch (v.cls) {
	case FZ_SMALL:
	case FZ_SEL:
	case FZ_SPECIAL: {
		int delta = fz_below(rng, 2) ? 1 : -1;
		uint8_t p = (uint8_t)((v.p + (uint32_t)delta + (fz_below(rng, 4) == 0 ? fz_rand(rng) : 0)) & 31);
		enum fz_class cls = v.cls;
		if (fz_below(rng, 4) == 0) {
			static const enum fz_class swap[] = {FZ_SMALL, FZ_SEL, FZ_SPECIAL};
			cls = swap[fz_below(rng, 3)];
		}
		fz_put_tag(&w, cls, p == 31 && cls == FZ_SEL ? 30 : p);
		break;
	}
	case FZ_U8:
		fz_put_tag(&w, FZ_U8, 0);
		fz_put_u8(&w, (uint8_t)(v.v + (fz_below(rng, 2) ? 1 : 255) + (fz_below(rng, 3) == 0 ? fz_rand(rng) : 0)));
		break;
	case FZ_U32:
	case FZ_U64: {
		uint64_t n = v.v;
		switch (fz_below(rng, 4)) {
		case 0:
			n++;
			break;
		case 1:
			n--;
			break;
		case 2:
			n ^= 1ull << fz_below(rng, v.cls == FZ_U32 ? 32 : 64);
			break;
		default:
			n = interesting[fz_below(rng, sizeof(interesting) / sizeof(interesting[0]))];
			break;
		}
		if (v.cls == FZ_U32) {
			fz_put_tag(&w, FZ_U32, 0);
			fz_put_u32(&w, (uint32_t)n);
		} else {
			fz_put_tag(&w, FZ_U64, 0);
			fz_put_u32(&w, (uint32_t)n);
			fz_put_u32(&w, (uint32_t)(n >> 32));
		}
		break;
	}
	case FZ_BYTES: {
		uint8_t buf[512];
		size_t len = v.len < sizeof(buf) ? v.len : sizeof(buf);
		memcpy(buf, v.bytes, len);
		if (LLVMFuzzerMutate != NULL) {
			len = LLVMFuzzerMutate(buf, len, sizeof(buf));
		} else if (len > 0) {
			buf[fz_below(rng, (uint32_t)len)] ^= (uint8_t)(1u << fz_below(rng, 8));
		}
		fz_put_blob(&w, buf, len);
		break;
	}
	case FZ_LEN:
		fz_put_tag(&w, FZ_LEN, 0);
		fz_put_u16(&w, fz_below(rng, 2) ? (uint16_t)(v.v + 1 + fz_below(rng, 64)) :
			(uint16_t)interesting[fz_below(rng, 20)]);
		break;
	}
	return w.overflow ? 0 : w.len;
}

static bool mutate_value(const struct fz_target *target, struct fz_rng *rng, struct rec *rec) {
	if (!target->tagged(rec->kind & target->kind_mask)) {
		return false;
	}
	size_t offsets[256];
	size_t n = value_offsets(rec, offsets, 256);
	uint8_t buf[600];
	struct fz_writer w = {buf, 0, sizeof(buf), false};
	uint32_t op = fz_below(rng, 10);
	if (n == 0 || op == 0) {
		/* add a value (an argument or field more, or one that was missing) */
		size_t at = n == 0 ? 0 : fz_below(rng, 2) ? rec->len : offsets[fz_below(rng, (uint32_t)n)];
		fz_random_value(rng, &w);
		splice(rec, at, at, buf, w.len);
		return true;
	}
	size_t i = fz_below(rng, (uint32_t)n);
	size_t from = offsets[i];
	size_t to = i + 1 < n ? offsets[i + 1] : rec->len;
	if (op == 1 && n > 1) {
		splice(rec, from, to, NULL, 0); // drop it
		return true;
	}
	if (op <= 5) {
		w.len = tweak_value(rng, rec->payload + from, to - from, buf, sizeof(buf));
	} else {
		fz_random_value(rng, &w);
	}
	if (w.len == 0) {
		return false;
	}
	splice(rec, from, to, buf, w.len);
	return true;
}

static bool mutate_raw(struct fz_rng *rng, struct rec *rec) {
	if (LLVMFuzzerMutate == NULL) {
		return false;
	}
	size_t max = rec->len * 2 + 64;
	if (max > 8192) {
		max = rec->len > 8192 ? rec->len : 8192;
	}
	uint8_t *buf = malloc(max);
	if (buf == NULL) {
		abort();
	}
	if (rec->len > 0) {
		memcpy(buf, rec->payload, rec->len);
	}
	size_t len = LLVMFuzzerMutate(buf, rec->len, max);
	set_payload(rec, buf, len);
	return true;
}

static bool generate_into(const struct fz_target *target, struct fz_rng *rng, struct parsed *p,
		size_t at) {
	uint8_t buf[2048];
	struct fz_writer w = {buf, 0, sizeof(buf), false};
	target->generate(rng, &w);
	if (w.overflow || w.len < FZ_RECORD_HEADER) {
		return false;
	}
	struct fz_reader r = {buf, w.len};
	struct fz_record record;
	bool any = false;
	while (fz_next_record(&r, &record)) {
		struct rec tmp = {record.kind, record.payload, record.len, NULL};
		if (!insert_rec(p, at++, copy_rec(&tmp))) {
			break;
		}
		any = true;
	}
	return any;
}

static bool mutate_once(const struct fz_target *target, struct fz_rng *rng, struct parsed *p) {
	uint32_t op = fz_below(rng, 100);
	size_t n = p->count;
	if (n == 0 || op < 16) {
		return generate_into(target, rng, p, n == 0 ? 0 : fz_below(rng, (uint32_t)n + 1));
	}
	size_t i = fz_below(rng, (uint32_t)n);
	struct rec *rec = &p->recs[i];
	if (op < 26) {
		free(rec->owned);
		memmove(&p->recs[i], &p->recs[i + 1], (n - i - 1) * sizeof(p->recs[0]));
		p->count--;
		return true;
	}
	if (op < 34) {
		struct rec copy = copy_rec(rec);
		return insert_rec(p, fz_below(rng, 2) ? i + 1 : fz_below(rng, (uint32_t)n + 1), copy);
	}
	if (op < 42) {
		size_t j = fz_below(rng, (uint32_t)n);
		struct rec tmp = p->recs[i];
		if (fz_below(rng, 2)) {
			p->recs[i] = p->recs[j];
			p->recs[j] = tmp;
		} else if (i < j) { // move i to j
			memmove(&p->recs[i], &p->recs[i + 1], (j - i) * sizeof(p->recs[0]));
			p->recs[j] = tmp;
		} else {
			memmove(&p->recs[j + 1], &p->recs[j], (i - j) * sizeof(p->recs[0]));
			p->recs[j] = tmp;
		}
		return i != j;
	}
	if (op < 72) {
		return mutate_value(target, rng, rec);
	}
	if (op < 78) {
		/* its flags (the other bits of its kind) */
		uint8_t flags = (uint8_t)~target->kind_mask;
		if (flags == 0) {
			return false;
		}
		uint8_t bit;
		do {
			bit = (uint8_t)(1u << fz_below(rng, 8));
		} while (!(bit & flags));
		rec->kind ^= bit;
		return true;
	}
	if (op < 82) {
		/* another kind, same payload */
		rec->kind = (uint8_t)((rec->kind & ~target->kind_mask) |
			(fz_rand(rng) & target->kind_mask));
		return true;
	}
	return mutate_raw(rng, rec);
}

static size_t mutate(const struct fz_target *target, uint8_t *data, size_t size,
		size_t max_size, unsigned int seed) {
	struct fz_rng rng = {(uint64_t)seed * 0x9e3779b97f4a7c15ull + 1};
	uint32_t op = fz_below(&rng, 100);
	if (op < 8 && LLVMFuzzerMutate != NULL) {
		return LLVMFuzzerMutate(data, size, max_size); // plain bytes, now and then
	}
	if (op < 11 && LLVMFuzzerMutate != NULL && size >= target->header_size &&
			target->header_size > 0) {
		LLVMFuzzerMutate(data, target->header_size, target->header_size);
		return size;
	}
	struct parsed *p = malloc(sizeof(*p));
	if (p == NULL) {
		abort();
	}
	parse_input(target, data, size, p);
	uint32_t rounds = 1 + fz_below(&rng, 3);
	bool changed = false;
	for (uint32_t i = 0; i < rounds; i++) {
		changed = mutate_once(target, &rng, p) || changed;
	}
	uint8_t *out = malloc(max_size ? max_size : 1);
	if (out == NULL) {
		abort();
	}
	size_t len = changed ? serialize(target, p, out, max_size) : 0;
	free_parsed(p);
	free(p);
	if (len == 0) {
		free(out);
		return LLVMFuzzerMutate != NULL ? LLVMFuzzerMutate(data, size, max_size) : size;
	}
	memcpy(data, out, len);
	free(out);
	return len;
}

static size_t crossover(const struct fz_target *target, const uint8_t *data1, size_t size1,
		const uint8_t *data2, size_t size2, uint8_t *out, size_t max_out, unsigned int seed) {
	struct fz_rng rng = {(uint64_t)seed * 0x9e3779b97f4a7c15ull + 7};
	struct parsed *a = malloc(sizeof(*a));
	struct parsed *b = malloc(sizeof(*b));
	if (a == NULL || b == NULL) {
		abort();
	}
	parse_input(target, data1, size1, a);
	parse_input(target, data2, size2, b);
	if (b->count > 0) {
		/* a run of b's records, into a */
		size_t from = fz_below(&rng, (uint32_t)b->count);
		size_t count = 1 + fz_below(&rng, (uint32_t)(b->count - from));
		size_t at = fz_below(&rng, (uint32_t)a->count + 1);
		for (size_t i = 0; i < count; i++) {
			if (!insert_rec(a, at + i, copy_rec(&b->recs[from + i]))) {
				break;
			}
		}
	}
	size_t len = serialize(target, a, out, max_out);
	free_parsed(a);
	free_parsed(b);
	free(a);
	free(b);
	if (len == 0) {
		len = size1 < max_out ? size1 : max_out;
		memcpy(out, data1, len);
	}
	return len;
}

/* libFuzzer's hooks, over the program's target */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
	size_t size2, uint8_t *out, size_t max_out, unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
	return mutate(&fz_this_target, data, size, max_size, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
		size_t size2, uint8_t *out, size_t max_out, unsigned int seed) {
	return crossover(&fz_this_target, data1, size1, data2, size2, out, max_out, seed);
}
