#include <stdio.h>
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

void _vd_vlog(enum vd_log_level level, const char *tag, const char *fmt, va_list args) {
	char stamp[32] = "";
	if (log_timestamps) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		localtime_r(&ts.tv_sec, &tm);
		size_t n = strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		snprintf(stamp + n, sizeof(stamp) - n, ".%03ld ", ts.tv_nsec / 1000000);
	}
	const char *prefix = level == VD_ERROR ? "error: " : level == VD_WARN ? "warning: " : "";
	flockfile(stderr);
	fprintf(stderr, "%s%s[%s] %s", stamp, log_program, tag, prefix);
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void _vd_log(enum vd_log_level level, const char *tag, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	_vd_vlog(level, tag, fmt, args);
	va_end(args);
}
