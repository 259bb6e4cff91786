#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/clip-link.h"

const char *const vd_clip_text_mimes[] = {
	"text/plain;charset=utf-8",
	"UTF8_STRING",
	"text/plain",
	"TEXT",
	"STRING",
};
const size_t vd_clip_text_mime_count = sizeof(vd_clip_text_mimes) / sizeof(vd_clip_text_mimes[0]);

static void set_err(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_size, const char *fmt, ...) {
	if (err == NULL || err_size == 0) {
		return;
	}
	va_list args;
	va_start(args, fmt);
	vsnprintf(err, err_size, fmt, args);
	va_end(args);
}

/* Validation */

bool clip_link_name_valid(const char *name) {
	size_t len = strlen(name);
	if (len == 0 || len > VD_CLIP_MAX_NAME_LENGTH) {
		return false;
	}
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) {
		return false;
	}
	for (size_t i = 1; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				c == '-' || c == '_' || c == '.')) {
			return false;
		}
	}
	return true;
}

bool clip_link_mime_valid(const char *mime) {
	size_t len = strlen(mime);
	if (len == 0 || len > VD_CLIP_MAX_MIME_LENGTH || mime[0] == ' ' || mime[len - 1] == ' ') {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)mime[i];
		if (c < 0x20 || c > 0x7e) {
			return false;
		}
	}
	return true;
}

bool clip_link_utf8_valid(const uint8_t *s, size_t size) {
	size_t i = 0;
	while (i < size) {
		uint8_t c = s[i];
		size_t n;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0) {
				lo = 0xa0; // overlong
			} else if (c == 0xed) {
				hi = 0x9f; // surrogates
			}
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0) {
				lo = 0x90; // overlong
			} else if (c == 0xf4) {
				hi = 0x8f; // past U+10FFFF
			}
		} else {
			return false;
		}
		if (size - i - 1 < n) {
			return false;
		}
		if (s[i + 1] < lo || s[i + 1] > hi) {
			return false;
		}
		for (size_t k = 2; k <= n; k++) {
			if (s[i + k] < 0x80 || s[i + k] > 0xbf) {
				return false;
			}
		}
		i += n + 1;
	}
	return true;
}

bool clip_link_data_safe(const uint8_t *bytes, size_t size, bool utf8) {
	if (utf8 && !clip_link_utf8_valid(bytes, size)) {
		return false;
	}
	for (size_t i = 0; i < size; i++) {
		uint8_t c = bytes[i];
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
			return false;
		}
		if (utf8 && c == 0xc2 && i + 1 < size && bytes[i + 1] <= 0x9f) {
			return false; // U+0080..U+009F (a continuation byte: >= 0x80)
		}
		if (!utf8 && c >= 0x80 && c <= 0x9f) {
			return false;
		}
	}
	return true;
}

bool clip_link_text_valid(const char *text) {
	size_t len = strlen(text);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
			return false;
		}
	}
	return clip_link_utf8_valid((const uint8_t *)text, len);
}

bool clip_link_text_mime(const char *mime) {
	for (size_t i = 0; i < vd_clip_text_mime_count; i++) {
		if (strcmp(mime, vd_clip_text_mimes[i]) == 0) {
			return true;
		}
	}
	return false;
}

bool clip_link_utf8_mime(const char *mime) {
	/* STRING is ISO 8859-1; on Wayland text/plain and TEXT are UTF-8 in practice. */
	return clip_link_text_mime(mime) && strcmp(mime, "STRING") != 0;
}

const char *clip_link_status_name(uint8_t status) {
	static const char *const names[] = {
		[VD_CLIP_OK] = "ok",
		[VD_CLIP_EMPTY] = "empty",
		[VD_CLIP_DENIED] = "denied",
		[VD_CLIP_TOO_LARGE] = "too-large",
		[VD_CLIP_INVALID] = "invalid",
		[VD_CLIP_TIMEOUT] = "timeout",
		[VD_CLIP_UNAVAILABLE] = "unavailable",
		[VD_CLIP_FAILED] = "failed",
	};
	return status < VD_CLIP_STATUS_COUNT ? names[status] : "unknown";
}

const char *clip_link_type_name(uint16_t type) {
	switch (type) {
	case VD_CLIP_HELLO:
		return "HELLO";
	case VD_CLIP_FOCUS:
		return "FOCUS";
	case VD_CLIP_COPY_REPLY:
		return "COPY_REPLY";
	case VD_CLIP_PASTE_REPLY:
		return "PASTE_REPLY";
	case VD_CLIP_COPY_REQUEST:
		return "COPY_REQUEST";
	case VD_CLIP_PASTE_REQUEST:
		return "PASTE_REQUEST";
	case VD_CLIP_COMMAND:
		return "COMMAND";
	case VD_CLIP_COMMAND_REPLY:
		return "COMMAND_REPLY";
	}
	return "unknown";
}

/* Decoding: a cursor over the payload. Integers are little-endian. */

struct reader {
	const uint8_t *p;
	size_t left;
	char *err;
	size_t err_size;
	bool failed;
};

static bool need(struct reader *r, size_t n, const char *what) {
	if (r->failed) {
		return false;
	}
	if (r->left < n) {
		set_err(r->err, r->err_size, "truncated %s", what);
		r->failed = true;
		return false;
	}
	return true;
}

static uint8_t get_u8(struct reader *r, const char *what) {
	if (!need(r, 1, what)) {
		return 0;
	}
	uint8_t v = r->p[0];
	r->p++;
	r->left--;
	return v;
}

static uint16_t load_u16(const uint8_t *p) {
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t load_u32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_u16(struct reader *r, const char *what) {
	if (!need(r, 2, what)) {
		return 0;
	}
	uint16_t v = load_u16(r->p);
	r->p += 2;
	r->left -= 2;
	return v;
}

static uint32_t get_u32(struct reader *r, const char *what) {
	if (!need(r, 4, what)) {
		return 0;
	}
	uint32_t v = load_u32(r->p);
	r->p += 4;
	r->left -= 4;
	return v;
}

/* A string: u16 length, bytes, no NUL inside; copied with a NUL into out. */
static bool get_str(struct reader *r, char *out, size_t max_len, const char *what) {
	uint16_t len = get_u16(r, what);
	if (r->failed) {
		return false;
	}
	if (len > max_len) {
		set_err(r->err, r->err_size, "%s too long (%u bytes, at most %zu)", what, len, max_len);
		r->failed = true;
		return false;
	}
	if (!need(r, len, what)) {
		return false;
	}
	if (memchr(r->p, '\0', len) != NULL) {
		set_err(r->err, r->err_size, "NUL byte in %s", what);
		r->failed = true;
		return false;
	}
	memcpy(out, r->p, len);
	out[len] = '\0';
	r->p += len;
	r->left -= len;
	return true;
}

static bool get_bytes(struct reader *r, const uint8_t **data, size_t *size, const char *what) {
	uint32_t len = get_u32(r, what);
	if (r->failed) {
		return false;
	}
	if (len > VD_CLIP_MAX_DATA) {
		set_err(r->err, r->err_size, "%s too large (%u bytes)", what, len);
		r->failed = true;
		return false;
	}
	if (!need(r, len, what)) {
		return false;
	}
	*data = r->p;
	*size = len;
	r->p += len;
	r->left -= len;
	return true;
}

static bool get_mimes(struct reader *r, struct vd_clip_msg *msg) {
	uint16_t count = get_u16(r, "MIME type count");
	if (r->failed) {
		return false;
	}
	if (count == 0 || count > VD_CLIP_MAX_MIMES) {
		set_err(r->err, r->err_size, "%u MIME types (1 to %d allowed)", count,
			VD_CLIP_MAX_MIMES);
		r->failed = true;
		return false;
	}
	for (uint16_t i = 0; i < count; i++) {
		if (!get_str(r, msg->mimes[i], VD_CLIP_MAX_MIME_LENGTH, "MIME type")) {
			return false;
		}
		if (!clip_link_mime_valid(msg->mimes[i])) {
			set_err(r->err, r->err_size, "invalid MIME type name");
			r->failed = true;
			return false;
		}
	}
	msg->mime_count = count;
	return true;
}

static bool check_status(struct reader *r, uint8_t status) {
	if (!r->failed && status >= VD_CLIP_STATUS_COUNT) {
		set_err(r->err, r->err_size, "unknown status %u", status);
		r->failed = true;
	}
	return !r->failed;
}

static bool check_text(struct reader *r, const char *text) {
	if (!r->failed && !clip_link_text_valid(text)) {
		set_err(r->err, r->err_size, "text with control characters or invalid UTF-8");
		r->failed = true;
	}
	return !r->failed;
}

bool clip_link_decode(uint16_t type, const uint8_t *payload, size_t size,
		struct vd_clip_msg *msg, char *err, size_t err_size) {
	struct reader r = { .p = payload, .left = size, .err = err, .err_size = err_size };
	memset(msg, 0, offsetof(struct vd_clip_msg, mimes));
	msg->type = type;
	msg->data = NULL;
	msg->size = 0;
	msg->text[0] = '\0';
	if (size > VD_CLIP_MAX_PAYLOAD) {
		set_err(err, err_size, "payload of %zu bytes is over the limit", size);
		return false;
	}
	switch (type) {
	case VD_CLIP_HELLO:
		msg->version = get_u32(&r, "version");
		get_str(&r, msg->name, VD_CLIP_MAX_NAME_LENGTH, "VM name");
		if (!r.failed && !clip_link_name_valid(msg->name)) {
			set_err(err, err_size, "invalid VM name");
			r.failed = true;
		}
		if (!r.failed && msg->version != VD_CLIP_LINK_VERSION) {
			set_err(err, err_size, "unsupported version %u", msg->version);
			r.failed = true;
		}
		break;
	case VD_CLIP_FOCUS:
		msg->value = get_u8(&r, "focus");
		if (!r.failed && msg->value > 1) {
			set_err(err, err_size, "focus is not 0 or 1");
			r.failed = true;
		}
		break;
	case VD_CLIP_COPY_REPLY:
		msg->id = get_u32(&r, "id");
		msg->value = get_u8(&r, "status");
		check_status(&r, msg->value);
		get_str(&r, msg->mime, VD_CLIP_MAX_MIME_LENGTH, "MIME type");
		get_bytes(&r, &msg->data, &msg->size, "data");
		get_str(&r, msg->text, VD_CLIP_MAX_TEXT, "text");
		check_text(&r, msg->text);
		if (!r.failed && msg->value == VD_CLIP_OK && !clip_link_mime_valid(msg->mime)) {
			set_err(err, err_size, "invalid MIME type name");
			r.failed = true;
		}
		if (!r.failed && msg->value != VD_CLIP_OK && msg->size != 0) {
			set_err(err, err_size, "data in a failed reply");
			r.failed = true;
		}
		break;
	case VD_CLIP_PASTE_REPLY:
		msg->id = get_u32(&r, "id");
		msg->value = get_u8(&r, "status");
		check_status(&r, msg->value);
		get_str(&r, msg->text, VD_CLIP_MAX_TEXT, "text");
		check_text(&r, msg->text);
		break;
	case VD_CLIP_COPY_REQUEST:
		msg->id = get_u32(&r, "id");
		msg->max_size = get_u32(&r, "max size");
		msg->timeout_ms = get_u32(&r, "timeout");
		get_mimes(&r, msg);
		if (!r.failed && (msg->max_size > VD_CLIP_MAX_DATA || msg->timeout_ms == 0 ||
				msg->timeout_ms > 600000)) {
			set_err(err, err_size, "max size or timeout out of range");
			r.failed = true;
		}
		break;
	case VD_CLIP_PASTE_REQUEST:
		msg->id = get_u32(&r, "id");
		get_mimes(&r, msg);
		get_bytes(&r, &msg->data, &msg->size, "data");
		break;
	case VD_CLIP_COMMAND:
		msg->value = get_u8(&r, "command");
		get_str(&r, msg->name, VD_CLIP_MAX_NAME_LENGTH, "domain");
		if (!r.failed && (msg->value < VD_CLIP_CMD_COPY || msg->value > VD_CLIP_CMD_CLEAR)) {
			set_err(err, err_size, "unknown command %u", msg->value);
			r.failed = true;
		}
		if (!r.failed && msg->name[0] != '\0' && !clip_link_name_valid(msg->name)) {
			set_err(err, err_size, "invalid domain name");
			r.failed = true;
		}
		break;
	case VD_CLIP_COMMAND_REPLY:
		msg->value = get_u8(&r, "status");
		check_status(&r, msg->value);
		get_str(&r, msg->text, VD_CLIP_MAX_TEXT, "text");
		check_text(&r, msg->text);
		break;
	default:
		set_err(err, err_size, "unknown message type %u", type);
		return false;
	}
	if (!r.failed && r.left != 0) {
		set_err(err, err_size, "%zu bytes after the %s message", r.left,
			clip_link_type_name(type));
		r.failed = true;
	}
	return !r.failed;
}

/* Encoding */

struct writer {
	uint8_t *buf;
	size_t size, cap;
	bool failed;
};

static void put(struct writer *w, const void *p, size_t n) {
	if (w->failed) {
		return;
	}
	if (w->cap - w->size < n) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap - w->size < n) {
			cap *= 2;
		}
		uint8_t *buf = realloc(w->buf, cap);
		if (buf == NULL) {
			w->failed = true;
			return;
		}
		w->buf = buf;
		w->cap = cap;
	}
	if (n > 0) {
		memcpy(w->buf + w->size, p, n);
	}
	w->size += n;
}

static void put_u8(struct writer *w, uint8_t v) {
	put(w, &v, 1);
}

static void put_u16(struct writer *w, uint16_t v) {
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	put(w, b, 2);
}

static void put_u32(struct writer *w, uint32_t v) {
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(w, b, 4);
}

static void put_str(struct writer *w, const char *s, size_t max_len) {
	size_t len = strlen(s);
	if (len > max_len) {
		w->failed = true;
		return;
	}
	put_u16(w, (uint16_t)len);
	put(w, s, len);
}

static void put_bytes(struct writer *w, const uint8_t *data, size_t size) {
	if (size > VD_CLIP_MAX_DATA) {
		w->failed = true;
		return;
	}
	put_u32(w, (uint32_t)size);
	put(w, data, size);
}

static void put_mimes(struct writer *w, const struct vd_clip_msg *msg) {
	if (msg->mime_count == 0 || msg->mime_count > VD_CLIP_MAX_MIMES) {
		w->failed = true;
		return;
	}
	put_u16(w, (uint16_t)msg->mime_count);
	for (size_t i = 0; i < msg->mime_count; i++) {
		put_str(w, msg->mimes[i], VD_CLIP_MAX_MIME_LENGTH);
	}
}

bool clip_link_encode(const struct vd_clip_msg *msg, uint8_t **frame, size_t *size) {
	struct writer w = {0};
	uint8_t header[VD_CLIP_HEADER_SIZE] = {0};
	put(&w, header, sizeof(header));
	switch (msg->type) {
	case VD_CLIP_HELLO:
		put_u32(&w, msg->version);
		put_str(&w, msg->name, VD_CLIP_MAX_NAME_LENGTH);
		break;
	case VD_CLIP_FOCUS:
		put_u8(&w, msg->value);
		break;
	case VD_CLIP_COPY_REPLY:
		put_u32(&w, msg->id);
		put_u8(&w, msg->value);
		put_str(&w, msg->mime, VD_CLIP_MAX_MIME_LENGTH);
		put_bytes(&w, msg->data, msg->size);
		put_str(&w, msg->text, VD_CLIP_MAX_TEXT);
		break;
	case VD_CLIP_PASTE_REPLY:
		put_u32(&w, msg->id);
		put_u8(&w, msg->value);
		put_str(&w, msg->text, VD_CLIP_MAX_TEXT);
		break;
	case VD_CLIP_COPY_REQUEST:
		put_u32(&w, msg->id);
		put_u32(&w, msg->max_size);
		put_u32(&w, msg->timeout_ms);
		put_mimes(&w, msg);
		break;
	case VD_CLIP_PASTE_REQUEST:
		put_u32(&w, msg->id);
		put_mimes(&w, msg);
		put_bytes(&w, msg->data, msg->size);
		break;
	case VD_CLIP_COMMAND:
		put_u8(&w, msg->value);
		put_str(&w, msg->name, VD_CLIP_MAX_NAME_LENGTH);
		break;
	case VD_CLIP_COMMAND_REPLY:
		put_u8(&w, msg->value);
		put_str(&w, msg->text, VD_CLIP_MAX_TEXT);
		break;
	default:
		w.failed = true;
	}
	size_t payload = w.size - VD_CLIP_HEADER_SIZE;
	if (w.failed || payload > VD_CLIP_MAX_PAYLOAD) {
		free(w.buf);
		return false;
	}
	w.buf[0] = (uint8_t)payload;
	w.buf[1] = (uint8_t)(payload >> 8);
	w.buf[2] = (uint8_t)(payload >> 16);
	w.buf[3] = (uint8_t)(payload >> 24);
	w.buf[4] = (uint8_t)msg->type;
	w.buf[5] = (uint8_t)(msg->type >> 8);
	*frame = w.buf;
	*size = w.size;
	return true;
}

/* Connections */

void clip_conn_init(struct vd_clip_conn *conn, int fd, size_t out_max) {
	*conn = (struct vd_clip_conn){ .fd = fd, .out_max = out_max };
}

void clip_conn_finish(struct vd_clip_conn *conn) {
	if (conn->fd >= 0) {
		close(conn->fd);
	}
	free(conn->in);
	free(conn->out);
	*conn = (struct vd_clip_conn){ .fd = -1 };
}

/* in[0..in_size) holds the start of one frame: clip_conn_read never reads
 * past the frame's end, clip_conn_next takes it whole. */
static size_t frame_need(const struct vd_clip_conn *conn) {
	if (conn->in_size < VD_CLIP_HEADER_SIZE) {
		return VD_CLIP_HEADER_SIZE;
	}
	return VD_CLIP_HEADER_SIZE + load_u32(conn->in);
}

int clip_conn_read(struct vd_clip_conn *conn, char *err, size_t err_size) {
	for (;;) {
		if (conn->in_size >= VD_CLIP_HEADER_SIZE) {
			uint32_t len = load_u32(conn->in);
			if (len > VD_CLIP_MAX_PAYLOAD) {
				set_err(err, err_size, "frame of %u bytes is over the limit", len);
				return -1;
			}
			if (load_u16(conn->in + 6) != 0) {
				set_err(err, err_size, "reserved header bytes are not zero");
				return -1;
			}
		}
		size_t want = frame_need(conn);
		if (conn->in_size >= want) {
			return 1; // a whole frame waits for clip_conn_next
		}
		if (conn->in_cap < want) {
			size_t cap = want < 4096 ? 4096 : want;
			uint8_t *in = realloc(conn->in, cap);
			if (in == NULL) {
				set_err(err, err_size, "out of memory");
				return -1;
			}
			conn->in = in;
			conn->in_cap = cap;
		}
		ssize_t n = recv(conn->fd, conn->in + conn->in_size, want - conn->in_size,
			MSG_DONTWAIT);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return 1;
		}
		if (n < 0) {
			set_err(err, err_size, "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (conn->in_size > 0) {
				set_err(err, err_size, "connection closed in the middle of a frame");
				return -1;
			}
			return 0;
		}
		conn->in_size += (size_t)n;
	}
}

int clip_conn_next(struct vd_clip_conn *conn, struct vd_clip_msg *msg, char *err,
		size_t err_size) {
	if (conn->in_size < VD_CLIP_HEADER_SIZE || conn->in_size < frame_need(conn)) {
		return 0;
	}
	/* clip_conn_read reads at most one frame, so in holds exactly one. */
	size_t len = load_u32(conn->in);
	uint16_t type = load_u16(conn->in + 4);
	bool ok = clip_link_decode(type, conn->in + VD_CLIP_HEADER_SIZE, len, msg, err, err_size);
	/* the frame stays in the buffer for msg->data; the next read starts over */
	conn->in_size = 0;
	return ok ? 1 : -1;
}

bool clip_conn_send(struct vd_clip_conn *conn, const struct vd_clip_msg *msg) {
	uint8_t *frame;
	size_t size;
	if (!clip_link_encode(msg, &frame, &size)) {
		return false;
	}
	if (conn->out_size + size > conn->out_max) {
		free(frame);
		return false;
	}
	if (conn->out_cap - conn->out_size < size) {
		size_t cap = conn->out_size + size;
		uint8_t *out = realloc(conn->out, cap);
		if (out == NULL) {
			free(frame);
			return false;
		}
		conn->out = out;
		conn->out_cap = cap;
	}
	memcpy(conn->out + conn->out_size, frame, size);
	conn->out_size += size;
	free(frame);
	return true;
}

bool clip_conn_flush(struct vd_clip_conn *conn) {
	size_t done = 0;
	while (done < conn->out_size) {
		ssize_t n = send(conn->fd, conn->out + done, conn->out_size - done,
			MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		}
		if (n < 0) {
			return false;
		}
		done += (size_t)n;
	}
	memmove(conn->out, conn->out + done, conn->out_size - done);
	conn->out_size -= done;
	if (conn->out_size == 0 && conn->out_cap > (64u << 10)) {
		free(conn->out);
		conn->out = NULL;
		conn->out_cap = 0;
	}
	return true;
}

bool clip_conn_wants_write(const struct vd_clip_conn *conn) {
	return conn->out_size > 0;
}
