#define LOG_TAG "vmconf"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host/vmconf.h"
#include "protocols/log.h"

struct parse_state {
	struct vd_vmconf *conf;
	FILE *file;
	int line; // of the text inih is working on (counted by our reader)
	bool mid_line;
	int reason_line;
	char reason[256]; // of the first error the handler saw, at reason_line
	bool seen_color, seen_agent, seen_tray;
	char last_section[64];
	bool warned_section;
};

/* inih's line reader, counting lines so that an error reason and its line match. */
static char *read_line(char *buf, int size, void *stream) {
	struct parse_state *st = stream;
	char *got = fgets(buf, size, st->file);
	if (got == NULL) {
		return NULL;
	}
	if (!st->mid_line) {
		st->line++;
	}
	size_t len = strlen(buf);
	st->mid_line = len > 0 && buf[len - 1] != '\n' && !feof(st->file);
	if (st->mid_line && st->reason_line == 0) {
		st->reason_line = st->line;
		snprintf(st->reason, sizeof(st->reason), "line longer than %d bytes", size - 2);
	}
	return got;
}

static int fail(struct parse_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct parse_state *st, const char *fmt, ...) {
	if (st->reason_line == 0) {
		st->reason_line = st->line;
		va_list args;
		va_start(args, fmt);
		vsnprintf(st->reason, sizeof(st->reason), fmt, args);
		va_end(args);
	}
	return 0;
}

static void warn(struct parse_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn(struct parse_state *st, const char *fmt, ...) {
	struct vd_vmconf *conf = st->conf;
	if (conf->nwarnings == VD_VMCONF_MAX_WARNINGS) {
		return;
	}
	char text[200];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	snprintf(conf->warnings[conf->nwarnings++], sizeof(conf->warnings[0]), "%.280s:%d: %s",
		conf->path, st->line, text);
}

/* Printable, for messages: the name of a section or key as written. */
static void shown(const char *in, char *out, size_t size) {
	size_t j = 0;
	for (size_t i = 0; in[i] != '\0' && j + 1 < size; i++) {
		unsigned char c = (unsigned char)in[i];
		out[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[j] = '\0';
}

static bool parse_bool(const char *value, bool *out) {
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
			*out = strcasecmp(value, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

/* inih handler: returns 0 to report an error at the current line. */
static int handle_key(void *user, const char *section, const char *key, const char *value) {
	struct parse_state *st = user;
	struct vd_vmconf *conf = st->conf;
	char name[64];
	if (section[0] != '\0' && strcasecmp(section, "vm") != 0) {
		if (!st->warned_section || strcmp(st->last_section, section) != 0) {
			shown(section, name, sizeof(name));
			warn(st, "unknown section [%s] ignored (VM settings go in [vm])", name);
			snprintf(st->last_section, sizeof(st->last_section), "%s", section);
			st->warned_section = true;
		}
		return 1;
	}
	if (strcasecmp(key, "color") == 0 || strcasecmp(key, "label") == 0) {
		char err[128];
		if (st->seen_color) {
			return fail(st, "duplicate key \"%s\" (color and label are one setting)", key);
		}
		st->seen_color = true;
		if (!vd_color_parse(value, &conf->color, err, sizeof(err))) {
			return fail(st, "%s: %s", key, err);
		}
		snprintf(conf->color_str, sizeof(conf->color_str), "%s", value);
	} else if (strcasecmp(key, "agent") == 0) {
		char err[160];
		if (st->seen_agent) {
			return fail(st, "duplicate key \"%s\"", key);
		}
		st->seen_agent = true;
		if (!vd_addr_parse(value, false, &conf->agent, err, sizeof(err))) {
			return fail(st, "agent: %s", err);
		}
		conf->has_agent = true;
		snprintf(conf->agent_str, sizeof(conf->agent_str), "%s", value);
	} else if (strcasecmp(key, "tray") == 0) {
		if (st->seen_tray) {
			return fail(st, "duplicate key \"%s\"", key);
		}
		st->seen_tray = true;
		if (!parse_bool(value, &conf->tray)) {
			return fail(st, "tray: yes or no, not '%.64s'", value);
		}
	} else {
		shown(key, name, sizeof(name));
		warn(st, "unknown key \"%s\" ignored (known: color, label, agent, tray)", name);
	}
	return 1;
}

bool vd_vmconf_load(const char *path, const char *name, struct vd_vmconf *conf) {
	memset(conf, 0, sizeof(*conf));
	snprintf(conf->name, sizeof(conf->name), "%s", name);
	snprintf(conf->path, sizeof(conf->path), "%s", path);
	snprintf(conf->color_str, sizeof(conf->color_str), "gray");
	conf->tray = true;
	char err[128];
	if (!vd_color_parse("gray", &conf->color, err, sizeof(err))) {
		conf->color = (struct vd_color){0x55, 0x55, 0x55};
	}
	struct parse_state st = {.conf = conf};
	st.file = fopen(path, "re");
	if (st.file == NULL) {
		snprintf(conf->error, sizeof(conf->error), "%s: cannot open: %s", path,
			strerror(errno));
		return false;
	}
	int line = ini_parse_stream(read_line, &st, handle_key, &st);
	fclose(st.file);
	/*
	 * inih returns the first line it found wrong, counting what the reader
	 * returned, so an over-long line (which we flag) shifts its count; our
	 * own reasons carry real line numbers. Report whichever came first.
	 */
	if (st.reason_line != 0 && (line <= 0 || st.reason_line <= line)) {
		snprintf(conf->error, sizeof(conf->error), "%s:%d: %s", path, st.reason_line,
			st.reason);
		return false;
	}
	if (line > 0) {
		snprintf(conf->error, sizeof(conf->error), "%s:%d: syntax error", path, line);
		return false;
	}
	if (line < 0) {
		snprintf(conf->error, sizeof(conf->error), "%s: cannot parse (out of memory)", path);
		return false;
	}
	return true;
}

bool vd_vmconf_equal(const struct vd_vmconf *a, const struct vd_vmconf *b) {
	return strcmp(a->name, b->name) == 0 && strcmp(a->path, b->path) == 0 &&
		strcmp(a->error, b->error) == 0 && a->has_agent == b->has_agent &&
		strcmp(a->agent_str, b->agent_str) == 0 && a->color.r == b->color.r &&
		a->color.g == b->color.g && a->color.b == b->color.b &&
		strcmp(a->color_str, b->color_str) == 0 && a->tray == b->tray;
}

static int conf_cmp(const void *a, const void *b) {
	return strcmp(((const struct vd_vmconf *)a)->name, ((const struct vd_vmconf *)b)->name);
}

size_t vd_vmconf_load_dirs(const char *const *dirs, size_t ndirs, struct vd_vmconf **out) {
	struct vd_vmconf *confs = NULL;
	size_t count = 0;
	for (size_t i = 0; i < ndirs; i++) {
		DIR *d = opendir(dirs[i]);
		if (d == NULL) {
			continue;
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);
			if (len <= 5 || strcmp(de->d_name + len - 5, ".conf") != 0 ||
					de->d_name[0] == '.') {
				continue;
			}
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			if (!vd_vm_name_valid(de->d_name, len - 5)) {
				vd_log(VD_WARN, "%s: ignored: VM names are [a-z][a-z0-9-]{0,31}, not "
					"\"host\"", path);
				continue;
			}
			char name[VD_VM_NAME_MAX + 1];
			snprintf(name, sizeof(name), "%.*s", (int)(len - 5), de->d_name);
			struct vd_vmconf *conf = malloc(sizeof(*conf));
			if (conf == NULL) {
				abort();
			}
			if (!vd_vmconf_load(path, name, conf)) {
				vd_log(VD_ERROR, "%s", conf->error);
			}
			for (size_t w = 0; w < conf->nwarnings; w++) {
				vd_log(VD_WARN, "%s", conf->warnings[w]);
			}
			size_t k = 0;
			while (k < count && strcmp(confs[k].name, name) != 0) {
				k++;
			}
			if (k == count) {
				struct vd_vmconf *c = realloc(confs, (count + 1) * sizeof(*c));
				if (c == NULL) {
					abort();
				}
				confs = c;
				count++;
			}
			confs[k] = *conf;
			free(conf);
		}
		closedir(d);
	}
	if (count > 1) {
		qsort(confs, count, sizeof(*confs), conf_cmp);
	}
	*out = confs;
	return count;
}
