#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_TAG "unit"
#include "protocols/log.h"
#include "tests/unit/tap.h"

/*
 * vd_log_escape and the logging helper against peer strings: newlines and
 * forged lines, escape sequences, C1 and bidi controls, invalid UTF-8. Every
 * output is checked by an independent strict UTF-8 decoder and a list of
 * what must never come out, and decoded back to the input (the escaping is
 * unambiguous).
 */

/* Strict UTF-8 (RFC 3629), from the RFC's table; false if invalid or if a
 * code point that must not reach a log (controls, C1, bidi, separators)
 * is present. */
static bool output_safe(const char *str, size_t len) {
	const unsigned char *s = (const unsigned char *)str;
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
				cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			return false; // overlong, out of range, surrogate
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
				cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
				(cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029) {
			return false;
		}
		i += n;
	}
	return true;
}

static int hex_value(char c) {
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* Undoes the escapes (flags 0 or VD_LOG_ESCAPE_QUOTES); -1 on a malformed one. */
static long unescape(const char *s, unsigned char *out, size_t out_size) {
	size_t n = 0;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (n + 4 > out_size) {
			return -1;
		}
		if (s[i] != '\\') {
			out[n++] = (unsigned char)s[i];
			continue;
		}
		char c = s[++i];
		if (c == 'n' || c == 'r' || c == 't' || c == '\\' || c == '"') {
			out[n++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' :
				(unsigned char)c;
		} else if (c == 'x' && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
			out[n++] = (unsigned char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
			i += 2;
		} else if (c == 'u') {
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

static bool escapes_to(const char *in, size_t len, unsigned flags, const char *want) {
	char out[1024];
	size_t done = vd_log_escape(out, sizeof(out), in, len, flags);
	CHECK(done == len, "consumed %zu of %zu", done, len);
	CHECK_STR(out, want);
	CHECK(output_safe(out, strlen(out)), "unsafe output '%s'", out);
	return true;
}

#define ESCAPES_TO(in, want) escapes_to(in, sizeof(in) - 1, 0, want)

static bool test_plain_text_unchanged(void) {
	CHECK(ESCAPES_TO("vm=work pid=42 connected", "vm=work pid=42 connected"), "ascii");
	CHECK(ESCAPES_TO("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xe6\xbc\xa2",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xe6\xbc\xa2"), "valid UTF-8 stays");
	CHECK(ESCAPES_TO("", ""), "empty");
	return true;
}

static bool test_forged_line_stays_one_line(void) {
	static const char in[] = "wl_compositor\nvm=banking pid=1 disconnected (protocol "
		"error)\r\n\tx";
	CHECK(ESCAPES_TO(in, "wl_compositor\\nvm=banking pid=1 disconnected (protocol "
		"error)\\r\\n\\tx"), "newlines");
	return true;
}

static bool test_c0_and_del(void) {
	CHECK(ESCAPES_TO("\x1b[2J\x1b]0;owned\x07\x08\x7f", "\\x1b[2J\\x1b]0;owned\\x07\\x08\\x7f"),
		"escape sequences");
	CHECK(escapes_to("a\0b", 3, 0, "a\\x00b"), "NUL inside the given length");
	return true;
}

static bool test_c1_controls(void) {
	/* U+009B (CSI) and U+0085 (NEL) as UTF-8; 0x9b alone is not UTF-8 */
	CHECK(ESCAPES_TO("\xc2\x9b" "31m\xc2\x85", "\\u009b31m\\u0085"), "C1 as UTF-8");
	CHECK(ESCAPES_TO("\x9b" "31m", "\\x9b31m"), "a C1 byte");
	CHECK(ESCAPES_TO("\xc2\xa0\xc2\x80\xc2\x9f", "\xc2\xa0\\u0080\\u009f"), "C1 range ends");
	return true;
}

static bool test_bidi_and_separators(void) {
	CHECK(ESCAPES_TO("\xe2\x80\xae" "evil", "\\u202eevil"), "RLO");
	CHECK(ESCAPES_TO("\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\x8f\xd8\x9c\xe2\x80\xa8\xe2\x80\xa9",
		"\\u2066\\u2069\\u200f\\u061c\\u2028\\u2029"), "isolates, marks, separators");
	CHECK(ESCAPES_TO("\xe2\x80\xaa\xe2\x80\xad\xe2\x80\x8e",
		"\\u202a\\u202d\\u200e"), "embeddings, overrides, LRM");
	return true;
}

static bool test_invalid_utf8(void) {
	CHECK(ESCAPES_TO("\xc0\xaf", "\\xc0\\xaf"), "overlong 2");
	CHECK(ESCAPES_TO("\xe0\x80\xaf", "\\xe0\\x80\\xaf"), "overlong 3");
	CHECK(ESCAPES_TO("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"), "overlong 4");
	CHECK(ESCAPES_TO("\xed\xa0\x80", "\\xed\\xa0\\x80"), "surrogate");
	CHECK(ESCAPES_TO("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"), "past U+10FFFF");
	CHECK(ESCAPES_TO("\xf5\xff\xfe", "\\xf5\\xff\\xfe"), "never in UTF-8");
	CHECK(ESCAPES_TO("\xe2\x82", "\\xe2\\x82"), "cut at the end");
	CHECK(ESCAPES_TO("\xe2\x82x", "\\xe2\\x82x"), "cut by ASCII");
	CHECK(ESCAPES_TO("\x80\xbf", "\\x80\\xbf"), "lone continuations");
	return true;
}

static bool test_backslash_and_quotes(void) {
	CHECK(ESCAPES_TO("a\\x1b\"", "a\\\\x1b\""), "backslash escaped, quote kept");
	CHECK(escapes_to("a\\x1b\"", 6, VD_LOG_ESCAPE_QUOTES, "a\\\\x1b\\\""), "quotes");
	CHECK(escapes_to("a\\x1b\n", 6, VD_LOG_ESCAPE_KEEP_BACKSLASH, "a\\x1b\\n"),
		"already escaped");
	return true;
}

static bool test_cut_never_splits(void) {
	char out[8];
	/* "ab" fits, the 4-byte escape of ESC does not: stop before it */
	size_t done = vd_log_escape(out, 6, "ab\x1b" "cd", 5, 0);
	CHECK(done == 2, "consumed %zu", done);
	CHECK_STR(out, "ab");
	/* a 3-byte character is not split either */
	done = vd_log_escape(out, 5, "ab\xe2\x82\xac", 5, 0);
	CHECK(done == 2, "consumed %zu", done);
	CHECK_STR(out, "ab");
	done = vd_log_escape(out, 1, "abc", 3, 0);
	CHECK(done == 0 && out[0] == '\0', "room for the NUL only");
	CHECK(vd_log_escape(out, 0, "abc", 3, 0) == 0, "no room");
	return true;
}

/* xorshift: deterministic, independent of the C library */
static uint32_t next_random(uint32_t *state) {
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

static bool test_random_bytes_round_trip(void) {
	static const unsigned char pieces[][4] = {
		{ 0xc2, 0x9b }, { 0xe2, 0x80, 0xae }, { 0xf0, 0x9f, 0x98, 0x80 }, { 0xed, 0xa0 },
		{ '\\', 'x' }, { '\n' }, { 0x1b, '[' }, { 0xc3, 0xa9 }, { 0xe2, 0x81, 0xa6 },
	};
	uint32_t state = 0x2545f491;
	for (int round = 0; round < 20000; round++) {
		unsigned char in[64];
		size_t len = next_random(&state) % sizeof(in);
		for (size_t i = 0; i < len; i++) {
			uint32_t r = next_random(&state);
			if (r % 3 == 0 && i + 4 <= len) {
				const unsigned char *p = pieces[(r >> 8) % (sizeof(pieces) /
					sizeof(pieces[0]))];
				for (size_t k = 0; k < 4 && p[k] != 0; k++) {
					in[i++] = p[k];
				}
				i--;
			} else {
				in[i] = (unsigned char)(r >> 16);
			}
		}
		unsigned flags = round % 2 ? VD_LOG_ESCAPE_QUOTES : 0;
		char out[64 * 4 + 1];
		size_t done = vd_log_escape(out, sizeof(out), (const char *)in, len, flags);
		CHECK(done == len, "round %d: consumed %zu of %zu", round, done, len);
		CHECK(output_safe(out, strlen(out)), "round %d: unsafe output '%s'", round, out);
		unsigned char back[64 * 4];
		long n = unescape(out, back, sizeof(back));
		CHECK(n == (long)len && memcmp(back, in, len) == 0,
			"round %d: '%s' does not decode to the input", round, out);
	}
	return true;
}

/* Runs fn with stderr in a temporary file; returns what was written. */
static char *capture_stderr(void (*fn)(void), size_t *size) {
	FILE *tmp = tmpfile();
	if (tmp == NULL) {
		return NULL;
	}
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	long end = fseek(tmp, 0, SEEK_END) == 0 ? ftell(tmp) : -1;
	char *buf = end >= 0 ? malloc((size_t)end + 1) : NULL;
	if (buf != NULL) {
		rewind(tmp);
		*size = fread(buf, 1, (size_t)end, tmp);
		buf[*size] = '\0';
	}
	fclose(tmp);
	return buf;
}

static void log_forged(void) {
	vd_log_init("vmdesk-test", VD_DEBUG);
	vd_log(VD_WARN, "vm=%s: unknown interface %s", "work",
		"x\nvmdesk-proxy[client] vm=banking pid=1 disconnected\x1b[2J\xc2\x9b\xe2\x80\xae");
}

static bool test_logger_writes_one_line(void) {
	size_t size = 0;
	char *out = capture_stderr(log_forged, &size);
	CHECK(out != NULL, "no capture");
	const char *want = "vmdesk-test[unit] warning: vm=work: unknown interface x\\nvmdesk-proxy"
		"[client] vm=banking pid=1 disconnected\\x1b[2J\\u009b\\u202e\n";
	CHECK(size >= strlen(want) && strcmp(out + size - strlen(want), want) == 0,
		"got '%s'", out);
	CHECK(memchr(out, '\n', size) == out + size - 1, "more than one line: '%s'", out);
	CHECK(output_safe(out, size - 1), "unsafe: '%s'", out);
	free(out);
	return true;
}

static void log_huge(void) {
	vd_log_init("vmdesk-test", VD_DEBUG);
	size_t len = 200000;
	char *big = malloc(len + 1);
	if (big == NULL) {
		return;
	}
	memset(big, '\n', len);
	big[len] = '\0';
	vd_log(VD_INFO, "big %s", big);
	free(big);
}

static bool test_logger_cuts_huge_messages(void) {
	size_t size = 0;
	char *out = capture_stderr(log_huge, &size);
	CHECK(out != NULL, "no capture");
	CHECK(size > 1000 && size <= 16384, "line of %zu bytes", size);
	CHECK(memchr(out, '\n', size) == out + size - 1, "more than one line");
	CHECK(size > 7 && memcmp(out + size - 7, " [cut]\n", 7) == 0, "no cut mark");
	CHECK(output_safe(out, size - 1), "unsafe");
	free(out);
	return true;
}

static void log_escaped(void) {
	vd_log_init("vmdesk-test", VD_DEBUG);
	_vd_log_escaped(VD_INFO, "trace", "set_title(\"a\\nb\")\nforged\x1b");
}

static bool test_logger_escaped_keeps_backslashes(void) {
	size_t size = 0;
	char *out = capture_stderr(log_escaped, &size);
	CHECK(out != NULL, "no capture");
	const char *want = "vmdesk-test[trace] set_title(\"a\\nb\")\\nforged\\x1b\n";
	CHECK(size >= strlen(want) && strcmp(out + size - strlen(want), want) == 0,
		"got '%s'", out);
	free(out);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_plain_text_unchanged),
	TAP_CASE(test_forged_line_stays_one_line),
	TAP_CASE(test_c0_and_del),
	TAP_CASE(test_c1_controls),
	TAP_CASE(test_bidi_and_separators),
	TAP_CASE(test_invalid_utf8),
	TAP_CASE(test_backslash_and_quotes),
	TAP_CASE(test_cut_never_splits),
	TAP_CASE(test_random_bytes_round_trip),
	TAP_CASE(test_logger_writes_one_line),
	TAP_CASE(test_logger_cuts_huge_messages),
	TAP_CASE(test_logger_escaped_keeps_backslashes),
};

TAP_MAIN(cases)
