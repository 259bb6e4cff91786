#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "protocols/names.h"
#include "protocols/text.h"

/*
 * Title and app_id sanitizing. Decoding is done here, byte by byte, so that
 * the rules do not depend on the locale or on how lenient a library is;
 * GLib (already linked through pango) only answers "is this a combining
 * mark", from its Unicode tables.
 */

#define REPLACEMENT_CHARACTER 0xfffd
#define ELLIPSIS "\xe2\x80\xa6"
#define ELLIPSIS_LENGTH 3

/*
 * Decodes one UTF-8 character at s (NUL-terminated) by the one UTF-8 rule
 * (protocols/text.h). No length is needed: a NUL is never a continuation
 * byte, so decoding stops at it.
 */
static size_t utf8_decode(const unsigned char *s, int32_t *cp) {
	return vd_utf8_decode(s, SIZE_MAX, cp);
}

static size_t utf8_encode(uint32_t cp, char out[4]) {
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

enum char_class {
	CHAR_BASE, // shown, and something marks may attach to
	CHAR_SPACE, // collapsed into one U+0020
	CHAR_DROP, // removed
	CHAR_SELECTOR, // variation selector: only right after a character
	CHAR_MARK, // non-spacing or enclosing mark: same, and counted
	CHAR_SPACING_MARK, // spacing mark: only right after a character
};

static bool in_range(uint32_t cp, uint32_t first, uint32_t last) {
	return cp >= first && cp <= last;
}

static bool is_white_space(uint32_t cp) {
	return in_range(cp, 0x09, 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
		cp == 0x1680 || in_range(cp, 0x2000, 0x200a) || cp == 0x2028 || cp == 0x2029 ||
		cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static bool is_variation_selector(uint32_t cp) {
	return in_range(cp, 0x180b, 0x180d) || cp == 0x180f || in_range(cp, 0xfe00, 0xfe0f) ||
		in_range(cp, 0xe0100, 0xe01ef);
}

/*
 * What a title drops: what no label may hold (protocols/text.h: controls,
 * bidi controls, separators, BOM, noncharacters) and, since a title is
 * shown, every invisible format character too.
 */
static bool is_dropped(uint32_t cp) {
	if (vd_char_is_control(cp)) {
		return true; // C0, DEL, C1
	}
	if (cp < 0xad) {
		return false; // fast path for ASCII and Latin-1
	}
	if (vd_char_is_deceptive(cp)) {
		return true;
	}
	return cp == 0xad || cp == 0x34f || cp == 0x115f || cp == 0x1160 ||
		cp == 0x17b4 || cp == 0x17b5 || cp == 0x180e ||
		in_range(cp, 0x200b, 0x200d) || // zero-width space, non-joiner, joiner
		in_range(cp, 0x2060, 0x206f) || // word joiner, invisible operators, isolates
		cp == 0x3164 || cp == 0xffa0 ||
		in_range(cp, 0xfff0, 0xfff8) || // unassigned specials
		in_range(cp, 0x1bca0, 0x1bca3) || in_range(cp, 0x1d173, 0x1d17a) ||
		(in_range(cp, 0xe0000, 0xe0fff) && !is_variation_selector(cp)); // tags
}

static enum char_class classify(uint32_t cp) {
	if (is_white_space(cp)) {
		return CHAR_SPACE;
	}
	if (is_dropped(cp)) {
		return CHAR_DROP;
	}
	if (cp < 0x300) {
		return CHAR_BASE;
	}
	if (is_variation_selector(cp)) {
		return CHAR_SELECTOR;
	}
	switch (g_unichar_type(cp)) {
	case G_UNICODE_NON_SPACING_MARK:
	case G_UNICODE_ENCLOSING_MARK:
		return CHAR_MARK;
	case G_UNICODE_SPACING_MARK:
		return CHAR_SPACING_MARK;
	default:
		return CHAR_BASE;
	}
}

struct title_writer {
	char *out;
	size_t len;
	size_t max;
	size_t line_start; // where the current line begins (text blocks)
	size_t line_chars; // characters on it
	bool pending_space; // a space goes before the next base character
	bool after_base; // a character was kept and no space came after it
	int marks; // non-spacing marks since the last base character
	bool truncated;
};

/* Appends cp (with the pending space before it). False when it does not
 * fit: the writer is then full. */
static bool writer_put(struct title_writer *w, uint32_t cp) {
	char bytes[4];
	size_t n = utf8_encode(cp, bytes);
	size_t space = w->pending_space && w->len > w->line_start ? 1 : 0;
	if (w->len + space + n > w->max) {
		w->truncated = true;
		return false;
	}
	if (space) {
		w->out[w->len++] = ' ';
	}
	memcpy(w->out + w->len, bytes, n);
	w->len += n;
	w->line_chars += 1 + space;
	w->pending_space = false;
	w->after_base = true;
	return true;
}

/* Processes one character; false when the writer is full. */
static bool writer_char(struct title_writer *w, uint32_t cp) {
	switch (classify(cp)) {
	case CHAR_SPACE:
		w->pending_space = true;
		w->after_base = false;
		return true;
	case CHAR_DROP:
		return true;
	case CHAR_BASE:
		w->marks = 0;
		return writer_put(w, cp);
	case CHAR_MARK:
		if (!w->after_base || w->marks >= VD_TITLE_MAX_MARKS) {
			return true;
		}
		w->marks++;
		return writer_put(w, cp);
	case CHAR_SELECTOR:
	case CHAR_SPACING_MARK:
		if (!w->after_base) {
			return true;
		}
		return writer_put(w, cp);
	}
	return true;
}

/* Cuts the end so that the ellipsis fits, then appends it. */
static void writer_ellipsize(struct title_writer *w) {
	if (w->max < ELLIPSIS_LENGTH) {
		return;
	}
	while (w->len > 0 && w->len + ELLIPSIS_LENGTH > w->max) {
		do {
			w->len--;
		} while (w->len > 0 && ((unsigned char)w->out[w->len] & 0xc0) == 0x80);
	}
	while (w->len > 0 && w->out[w->len - 1] == ' ') {
		w->len--;
	}
	memcpy(w->out + w->len, ELLIPSIS, ELLIPSIS_LENGTH);
	w->len += ELLIPSIS_LENGTH;
}

char *vd_title_sanitize(const char *title, size_t max_bytes) {
	if (title == NULL) {
		title = "";
	}
	/* A character never grows by more than 3x (an invalid byte becomes a
	 * 3-byte U+FFFD), so short titles need no max_bytes-sized buffer. */
	size_t len = strlen(title);
	size_t cap = len <= max_bytes / 3 ? len * 3 : max_bytes;
	struct title_writer w = { .out = malloc(cap + 1), .max = cap };
	if (w.out == NULL) {
		return NULL;
	}
	const unsigned char *p = (const unsigned char *)title;
	bool in_invalid = false;
	while (*p != '\0') {
		int32_t cp;
		p += utf8_decode(p, &cp);
		if (cp < 0) {
			if (in_invalid) {
				continue; // one U+FFFD per run of invalid bytes
			}
			in_invalid = true;
			cp = REPLACEMENT_CHARACTER;
		} else {
			in_invalid = false;
		}
		if (!writer_char(&w, (uint32_t)cp)) {
			break;
		}
	}
	if (w.truncated) {
		writer_ellipsize(&w);
	}
	w.out[w.len] = '\0';
	return w.out;
}

/* Starts a new line; false when it does not fit. */
static bool writer_newline(struct title_writer *w) {
	if (w->len + 1 > w->max) {
		w->truncated = true;
		return false;
	}
	w->out[w->len++] = '\n';
	w->line_start = w->len;
	w->line_chars = 0;
	w->pending_space = false;
	w->after_base = false;
	w->marks = 0;
	return true;
}

char *vd_text_block_sanitize(const char *text, size_t max_lines, size_t max_bytes) {
	if (text == NULL) {
		text = "";
	}
	size_t len = strlen(text);
	/* as in vd_title_sanitize: at most 3 bytes out per byte in, plus the wrapping newlines */
	size_t cap = len <= max_bytes / 4 ? len * 4 : max_bytes;
	struct title_writer w = { .out = malloc(cap + 1), .max = cap };
	if (w.out == NULL) {
		return NULL;
	}
	const unsigned char *p = (const unsigned char *)text;
	bool in_invalid = false;
	size_t lines = 1;
	while (*p != '\0' && !w.truncated) {
		if (*p == '\n' || *p == '\r') {
			p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
			in_invalid = false;
			if (lines == max_lines) {
				w.truncated = *p != '\0';
				break;
			}
			/* no empty first line, and never two empty lines in a row */
			if (w.len > 0 && !(w.len >= 2 && w.out[w.len - 1] == '\n' &&
					w.out[w.len - 2] == '\n') && writer_newline(&w)) {
				lines++;
			}
			continue;
		}
		int32_t cp;
		p += utf8_decode(p, &cp);
		if (cp < 0) {
			if (in_invalid) {
				continue;
			}
			in_invalid = true;
			cp = REPLACEMENT_CHARACTER;
		} else {
			in_invalid = false;
		}
		enum char_class class = classify((uint32_t)cp);
		/*
		 * A line holds at most VD_TEXT_LINE_MAX_CHARS characters, marks and
		 * the space before a character included: a character that would pass
		 * it starts a new line, and a mark that would (spacing marks and
		 * selectors are not capped per character) is dropped.
		 */
		bool space = w.pending_space && w.len > w.line_start;
		if ((class == CHAR_MARK || class == CHAR_SELECTOR || class == CHAR_SPACING_MARK) &&
				w.line_chars >= VD_TEXT_LINE_MAX_CHARS) {
			continue;
		}
		if (class == CHAR_BASE && w.line_chars + (space ? 1 : 0) >= VD_TEXT_LINE_MAX_CHARS) {
			if (lines == max_lines) {
				w.truncated = true;
				break;
			}
			if (!writer_newline(&w)) {
				break;
			}
			lines++;
		}
		if (!writer_char(&w, (uint32_t)cp)) {
			break;
		}
	}
	while (w.len > 0 && w.out[w.len - 1] == '\n') {
		w.len--;
	}
	if (w.truncated) {
		w.line_start = 0;
		writer_ellipsize(&w);
	}
	w.out[w.len] = '\0';
	return w.out;
}

char *vd_text_markup_escape(const char *text) {
	size_t len = 0;
	for (const char *p = text; *p != '\0'; p++) {
		len += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
	}
	char *out = malloc(len + 1);
	if (out == NULL) {
		return NULL;
	}
	char *o = out;
	for (const char *p = text; *p != '\0'; p++) {
		const char *entity = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" :
			*p == '"' ? "&quot;" : *p == '\'' ? "&apos;" : NULL;
		if (entity != NULL) {
			size_t n = strlen(entity);
			memcpy(o, entity, n);
			o += n;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

char *vd_title_format(const char *vm, const char *title) {
	char *name = vd_title_sanitize(vm, VD_TITLE_VM_MAX_BYTES);
	char *text = vd_title_sanitize(title, VD_TITLE_MAX_BYTES);
	char *result = NULL;
	if (name == NULL || text == NULL) {
		goto cleanup;
	}
	size_t size = strlen(name) + strlen(text) + 4; // "[] " and NUL
	result = malloc(size);
	if (result == NULL) {
		goto cleanup;
	}
	if (text[0] == '\0') {
		snprintf(result, size, "[%s]", name);
	} else {
		snprintf(result, size, "[%s] %s", name, text);
	}
cleanup:
	free(text);
	free(name);
	return result;
}

static bool is_app_id_char(unsigned char c, bool allow_dot) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '-' || (c == '.' && allow_dot);
}

/* Appends str to out (at most max bytes), mapping every character outside
 * the app_id alphabet to '_'. Returns the new length of out. */
static size_t append_app_id_part(char *out, size_t len, const char *str, size_t max,
		bool allow_dot) {
	const unsigned char *p = (const unsigned char *)str;
	size_t written = 0;
	while (*p != '\0' && written < max) {
		int32_t cp;
		size_t n = utf8_decode(p, &cp);
		out[len + written++] = n == 1 && is_app_id_char(*p, allow_dot) ? (char)*p : '_';
		p += n;
	}
	return len + written;
}

char *vd_app_id_format(const char *vm, const char *app_id) {
	static const char prefix[] = "vmdesk.";
	size_t prefix_len = sizeof(prefix) - 1;
	char *out = malloc(prefix_len + VD_TITLE_VM_MAX_BYTES + 1 + VD_APP_ID_MAX_BYTES + 1);
	if (out == NULL) {
		return NULL;
	}
	memcpy(out, prefix, prefix_len);
	size_t len = append_app_id_part(out, prefix_len, vm != NULL ? vm : "",
		VD_TITLE_VM_MAX_BYTES, false);
	if (app_id != NULL && app_id[0] != '\0') {
		out[len++] = '.';
		len = append_app_id_part(out, len, app_id, VD_APP_ID_MAX_BYTES, true);
	}
	out[len] = '\0';
	return out;
}

bool vd_title_vm_name_valid(const char *vm) {
	return vm != NULL && vd_vm_name_valid(vm, strlen(vm));
}

struct vd_color vd_color_text_for(struct vd_color background) {
	static const struct vd_color black = { 0x00, 0x00, 0x00 };
	static const struct vd_color white = { 0xff, 0xff, 0xff };
	/* WCAG 2 contrast ratio: (lighter + 0.05) / (darker + 0.05); white has
	 * luminance 1, black 0. */
	double lum = vd_color_luminance(background);
	double with_black = (lum + 0.05) / 0.05;
	double with_white = 1.05 / (lum + 0.05);
	return with_black >= with_white ? black : white;
}
