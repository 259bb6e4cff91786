#ifndef TESTS_FUZZ_LINK_GEN_H
#define TESTS_FUZZ_LINK_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/link.h"
#include "tests/fuzz/record.h"

/*
 * Link frames from the values of a record (tests/fuzz/record.h), laid out
 * by the generated tables of protocols/link.xml: whatever messages the set
 * has, with the fields, limits, enums and string rules it says, so that
 * new messages are fuzzed without touching this file.
 *
 * Values, in order:
 *   type   SMALL/U8/SEL k: the k-th message the role may send; U32: a raw
 *          type; SPECIAL k: the k-th message of the other role
 *   id     SEL k: the k-th of ids (requests seen); SMALL/U8/U32: as is
 *   shape  SMALL bits: 1 header flags set, 2 length one too long, 4 one too
 *          short, 8 a byte after the payload, 16 a SYNC marker first
 *   then one value per field (array items: their fields, per item):
 *   numbers  SMALL/SEL k: the k-th allowed value (enum, bits, min + k);
 *            U8/U32/U64/BYTES: exactly; SPECIAL: max, min, max + 1,
 *            min - 1, 0, all ones, a value outside the enum, an unknown bit
 *   strings  SMALL/SEL k: the k-th sample that passes the field's rule;
 *            BYTES: exactly (NUL and all); LEN n: n bytes; U32: a length
 *            that lies; SPECIAL: empty, max, max + 1, no NUL at the end
 *   data     SMALL k: k bytes; LEN/U32 n: n bytes (a pattern); BYTES: exactly;
 *            SPECIAL: max, max + 1, a length that lies
 *   arrays   SMALL/SEL k: k items; U32 n: a count of n (items as far as
 *            they go); SPECIAL: max, max + 1
 * A missing value is the field's first valid choice.
 */

struct lg_ids {
	const uint32_t *ids;
	size_t count;
};

/* Appends one frame (with a SYNC marker first if asked) to out; false if
 * out of memory. *type gets the frame's type. */
bool lg_build(const struct vd_link_set *set, int role, struct fz_reader *r,
	const struct lg_ids *ids, struct vd_link_buf *out, uint16_t *type);

/* The values of a new frame record after its type (for a target's mutator):
 * an id naming one of the requests seen, a shape now and then, fields. */
void lg_generate_after_type(struct fz_rng *rng, struct fz_writer *w);

/* A peer of the code under test reads what it was sent: lg_read_checked. */
enum lg_read {
	LG_READ_NOTHING, // nothing was there
	LG_READ_SOME, // read all there was
	LG_READ_CLOSED, // the end of the stream, or an error
};

/* Each frame read, decoded (msg is finished after the call). */
typedef void (*lg_frame_fn)(void *data, const struct vd_link_header *header,
	const uint8_t *payload, const struct vd_link_msg *msg);

/*
 * Reads what fd has, without blocking, into reader, and decodes each whole
 * frame as sent by role of set: a frame that does not decode is a finding
 * (abort, with who and why on stderr). frame (may be NULL) sees each one.
 */
enum lg_read lg_read_checked(int fd, struct vd_link_reader *reader, const struct vd_link_set *set,
	int role, const char *who, lg_frame_fn frame, void *data);

/* Appends raw bytes. */
bool lg_put(struct vd_link_buf *out, const void *data, size_t len);

/* Appends SYNC and a valid HELLO of role (caps offered). */
bool lg_hello(const struct vd_link_set *set, int role, uint32_t caps, uint64_t nonce,
	struct vd_link_buf *out);

#endif
