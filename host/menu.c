#define LOG_TAG "menu"

#include <cairo.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/menu.h"
#include "protocols/log.h"

extern char **environ;

/* Icon sizes the hicolor theme's index.theme knows. */
static const int icon_sizes[] = {16, 22, 24, 32, 48, 64, 96, 128, 256};
#define N_ICON_SIZES (sizeof(icon_sizes) / sizeof(icon_sizes[0]))

/* snprintf through a wrapper: paths that do not fit are cut (and fail to open). */
static bool format(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool format(char *buf, size_t size, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	int n = vsnprintf(buf, size, fmt, args);
	va_end(args);
	return n >= 0 && (size_t)n < size;
}

static bool mkdir_p(const char *path) {
	char buf[PATH_MAX];
	format(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
				return false;
			}
			*p = '/';
		}
	}
	return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

static bool base_dir(char *out, size_t size, const char *env, const char *fallback) {
	const char *v = getenv(env);
	if (v != NULL && v[0] == '/') {
		format(out, size, "%s", v);
		return true;
	}
	const char *home = getenv("HOME");
	if (home == NULL || home[0] != '/') {
		return false;
	}
	format(out, size, "%s/%s", home, fallback);
	return true;
}

static bool exec_safe(const char *s) {
	for (; *s; s++) {
		bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || strchr("/._-+", *s) != NULL;
		if (!ok) {
			return false;
		}
	}
	return true;
}

bool vd_menu_init(struct vd_menu *menu, const char *cli_path) {
	char data[PATH_MAX - 64], config[PATH_MAX - 64];
	if (!base_dir(data, sizeof(data), "XDG_DATA_HOME", ".local/share") ||
			!base_dir(config, sizeof(config), "XDG_CONFIG_HOME", ".config")) {
		return false;
	}
	format(menu->apps_dir, sizeof(menu->apps_dir), "%s/applications", data);
	format(menu->icons_dir, sizeof(menu->icons_dir), "%s/icons/hicolor", data);
	format(menu->directories_dir, sizeof(menu->directories_dir), "%s/desktop-directories",
		data);
	format(menu->menus_dir, sizeof(menu->menus_dir), "%s/menus/applications-merged", config);
	/* Exec lines need no quoting when the path is plain; otherwise rely on $PATH. */
	format(menu->exec, sizeof(menu->exec), "%s",
		cli_path != NULL && cli_path[0] == '/' && exec_safe(cli_path) ? cli_path : "vmdesk");
	return true;
}

void vd_menu_filter_categories(const char *in, char *out, size_t size) {
	static const char *const main_categories[] = {
		"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics",
		"Network", "Office", "Science", "Settings", "System", "Utility",
	};
	const size_t n = sizeof(main_categories) / sizeof(main_categories[0]);
	bool keep[sizeof(main_categories) / sizeof(main_categories[0])] = {0};
	const char *p = in;
	while (*p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		for (size_t i = 0; i < n; i++) {
			if (strlen(main_categories[i]) == len && memcmp(main_categories[i], p, len) == 0) {
				keep[i] = true;
			}
		}
		p += len + (end != NULL);
	}
	if (keep[1] || keep[2]) {
		keep[0] = true; // Audio and Video require AudioVideo
	}
	out[0] = '\0';
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		if (keep[i]) {
			size_t len = strlen(main_categories[i]);
			if (used + len + 2 > size) {
				break;
			}
			memcpy(out + used, main_categories[i], len);
			out[used + len] = ';';
			out[used + len + 1] = '\0';
			used += len + 1;
		}
	}
}

/* Desktop-entry string escaping; input is already free of control characters. */
static void put_value(FILE *f, const char *key, const char *prefix, const char *value) {
	while (*value == ' ') {
		value++;
	}
	size_t len = strlen(value);
	while (len > 0 && value[len - 1] == ' ') {
		len--;
	}
	fprintf(f, "%s=%s", key, prefix);
	for (size_t i = 0; i < len; i++) {
		if (value[i] == '\\') {
			fputs("\\\\", f);
		} else {
			fputc(value[i], f);
		}
	}
	fputc('\n', f);
}

/* Writes path atomically: a temporary file in the same directory, then rename. */
static FILE *open_tmp(const char *path, char *tmp, size_t size) {
	static unsigned counter;
	format(tmp, size, "%s.vmdesk-tmp-%d-%u", path, (int)getpid(), ++counter);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
	}
	return f;
}

static bool close_tmp(FILE *f, const char *tmp, const char *path) {
	bool ok = !ferror(f);
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return false;
	}
	return true;
}

/* Reads "KEY=" from a small vmdesk-written entry. */
static bool read_key(const char *path, const char *key, char *out, size_t size) {
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		return false;
	}
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return false;
	}
	buf[n] = '\0';
	size_t klen = strlen(key);
	for (char *line = buf; line != NULL && *line;) {
		char *nl = strchr(line, '\n');
		if (nl != NULL) {
			*nl = '\0';
		}
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			format(out, size, "%s", line + klen + 1);
			return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

struct png_in {
	const uint8_t *data;
	size_t len, pos;
};

static cairo_status_t png_read(void *closure, unsigned char *data, unsigned int len) {
	struct png_in *in = closure;
	if (in->len - in->pos < len) {
		return CAIRO_STATUS_READ_ERROR;
	}
	memcpy(data, in->data + in->pos, len);
	in->pos += len;
	return CAIRO_STATUS_SUCCESS;
}

static void icon_paths_remove(const struct vd_menu *menu, const char *icon_name) {
	for (size_t i = 0; i < N_ICON_SIZES; i++) {
		char path[PATH_MAX];
		format(path, sizeof(path), "%s/%dx%d/apps/%s.png", menu->icons_dir, icon_sizes[i],
			icon_sizes[i], icon_name);
		unlink(path);
	}
}

/* Decodes the guest's PNG (already checked: signature, IHDR = stated size <= 256) and
 * writes it with a border of the VM's color. */
static bool write_icon(const struct vd_menu *menu, const char *icon_name, struct vd_color color,
		const struct vd_agent_icon *icon, char *err, size_t err_size) {
	struct png_in in = {.data = icon->png, .len = icon->len};
	cairo_surface_t *src = cairo_image_surface_create_from_png_stream(png_read, &in);
	if (cairo_surface_status(src) != CAIRO_STATUS_SUCCESS) {
		format(err, err_size, "icon: not a decodable PNG (%s)",
			cairo_status_to_string(cairo_surface_status(src)));
		cairo_surface_destroy(src);
		return false;
	}
	int w = cairo_image_surface_get_width(src), h = cairo_image_surface_get_height(src);
	if (w != icon->width || h != icon->height) {
		format(err, err_size, "icon: decodes to %dx%d, stated %ux%u", w, h, icon->width,
			icon->height);
		cairo_surface_destroy(src);
		return false;
	}
	int max = w > h ? w : h;
	int size = icon_sizes[N_ICON_SIZES - 1];
	for (size_t i = 0; i < N_ICON_SIZES; i++) {
		if (icon_sizes[i] >= max) {
			size = icon_sizes[i];
			break;
		}
	}
	int border = size / 16 > 1 ? size / 16 : 1;
	cairo_surface_t *dst = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
	cairo_t *cr = cairo_create(dst);
	double inner = size - 2.0 * border;
	double scale = inner / max;
	cairo_save(cr);
	cairo_translate(cr, border + (inner - w * scale) / 2, border + (inner - h * scale) / 2);
	cairo_scale(cr, scale, scale);
	cairo_set_source_surface(cr, src, 0, 0);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
	cairo_paint(cr);
	cairo_restore(cr);
	cairo_set_source_rgb(cr, color.r / 255.0, color.g / 255.0, color.b / 255.0);
	cairo_set_line_width(cr, border);
	cairo_rectangle(cr, border / 2.0, border / 2.0, size - border, size - border);
	cairo_stroke(cr);
	cairo_destroy(cr);
	cairo_surface_destroy(src);

	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 64];
	format(dir, sizeof(dir), "%s/%dx%d/apps", menu->icons_dir, size, size);
	if (!mkdir_p(dir)) {
		format(err, err_size, "mkdir %s: %s", dir, strerror(errno));
		cairo_surface_destroy(dst);
		return false;
	}
	icon_paths_remove(menu, icon_name); // a new size replaces the old one
	format(path, sizeof(path), "%s/%s.png", dir, icon_name);
	format(tmp, sizeof(tmp), "%s.vmdesk-tmp-%d", path, (int)getpid());
	unlink(tmp);
	cairo_status_t status = cairo_surface_write_to_png(dst, tmp);
	cairo_surface_destroy(dst);
	if (status != CAIRO_STATUS_SUCCESS || rename(tmp, path) < 0) {
		unlink(tmp);
		format(err, err_size, "cannot write %s", path);
		return false;
	}
	return true;
}

static void strip_suffix(char *s, const char *suffix) {
	size_t len = strlen(s), slen = strlen(suffix);
	if (len >= slen && strcmp(s + len - slen, suffix) == 0) {
		s[len - slen] = '\0';
	}
}

bool vd_menu_write_app(const struct vd_menu *menu, const char *vm, struct vd_color color,
		const struct vd_agent_app *app, char *err, size_t err_size) {
	/* The decoder checked these; check again, as a path is built from them. */
	if (!vd_agent_vm_name_valid(vm, strlen(vm)) ||
			!vd_agent_desktop_id_valid(app->id, strlen(app->id))) {
		format(err, err_size, "invalid desktop ID");
		return false;
	}
	char path[PATH_MAX], tmp[PATH_MAX + 64], icon_name[512], owner[64];
	format(path, sizeof(path), "%s/vmdesk-%s-%s", menu->apps_dir, vm, app->id);
	format(icon_name, sizeof(icon_name), "vmdesk-%s-%s", vm, app->id);
	strip_suffix(icon_name, ".desktop");
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode) || !read_key(path, "X-Vmdesk-VM", owner, sizeof(owner)) ||
				strcmp(owner, vm) != 0) {
			format(err, err_size, "%s exists and belongs to someone else", path);
			return false;
		}
	}
	if (!mkdir_p(menu->apps_dir)) {
		format(err, err_size, "mkdir %s: %s", menu->apps_dir, strerror(errno));
		return false;
	}
	bool has_icon = false;
	if (app->icon.len > 0) {
		char icon_err[256];
		has_icon = write_icon(menu, icon_name, color, &app->icon, icon_err, sizeof(icon_err));
		if (!has_icon) {
			vd_log(VD_WARN, "vm=%s app %s: icon refused: %s", vm, app->id, icon_err);
		}
	}
	if (!has_icon) {
		icon_paths_remove(menu, icon_name);
	}
	FILE *f = open_tmp(path, tmp, sizeof(tmp));
	if (f == NULL) {
		format(err, err_size, "cannot create %s: %s", tmp, strerror(errno));
		return false;
	}
	char categories[256];
	vd_menu_filter_categories(app->categories, categories, sizeof(categories));
	fprintf(f, "[Desktop Entry]\n");
	fprintf(f, "Type=Application\n");
	char prefix[64];
	format(prefix, sizeof(prefix), "%s: ", vm);
	put_value(f, "Name", prefix, app->name);
	if (app->generic_name[0] != '\0') {
		put_value(f, "GenericName", "", app->generic_name);
	}
	if (app->comment[0] != '\0') {
		put_value(f, "Comment", "", app->comment);
	}
	fprintf(f, "Icon=%s\n", has_icon ? icon_name : "application-x-executable");
	/* Never the guest's Exec line: the host starts the app by its ID. */
	fprintf(f, "Exec=%s run %s --app %s\n", menu->exec, vm, app->id);
	fprintf(f, "Terminal=false\n");
	fprintf(f, "Categories=%sX-Vmdesk;X-Vmdesk-VM-%s;\n", categories, vm);
	if (app->wm_class[0] != '\0') {
		fprintf(f, "StartupWMClass=%s\n", app->wm_class);
	}
	fprintf(f, "X-Vmdesk-VM=%s\n", vm);
	fprintf(f, "X-Vmdesk-App=%s\n", app->id);
	if (!close_tmp(f, tmp, path)) {
		format(err, err_size, "cannot write %s", path);
		return false;
	}
	return true;
}

static bool write_text(const char *dir, const char *name, const char *text) {
	char path[PATH_MAX], tmp[PATH_MAX + 64];
	if (!mkdir_p(dir)) {
		return false;
	}
	format(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = open_tmp(path, tmp, sizeof(tmp));
	if (f == NULL) {
		return false;
	}
	fputs(text, f);
	return close_tmp(f, tmp, path);
}

static void write_submenu(const struct vd_menu *menu, const char *vm) {
	char name[128], text[2048];
	format(name, sizeof(name), "vmdesk-%s.directory", vm);
	format(text, sizeof(text),
		"[Desktop Entry]\nType=Directory\nName=%s\nComment=Applications of the VM %s\n"
		"Icon=computer\n", vm, vm);
	if (!write_text(menu->directories_dir, name, text)) {
		vd_log(VD_WARN, "vm=%s: cannot write %s/%s", vm, menu->directories_dir, name);
	}
	format(name, sizeof(name), "vmdesk-%s.menu", vm);
	format(text, sizeof(text),
		"<!DOCTYPE Menu PUBLIC \"-//freedesktop//DTD Menu 1.0//EN\"\n"
		" \"http://www.freedesktop.org/standards/menu-spec/1.0/menu.dtd\">\n"
		"<Menu>\n"
		"\t<Name>Applications</Name>\n"
		"\t<Menu>\n"
		"\t\t<Name>vmdesk-%s</Name>\n"
		"\t\t<Directory>vmdesk-%s.directory</Directory>\n"
		"\t\t<Include>\n"
		"\t\t\t<Category>X-Vmdesk-VM-%s</Category>\n"
		"\t\t</Include>\n"
		"\t</Menu>\n"
		"</Menu>\n", vm, vm, vm);
	if (!write_text(menu->menus_dir, name, text)) {
		vd_log(VD_WARN, "vm=%s: cannot write %s/%s", vm, menu->menus_dir, name);
	}
}

static bool in_list(char **list, size_t n, const char *s) {
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i], s) == 0) {
			return true;
		}
	}
	return false;
}

/* Removes entries: of vm (if vm) whose ID is not in ids, or (if !vm) of VMs not in vms. */
static size_t remove_entries(const struct vd_menu *menu, const char *vm, char **list,
		size_t nlist) {
	DIR *d = opendir(menu->apps_dir);
	if (d == NULL) {
		return 0;
	}
	size_t removed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, "vmdesk-", 7) != 0 || len < 9 ||
				strcmp(de->d_name + len - 8, ".desktop") != 0) {
			continue;
		}
		char path[PATH_MAX], owner[64], id[512];
		format(path, sizeof(path), "%s/%s", menu->apps_dir, de->d_name);
		if (!read_key(path, "X-Vmdesk-VM", owner, sizeof(owner)) ||
				!read_key(path, "X-Vmdesk-App", id, sizeof(id))) {
			continue; // not ours
		}
		bool remove = vm != NULL ? strcmp(owner, vm) == 0 && !in_list(list, nlist, id) :
			!in_list(list, nlist, owner);
		if (!remove || !vd_agent_vm_name_valid(owner, strlen(owner)) ||
				!vd_agent_desktop_id_valid(id, strlen(id))) {
			continue;
		}
		char icon_name[512];
		format(icon_name, sizeof(icon_name), "vmdesk-%s-%s", owner, id);
		strip_suffix(icon_name, ".desktop");
		icon_paths_remove(menu, icon_name);
		unlink(path);
		removed++;
	}
	closedir(d);
	return removed;
}

void vd_menu_commit_vm(const struct vd_menu *menu, const char *vm, char **ids, size_t nids) {
	write_submenu(menu, vm);
	size_t removed = remove_entries(menu, vm, ids, nids);
	vd_log(VD_INFO, "vm=%s: menu has %zu entries (%zu removed)", vm, nids, removed);
}

static void remove_submenus(const char *dir, const char *suffix, char **vms, size_t nvms) {
	DIR *d = opendir(dir);
	if (d == NULL) {
		return;
	}
	struct dirent *de;
	size_t slen = strlen(suffix);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, "vmdesk-", 7) != 0 || len <= 7 + slen ||
				strcmp(de->d_name + len - slen, suffix) != 0) {
			continue;
		}
		char vm[128];
		format(vm, sizeof(vm), "%.*s", (int)(len - 7 - slen), de->d_name + 7);
		if (!in_list(vms, nvms, vm)) {
			char path[PATH_MAX];
			format(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

void vd_menu_prune(const struct vd_menu *menu, char **vms, size_t nvms) {
	size_t removed = remove_entries(menu, NULL, vms, nvms);
	remove_submenus(menu->menus_dir, ".menu", vms, nvms);
	remove_submenus(menu->directories_dir, ".directory", vms, nvms);
	if (removed > 0) {
		vd_log(VD_INFO, "removed %zu menu entries of VMs that no longer exist", removed);
	}
}

void vd_menu_update_database(const struct vd_menu *menu) {
	static const char *const candidates[] = {
		"/usr/bin/update-desktop-database", "/usr/local/bin/update-desktop-database",
	};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (access(candidates[i], X_OK) != 0) {
			continue;
		}
		char *argv[] = {(char *)candidates[i], "-q", (char *)menu->apps_dir, NULL};
		pid_t pid;
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
		int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (rc == 0) {
			waitpid(pid, NULL, 0); // quick: one directory
		}
		return;
	}
}
