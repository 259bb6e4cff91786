#define LOG_TAG "trace"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/session.h"

/*
 * --trace / VMDESK_TRACE=1: one line per message, in the style of
 * WAYLAND_DEBUG, with the client's IDs ("->" request, "<-" event, "x" when
 * the proxy dropped it). Strings are quoted and escaped with vd_log_escape;
 * the line is written as already escaped (_vd_log_escaped), which still
 * escapes anything unsafe that got past.
 */

static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t size, size_t *len, const char *fmt, ...) {
	if (*len >= size) {
		return;
	}
	va_list args;
	va_start(args, fmt);
	int n = vsnprintf(buf + *len, size - *len, fmt, args);
	va_end(args);
	if (n > 0) {
		*len += (size_t)n;
	}
}

/* A peer's bytes, escaped (protocols/log.h); false if they were cut. */
static bool put_escaped(char *buf, size_t size, size_t *len, const char *str, unsigned flags) {
	if (*len + 1 >= size) {
		return false;
	}
	size_t str_len = strlen(str);
	size_t done = vd_log_escape(buf + *len, size - *len, str, str_len, flags);
	*len += strlen(buf + *len);
	return done == str_len;
}

/* A peer's string, quoted: one line, no control sequence, no quote that
 * could end it early. A cut string has no closing quote. */
static void put_string(char *buf, size_t size, size_t *len, const char *str) {
	put(buf, size, len, "\"");
	if (put_escaped(buf, size - 1, len, str, VD_LOG_ESCAPE_QUOTES)) {
		put(buf, size, len, "\"");
	}
}

void trace_message(struct vd_session *session, bool from_client, const struct vd_object *object,
		const struct vd_wire_message *msg, bool dropped) {
	char line[1024];
	size_t len = 0;
	line[0] = '\0';
	/* IDs as the client knows them; 0 for what it cannot know */
	put(line, sizeof(line), &len, "[%s %d] %s %s@%u.%s(", session->server->vm,
		(int)session->pid, dropped ? " x" : from_client ? "->" : "<-",
		object->interface->name, object->client_id, msg->desc->name);
	for (uint32_t i = 0; i < msg->arg_count; i++) {
		const struct vd_wire_arg *arg = &msg->args[i];
		if (i > 0) {
			put(line, sizeof(line), &len, ", ");
		}
		switch (arg->type) {
		case VD_ARG_INT:
			put(line, sizeof(line), &len, "%d", arg->i);
			break;
		case VD_ARG_UINT:
			put(line, sizeof(line), &len, "%u", arg->u);
			break;
		case VD_ARG_FIXED:
			put(line, sizeof(line), &len, "%f", arg->i / 256.0);
			break;
		case VD_ARG_STRING:
			if (arg->str.data == NULL) {
				put(line, sizeof(line), &len, "nil");
			} else {
				put_string(line, sizeof(line), &len, arg->str.data);
			}
			break;
		case VD_ARG_OBJECT: {
			uint32_t id = arg->id;
			if (!from_client && id != 0) {
				struct vd_object *target =
					vd_object_map_get(&session->upstream_map, id);
				id = target != NULL ? target->client_id : 0;
			}
			put(line, sizeof(line), &len, arg->id ? "@%u" : "nil", id);
			break;
		}
		case VD_ARG_NEW_ID: {
			uint32_t id = arg->id;
			if (!from_client) {
				struct vd_object *target =
					vd_object_map_get(&session->upstream_map, id);
				id = target != NULL ? target->client_id : 0;
			}
			put(line, sizeof(line), &len, "new ");
			put_escaped(line, sizeof(line), &len, arg->new_interface, 0);
			put(line, sizeof(line), &len, "@%u", id);
			break;
		}
		case VD_ARG_ARRAY:
			put(line, sizeof(line), &len, "array[%u]", arg->array.size);
			break;
		case VD_ARG_FD:
			put(line, sizeof(line), &len, "fd");
			break;
		}
	}
	put(line, sizeof(line), &len, ")");
	_vd_log_escaped(VD_INFO, LOG_TAG, line);
}
