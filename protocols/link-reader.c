#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/link-private.h"

/*
 * The capped reader of every link: bytes in, whole frames out, never a
 * frame over its limit buffered; after a broken frame on a serial carrier
 * it hunts for the next SYNC marker (link.md, "Frames", "Serial carriers").
 */

void vd_link_reader_init(struct vd_link_reader *reader, uint32_t max_payload) {
	*reader = (struct vd_link_reader){.max_payload = max_payload};
}

void vd_link_reader_finish(struct vd_link_reader *reader) {
	free(reader->data);
	*reader = (struct vd_link_reader){0};
}

size_t vd_link_reader_pending(const struct vd_link_reader *reader) {
	return reader->len - reader->pos;
}

uint8_t *vd_link_reader_space(struct vd_link_reader *reader, size_t *size) {
	if (reader->pos > 0) {
		memmove(reader->data, reader->data + reader->pos, reader->len - reader->pos);
		reader->len -= reader->pos;
		reader->pos = 0;
	}
	/*
	 * Read what the current frame still needs, and at least a chunk: never
	 * more than one whole frame (of at most max_payload) and one chunk.
	 */
	size_t want = LINK_READ_CHUNK;
	if (!reader->hunting && reader->len >= VD_LINK_HEADER_SIZE) {
		struct vd_link_header header;
		vd_link_header_read(reader->data, &header);
		if (header.length <= reader->max_payload &&
				VD_LINK_HEADER_SIZE + (size_t)header.length > reader->len + want) {
			want = VD_LINK_HEADER_SIZE + (size_t)header.length - reader->len;
		}
	}
	/* what is left of an earlier chunk (a quarter of one at least) serves as
	 * it is: reads shorter than a chunk then do not each reallocate and copy
	 * the buffer */
	if (want == LINK_READ_CHUNK && reader->cap - reader->len < want &&
			reader->cap - reader->len >= LINK_READ_CHUNK / 4) {
		want = reader->cap - reader->len;
	}
	if (reader->cap - reader->len < want) {
		size_t cap = reader->len + want;
		uint8_t *data = realloc(reader->data, cap);
		if (data == NULL) {
			return NULL;
		}
		reader->data = data;
		reader->cap = cap;
	}
	*size = want;
	return reader->data + reader->len;
}

void vd_link_reader_commit(struct vd_link_reader *reader, size_t n) {
	reader->len += n;
}

void vd_link_reader_hunt(struct vd_link_reader *reader) {
	reader->hunting = true;
}

/* While hunting: drop bytes up to a SYNC marker, keeping a partial one. */
static bool hunt(struct vd_link_reader *reader) {
	const uint8_t *p = reader->data + reader->pos;
	size_t avail = reader->len - reader->pos;
	for (size_t i = 0; i + VD_LINK_SYNC_SIZE <= avail; i++) {
		if (p[i] == vd_link_sync[0] && vd_link_is_sync(p + i)) {
			reader->skipped += i;
			reader->pos += i;
			reader->hunting = false;
			return true;
		}
	}
	size_t keep = avail < VD_LINK_SYNC_SIZE - 1 ? avail : VD_LINK_SYNC_SIZE - 1;
	reader->skipped += avail - keep;
	reader->pos += avail - keep;
	return false;
}

enum vd_link_next vd_link_reader_head(struct vd_link_reader *reader,
		struct vd_link_header *header, const uint8_t **payload, size_t *avail, char *err,
		size_t err_size) {
	for (;;) {
		if (reader->hunting && !hunt(reader)) {
			return VD_LINK_NEXT_NONE;
		}
		size_t have = reader->len - reader->pos;
		if (have < VD_LINK_HEADER_SIZE) {
			return VD_LINK_NEXT_NONE;
		}
		const uint8_t *p = reader->data + reader->pos;
		if (vd_link_is_sync(p)) {
			reader->pos += VD_LINK_SYNC_SIZE;
			continue;
		}
		vd_link_header_read(p, header);
		if (header->length > reader->max_payload) {
			link_set_err(err, err_size, "frame of %u bytes over the %u-byte limit",
				header->length, reader->max_payload);
			return VD_LINK_NEXT_ERROR;
		}
		if (header->flags != 0) {
			link_set_err(err, err_size, "frame flags 0x%04x (must be 0)", header->flags);
			return VD_LINK_NEXT_ERROR;
		}
		*payload = p + VD_LINK_HEADER_SIZE;
		*avail = have - VD_LINK_HEADER_SIZE;
		if (*avail > header->length) {
			*avail = header->length;
		}
		return VD_LINK_NEXT_FRAME;
	}
}

void vd_link_reader_skip(struct vd_link_reader *reader, size_t n) {
	size_t have = reader->len - reader->pos;
	reader->pos += n < have ? n : have;
}

enum vd_link_next vd_link_reader_next(struct vd_link_reader *reader, struct vd_link_header *header,
		const uint8_t **payload, char *err, size_t err_size) {
	size_t avail;
	enum vd_link_next next = vd_link_reader_head(reader, header, payload, &avail, err,
		err_size);
	if (next != VD_LINK_NEXT_FRAME) {
		return next;
	}
	if (avail < header->length) {
		return VD_LINK_NEXT_NONE; // the rest of the frame is still to come
	}
	reader->pos += VD_LINK_HEADER_SIZE + header->length;
	return VD_LINK_NEXT_FRAME;
}
