#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "protocols/text.h"

/*
 * vd_text_block_sanitize and vd_text_markup_escape on arbitrary bytes (the
 * body of a VM's notification, a tray item's tooltip). Input: byte 0 picks
 * the line limit (1..256), byte 1 the byte limit (x 64); the rest, up to the
 * first NUL, is the text. Beyond memory safety and leaks it checks that the
 * result is mtext (valid UTF-8, no control character but newline, no bidi
 * control), within both limits, with no line over VD_TEXT_LINE_MAX_CHARS
 * characters, no newline at either end; and that the escaped text holds
 * no '<', '>' or '"'.
 */

#define MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t chars_of(const char *s, size_t len) {
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size < 2 || size > MAX_INPUT) {
		return 0;
	}
	size_t max_lines = (size_t)data[0] + 1;
	size_t max_bytes = ((size_t)data[1] + 1) * 64;
	char *text = malloc(size - 1);
	if (text == NULL) {
		return 0;
	}
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	char *out = vd_text_block_sanitize(text, max_lines, max_bytes);
	if (out == NULL) {
		abort();
	}
	size_t len = strlen(out);
	if (len > max_bytes || !vd_text_valid(out, len, VD_TEXT_NEWLINES) ||
			memchr(out, '\t', len) != NULL ||
			(len > 0 && (out[0] == '\n' || out[len - 1] == '\n'))) {
		abort();
	}
	size_t lines = 1;
	const char *start = out;
	for (const char *p = out;; p++) {
		if (*p == '\n' || *p == '\0') {
			if (chars_of(start, (size_t)(p - start)) > VD_TEXT_LINE_MAX_CHARS + 1) {
				abort(); // (the +1: an ellipsis may end the last line)
			}
			if (*p == '\0') {
				break;
			}
			lines++;
			start = p + 1;
		}
	}
	if (lines > max_lines) {
		abort();
	}
	char *escaped = vd_text_markup_escape(out);
	if (escaped == NULL || strpbrk(escaped, "<>\"'") != NULL) {
		abort();
	}
	free(escaped);
	free(out);
	free(text);
	return 0;
}
