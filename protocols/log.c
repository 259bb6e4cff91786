#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocols/log.h"

static const char *log_program = "vmdesk";
static enum vd_log_level log_level = VD_INFO;
static bool log_timestamps;

static const char *const level_names[] = {
	[VD_SILENT] = "silent",
	[VD_ERROR] = "error",
	[VD_WARN] = "warn",
	[VD_INFO] = "info",
	[VD_DEBUG] = "debug",
};

/*
 * A message is formatted into MESSAGE_STACK bytes, or on the heap when it
 * is longer, up to MESSAGE_MAX bytes; its escaped form is cut at LINE_MAX
 * bytes (a line that long is a peer's doing, not a message of ours).
 */
#define MESSAGE_STACK 1024
#define MESSAGE_MAX 65536
#define LINE_STACK 4096
#define LINE_MAX 16384
#define PREFIX_MAX 160
#define CUT_MARK " [cut]"

void vd_log_init(const char *program, enum vd_log_level level) {
	log_program = program;
	log_level = level;
	log_timestamps = !isatty(STDERR_FILENO);
}

void vd_log_set_level(enum vd_log_level level) {
	log_level = level;
}

enum vd_log_level vd_log_get_level(void) {
	return log_level;
}

bool vd_log_parse_level(const char *str, enum vd_log_level *level) {
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(str, level_names[i]) == 0) {
			*level = (enum vd_log_level)i;
			return true;
		}
	}
	if (str[0] >= '0' && str[0] <= '4' && str[1] == '\0') {
		*level = (enum vd_log_level)(str[0] - '0');
		return true;
	}
	return false;
}

/* Escaping */

/* The length of the valid UTF-8 sequence at s (RFC 3629) and its code
 * point; 0 if s does not start one. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		*cp = c & 0x0f;
		if (c == 0xe0) {
			lo = 0xa0; // overlong
		} else if (c == 0xed) {
			hi = 0x9f; // surrogates
		}
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		*cp = c & 0x07;
		if (c == 0xf0) {
			lo = 0x90; // overlong
		} else if (c == 0xf4) {
			hi = 0x8f; // past U+10FFFF
		}
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi) {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf) {
			return 0;
		}
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return n;
}

/* Code points that change how a line reads: C1 controls, bidirectional
 * controls, line and paragraph separators. */
static bool code_point_unsafe(uint32_t cp) {
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
		(cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
		cp == 0x2028 || cp == 0x2029;
}

size_t vd_log_escape(char *dst, size_t dst_size, const char *src, size_t len, unsigned flags) {
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t out = 0, i = 0;
	if (dst_size == 0) {
		return 0;
	}
	while (i < len) {
		char buf[8];
		size_t n = 0, used = 1;
		unsigned char c = s[i];
		uint32_t cp;
		size_t seq;
		if (c == '\n' || c == '\r' || c == '\t') {
			buf[n++] = '\\';
			buf[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c == '\\' && !(flags & VD_LOG_ESCAPE_KEEP_BACKSLASH)) {
			buf[n++] = '\\';
			buf[n++] = '\\';
		} else if (c == '"' && (flags & VD_LOG_ESCAPE_QUOTES)) {
			buf[n++] = '\\';
			buf[n++] = '"';
		} else if (c < 0x20 || c == 0x7f) {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 0xf];
		} else if (c < 0x80) {
			buf[n++] = (char)c;
		} else if ((seq = utf8_decode(s + i, len - i, &cp)) == 0) {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 0xf];
		} else if (code_point_unsafe(cp)) {
			buf[n++] = '\\';
			buf[n++] = 'u';
			for (int shift = 12; shift >= 0; shift -= 4) {
				buf[n++] = hex[(cp >> shift) & 0xf];
			}
			used = seq;
		} else {
			memcpy(buf, s + i, seq);
			n = seq;
			used = seq;
		}
		if (out + n >= dst_size) {
			break;
		}
		memcpy(dst + out, buf, n);
		out += n;
		i += used;
	}
	dst[out] = '\0';
	return i;
}

/* Writing */

static void write_line(enum vd_log_level level, const char *tag, const char *text, size_t len,
		unsigned flags) {
	char stack[LINE_STACK];
	char *line = stack;
	size_t size = sizeof(stack);
	size_t need = PREFIX_MAX + 4 * len + sizeof(CUT_MARK) + 1;
	if (need > size) {
		size = need < LINE_MAX ? need : LINE_MAX;
		line = malloc(size);
		if (line == NULL) {
			line = stack; // cut short rather than lost
			size = sizeof(stack);
		}
	}
	size_t n = 0;
	if (log_timestamps) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		localtime_r(&ts.tv_sec, &tm);
		n = strftime(line, 32, "%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, 32 - n, ".%03ld ", ts.tv_nsec / 1000000);
	}
	const char *prefix = level == VD_ERROR ? "error: " : level == VD_WARN ? "warning: " : "";
	int p = snprintf(line + n, PREFIX_MAX - n, "%s[%s] %s", log_program, tag, prefix);
	n += p > 0 ? (size_t)p : 0;
	if (n >= PREFIX_MAX) {
		n = PREFIX_MAX - 1; // our own names: never this long
	}
	/* room for the cut mark and the newline is kept back */
	size_t room = size - n - sizeof(CUT_MARK);
	size_t done = vd_log_escape(line + n, room, text, len, flags);
	n += strlen(line + n);
	if (done < len) {
		memcpy(line + n, CUT_MARK, sizeof(CUT_MARK) - 1);
		n += sizeof(CUT_MARK) - 1;
	}
	line[n++] = '\n';
	/* one write per line: lines of several processes sharing a log stay whole */
	flockfile(stderr);
	fwrite(line, 1, n, stderr);
	fflush(stderr);
	funlockfile(stderr);
	if (line != stack) {
		free(line);
	}
}

void _vd_vlog(enum vd_log_level level, const char *tag, const char *fmt, va_list args) {
	char stack[MESSAGE_STACK];
	char *text = stack;
	va_list copy;
	va_copy(copy, args);
	int n = vsnprintf(stack, sizeof(stack), fmt, args);
	size_t len = n > 0 ? (size_t)n : 0;
	if (len >= sizeof(stack)) {
		if (len > MESSAGE_MAX) {
			len = MESSAGE_MAX;
		}
		text = malloc(len + 1);
		if (text != NULL) {
			vsnprintf(text, len + 1, fmt, copy);
		} else {
			text = stack;
			len = sizeof(stack) - 1;
		}
	}
	va_end(copy);
	write_line(level, tag, text, len, 0);
	if (text != stack) {
		free(text);
	}
}

void _vd_log(enum vd_log_level level, const char *tag, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	_vd_vlog(level, tag, fmt, args);
	va_end(args);
}

void _vd_log_escaped(enum vd_log_level level, const char *tag, const char *text) {
	write_line(level, tag, text, strlen(text), VD_LOG_ESCAPE_KEEP_BACKSLASH);
}
