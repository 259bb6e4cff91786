#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/link-private.h"

/*
 * The interpreter of the generated tables. Decoding is two steps: the wire
 * layout into the message struct (lengths, terminators, counts against the
 * bytes there are), then vd_link_validate, the same rules the encoder checks
 * before it writes anything.
 */

const uint8_t vd_link_sync[VD_LINK_SYNC_SIZE] = {
	0xff, 0xff, 0xff, 0xff, 'V', 'D', 'S', 'Y', 'N', 'C', '\r', '\n',
};

void link_set_err(char *err, size_t err_size, const char *fmt, ...) {
	if (err == NULL || err_size == 0) {
		return;
	}
	va_list args;
	va_start(args, fmt);
	vsnprintf(err, err_size, fmt, args);
	va_end(args);
}

const struct vd_link_message *vd_link_set_find(const struct vd_link_set *set, uint16_t type) {
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->messages[mid].type == type) {
			return &set->messages[mid];
		}
		if (set->messages[mid].type < type) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

const char *vd_link_type_name(const struct vd_link_set *set, uint16_t type) {
	const struct vd_link_message *desc = vd_link_set_find(set, type);
	if (desc != NULL) {
		return desc->name;
	}
	static _Thread_local char buf[8];
	snprintf(buf, sizeof(buf), "0x%04x", type);
	return buf;
}

static uint16_t load_u16(const uint8_t *p) {
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t load_u32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_u64(const uint8_t *p) {
	return (uint64_t)load_u32(p) | (uint64_t)load_u32(p + 4) << 32;
}

void vd_link_header_read(const uint8_t *data, struct vd_link_header *header) {
	header->length = load_u32(data);
	header->type = load_u16(data + 4);
	header->flags = load_u16(data + 6);
	header->id = load_u32(data + 8);
}

bool vd_link_is_sync(const uint8_t *data) {
	return memcmp(data, vd_link_sync, VD_LINK_SYNC_SIZE) == 0;
}

/* ---- struct access ---- */

static uint64_t get_number(const struct vd_link_field *f, const void *base) {
	const uint8_t *p = (const uint8_t *)base + f->offset;
	switch (f->kind) {
	case VD_LINK_FIELD_U8:
		return *p;
	case VD_LINK_FIELD_U16: {
		uint16_t v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	case VD_LINK_FIELD_U32: {
		uint32_t v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	}
}

static void set_number(const struct vd_link_field *f, void *base, uint64_t v) {
	uint8_t *p = (uint8_t *)base + f->offset;
	switch (f->kind) {
	case VD_LINK_FIELD_U8:
		*p = (uint8_t)v;
		break;
	case VD_LINK_FIELD_U16: {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, sizeof(x));
		break;
	}
	case VD_LINK_FIELD_U32: {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, sizeof(x));
		break;
	}
	default:
		memcpy(p, &v, sizeof(v));
		break;
	}
}

static const void *get_ptr(const struct vd_link_field *f, const void *base) {
	const void *v;
	memcpy(&v, (const uint8_t *)base + f->offset, sizeof(v));
	return v;
}

static void set_ptr(const struct vd_link_field *f, void *base, const void *v) {
	memcpy((uint8_t *)base + f->offset, &v, sizeof(v));
}

static uint32_t get_count(const struct vd_link_field *f, const void *base) {
	uint32_t v;
	memcpy(&v, (const uint8_t *)base + f->count_offset, sizeof(v));
	return v;
}

static void set_count(const struct vd_link_field *f, void *base, uint32_t v) {
	memcpy((uint8_t *)base + f->count_offset, &v, sizeof(v));
}

static size_t number_size(enum vd_link_field_kind kind) {
	switch (kind) {
	case VD_LINK_FIELD_U8:
		return 1;
	case VD_LINK_FIELD_U16:
		return 2;
	case VD_LINK_FIELD_U32:
		return 4;
	default:
		return 8;
	}
}

static bool is_number(enum vd_link_field_kind kind) {
	return kind <= VD_LINK_FIELD_U64;
}

/* ---- validation ---- */

static bool validate_fields(const struct vd_link_field *fields, size_t n, const void *base,
	const char *where, char *err, size_t err_size);

static bool validate_field(const struct vd_link_field *f, const void *base, const char *where,
		char *err, size_t err_size) {
	if (is_number(f->kind)) {
		uint64_t v = get_number(f, base);
		if (v < f->min || v > f->max) {
			link_set_err(err, err_size, "%s: %s %llu not in %llu..%llu", where, f->name,
				(unsigned long long)v, (unsigned long long)f->min,
				(unsigned long long)f->max);
			return false;
		}
		if (f->values != NULL) {
			size_t i = 0;
			while (i < f->nvalues && f->values[i] != v) {
				i++;
			}
			if (i == f->nvalues) {
				link_set_err(err, err_size, "%s: unknown %s %llu", where, f->name,
					(unsigned long long)v);
				return false;
			}
		}
		if (f->mask != 0 && (v & ~f->mask) != 0) {
			link_set_err(err, err_size, "%s: unknown %s bits 0x%llx", where, f->name,
				(unsigned long long)(v & ~f->mask));
			return false;
		}
		return true;
	}
	if (f->kind == VD_LINK_FIELD_STRING) {
		const char *s = get_ptr(f, base);
		size_t len = s != NULL ? strnlen(s, (size_t)f->max + 1) : 0;
		if (s == NULL || len < f->min || len > f->max) {
			link_set_err(err, err_size, "%s: %s of %zu bytes not in %llu..%llu", where, f->name,
				len, (unsigned long long)f->min, (unsigned long long)f->max);
			return false;
		}
		if (f->check != NULL && !f->check(s, len)) {
			link_set_err(err, err_size, "%s: invalid %s", where, f->name);
			return false;
		}
		return true;
	}
	uint32_t count = get_count(f, base);
	const void *ptr = get_ptr(f, base);
	if (count < f->min || count > f->max || (count > 0 && ptr == NULL)) {
		link_set_err(err, err_size, "%s: %s %s %u not in %llu..%llu", where, f->name,
			f->kind == VD_LINK_FIELD_DATA ? "length" : "count", count,
			(unsigned long long)f->min, (unsigned long long)f->max);
		return false;
	}
	if (f->kind == VD_LINK_FIELD_ARRAY) {
		for (uint32_t i = 0; i < count; i++) {
			const uint8_t *item = (const uint8_t *)ptr + i * f->item_size;
			if (!validate_fields(f->items, f->nitems, item, where, err, err_size)) {
				return false;
			}
		}
	}
	return true;
}

static bool validate_fields(const struct vd_link_field *fields, size_t n, const void *base,
		const char *where, char *err, size_t err_size) {
	for (size_t i = 0; i < n; i++) {
		if (!validate_field(&fields[i], base, where, err, err_size)) {
			return false;
		}
	}
	return true;
}

static bool validate_desc(const struct vd_link_message *desc, const struct vd_link_msg *msg,
		char *err, size_t err_size) {
	if (!validate_fields(desc->fields, desc->nfields, &msg->body, desc->name, err, err_size)) {
		return false;
	}
	if (desc->check != NULL) {
		char why[256] = "";
		if (!desc->check(&msg->body, why, sizeof(why))) {
			link_set_err(err, err_size, "%s: %s", desc->name, why[0] ? why : "invalid");
			return false;
		}
	}
	return true;
}

bool vd_link_validate(const struct vd_link_set *set, const struct vd_link_msg *msg, char *err,
		size_t err_size) {
	const struct vd_link_message *desc = vd_link_set_find(set, msg->type);
	if (desc == NULL) {
		link_set_err(err, err_size, "unknown message type 0x%04x", msg->type);
		return false;
	}
	return validate_desc(desc, msg, err, err_size);
}

/* ---- decoding ---- */

struct alloc {
	struct alloc *next;
	max_align_t data[];
};

struct cursor {
	const uint8_t *p;
	size_t left;
	const char *where;
	char *err;
	size_t err_size;
	struct vd_link_msg *msg;
};

static bool need(struct cursor *c, size_t n, const char *what) {
	if (c->left < n) {
		link_set_err(c->err, c->err_size, "%s: truncated %s", c->where, what);
		return false;
	}
	return true;
}

static bool parse_fields(struct cursor *c, const struct vd_link_field *fields, size_t n,
	void *base);

static bool parse_field(struct cursor *c, const struct vd_link_field *f, void *base) {
	if (is_number(f->kind)) {
		size_t size = number_size(f->kind);
		if (!need(c, size, f->name)) {
			return false;
		}
		uint64_t v = size == 1 ? c->p[0] : size == 2 ? load_u16(c->p) :
			size == 4 ? load_u32(c->p) : load_u64(c->p);
		set_number(f, base, v);
		c->p += size;
		c->left -= size;
		return true;
	}
	if (!need(c, f->length_size, f->name)) {
		return false;
	}
	uint32_t n = f->length_size == 2 ? load_u16(c->p) : load_u32(c->p);
	c->p += f->length_size;
	c->left -= f->length_size;
	if (n > f->max) {
		link_set_err(c->err, c->err_size, "%s: %s %s %u over %llu", c->where, f->name,
			f->kind == VD_LINK_FIELD_ARRAY ? "count" : "length", n,
			(unsigned long long)f->max);
		return false;
	}
	switch (f->kind) {
	case VD_LINK_FIELD_STRING: {
		if (!need(c, (size_t)n + 1, f->name)) {
			return false;
		}
		const char *s = (const char *)c->p;
		if (c->p[n] != '\0' || memchr(s, '\0', n) != NULL) {
			link_set_err(c->err, c->err_size, "%s: %s is not one NUL-terminated string",
				c->where, f->name);
			return false;
		}
		set_ptr(f, base, s);
		c->p += (size_t)n + 1;
		c->left -= (size_t)n + 1;
		return true;
	}
	case VD_LINK_FIELD_DATA:
		if (!need(c, n, f->name)) {
			return false;
		}
		/* never NULL, also when empty: a consumer may memcpy it (memcpy's
		 * source must not be NULL even for 0 bytes, fuzz-proxy found) */
		set_ptr(f, base, c->p);
		set_count(f, base, n);
		c->p += n;
		c->left -= n;
		return true;
	default:
		break;
	}
	/* an array: every item takes at least one byte, so count is bounded by what is left */
	if (n > c->left) {
		link_set_err(c->err, c->err_size, "%s: truncated %s", c->where, f->name);
		return false;
	}
	set_count(f, base, n);
	if (n == 0) {
		set_ptr(f, base, NULL);
		return true;
	}
	struct alloc *a = calloc(1, sizeof(*a) + (size_t)n * f->item_size);
	if (a == NULL) {
		link_set_err(c->err, c->err_size, "out of memory");
		return false;
	}
	a->next = c->msg->allocs;
	c->msg->allocs = a;
	set_ptr(f, base, a->data);
	for (uint32_t i = 0; i < n; i++) {
		if (!parse_fields(c, f->items, f->nitems, (uint8_t *)a->data + i * f->item_size)) {
			return false;
		}
	}
	return true;
}

static bool parse_fields(struct cursor *c, const struct vd_link_field *fields, size_t n,
		void *base) {
	for (size_t i = 0; i < n; i++) {
		if (!parse_field(c, &fields[i], base)) {
			return false;
		}
	}
	return true;
}

bool vd_link_decode(const struct vd_link_set *set, int sender, const struct vd_link_header *header,
		const uint8_t *payload, struct vd_link_msg *msg, char *err, size_t err_size) {
	memset(msg, 0, sizeof(*msg));
	msg->type = header->type;
	msg->id = header->id;
	const struct vd_link_message *desc = vd_link_set_find(set, header->type);
	if (desc == NULL) {
		link_set_err(err, err_size, "unknown message type 0x%04x", header->type);
		return false;
	}
	if (sender >= 0 && !(desc->senders & (1u << sender))) {
		link_set_err(err, err_size, "%s may not come from the %s", desc->name,
			set->roles[sender & 1]);
		return false;
	}
	if (header->length > set->max_frame) {
		link_set_err(err, err_size, "%s of %u bytes over the %u-byte limit", desc->name,
			header->length, set->max_frame);
		return false;
	}
	struct cursor c = {.p = payload, .left = header->length, .where = desc->name, .err = err,
		.err_size = err_size, .msg = msg};
	if (!parse_fields(&c, desc->fields, desc->nfields, &msg->body)) {
		goto error;
	}
	if (c.left != 0) {
		link_set_err(err, err_size, "%s: %zu trailing bytes", desc->name, c.left);
		goto error;
	}
	if (!validate_desc(desc, msg, err, err_size)) {
		goto error;
	}
	return true;

error:
	vd_link_msg_finish(msg);
	return false;
}

enum vd_link_head vd_link_decode_head(const struct vd_link_set *set, int sender,
		const struct vd_link_header *header, const uint8_t *payload, size_t avail,
		struct vd_link_msg *msg, size_t *head_size, char *err, size_t err_size) {
	const struct vd_link_message *desc = vd_link_set_find(set, header->type);
	if (desc == NULL || !desc->bulk) {
		return VD_LINK_HEAD_NONE;
	}
	if (sender >= 0 && !(desc->senders & (1u << sender))) {
		link_set_err(err, err_size, "%s may not come from the %s", desc->name,
			set->roles[sender & 1]);
		return VD_LINK_HEAD_ERROR;
	}
	if (header->length > set->max_frame) {
		link_set_err(err, err_size, "%s of %u bytes over the %u-byte limit", desc->name,
			header->length, set->max_frame);
		return VD_LINK_HEAD_ERROR;
	}
	/* numbers, then the data's length (gen-link.py checks the shape) */
	const struct vd_link_field *data = &desc->fields[desc->nfields - 1];
	size_t need = data->length_size;
	for (size_t i = 0; i + 1 < desc->nfields; i++) {
		need += number_size(desc->fields[i].kind);
	}
	if (header->length < need) {
		link_set_err(err, err_size, "%s: truncated %s", desc->name, data->name);
		return VD_LINK_HEAD_ERROR;
	}
	if (avail < need) {
		return VD_LINK_HEAD_MORE;
	}
	memset(msg, 0, sizeof(*msg));
	msg->type = header->type;
	msg->id = header->id;
	struct cursor c = {.p = payload, .left = need - data->length_size, .where = desc->name,
		.err = err, .err_size = err_size, .msg = msg};
	if (!parse_fields(&c, desc->fields, desc->nfields - 1, &msg->body)) {
		return VD_LINK_HEAD_ERROR; // cannot happen: the numbers are there
	}
	uint32_t n = load_u32(payload + need - data->length_size);
	if (n > data->max || n != header->length - need) {
		link_set_err(err, err_size, "%s: %s of %u bytes in a frame of %u", desc->name, data->name,
			n, header->length);
		return VD_LINK_HEAD_ERROR;
	}
	/* the rules see a length and a place, not the bytes */
	set_ptr(data, &msg->body, payload);
	set_count(data, &msg->body, n);
	bool ok = validate_desc(desc, msg, err, err_size);
	set_ptr(data, &msg->body, NULL);
	if (!ok) {
		return VD_LINK_HEAD_ERROR;
	}
	*head_size = need;
	return VD_LINK_HEAD_OK;
}

void vd_link_msg_finish(struct vd_link_msg *msg) {
	struct alloc *a = msg->allocs;
	while (a != NULL) {
		struct alloc *next = a->next;
		free(a);
		a = next;
	}
	msg->allocs = NULL;
}

/* ---- encoding ---- */

void vd_link_buf_finish(struct vd_link_buf *buf) {
	free(buf->data);
	*buf = (struct vd_link_buf){0};
}

size_t vd_link_buf_pending(const struct vd_link_buf *buf) {
	return buf->len - buf->pos;
}

void vd_link_buf_consume(struct vd_link_buf *buf, size_t n) {
	buf->pos += n;
	if (buf->pos == buf->len) {
		buf->pos = buf->len = 0;
		if (buf->cap > 4 * LINK_READ_CHUNK) {
			free(buf->data); // a big burst is over: give the memory back
			buf->data = NULL;
			buf->cap = 0;
		}
	} else if (buf->pos >= buf->len / 2 && buf->pos >= LINK_READ_CHUNK) {
		memmove(buf->data, buf->data + buf->pos, buf->len - buf->pos);
		buf->len -= buf->pos;
		buf->pos = 0;
	}
}

static bool reserve(struct vd_link_buf *buf, size_t n) {
	if (buf->cap - buf->len >= n) {
		return true;
	}
	size_t cap = buf->cap ? buf->cap : 4096;
	while (cap - buf->len < n) {
		cap *= 2;
	}
	uint8_t *data = realloc(buf->data, cap);
	if (data == NULL) {
		return false;
	}
	buf->data = data;
	buf->cap = cap;
	return true;
}

static void put(uint8_t **p, const void *data, size_t n) {
	if (n > 0) {
		memcpy(*p, data, n);
	}
	*p += n;
}

static void put_le(uint8_t **p, uint64_t v, size_t size) {
	for (size_t i = 0; i < size; i++) {
		(*p)[i] = (uint8_t)(v >> (8 * i));
	}
	*p += size;
}

/* Bytes the fields take on the wire (they are valid: lengths are bounded). */
static size_t fields_size(const struct vd_link_field *fields, size_t n, const void *base) {
	size_t size = 0;
	for (size_t i = 0; i < n; i++) {
		const struct vd_link_field *f = &fields[i];
		if (is_number(f->kind)) {
			size += number_size(f->kind);
		} else if (f->kind == VD_LINK_FIELD_STRING) {
			size += f->length_size + strlen(get_ptr(f, base)) + 1;
		} else if (f->kind == VD_LINK_FIELD_DATA) {
			size += f->length_size + get_count(f, base);
		} else {
			size += f->length_size;
			const uint8_t *items = get_ptr(f, base);
			for (uint32_t k = 0; k < get_count(f, base); k++) {
				size += fields_size(f->items, f->nitems, items + k * f->item_size);
			}
		}
	}
	return size;
}

static void write_fields(uint8_t **p, const struct vd_link_field *fields, size_t n,
		const void *base, bool head_only) {
	for (size_t i = 0; i < n; i++) {
		const struct vd_link_field *f = &fields[i];
		if (is_number(f->kind)) {
			put_le(p, get_number(f, base), number_size(f->kind));
		} else if (f->kind == VD_LINK_FIELD_STRING) {
			const char *s = get_ptr(f, base);
			size_t len = strlen(s);
			put_le(p, len, f->length_size);
			put(p, s, len + 1);
		} else if (f->kind == VD_LINK_FIELD_DATA) {
			put_le(p, get_count(f, base), f->length_size);
			if (!head_only) {
				put(p, get_ptr(f, base), get_count(f, base));
			}
		} else {
			uint32_t count = get_count(f, base);
			put_le(p, count, f->length_size);
			const uint8_t *items = get_ptr(f, base);
			for (uint32_t k = 0; k < count; k++) {
				write_fields(p, f->items, f->nitems, items + k * f->item_size, false);
			}
		}
	}
}

bool vd_link_buf_put_sync(struct vd_link_buf *buf) {
	if (!reserve(buf, VD_LINK_SYNC_SIZE)) {
		return false;
	}
	memcpy(buf->data + buf->len, vd_link_sync, VD_LINK_SYNC_SIZE);
	buf->len += VD_LINK_SYNC_SIZE;
	return true;
}

static bool encode(const struct vd_link_set *set, const struct vd_link_msg *msg,
		uint32_t max_payload, struct vd_link_buf *buf, bool head_only, char *err,
		size_t err_size) {
	const struct vd_link_message *desc = vd_link_set_find(set, msg->type);
	if (desc == NULL) {
		link_set_err(err, err_size, "type 0x%04x is not in the %s set", msg->type, set->name);
		return false;
	}
	if (head_only && !desc->bulk) {
		link_set_err(err, err_size, "%s is not a bulk message", desc->name);
		return false;
	}
	if (!validate_desc(desc, msg, err, err_size)) {
		return false;
	}
	size_t size = fields_size(desc->fields, desc->nfields, &msg->body);
	if (size > max_payload || size > set->max_frame) {
		link_set_err(err, err_size, "%s of %zu bytes over the %u-byte limit", desc->name, size,
			max_payload < set->max_frame ? max_payload : set->max_frame);
		return false;
	}
	/* head only: the data's bytes (the last field) follow from elsewhere */
	size_t left_out = head_only ? get_count(&desc->fields[desc->nfields - 1], &msg->body) : 0;
	if (!reserve(buf, VD_LINK_HEADER_SIZE + size - left_out)) {
		link_set_err(err, err_size, "out of memory");
		return false;
	}
	uint8_t *p = buf->data + buf->len;
	put_le(&p, size, 4);
	put_le(&p, msg->type, 2);
	put_le(&p, 0, 2);
	put_le(&p, msg->id, 4);
	write_fields(&p, desc->fields, desc->nfields, &msg->body, head_only);
	buf->len += VD_LINK_HEADER_SIZE + size - left_out;
	return true;
}

bool vd_link_encode(const struct vd_link_set *set, const struct vd_link_msg *msg,
		uint32_t max_payload, struct vd_link_buf *buf, char *err, size_t err_size) {
	return encode(set, msg, max_payload, buf, false, err, err_size);
}

bool vd_link_encode_head(const struct vd_link_set *set, const struct vd_link_msg *msg,
		uint32_t max_payload, struct vd_link_buf *buf, char *err, size_t err_size) {
	return encode(set, msg, max_payload, buf, true, err, err_size);
}
