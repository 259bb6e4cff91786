#ifndef PROTOCOLS_LOG_H
#define PROTOCOLS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

/*
 * One logging helper for every vmdesk program. Each file defines LOG_TAG
 * before including this header; lines read "vmdesk-proxy[tag] message".
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

#define vd_log(level, fmt, ...) \
	do { \
		if ((level) <= vd_log_get_level()) { \
			_vd_log(level, LOG_TAG, fmt, ##__VA_ARGS__); \
		} \
	} while (0)

/* Like vd_log, with ": strerror(errno)" appended. */
#define vd_log_errno(level, fmt, ...) \
	vd_log(level, fmt ": %s", ##__VA_ARGS__, strerror(errno))

#endif
