#define LOG_TAG "glib"

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "decoration/glib-log.h"
#include "protocols/log.h"

static const char *field(const GLogField *fields, gsize n, const char *key, int *len) {
	for (gsize i = 0; i < n; i++) {
		if (strcmp(fields[i].key, key) == 0 && fields[i].value != NULL) {
			*len = fields[i].length < 0 ? (int)strnlen(fields[i].value, 4096) :
				(int)MIN(fields[i].length, 4096);
			return fields[i].value;
		}
	}
	*len = 0;
	return NULL;
}

static GLogWriterOutput write_to_vd_log(GLogLevelFlags flags, const GLogField *fields,
		gsize n, gpointer data) {
	(void)data;
	enum vd_log_level level = VD_DEBUG;
	if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
		level = VD_ERROR;
	} else if (flags & G_LOG_LEVEL_WARNING) {
		level = VD_WARN;
	} else if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) {
		level = VD_INFO;
	}
	if (level > vd_log_get_level()) {
		return G_LOG_WRITER_HANDLED;
	}
	int domain_len, message_len;
	const char *domain = field(fields, n, "GLIB_DOMAIN", &domain_len);
	const char *message = field(fields, n, "MESSAGE", &message_len);
	char text[4200];
	snprintf(text, sizeof(text), "%.*s: %.*s", domain ? domain_len : 4,
		domain ? domain : "glib", message_len, message ? message : "");
	_vd_log_escaped(level, LOG_TAG, text);
	return G_LOG_WRITER_HANDLED;
}

void vd_glib_log_init(void) {
	static bool done;
	if (!done) {
		done = true;
		g_log_set_writer_func(write_to_vd_log, NULL, NULL);
	}
}
