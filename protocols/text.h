#ifndef PROTOCOLS_TEXT_H
#define PROTOCOLS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One set of text rules for every program (README, "One rule each"):
 * UTF-8 decoding (RFC 3629 / Unicode table 3-7: no overlongs, surrogates or
 * code points past U+10FFFF), which characters a line of text may hold, and
 * MIME type names. Nothing here depends on the locale.
 */

/*
 * Decodes one character of s[0..len). Returns its length (1..4) and stores
 * the code point in *cp; on ill-formed input returns the length of the
 * maximal ill-formed subpart (at least 1) and stores -1. len must be > 0.
 */
size_t vd_utf8_decode(const uint8_t *s, size_t len, int32_t *cp);

/* Valid UTF-8, whatever the characters. */
bool vd_utf8_valid(const uint8_t *s, size_t len);

/* C0, DEL and C1 control characters. */
bool vd_char_is_control(uint32_t cp);
/*
 * Characters that can make text read differently than it is: bidi controls
 * (U+061C, U+200E/F, U+202A-E, U+2066-9), line and paragraph separators
 * (U+2028/9), BOM (U+FEFF), interlinear annotations (U+FFF9-B) and
 * noncharacters.
 */
bool vd_char_is_deceptive(uint32_t cp);

enum vd_text_flags {
	VD_TEXT_NEWLINES = 1 << 0, // tab and newline are allowed
	VD_TEXT_CR = 1 << 1, // carriage return is allowed
	VD_TEXT_FORMAT = 1 << 2, // deceptive characters are allowed (data, not labels)
};

/*
 * The one text check: valid UTF-8 without control characters (except those
 * flags allow) and, unless VD_TEXT_FORMAT, without deceptive characters.
 * With no flags this is the rule for a label: a name, a menu entry, a log
 * field, an error message line.
 */
bool vd_text_valid(const char *s, size_t len, unsigned flags);

/*
 * Text in ISO 8859-1 (the X11 STRING type): no C0 controls but tab,
 * newline and carriage return, no DEL, no C1 controls.
 */
bool vd_latin1_valid(const uint8_t *s, size_t len);

/* A MIME type name: 1..255 bytes of printable ASCII, no space at either end. */
#define VD_MIME_MAX 255
bool vd_mime_valid(const char *mime, size_t len);

/* The text types the global clipboard moves, most wanted first. */
extern const char *const vd_text_mimes[];
extern const size_t vd_text_mime_count;
/* Whether mime is one of those, and whether its data is UTF-8. */
bool vd_mime_is_text(const char *mime);
bool vd_mime_is_utf8(const char *mime);
/*
 * Clipboard data a terminal cannot be tricked by, of a text MIME type: for
 * UTF-8 types vd_text_valid(NEWLINES | CR | FORMAT), else vd_latin1_valid.
 */
bool vd_text_data_safe(const char *mime, const uint8_t *data, size_t len);

#endif
