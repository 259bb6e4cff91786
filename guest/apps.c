#define LOG_TAG "apps"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/apps.h"
#include "protocols/link.h"
#include "protocols/names.h"
#include "protocols/text.h"
#include "protocols/log.h"

#define MAX_DESKTOP_FILE (256 * 1024)
#define MAX_DEPTH 4
#define MAX_CANDIDATES 20000

void vd_strv_free(char **strv) {
	if (strv == NULL) {
		return;
	}
	for (size_t i = 0; strv[i] != NULL; i++) {
		free(strv[i]);
	}
	free(strv);
}

static char *xstrdup(const char *s) {
	char *d = strdup(s ? s : "");
	if (d == NULL) {
		abort();
	}
	return d;
}

char **vd_guest_data_dirs(size_t *count) {
	const char *home = getenv("XDG_DATA_HOME");
	const char *dirs = getenv("XDG_DATA_DIRS");
	if (dirs == NULL || dirs[0] == '\0') {
		dirs = "/usr/local/share:/usr/share";
	}
	size_t cap = 2;
	for (const char *p = dirs; *p; p++) {
		cap += *p == ':';
	}
	char **out = calloc(cap + 1, sizeof(char *));
	if (out == NULL) {
		abort();
	}
	size_t n = 0;
	char buf[4096];
	if (home != NULL && home[0] == '/') {
		out[n++] = xstrdup(home);
	} else if (getenv("HOME") != NULL) {
		snprintf(buf, sizeof(buf), "%s/.local/share", getenv("HOME"));
		out[n++] = xstrdup(buf);
	}
	const char *p = dirs;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0 && p[0] == '/' && len < sizeof(buf)) {
			memcpy(buf, p, len);
			buf[len] = '\0';
			while (len > 1 && buf[len - 1] == '/') {
				buf[--len] = '\0';
			}
			out[n++] = xstrdup(buf);
		}
		p += len + (end != NULL);
	}
	*count = n;
	return out;
}

void vd_guest_data_dirs_free(char **dirs, size_t count) {
	for (size_t i = 0; i < count; i++) {
		free(dirs[i]);
	}
	free(dirs);
}

/* ---- Exec splitting (desktop entry spec, "The Exec key") ---- */

char **vd_desktop_exec_split(const char *exec) {
	size_t cap = 8, n = 0;
	char **argv = calloc(cap, sizeof(char *));
	size_t len = strlen(exec);
	char *arg = malloc(len + 1);
	if (argv == NULL || arg == NULL) {
		abort();
	}
	const char *p = exec;
	for (;;) {
		while (*p == ' ' || *p == '\t') {
			p++;
		}
		if (*p == '\0') {
			break;
		}
		size_t alen = 0;
		bool quoted_arg = false, field_only = false;
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			if (*p == '"') {
				quoted_arg = true;
				p++;
				while (*p != '"') {
					if (*p == '\0') {
						goto error;
					}
					if (*p == '\\' && p[1] != '\0' && strchr("\"`$\\", p[1]) != NULL) {
						p++;
					}
					arg[alen++] = *p++;
				}
				p++;
			} else if (*p == '%') {
				char code = p[1];
				if (code == '%') {
					arg[alen++] = '%';
				} else if (code != '\0' && strchr("fFuUdDnNickvm", code) != NULL) {
					field_only = alen == 0 && (p[2] == '\0' || p[2] == ' ' || p[2] == '\t');
				} else {
					goto error;
				}
				p += 2;
			} else {
				arg[alen++] = *p++;
			}
		}
		if (field_only && !quoted_arg) {
			continue; // a lone field code expands to nothing: no files or URLs are passed
		}
		arg[alen] = '\0';
		if (n + 2 > cap) {
			cap *= 2;
			char **argv2 = realloc(argv, cap * sizeof(char *));
			if (argv2 == NULL) {
				abort();
			}
			argv = argv2;
		}
		argv[n++] = xstrdup(arg);
		argv[n] = NULL;
	}
	free(arg);
	if (n == 0) {
		free(argv);
		return NULL;
	}
	return argv;
error:
	free(arg);
	argv[n] = NULL;
	vd_strv_free(argv);
	return NULL;
}

/* ---- .desktop parsing ---- */

struct entry {
	char *type, *name, *generic_name, *comment, *categories, *icon, *wm_class, *exec;
	bool no_display, hidden;
	bool from_host; // written by vmdesk-hostd (X-Vmdesk-VM): never exported back
};

static void entry_finish(struct entry *e) {
	free(e->type);
	free(e->name);
	free(e->generic_name);
	free(e->comment);
	free(e->categories);
	free(e->icon);
	free(e->wm_class);
	free(e->exec);
}

/* String-level unescaping: \s \n \t \r \\ ; newlines and tabs become spaces. */
static char *unescape(const char *v, size_t len) {
	char *out = malloc(len + 1);
	if (out == NULL) {
		abort();
	}
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (c == '\\' && i + 1 < len) {
			char n = v[++i];
			c = n == 's' || n == 'n' || n == 't' || n == 'r' ? ' ' : n;
		}
		out[j++] = c;
	}
	out[j] = '\0';
	return out;
}

static void set_field(char **field, const char *value, size_t len) {
	free(*field);
	*field = unescape(value, len);
}

static bool parse_entry(const char *path, struct entry *e) {
	memset(e, 0, sizeof(*e));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_DESKTOP_FILE) {
		close(fd);
		return false;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		abort();
	}
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(buf);
		return false;
	}
	buf[n] = '\0';
	bool in_group = false, seen_group = false;
	char *line = buf;
	while (line != NULL && *line != '\0') {
		char *nl = strchr(line, '\n');
		if (nl != NULL) {
			*nl = '\0';
		}
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\r') {
			line[--len] = '\0';
		}
		if (line[0] == '[') {
			if (seen_group && in_group) {
				break; // only [Desktop Entry], which comes first
			}
			in_group = strcmp(line, "[Desktop Entry]") == 0;
			seen_group = true;
		} else if (in_group && line[0] != '#' && line[0] != '\0') {
			char *eq = strchr(line, '=');
			if (eq != NULL) {
				char *kend = eq;
				while (kend > line && kend[-1] == ' ') {
					kend--;
				}
				*kend = '\0';
				const char *v = eq + 1;
				while (*v == ' ') {
					v++;
				}
				size_t vlen = strlen(v);
				const char *key = line;
				if (strcmp(key, "Type") == 0) {
					set_field(&e->type, v, vlen);
				} else if (strcmp(key, "Name") == 0) {
					set_field(&e->name, v, vlen);
				} else if (strcmp(key, "GenericName") == 0) {
					set_field(&e->generic_name, v, vlen);
				} else if (strcmp(key, "Comment") == 0) {
					set_field(&e->comment, v, vlen);
				} else if (strcmp(key, "Categories") == 0) {
					set_field(&e->categories, v, vlen);
				} else if (strcmp(key, "Icon") == 0) {
					set_field(&e->icon, v, vlen);
				} else if (strcmp(key, "StartupWMClass") == 0) {
					set_field(&e->wm_class, v, vlen);
				} else if (strcmp(key, "Exec") == 0) {
					/* Exec keeps backslashes for its own quoting rules; only \\ is string-level. */
					free(e->exec);
					e->exec = xstrdup(v);
				} else if (strcmp(key, "NoDisplay") == 0) {
					e->no_display = strcmp(v, "true") == 0;
				} else if (strcmp(key, "Hidden") == 0) {
					e->hidden = strcmp(v, "true") == 0;
				} else if (strncmp(key, "X-Vmdesk-", 9) == 0) {
					e->from_host = true;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return seen_group;
}

/* Cuts text to a valid field: invalid UTF-8 or controls give NULL; long text is cut. */
static char *clean_text(const char *s, size_t max) {
	if (s == NULL) {
		return xstrdup("");
	}
	size_t len = strlen(s);
	if (!vd_text_valid(s, len, 0)) {
		return NULL;
	}
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80) {
			len--; // do not cut a character in two
		}
	}
	char *out = malloc(len + 1);
	if (out == NULL) {
		abort();
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* Keeps a field only if every character is allowed; else empty. */
static char *clean_chars(const char *s, size_t max, const char *extra) {
	if (s == NULL || strlen(s) > max) {
		return xstrdup("");
	}
	for (const char *p = s; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || strchr(extra, *p) != NULL;
		if (!ok) {
			return xstrdup("");
		}
	}
	return xstrdup(s);
}

struct candidate {
	char *id;
	char *path;
};

struct scan {
	struct candidate *items;
	size_t count, cap;
};

static int candidate_cmp(const void *a, const void *b) {
	const struct candidate *x = a, *y = b;
	return strcmp(x->id, y->id);
}

static void scan_dir(struct scan *scan, const char *dir, const char *prefix, int depth) {
	if (depth > MAX_DEPTH) {
		return;
	}
	DIR *d = opendir(dir);
	if (d == NULL) {
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			continue;
		}
		char path[4096], id[512];
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
				snprintf(id, sizeof(id), "%s%s", prefix, de->d_name) >= (int)sizeof(id)) {
			continue;
		}
		struct stat st;
		if (stat(path, &st) < 0) {
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			char sub[520];
			snprintf(sub, sizeof(sub), "%s-", id);
			scan_dir(scan, path, sub, depth + 1);
			continue;
		}
		size_t len = strlen(de->d_name);
		if (!S_ISREG(st.st_mode) || len < 9 || strcmp(de->d_name + len - 8, ".desktop") != 0) {
			continue;
		}
		if (scan->count >= MAX_CANDIDATES) {
			break;
		}
		if (scan->count == scan->cap) {
			scan->cap = scan->cap ? scan->cap * 2 : 64;
			struct candidate *items = realloc(scan->items, scan->cap * sizeof(*items));
			if (items == NULL) {
				abort();
			}
			scan->items = items;
		}
		scan->items[scan->count].id = xstrdup(id);
		scan->items[scan->count].path = xstrdup(path);
		scan->count++;
	}
	closedir(d);
}

static bool build_app(struct vd_guest_app *app, const char *id, const struct entry *e,
		int icon_size, char **dirs, size_t ndirs) {
	memset(app, 0, sizeof(*app));
	if (e->type == NULL || strcmp(e->type, "Application") != 0 || e->exec == NULL ||
			e->name == NULL) {
		return false;
	}
	if (!vd_desktop_id_valid(id, strlen(id))) {
		vd_log(VD_DEBUG, "skipping %s: desktop ID not exportable", id);
		return false;
	}
	app->name = clean_text(e->name, 256);
	if (app->name == NULL || app->name[0] == '\0') {
		free(app->name);
		return false;
	}
	app->id = xstrdup(id);
	app->generic_name = clean_text(e->generic_name, 256);
	app->comment = clean_text(e->comment, 512);
	app->generic_name = app->generic_name ? app->generic_name : xstrdup("");
	app->comment = app->comment ? app->comment : xstrdup("");
	app->categories = clean_chars(e->categories, 512, ";-_");
	app->wm_class = clean_chars(e->wm_class, 255, "._-");
	app->exec = xstrdup(e->exec);
	const char *icon = e->icon ? e->icon : "";
	const char *slash = strrchr(icon, '/');
	char icon_name[256];
	snprintf(icon_name, sizeof(icon_name), "%s", slash ? slash + 1 : icon);
	char *dot = strrchr(icon_name, '.');
	if (slash && dot) {
		*dot = '\0';
	}
	app->icon_name = clean_chars(icon_name, 255, "._-");
	if (icon[0] != '\0') {
		char *file = vd_guest_icon_lookup(icon, icon_size, dirs, ndirs);
		if (file != NULL) {
			if (!vd_guest_icon_render(file, icon_size, &app->rgba, &app->rgba_len,
					&app->icon_width, &app->icon_height)) {
				vd_log(VD_DEBUG, "%s: cannot render icon %s", id, file);
			}
			free(file);
		}
	}
	return true;
}

static void app_finish(struct vd_guest_app *app) {
	free(app->id);
	free(app->name);
	free(app->generic_name);
	free(app->comment);
	free(app->categories);
	free(app->icon_name);
	free(app->wm_class);
	free(app->exec);
	free(app->rgba);
}

struct vd_guest_apps *vd_guest_apps_scan(int icon_size) {
	struct vd_guest_apps *apps = calloc(1, sizeof(*apps));
	if (apps == NULL) {
		return NULL;
	}
	apps->refs = 1;
	size_t ndirs;
	char **dirs = vd_guest_data_dirs(&ndirs);
	struct scan scan = {0};
	for (size_t i = 0; i < ndirs; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/applications", dirs[i]);
		size_t before = scan.count;
		scan_dir(&scan, path, "", 0);
		/* Keep the directory order as a tie-breaker: the first directory wins. */
		for (size_t k = before; k < scan.count; k++) {
			char *tagged = malloc(strlen(scan.items[k].id) + 8);
			if (tagged == NULL) {
				abort();
			}
			sprintf(tagged, "%s\x01%05zu", scan.items[k].id, i);
			free(scan.items[k].id);
			scan.items[k].id = tagged;
		}
	}
	qsort(scan.items, scan.count, sizeof(scan.items[0]), candidate_cmp);
	apps->items = calloc(VD_LINK_MAX_APPS, sizeof(apps->items[0]));
	if (apps->items == NULL) {
		abort();
	}
	const char *prev = NULL;
	size_t prev_len = 0;
	for (size_t k = 0; k < scan.count; k++) {
		char *id = scan.items[k].id;
		*strchr(id, '\x01') = '\0';
		size_t len = strlen(id);
		if (prev != NULL && prev_len == len && memcmp(prev, id, len) == 0) {
			continue; // shadowed by an earlier directory
		}
		prev = id;
		prev_len = len;
		struct entry e;
		if (!parse_entry(scan.items[k].path, &e)) {
			continue;
		}
		if (e.from_host || strncmp(id, "vmdesk.", 7) == 0) {
			vd_log(VD_DEBUG, "not exporting %s: a vmdesk-hostd menu entry", id);
		} else if (!e.no_display && !e.hidden) {
			if (apps->count >= VD_LINK_MAX_APPS) {
				vd_log(VD_WARN, "more than %d applications: the rest are not exported",
					VD_LINK_MAX_APPS);
				entry_finish(&e);
				break;
			}
			if (build_app(&apps->items[apps->count], id, &e, icon_size, dirs, ndirs)) {
				apps->count++;
			}
		}
		entry_finish(&e);
	}
	for (size_t k = 0; k < scan.count; k++) {
		free(scan.items[k].id);
		free(scan.items[k].path);
	}
	free(scan.items);
	vd_guest_data_dirs_free(dirs, ndirs);
	return apps;
}

struct vd_guest_apps *vd_guest_apps_ref(struct vd_guest_apps *apps) {
	apps->refs++;
	return apps;
}

void vd_guest_apps_unref(struct vd_guest_apps *apps) {
	if (apps == NULL || --apps->refs > 0) {
		return;
	}
	for (size_t i = 0; i < apps->count; i++) {
		app_finish(&apps->items[i]);
	}
	free(apps->items);
	free(apps);
}

const struct vd_guest_app *vd_guest_apps_find(const struct vd_guest_apps *apps, const char *id) {
	for (size_t i = 0; i < apps->count; i++) {
		if (strcmp(apps->items[i].id, id) == 0) {
			return &apps->items[i];
		}
	}
	return NULL;
}

static bool str_eq(const char *a, const char *b) {
	return strcmp(a ? a : "", b ? b : "") == 0;
}

bool vd_guest_apps_equal(const struct vd_guest_apps *a, const struct vd_guest_apps *b) {
	if (a->count != b->count) {
		return false;
	}
	for (size_t i = 0; i < a->count; i++) {
		const struct vd_guest_app *x = &a->items[i], *y = &b->items[i];
		if (!str_eq(x->id, y->id) || !str_eq(x->name, y->name) ||
				!str_eq(x->generic_name, y->generic_name) || !str_eq(x->comment, y->comment) ||
				!str_eq(x->categories, y->categories) || !str_eq(x->icon_name, y->icon_name) ||
				!str_eq(x->wm_class, y->wm_class) || !str_eq(x->exec, y->exec) ||
				x->rgba_len != y->rgba_len ||
				(x->rgba_len > 0 && memcmp(x->rgba, y->rgba, x->rgba_len) != 0)) {
			return false;
		}
	}
	return true;
}
