#ifndef TESTS_FUZZ_RECORD_H
#define TESTS_FUZZ_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The input format of the structure-aware fuzz targets (fuzz-proxy, the
 * link fuzzers): a fixed header, then records
 *
 *   u8 kind   low bits: the target's kind of record; high bits: its flags
 *   u16 len   little-endian, bytes of payload
 *   payload
 *
 * A record's payload is either raw bytes (what a peer writes as it is) or a
 * list of tagged values that the target turns into a message against its
 * tables and its state (live objects, pending requests): the same bytes stay
 * meaningful when the state around them changes, and every value can be
 * read without knowing what it is for, so the mutator can change one.
 *
 * A value is a tag byte, class (top 3 bits) and p (low 5 bits), then:
 *   SMALL   nothing       the number p
 *   U8      1 byte        a number
 *   U32     4 bytes LE    an exact number (or ID, or length)
 *   U64     8 bytes LE    an exact number
 *   BYTES   p < 31: p bytes; p == 31: u16 LE length, then the bytes
 *   SEL     p < 31: p; p == 31: 1 byte   a choice among what exists now
 *                                        (objects, serials, requests)
 *   SPECIAL nothing       an edge value: the target's table of them, by p
 *   LEN     u16 LE        a length n (content made up by the target)
 * A value missing at the end of a payload reads as SMALL 0 with present
 * false, so a short record still makes a whole message.
 *
 * The custom mutator for such inputs (record.c, over fz_this_target) inserts,
 * deletes, duplicates, moves and swaps records, changes one value of a
 * record (or adds or removes one), a record's flags or its raw payload,
 * and falls back on libFuzzer's byte mutation.
 */

enum fz_class {
	FZ_SMALL,
	FZ_U8,
	FZ_U32,
	FZ_U64,
	FZ_BYTES,
	FZ_SEL,
	FZ_SPECIAL,
	FZ_LEN,
};

#define FZ_TAG(cls, p) ((uint8_t)((cls) << 5 | ((p) & 31)))

struct fz_reader {
	const uint8_t *p;
	size_t left;
};

struct fz_value {
	enum fz_class cls;
	uint8_t p;
	uint64_t v; // SMALL, U8, U32, U64, SEL, LEN (n), BYTES (length); SPECIAL: p
	const uint8_t *bytes; // BYTES
	size_t len; // BYTES
	bool present;
};

static inline void fz_reader_init(struct fz_reader *r, const void *data, size_t size) {
	r->p = data;
	r->left = size;
}

/* Plain bytes of a header; zeros past the end. */
uint8_t fz_take_u8(struct fz_reader *r);
uint16_t fz_take_u16(struct fz_reader *r);
uint32_t fz_take_u32(struct fz_reader *r);

/* The next value; false (a SMALL 0 that is not present) at the end. */
bool fz_take_value(struct fz_reader *r, struct fz_value *value);
/* Bytes of the value at p (at most left). */
size_t fz_value_size(const uint8_t *p, size_t left);

/* A value as a number: what it names, its length, or its first bytes. */
uint64_t fz_value_number(const struct fz_value *value);

struct fz_record {
	uint8_t kind; // the whole kind byte
	const uint8_t *payload;
	size_t len;
};

#define FZ_RECORD_HEADER 3

/* The next record; false at the end (a cut last record is cut short). */
bool fz_next_record(struct fz_reader *input, struct fz_record *record);

/* Writing values and records (seed generators, the mutator). */
struct fz_writer {
	uint8_t *data;
	size_t len, cap;
	bool overflow;
};

void fz_put_bytes(struct fz_writer *w, const void *data, size_t len);
void fz_put_u8(struct fz_writer *w, uint8_t v);
void fz_put_u16(struct fz_writer *w, uint16_t v);
void fz_put_u32(struct fz_writer *w, uint32_t v);
/* A number exactly: U8, U32 or U64, the shortest (SMALL is a choice, not
 * always the number itself). */
void fz_put_number(struct fz_writer *w, uint64_t v);
void fz_put_blob(struct fz_writer *w, const void *data, size_t len);
void fz_put_tag(struct fz_writer *w, enum fz_class cls, uint8_t p);
/* A record: the payload written by the caller after fz_record_begin. */
size_t fz_record_begin(struct fz_writer *w, uint8_t kind);
void fz_record_end(struct fz_writer *w, size_t start);

/* The mutator */

struct fz_rng {
	uint64_t state;
};

static inline uint32_t fz_rand(struct fz_rng *rng) {
	rng->state ^= rng->state << 13;
	rng->state ^= rng->state >> 7;
	rng->state ^= rng->state << 17;
	return (uint32_t)(rng->state >> 11);
}

static inline uint32_t fz_below(struct fz_rng *rng, uint32_t n) {
	return n == 0 ? 0 : fz_rand(rng) % n;
}

/* A random value, mostly SMALL and SEL (which the targets read as valid choices). */
void fz_random_value(struct fz_rng *rng, struct fz_writer *w);
/* Fewer than max random values (the arguments or fields of a new record). */
void fz_random_values(struct fz_rng *rng, struct fz_writer *w, uint32_t max);

struct fz_target {
	size_t header_size; // fixed bytes before the records
	uint8_t kind_mask; // the kind byte's bits that say the kind (the rest are flags)
	/* whether a kind's payload is values (else raw bytes) */
	bool (*tagged)(uint8_t kind);
	/* appends one new record (the target knows what makes sense) */
	void (*generate)(struct fz_rng *rng, struct fz_writer *w);
};

/*
 * The program's target: each structure-aware target defines it, and
 * record.c gives libFuzzer its custom mutator and crossover over it
 * (LLVMFuzzerCustomMutator, LLVMFuzzerCustomCrossOver).
 */
extern const struct fz_target fz_this_target;

/* libFuzzer's own byte mutation (weak: absent in replay builds). */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

#endif
