#ifndef PROTOCOLS_LINK_H
#define PROTOCOLS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vd-link.h"

/*
 * The link codec: one framed format for every byte stream between vmdesk
 * programs (protocols/link.md). Messages, their fields and their rules are
 * described once in protocols/link.xml; gen-link.py makes a struct per
 * message (vd-link.h) and the tables this file's functions interpret.
 *
 * A frame is a 12-byte little-endian header {u32 length, u16 type, u16
 * flags, u32 id} and a payload of length bytes. A message set (guest: the
 * VM link; host: host-local links) says which types exist, which of its two
 * roles may send each, and the largest payload. Decoding checks every field
 * against its rules; anything decoded is safe to use as documented there.
 * Encoding checks the same rules, so a program never sends what its peer
 * would refuse.
 */

/* Readers skip this at a frame boundary; carriers without connections send it
 * before HELLO so that a reader can find a frame boundary again. */
#define VD_LINK_SYNC_SIZE 12
extern const uint8_t vd_link_sync[VD_LINK_SYNC_SIZE];

enum vd_link_field_kind {
	VD_LINK_FIELD_U8,
	VD_LINK_FIELD_U16,
	VD_LINK_FIELD_U32,
	VD_LINK_FIELD_U64,
	VD_LINK_FIELD_STRING, // const char *: length, bytes, NUL
	VD_LINK_FIELD_DATA, // const uint8_t * and uint32_t length
	VD_LINK_FIELD_ARRAY, // pointer to items and uint32_t count
};

struct vd_link_field {
	const char *name;
	enum vd_link_field_kind kind;
	uint8_t length_size; // strings and arrays: 2 or 4 bytes of length/count on the wire
	uint16_t offset; // of the value in its struct
	uint16_t count_offset; // data: of its length; arrays: of their count
	uint64_t min, max; // numbers: the value; strings and data: the length; arrays: the count
	const uint32_t *values; // enums: the allowed values
	size_t nvalues;
	uint64_t mask; // bitfields: the allowed bits (0: any value)
	bool (*check)(const char *s, size_t len); // strings
	const struct vd_link_field *items; // arrays: the fields of one item
	size_t nitems;
	size_t item_size;
};

struct vd_link_message {
	uint16_t type;
	const char *name; // "RUN_OUTPUT"
	uint8_t senders; // bit N: role N may send it
	uint32_t cap; // capability it needs (0: none)
	size_t size; // of its struct
	const struct vd_link_field *fields;
	size_t nfields;
	bool (*check)(const void *body, char *err, size_t err_size);
	/* numbers, then one data field whose bytes may go straight to their
	 * place (vd_link_decode_head); its check reads no data bytes */
	bool bulk;
};

struct vd_link_set {
	const char *name;
	uint16_t id; // enum vd_link_set_id
	const char *roles[2];
	uint16_t first, last; // its type range
	uint32_t max_frame; // largest payload
	uint32_t caps; // every capability it knows
	const struct vd_link_message *messages; // sorted by type
	size_t count;
};

struct vd_link_header {
	uint32_t length;
	uint16_t type;
	uint16_t flags;
	uint32_t id;
};

/* A message: its type, the id of its header, and the fields of its type. */
struct vd_link_msg {
	uint16_t type;
	uint32_t id; // the request or channel it belongs to; 0: none
	union vd_link_body body;
	void *allocs; // the decoder's arrays (vd_link_msg_finish frees them)
};

const struct vd_link_message *vd_link_set_find(const struct vd_link_set *set, uint16_t type);
/* "RUN_OUTPUT", or "0x1234" for a type the set does not know (a static buffer). */
const char *vd_link_type_name(const struct vd_link_set *set, uint16_t type);

void vd_link_header_read(const uint8_t *data, struct vd_link_header *header);
bool vd_link_is_sync(const uint8_t *data);

/*
 * Decodes the payload of a frame of set sent by role sender. On success
 * msg holds the message: strings and data point into payload (valid while
 * it is), vd_link_msg_finish frees the rest. On failure returns false with
 * the reason in err and leaves nothing to free.
 */
bool vd_link_decode(const struct vd_link_set *set, int sender, const struct vd_link_header *header,
	const uint8_t *payload, struct vd_link_msg *msg, char *err, size_t err_size);
void vd_link_msg_finish(struct vd_link_msg *msg);
/* Checks msg against every rule decoding checks (after the wire layout). */
bool vd_link_validate(const struct vd_link_set *set, const struct vd_link_msg *msg, char *err,
	size_t err_size);

/* Output: frames waiting to be written, data[pos..len). */
struct vd_link_buf {
	uint8_t *data;
	size_t len, pos, cap;
};

/*
 * Bulk messages (link.md, "Bulk data"): the fields before the data field of
 * a frame whose type is bulk, decoded and checked (the data's length against
 * the frame, data pointing nowhere), so that the data can be read to where it
 * belongs. VD_LINK_HEAD_MORE: fewer than the head's bytes yet; _NONE: not a
 * bulk type; _ERROR: err says why. *head_size: the bytes before the data.
 */
enum vd_link_head {
	VD_LINK_HEAD_OK,
	VD_LINK_HEAD_MORE,
	VD_LINK_HEAD_NONE,
	VD_LINK_HEAD_ERROR,
};
enum vd_link_head vd_link_decode_head(const struct vd_link_set *set, int sender,
	const struct vd_link_header *header, const uint8_t *payload, size_t avail,
	struct vd_link_msg *msg, size_t *head_size, char *err, size_t err_size);

void vd_link_buf_finish(struct vd_link_buf *buf);
size_t vd_link_buf_pending(const struct vd_link_buf *buf);
/* The first n pending bytes were written. */
void vd_link_buf_consume(struct vd_link_buf *buf, size_t n);
bool vd_link_buf_put_sync(struct vd_link_buf *buf);
/*
 * Appends msg as one frame. False (buf unchanged, reason in err) if msg
 * breaks a rule of set, its payload is over max_payload, or memory runs out.
 */
bool vd_link_encode(const struct vd_link_set *set, const struct vd_link_msg *msg,
	uint32_t max_payload, struct vd_link_buf *buf, char *err, size_t err_size);
/*
 * As vd_link_encode for a bulk message, but the bytes of its data field are
 * left out: the caller sends them right after what this appended.
 */
bool vd_link_encode_head(const struct vd_link_set *set, const struct vd_link_msg *msg,
	uint32_t max_payload, struct vd_link_buf *buf, char *err, size_t err_size);

/*
 * The capped reader: bytes in, whole frames out. It never holds more than
 * one frame of at most max_payload plus one read; a header announcing more,
 * or flags it does not know, is an error.
 */
struct vd_link_reader {
	uint8_t *data;
	size_t len, pos, cap;
	uint32_t max_payload;
	bool hunting; // skipping to the next SYNC marker
	uint64_t skipped; // bytes skipped while hunting
};

enum vd_link_next {
	VD_LINK_NEXT_NONE, // no whole frame yet
	VD_LINK_NEXT_FRAME,
	VD_LINK_NEXT_ERROR, // broken framing: err says why
};

void vd_link_reader_init(struct vd_link_reader *reader, uint32_t max_payload);
void vd_link_reader_finish(struct vd_link_reader *reader);
/* Where to read the next bytes to (at most *size), NULL if out of memory. */
uint8_t *vd_link_reader_space(struct vd_link_reader *reader, size_t *size);
void vd_link_reader_commit(struct vd_link_reader *reader, size_t n);
/* The next frame; its payload stays valid until the next call to the reader. */
enum vd_link_next vd_link_reader_next(struct vd_link_reader *reader, struct vd_link_header *header,
	const uint8_t **payload, char *err, size_t err_size);
/* Bytes of a frame begun but not whole. */
size_t vd_link_reader_pending(const struct vd_link_reader *reader);
/* Drops what it holds and skips to the next SYNC marker (resynchronising). */
void vd_link_reader_hunt(struct vd_link_reader *reader);
/*
 * The frame at the head (SYNC markers skipped, the header checked as
 * vd_link_reader_next does), whole or not: its header and the payload bytes
 * there are so far (*avail). Consumes nothing. VD_LINK_NEXT_FRAME when a
 * header is there.
 */
enum vd_link_next vd_link_reader_head(struct vd_link_reader *reader,
	struct vd_link_header *header, const uint8_t **payload, size_t *avail, char *err,
	size_t err_size);
/* Consumes n bytes at the head (a header and part of its payload). */
void vd_link_reader_skip(struct vd_link_reader *reader, size_t n);

#endif
