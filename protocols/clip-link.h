#ifndef PROTOCOLS_CLIP_LINK_H
#define PROTOCOLS_CLIP_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The clipboard link: framed messages between the global clipboard
 * (vmdesk-hostd's clipboard module) and its peers on the host, the proxies
 * and the vmdesk-clip CLI, over a host-local Unix socket. See
 * protocols/clip-link.md. Every field is checked by clip_link_decode();
 * nothing from a peer is used before that.
 */

#define VD_CLIP_LINK_VERSION 1

#define VD_CLIP_HEADER_SIZE 8
/* The largest data a message carries, and the largest payload of a frame. */
#define VD_CLIP_MAX_DATA (2u << 20)
#define VD_CLIP_MAX_PAYLOAD (VD_CLIP_MAX_DATA + (64u << 10))
#define VD_CLIP_MAX_MIMES 16
#define VD_CLIP_MAX_MIME_LENGTH 255
#define VD_CLIP_MAX_NAME_LENGTH 31
#define VD_CLIP_MAX_TEXT 4096

enum vd_clip_type {
	/* proxy -> clipboard */
	VD_CLIP_HELLO = 1, // u32 version, str vm
	VD_CLIP_FOCUS = 2, // u8 focused
	VD_CLIP_COPY_REPLY = 3, // u32 id, u8 status, str mime, bytes data, str text
	VD_CLIP_PASTE_REPLY = 4, // u32 id, u8 status, str text
	/* clipboard -> proxy */
	VD_CLIP_COPY_REQUEST = 5, // u32 id, u32 max size, u32 timeout ms, mimes
	VD_CLIP_PASTE_REQUEST = 6, // u32 id, mimes, bytes data
	/* CLI -> clipboard, and the answer */
	VD_CLIP_COMMAND = 7, // u8 command, str domain ("" = the focused one)
	VD_CLIP_COMMAND_REPLY = 8, // u8 status, str text
};

enum vd_clip_command {
	VD_CLIP_CMD_COPY = 1,
	VD_CLIP_CMD_PASTE = 2,
	VD_CLIP_CMD_SHOW = 3,
	VD_CLIP_CMD_CLEAR = 4,
};

enum vd_clip_status {
	VD_CLIP_OK = 0,
	VD_CLIP_EMPTY = 1, // nothing to copy or paste
	VD_CLIP_DENIED = 2, // the policy says no
	VD_CLIP_TOO_LARGE = 3,
	VD_CLIP_INVALID = 4, // invalid UTF-8, bad MIME type
	VD_CLIP_TIMEOUT = 5,
	VD_CLIP_UNAVAILABLE = 6, // the domain is not connected
	VD_CLIP_FAILED = 7, // anything else
	VD_CLIP_STATUS_COUNT,
};

/* A decoded message. Strings are NUL-terminated copies; data points into the
 * decoded payload. Which fields are set depends on type. */
struct vd_clip_msg {
	uint16_t type;
	uint32_t id;
	uint32_t version;
	uint8_t value; // focused, status or command
	uint32_t max_size;
	uint32_t timeout_ms;
	char name[VD_CLIP_MAX_NAME_LENGTH + 1]; // vm or domain
	char mime[VD_CLIP_MAX_MIME_LENGTH + 1];
	size_t mime_count;
	char mimes[VD_CLIP_MAX_MIMES][VD_CLIP_MAX_MIME_LENGTH + 1];
	const uint8_t *data;
	size_t size;
	char text[VD_CLIP_MAX_TEXT + 1];
};

/* Decodes one payload of the given type; false with a reason in err. */
bool clip_link_decode(uint16_t type, const uint8_t *payload, size_t size,
	struct vd_clip_msg *msg, char *err, size_t err_size);

/* Encodes msg (by its type) into a whole frame, header included, malloc'd
 * into *frame. False if a field is out of range. */
bool clip_link_encode(const struct vd_clip_msg *msg, uint8_t **frame, size_t *size);

/* A VM name: a letter, then letters, digits, '-', '_' or '.', at most 31. */
bool clip_link_name_valid(const char *name);
/* A MIME type name: printable ASCII, 1..255 bytes, no space at either end. */
bool clip_link_mime_valid(const char *mime);
/* RFC 3629 UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
bool clip_link_utf8_valid(const uint8_t *bytes, size_t size);
/*
 * Clipboard data a terminal cannot be tricked by: no C0 control characters
 * but tab, newline and carriage return, no DEL, no C1 controls (U+0080 to
 * U+009F, or bytes 0x80 to 0x9F in ISO 8859-1 data), so no escape sequence
 * (such as the bracketed-paste terminator ESC [ 201 ~) and no NUL; for
 * UTF-8 data, valid UTF-8.
 */
bool clip_link_data_safe(const uint8_t *bytes, size_t size, bool utf8);
/* Text: valid UTF-8 without control characters other than \t and \n. */
bool clip_link_text_valid(const char *text);
/* Whether a MIME type is a text type the global clipboard moves, and
 * whether its data must be UTF-8. */
bool clip_link_text_mime(const char *mime);
bool clip_link_utf8_mime(const char *mime);
/* The text types, most wanted first. */
extern const char *const vd_clip_text_mimes[];
extern const size_t vd_clip_text_mime_count;

const char *clip_link_status_name(uint8_t status);
const char *clip_link_type_name(uint16_t type);

/*
 * A nonblocking connection: frames in, frames out. The owner polls fd for
 * reading, and for writing while clip_conn_wants_write().
 */
struct vd_clip_conn {
	int fd;
	uint8_t *in;
	size_t in_size, in_cap;
	uint8_t *out;
	size_t out_size, out_cap, out_max;
};

void clip_conn_init(struct vd_clip_conn *conn, int fd, size_t out_max);
/* Closes the fd and frees the buffers. */
void clip_conn_finish(struct vd_clip_conn *conn);
/*
 * Reads what is there. Returns 1 while the connection lives, 0 at EOF, -1
 * on an error or a frame over the limits (reason in err).
 */
int clip_conn_read(struct vd_clip_conn *conn, char *err, size_t err_size);
/*
 * Takes the next whole frame out of the input, decoded. Returns 1 with msg
 * filled (valid until the next call), 0 if no whole frame is there, -1 on a
 * malformed frame (reason in err).
 */
int clip_conn_next(struct vd_clip_conn *conn, struct vd_clip_msg *msg, char *err,
	size_t err_size);
/* Queues msg; false if it does not encode or the queue would overflow. */
bool clip_conn_send(struct vd_clip_conn *conn, const struct vd_clip_msg *msg);
/* Writes what it can; false on an error. */
bool clip_conn_flush(struct vd_clip_conn *conn);
bool clip_conn_wants_write(const struct vd_clip_conn *conn);

#endif
