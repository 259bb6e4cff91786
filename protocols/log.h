#ifndef PROTOCOLS_LOG_H
#define PROTOCOLS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * One logging helper for every vmdesk program. Each file defines LOG_TAG
 * before including this header; lines read "vmdesk-proxy[tag] message".
 *
 * Log lines carry strings from peers (guests, clients, compositors): the
 * formatted message is escaped before it is written (vd_log_escape), so
 * that one call writes exactly one line and never a control sequence,
 * whatever its arguments hold.
 */

enum vd_log_level {
	VD_SILENT = 0,
	VD_ERROR = 1,
	VD_WARN = 2,
	VD_INFO = 3,
	VD_DEBUG = 4,
};

#ifndef LOG_TAG
#define LOG_TAG "main"
#endif

void vd_log_init(const char *program, enum vd_log_level level);
void vd_log_set_level(enum vd_log_level level);
enum vd_log_level vd_log_get_level(void);
/* Parses "error", "warn", "info", "debug", "silent" or a digit 0-4. */
bool vd_log_parse_level(const char *str, enum vd_log_level *level);

void _vd_log(enum vd_log_level level, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void _vd_vlog(enum vd_log_level level, const char *tag, const char *fmt, va_list args)
	__attribute__((format(printf, 3, 0)));
/*
 * Writes text that was built with vd_log_escape (e.g. a --trace line):
 * its backslashes are kept as they are; anything else unsafe is still
 * escaped, so the one-line guarantee holds for this call too.
 */
void _vd_log_escaped(enum vd_log_level level, const char *tag, const char *text);

#define vd_log(level, fmt, ...) \
	do { \
		if ((level) <= vd_log_get_level()) { \
			_vd_log(level, LOG_TAG, fmt, ##__VA_ARGS__); \
		} \
	} while (0)

/* Like vd_log, with ": strerror(errno)" appended. */
#define vd_log_errno(level, fmt, ...) \
	vd_log(level, fmt ": %s", ##__VA_ARGS__, strerror(errno))

enum vd_log_escape_flags {
	/* '"' becomes \" (for strings shown between quotes) */
	VD_LOG_ESCAPE_QUOTES = 1 << 0,
	/* '\' stays as it is (text already escaped); else it becomes \\ */
	VD_LOG_ESCAPE_KEEP_BACKSLASH = 1 << 1,
};

/*
 * Escapes len bytes of src into dst for a log line or a terminal:
 *   \n \r \t               as \n \r \t
 *   other C0 controls, DEL as \xNN
 *   bytes that are not valid UTF-8 (RFC 3629: no overlong forms, surrogates,
 *   code points past U+10FFFF, or cut sequences) as \xNN, one per byte
 *   C1 controls (U+0080..U+009F), bidirectional controls (U+061C, U+200E,
 *   U+200F, U+202A..U+202E, U+2066..U+2069) and the line and paragraph
 *   separators (U+2028, U+2029) as \uNNNN
 *   '\' as \\ (unless VD_LOG_ESCAPE_KEEP_BACKSLASH)
 * Everything else (printable ASCII, other valid UTF-8) is copied. dst is
 * always NUL-terminated (dst_size > 0) and never ends inside an escape or
 * a character. Returns how many bytes of src were escaped: len when all
 * of it fit. An escape takes at most 4 bytes of dst per byte of src.
 */
size_t vd_log_escape(char *dst, size_t dst_size, const char *src, size_t len, unsigned flags);

#endif
