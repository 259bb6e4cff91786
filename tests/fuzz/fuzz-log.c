#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/log.h"

/*
 * vd_log_escape on arbitrary bytes. The first byte picks the flags and the
 * size of the output buffer. Beyond memory safety it checks: the output is
 * NUL-terminated inside the buffer, is valid UTF-8 with no C0/DEL/C1
 * control, bidi control or line separator, and decodes back to exactly the
 * bytes that were consumed (the escaping is unambiguous, also when cut).
 */

#define FUZZ_LOG_MAX 4096

static bool output_safe(const unsigned char *s, size_t len) {
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n;
		if (s[i] < 0x80) {
			cp = s[i];
			n = 1;
		} else if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			cp = s[i] & 0x1f;
			n = 2;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			cp = s[i] & 0x0f;
			n = 3;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			cp = s[i] & 0x07;
			n = 4;
		} else {
			return false;
		}
		if (len - i < n) {
			return false;
		}
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
				cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 ||
				(cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
				cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
				(cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029) {
			return false;
		}
		i += n;
	}
	return true;
}

static int hex_value(unsigned char c) {
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the escapes back into out; -1 if one is malformed. */
static long unescape(const unsigned char *s, size_t len, unsigned char *out) {
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\') {
			out[n++] = s[i];
			continue;
		}
		if (++i >= len) {
			return -1;
		}
		unsigned char c = s[i];
		if (c == 'n' || c == 'r' || c == 't' || c == '\\' || c == '"') {
			out[n++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
		} else if (c == 'x' && i + 2 < len && hex_value(s[i + 1]) >= 0 &&
				hex_value(s[i + 2]) >= 0) {
			out[n++] = (unsigned char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
			i += 2;
		} else if (c == 'u' && i + 4 < len) {
			uint32_t cp = 0;
			for (int k = 1; k <= 4; k++) {
				if (hex_value(s[i + k]) < 0) {
					return -1;
				}
				cp = cp << 4 | (uint32_t)hex_value(s[i + k]);
			}
			i += 4;
			if (cp < 0x800) {
				out[n++] = (unsigned char)(0xc0 | cp >> 6);
			} else {
				out[n++] = (unsigned char)(0xe0 | cp >> 12);
				out[n++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			}
			out[n++] = (unsigned char)(0x80 | (cp & 0x3f));
		} else {
			return -1;
		}
	}
	return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size == 0 || size > FUZZ_LOG_MAX) {
		return 0;
	}
	unsigned flags = data[0] & 1 ? VD_LOG_ESCAPE_QUOTES : 0;
	size_t len = size - 1;
	/* a tight buffer (cuts) or one large enough for anything */
	size_t dst_size = data[0] & 2 ? (size_t)(data[0] >> 2) : 4 * len + 1;
	char *dst = malloc(dst_size + 1);
	unsigned char *back = malloc(len + 1);
	if (dst == NULL || back == NULL) {
		abort();
	}
	dst[dst_size] = 'X'; // past the buffer: must stay
	size_t done = vd_log_escape(dst, dst_size, (const char *)data + 1, len, flags);
	if (done > len || dst[dst_size] != 'X') {
		abort();
	}
	if (dst_size > 0) {
		size_t out = strnlen(dst, dst_size);
		if (out == dst_size || !output_safe((const unsigned char *)dst, out)) {
			abort();
		}
		long n = unescape((const unsigned char *)dst, out, back);
		if (n != (long)done || memcmp(back, data + 1, done) != 0) {
			abort();
		}
		if (!(data[0] & 2) && done != len) {
			abort(); // 4 bytes per byte always fit
		}
	}
	free(dst);
	free(back);
	return 0;
}
