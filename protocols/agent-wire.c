#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/agent-wire.h"

#define VD_AGENT_MAX_ENV_VALUE 4096

/* ---- validation helpers ---- */

bool vd_agent_text_valid(const char *str, size_t len, bool multiline) {
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || c == 0x7f) {
				return false;
			}
			i++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n) {
			return false;
		}
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
				(cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f)) {
			return false;
		}
		/* Bidi controls, line/paragraph separators, BOM and noncharacters: they
		 * can make a menu entry or a log line read differently than it is. */
		if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
				cp == 0x200e || cp == 0x200f || cp == 0x061c || cp == 0x2028 ||
				cp == 0x2029 || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
				(cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe) {
			return false;
		}
		i += n + 1;
	}
	return true;
}

bool vd_agent_desktop_id_valid(const char *id, size_t len) {
	static const char suffix[] = ".desktop";
	size_t slen = sizeof(suffix) - 1;
	if (len <= slen || len > VD_AGENT_MAX_DESKTOP_ID) {
		return false;
	}
	if (memcmp(id + len - slen, suffix, slen) != 0 || id[0] == '.' || id[0] == '-') {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok || (c == '.' && i + 1 < len && id[i + 1] == '.')) {
			return false;
		}
	}
	return true;
}

bool vd_agent_vm_name_valid(const char *name, size_t len) {
	if (len == 0 || len > VD_AGENT_MAX_VM_NAME) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '-'))) {
			return false;
		}
	}
	return true;
}

static bool chars_in(const char *s, size_t len, const char *extra) {
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || (c != '\0' && strchr(extra, c) != NULL);
		if (!ok) {
			return false;
		}
	}
	return true;
}

bool vd_agent_env_allowed(const char *key, size_t len) {
	static const char *const allowed[] = {
		"LANG", "LANGUAGE", "LC_ALL", "LC_ADDRESS", "LC_COLLATE", "LC_CTYPE",
		"LC_IDENTIFICATION", "LC_MEASUREMENT", "LC_MESSAGES", "LC_MONETARY", "LC_NAME",
		"LC_NUMERIC", "LC_PAPER", "LC_TELEPHONE", "LC_TIME", "TZ", "NO_COLOR", "COLUMNS",
		"LINES",
	};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (strlen(allowed[i]) == len && memcmp(allowed[i], key, len) == 0) {
			return true;
		}
	}
	return false;
}

bool vd_agent_signal_allowed(uint32_t signo) {
	switch (signo) {
	case SIGHUP:
	case SIGINT:
	case SIGQUIT:
	case SIGKILL:
	case SIGUSR1:
	case SIGUSR2:
	case SIGTERM:
	case SIGCONT:
	case SIGSTOP:
	case SIGWINCH:
		return true;
	default:
		return false;
	}
}

const char *vd_agent_type_name(uint16_t type) {
	switch (type) {
	case VD_AGENT_HELLO: return "HELLO";
	case VD_AGENT_ERROR: return "ERROR";
	case VD_AGENT_RUN: return "RUN";
	case VD_AGENT_RUN_APP: return "RUN_APP";
	case VD_AGENT_RUN_STARTED: return "RUN_STARTED";
	case VD_AGENT_RUN_OUTPUT: return "RUN_OUTPUT";
	case VD_AGENT_RUN_EXIT: return "RUN_EXIT";
	case VD_AGENT_SIGNAL: return "SIGNAL";
	case VD_AGENT_RUN_ACK: return "RUN_ACK";
	case VD_AGENT_APPS_BEGIN: return "APPS_BEGIN";
	case VD_AGENT_APP: return "APP";
	case VD_AGENT_APPS_END: return "APPS_END";
	case VD_AGENT_IDLE: return "IDLE";
	case VD_AGENT_CTL_RUN: return "CTL_RUN";
	case VD_AGENT_CTL_RUN_APP: return "CTL_RUN_APP";
	case VD_AGENT_CTL_APPS: return "CTL_APPS";
	case VD_AGENT_CTL_LIST: return "CTL_LIST";
	case VD_AGENT_CTL_STATUS: return "CTL_STATUS";
	case VD_AGENT_CTL_TEXT: return "CTL_TEXT";
	case VD_AGENT_CTL_SIGNAL: return "CTL_SIGNAL";
	default: return NULL;
	}
}

void vd_agent_caps_format(uint32_t caps, char *buf, size_t size) {
	snprintf(buf, size, "%s%s%s%s", caps & VD_AGENT_CAP_RUN ? "run " : "",
		caps & VD_AGENT_CAP_APPS ? "apps " : "", caps & VD_AGENT_CAP_IDLE ? "idle " : "",
		caps == 0 ? "none" : "");
	size_t len = strlen(buf);
	if (len > 0 && buf[len - 1] == ' ') {
		buf[len - 1] = '\0';
	}
}

bool vd_agent_header_parse(const uint8_t *d, struct vd_agent_header *header, char *err,
		size_t err_size) {
	header->length = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
		(uint32_t)d[3] << 24;
	header->type = (uint16_t)(d[4] | d[5] << 8);
	header->flags = (uint16_t)(d[6] | d[7] << 8);
	header->id = (uint32_t)d[8] | (uint32_t)d[9] << 8 | (uint32_t)d[10] << 16 |
		(uint32_t)d[11] << 24;
	if (header->length > VD_AGENT_MAX_PAYLOAD) {
		snprintf(err, err_size, "frame of %u bytes over the %u-byte limit", header->length,
			VD_AGENT_MAX_PAYLOAD);
		return false;
	}
	if (header->flags != 0) {
		snprintf(err, err_size, "frame flags 0x%x set (must be 0)", header->flags);
		return false;
	}
	return true;
}

/* ---- decoder ---- */

struct reader {
	const uint8_t *data;
	size_t len, pos;
	char *err;
	size_t err_size;
	bool failed;
};

static bool rfail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool rfail(struct reader *r, const char *fmt, ...) {
	if (!r->failed) {
		va_list args;
		va_start(args, fmt);
		vsnprintf(r->err, r->err_size, fmt, args);
		va_end(args);
	}
	r->failed = true;
	return false;
}

static bool need(struct reader *r, size_t n, const char *what) {
	if (r->failed) {
		return false;
	}
	if (r->len - r->pos < n) {
		return rfail(r, "truncated %s", what);
	}
	return true;
}

static uint8_t get_u8(struct reader *r, const char *what) {
	if (!need(r, 1, what)) {
		return 0;
	}
	return r->data[r->pos++];
}

static uint16_t get_u16(struct reader *r, const char *what) {
	if (!need(r, 2, what)) {
		return 0;
	}
	uint16_t v = (uint16_t)(r->data[r->pos] | r->data[r->pos + 1] << 8);
	r->pos += 2;
	return v;
}

static uint32_t get_u32(struct reader *r, const char *what) {
	if (!need(r, 4, what)) {
		return 0;
	}
	const uint8_t *d = r->data + r->pos;
	r->pos += 4;
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

enum str_kind {
	STR_TEXT, // UTF-8, no controls
	STR_BYTES, // anything but NUL (argv, environment values)
};

/* A u16-length string, copied and NUL-terminated. */
static char *get_str(struct reader *r, const char *what, size_t max, enum str_kind kind) {
	uint16_t len = get_u16(r, what);
	if (r->failed) {
		return NULL;
	}
	if (len > max) {
		rfail(r, "%s of %u bytes over the %zu-byte limit", what, len, max);
		return NULL;
	}
	if (!need(r, len, what)) {
		return NULL;
	}
	const char *s = (const char *)r->data + r->pos;
	if (memchr(s, '\0', len) != NULL) {
		rfail(r, "NUL byte in %s", what);
		return NULL;
	}
	if (kind == STR_TEXT && !vd_agent_text_valid(s, len, false)) {
		rfail(r, "%s is not valid UTF-8 text (or has control characters)", what);
		return NULL;
	}
	char *copy = malloc((size_t)len + 1);
	if (copy == NULL) {
		rfail(r, "out of memory");
		return NULL;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	r->pos += len;
	return copy;
}

static char *get_vm(struct reader *r) {
	char *vm = get_str(r, "VM name", VD_AGENT_MAX_VM_NAME, STR_TEXT);
	if (vm != NULL && !vd_agent_vm_name_valid(vm, strlen(vm))) {
		rfail(r, "invalid VM name");
		free(vm);
		return NULL;
	}
	return vm;
}

static char *get_desktop_id(struct reader *r) {
	char *id = get_str(r, "desktop ID", VD_AGENT_MAX_DESKTOP_ID, STR_TEXT);
	if (id != NULL && !vd_agent_desktop_id_valid(id, strlen(id))) {
		rfail(r, "invalid desktop ID (want [A-Za-z0-9._-] ending in .desktop, no \"..\")");
		free(id);
		return NULL;
	}
	return id;
}

static void get_flags(struct reader *r, struct vd_agent_msg *msg) {
	msg->flags = get_u32(r, "flags");
	if (!r->failed && (msg->flags & ~(uint32_t)VD_AGENT_RUN_FLAGS_KNOWN) != 0) {
		rfail(r, "unknown run flags 0x%x", msg->flags);
	}
}

static void get_run(struct reader *r, struct vd_agent_msg *msg) {
	get_flags(r, msg);
	uint16_t argc = get_u16(r, "argument count");
	if (r->failed) {
		return;
	}
	if (argc == 0 || argc > VD_AGENT_MAX_ARGS) {
		rfail(r, "argument count %u not in 1..%d", argc, VD_AGENT_MAX_ARGS);
		return;
	}
	msg->argv = calloc((size_t)argc + 1, sizeof(char *));
	if (msg->argv == NULL) {
		rfail(r, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < argc; i++) {
		msg->argv[i] = get_str(r, "argument", VD_AGENT_MAX_ARG, STR_BYTES);
		if (r->failed) {
			return;
		}
		msg->argc++;
	}
	if (msg->argv[0][0] == '\0') {
		rfail(r, "empty program name");
		return;
	}
	uint16_t envc = get_u16(r, "environment count");
	if (r->failed) {
		return;
	}
	if (envc > VD_AGENT_MAX_ENV) {
		rfail(r, "environment count %u over %d", envc, VD_AGENT_MAX_ENV);
		return;
	}
	msg->env = calloc((size_t)envc + 1, sizeof(char *));
	if (msg->env == NULL) {
		rfail(r, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < envc; i++) {
		char *key = get_str(r, "environment name", 64, STR_TEXT);
		char *value = get_str(r, "environment value", VD_AGENT_MAX_ENV_VALUE, STR_BYTES);
		if (r->failed) {
			free(key);
			free(value);
			return;
		}
		if (!vd_agent_env_allowed(key, strlen(key))) {
			rfail(r, "environment variable \"%s\" is not on the whitelist", key);
			free(key);
			free(value);
			return;
		}
		size_t klen = strlen(key), vlen = strlen(value);
		char *pair = malloc(klen + vlen + 2);
		if (pair != NULL) {
			memcpy(pair, key, klen);
			pair[klen] = '=';
			memcpy(pair + klen + 1, value, vlen + 1);
		}
		free(key);
		free(value);
		if (pair == NULL) {
			rfail(r, "out of memory");
			return;
		}
		msg->env[msg->envc++] = pair;
	}
}

static bool png_header_matches(const uint8_t *png, uint32_t len, uint16_t w, uint16_t h) {
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	if (len < 33 || memcmp(png, sig, 8) != 0 || memcmp(png + 8, "\0\0\0\x0dIHDR", 8) != 0) {
		return false;
	}
	uint32_t pw = (uint32_t)png[16] << 24 | (uint32_t)png[17] << 16 |
		(uint32_t)png[18] << 8 | png[19];
	uint32_t ph = (uint32_t)png[20] << 24 | (uint32_t)png[21] << 16 |
		(uint32_t)png[22] << 8 | png[23];
	return pw == w && ph == h;
}

static void get_app(struct reader *r, struct vd_agent_app *app) {
	app->id = get_desktop_id(r);
	app->name = get_str(r, "Name", VD_AGENT_MAX_NAME, STR_TEXT);
	app->generic_name = get_str(r, "GenericName", VD_AGENT_MAX_NAME, STR_TEXT);
	app->comment = get_str(r, "Comment", VD_AGENT_MAX_COMMENT, STR_TEXT);
	app->categories = get_str(r, "Categories", VD_AGENT_MAX_CATEGORIES, STR_TEXT);
	app->icon_name = get_str(r, "Icon", VD_AGENT_MAX_ICON_NAME, STR_TEXT);
	app->wm_class = get_str(r, "StartupWMClass", VD_AGENT_MAX_WM_CLASS, STR_TEXT);
	if (r->failed) {
		return;
	}
	if (app->name[0] == '\0') {
		rfail(r, "empty Name");
		return;
	}
	if (!chars_in(app->categories, strlen(app->categories), ";-_")) {
		rfail(r, "bad characters in Categories");
		return;
	}
	if (!chars_in(app->icon_name, strlen(app->icon_name), "._-")) {
		rfail(r, "bad characters in Icon");
		return;
	}
	if (!chars_in(app->wm_class, strlen(app->wm_class), "._-")) {
		rfail(r, "bad characters in StartupWMClass");
		return;
	}
	app->icon.width = get_u16(r, "icon width");
	app->icon.height = get_u16(r, "icon height");
	app->icon.len = get_u32(r, "icon length");
	if (r->failed) {
		return;
	}
	if (app->icon.len == 0) {
		if (app->icon.width != 0 || app->icon.height != 0) {
			rfail(r, "icon size %ux%u without icon bytes", app->icon.width, app->icon.height);
		}
		return;
	}
	if (app->icon.width == 0 || app->icon.height == 0 ||
			app->icon.width > VD_AGENT_MAX_ICON_DIM || app->icon.height > VD_AGENT_MAX_ICON_DIM) {
		rfail(r, "icon size %ux%u not in 1..%d", app->icon.width, app->icon.height,
			VD_AGENT_MAX_ICON_DIM);
		return;
	}
	if (app->icon.len > VD_AGENT_MAX_ICON_BYTES) {
		rfail(r, "icon of %u bytes over the %u-byte limit", app->icon.len,
			VD_AGENT_MAX_ICON_BYTES);
		return;
	}
	if (!need(r, app->icon.len, "icon")) {
		return;
	}
	app->icon.png = r->data + r->pos;
	r->pos += app->icon.len;
	if (!png_header_matches(app->icon.png, app->icon.len, app->icon.width, app->icon.height)) {
		rfail(r, "icon is not a PNG of the stated size %ux%u", app->icon.width,
			app->icon.height);
	}
}

bool vd_agent_decode(uint16_t type, uint32_t id, const uint8_t *payload, size_t len,
		struct vd_agent_msg *msg, char *err, size_t err_size) {
	memset(msg, 0, sizeof(*msg));
	msg->type = type;
	msg->id = id;
	struct reader r = {.data = payload, .len = len, .err = err, .err_size = err_size};
	if (len > VD_AGENT_MAX_PAYLOAD) {
		rfail(&r, "payload over the limit");
		return false;
	}
	switch (type) {
	case VD_AGENT_HELLO:
		if (get_u32(&r, "magic") != VD_AGENT_MAGIC && !r.failed) {
			rfail(&r, "bad magic");
			break;
		}
		msg->min_version = get_u16(&r, "version");
		msg->max_version = get_u16(&r, "version");
		msg->caps = get_u32(&r, "capabilities");
		msg->software = get_str(&r, "software name", VD_AGENT_MAX_SOFTWARE, STR_TEXT);
		if (!r.failed && (msg->min_version == 0 || msg->min_version > msg->max_version)) {
			rfail(&r, "bad version range %u..%u", msg->min_version, msg->max_version);
		}
		break;
	case VD_AGENT_ERROR:
		msg->code = get_u32(&r, "error code");
		msg->message = get_str(&r, "error message", VD_AGENT_MAX_ERROR, STR_TEXT);
		if (!r.failed && (msg->code == 0 || msg->code > VD_AGENT_E_MAX)) {
			rfail(&r, "unknown error code %u", msg->code);
		}
		break;
	case VD_AGENT_CTL_RUN:
		msg->vm = get_vm(&r);
		/* fallthrough */
	case VD_AGENT_RUN:
		get_run(&r, msg);
		break;
	case VD_AGENT_CTL_RUN_APP:
		msg->vm = get_vm(&r);
		/* fallthrough */
	case VD_AGENT_RUN_APP:
		get_flags(&r, msg);
		msg->app_id = get_desktop_id(&r);
		break;
	case VD_AGENT_RUN_STARTED:
		msg->pid = get_u32(&r, "pid");
		if (!r.failed && (msg->pid == 0 || msg->pid > 0x7fffffff)) {
			rfail(&r, "bad pid %u", msg->pid);
		}
		break;
	case VD_AGENT_RUN_OUTPUT:
		msg->stream = get_u8(&r, "stream");
		msg->data_len = get_u32(&r, "output length");
		if (r.failed) {
			break;
		}
		if (msg->stream != VD_AGENT_STDOUT && msg->stream != VD_AGENT_STDERR) {
			rfail(&r, "unknown stream %u", msg->stream);
		} else if (msg->data_len == 0 || msg->data_len > VD_AGENT_MAX_OUTPUT) {
			rfail(&r, "output chunk of %u bytes not in 1..%u", msg->data_len,
				VD_AGENT_MAX_OUTPUT);
		} else if (need(&r, msg->data_len, "output")) {
			msg->data = r.data + r.pos;
			r.pos += msg->data_len;
		}
		break;
	case VD_AGENT_RUN_EXIT:
		msg->exit_kind = get_u8(&r, "exit kind");
		msg->exit_value = get_u32(&r, "exit value");
		if (r.failed) {
			break;
		}
		if (msg->exit_kind == VD_AGENT_EXITED) {
			if (msg->exit_value > 255) {
				rfail(&r, "exit status %u over 255", msg->exit_value);
			}
		} else if (msg->exit_kind == VD_AGENT_SIGNALED) {
			if (msg->exit_value == 0 || msg->exit_value > 64) {
				rfail(&r, "signal %u not in 1..64", msg->exit_value);
			}
		} else {
			rfail(&r, "unknown exit kind %u", msg->exit_kind);
		}
		break;
	case VD_AGENT_SIGNAL:
	case VD_AGENT_CTL_SIGNAL:
		msg->signo = get_u32(&r, "signal");
		if (!r.failed && !vd_agent_signal_allowed(msg->signo)) {
			rfail(&r, "signal %u not allowed", msg->signo);
		}
		break;
	case VD_AGENT_RUN_ACK:
		msg->acked = get_u32(&r, "acknowledged bytes");
		if (!r.failed && (msg->acked == 0 || msg->acked > VD_AGENT_RUN_WINDOW)) {
			rfail(&r, "acknowledgement of %u bytes not in 1..%u", msg->acked,
				VD_AGENT_RUN_WINDOW);
		}
		break;
	case VD_AGENT_APPS_BEGIN:
		msg->generation = get_u32(&r, "generation");
		msg->count = get_u32(&r, "app count");
		if (!r.failed && msg->count > VD_AGENT_MAX_APPS) {
			rfail(&r, "%u apps over the limit of %d", msg->count, VD_AGENT_MAX_APPS);
		}
		break;
	case VD_AGENT_APP:
		get_app(&r, &msg->app);
		break;
	case VD_AGENT_APPS_END:
		msg->generation = get_u32(&r, "generation");
		break;
	case VD_AGENT_IDLE:
		msg->idle = get_u8(&r, "idle flag");
		msg->idle_seconds = get_u32(&r, "idle seconds");
		if (!r.failed && msg->idle > 1) {
			rfail(&r, "idle flag %u not 0 or 1", msg->idle);
		}
		break;
	case VD_AGENT_CTL_APPS:
	case VD_AGENT_CTL_STATUS:
		msg->vm = get_vm(&r);
		break;
	case VD_AGENT_CTL_LIST:
		break;
	case VD_AGENT_CTL_TEXT: {
		uint32_t tlen = get_u32(&r, "text length");
		if (r.failed) {
			break;
		}
		if (tlen > VD_AGENT_MAX_TEXT) {
			rfail(&r, "text over the limit");
		} else if (need(&r, tlen, "text")) {
			const char *s = (const char *)r.data + r.pos;
			if (!vd_agent_text_valid(s, tlen, true)) {
				rfail(&r, "text is not valid UTF-8");
			} else if ((msg->text = malloc((size_t)tlen + 1)) == NULL) {
				rfail(&r, "out of memory");
			} else {
				memcpy(msg->text, s, tlen);
				msg->text[tlen] = '\0';
				r.pos += tlen;
			}
		}
		break;
	}
	default:
		rfail(&r, "unknown message type 0x%04x", type);
		break;
	}
	if (!r.failed && r.pos != r.len) {
		rfail(&r, "%zu trailing bytes in %s", r.len - r.pos, vd_agent_type_name(type));
	}
	if (r.failed) {
		vd_agent_msg_finish(msg);
		return false;
	}
	return true;
}

static void free_strv(char **v) {
	if (v == NULL) {
		return;
	}
	for (size_t i = 0; v[i] != NULL; i++) {
		free(v[i]);
	}
	free(v);
}

void vd_agent_msg_finish(struct vd_agent_msg *msg) {
	free(msg->software);
	free(msg->message);
	free(msg->vm);
	free_strv(msg->argv);
	free_strv(msg->env);
	free(msg->app_id);
	free(msg->app.id);
	free(msg->app.name);
	free(msg->app.generic_name);
	free(msg->app.comment);
	free(msg->app.categories);
	free(msg->app.icon_name);
	free(msg->app.wm_class);
	free(msg->text);
	uint16_t type = msg->type;
	uint32_t id = msg->id;
	memset(msg, 0, sizeof(*msg));
	msg->type = type;
	msg->id = id;
}

/* ---- encoder ---- */

void vd_agent_buf_finish(struct vd_agent_buf *buf) {
	free(buf->data);
	memset(buf, 0, sizeof(*buf));
}

static void put(struct vd_agent_buf *buf, const void *data, size_t len) {
	if (buf->failed) {
		return;
	}
	if (buf->cap - buf->len < len) {
		size_t cap = buf->cap ? buf->cap : 256;
		while (cap - buf->len < len) {
			cap *= 2;
		}
		uint8_t *data2 = realloc(buf->data, cap);
		if (data2 == NULL) {
			buf->failed = true;
			return;
		}
		buf->data = data2;
		buf->cap = cap;
	}
	if (len > 0) {
		memcpy(buf->data + buf->len, data, len);
	}
	buf->len += len;
}

static void put_u8(struct vd_agent_buf *buf, uint8_t v) {
	put(buf, &v, 1);
}

static void put_u16(struct vd_agent_buf *buf, uint16_t v) {
	uint8_t d[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	put(buf, d, 2);
}

static void put_u32(struct vd_agent_buf *buf, uint32_t v) {
	uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	put(buf, d, 4);
}

static void put_str(struct vd_agent_buf *buf, const char *s) {
	size_t len = s ? strlen(s) : 0;
	if (len > 0xffff) {
		buf->failed = true;
		return;
	}
	put_u16(buf, (uint16_t)len);
	put(buf, s, len);
}

static void put_run(struct vd_agent_buf *buf, const struct vd_agent_msg *msg) {
	put_u32(buf, msg->flags);
	put_u16(buf, (uint16_t)msg->argc);
	for (uint32_t i = 0; i < msg->argc; i++) {
		put_str(buf, msg->argv[i]);
	}
	put_u16(buf, (uint16_t)msg->envc);
	for (uint32_t i = 0; i < msg->envc; i++) {
		const char *eq = strchr(msg->env[i], '=');
		if (eq == NULL || eq - msg->env[i] > 64) {
			buf->failed = true;
			return;
		}
		put_u16(buf, (uint16_t)(eq - msg->env[i]));
		put(buf, msg->env[i], (size_t)(eq - msg->env[i]));
		put_str(buf, eq + 1);
	}
}

bool vd_agent_encode(struct vd_agent_buf *buf, const struct vd_agent_msg *msg) {
	if (buf->failed) {
		return false;
	}
	size_t start = buf->len;
	put_u32(buf, 0); // length, patched below
	put_u16(buf, msg->type);
	put_u16(buf, 0);
	put_u32(buf, msg->id);
	switch (msg->type) {
	case VD_AGENT_HELLO:
		put_u32(buf, VD_AGENT_MAGIC);
		put_u16(buf, msg->min_version);
		put_u16(buf, msg->max_version);
		put_u32(buf, msg->caps);
		put_str(buf, msg->software);
		break;
	case VD_AGENT_ERROR:
		put_u32(buf, msg->code);
		put_str(buf, msg->message);
		break;
	case VD_AGENT_CTL_RUN:
		put_str(buf, msg->vm);
		/* fallthrough */
	case VD_AGENT_RUN:
		if (msg->argc > VD_AGENT_MAX_ARGS || msg->envc > VD_AGENT_MAX_ENV) {
			buf->failed = true;
			break;
		}
		put_run(buf, msg);
		break;
	case VD_AGENT_CTL_RUN_APP:
		put_str(buf, msg->vm);
		/* fallthrough */
	case VD_AGENT_RUN_APP:
		put_u32(buf, msg->flags);
		put_str(buf, msg->app_id);
		break;
	case VD_AGENT_RUN_STARTED:
		put_u32(buf, msg->pid);
		break;
	case VD_AGENT_RUN_OUTPUT:
		put_u8(buf, msg->stream);
		put_u32(buf, msg->data_len);
		put(buf, msg->data, msg->data_len);
		break;
	case VD_AGENT_RUN_EXIT:
		put_u8(buf, msg->exit_kind);
		put_u32(buf, msg->exit_value);
		break;
	case VD_AGENT_SIGNAL:
	case VD_AGENT_CTL_SIGNAL:
		put_u32(buf, msg->signo);
		break;
	case VD_AGENT_RUN_ACK:
		put_u32(buf, msg->acked);
		break;
	case VD_AGENT_APPS_BEGIN:
		put_u32(buf, msg->generation);
		put_u32(buf, msg->count);
		break;
	case VD_AGENT_APP:
		put_str(buf, msg->app.id);
		put_str(buf, msg->app.name);
		put_str(buf, msg->app.generic_name);
		put_str(buf, msg->app.comment);
		put_str(buf, msg->app.categories);
		put_str(buf, msg->app.icon_name);
		put_str(buf, msg->app.wm_class);
		put_u16(buf, msg->app.icon.width);
		put_u16(buf, msg->app.icon.height);
		put_u32(buf, msg->app.icon.len);
		put(buf, msg->app.icon.png, msg->app.icon.len);
		break;
	case VD_AGENT_APPS_END:
		put_u32(buf, msg->generation);
		break;
	case VD_AGENT_IDLE:
		put_u8(buf, msg->idle);
		put_u32(buf, msg->idle_seconds);
		break;
	case VD_AGENT_CTL_APPS:
	case VD_AGENT_CTL_STATUS:
		put_str(buf, msg->vm);
		break;
	case VD_AGENT_CTL_LIST:
		break;
	case VD_AGENT_CTL_TEXT: {
		size_t tlen = msg->text ? strlen(msg->text) : 0;
		put_u32(buf, (uint32_t)tlen);
		put(buf, msg->text, tlen);
		break;
	}
	default:
		buf->failed = true;
		break;
	}
	size_t payload = buf->len - start - VD_AGENT_HEADER_SIZE;
	if (buf->failed || payload > VD_AGENT_MAX_PAYLOAD) {
		/* Drop the partial frame; the buffer stays usable. */
		buf->len = start;
		buf->failed = false;
		return false;
	}
	uint8_t *d = buf->data + start;
	d[0] = (uint8_t)payload;
	d[1] = (uint8_t)(payload >> 8);
	d[2] = (uint8_t)(payload >> 16);
	d[3] = (uint8_t)(payload >> 24);
	return true;
}
