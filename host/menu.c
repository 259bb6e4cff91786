#define LOG_TAG "menu"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/menu.h"
#include "protocols/log.h"
#include "protocols/names.h"

/* Icon sizes the hicolor theme's index.theme knows. */
static const int icon_sizes[] = {16, 22, 24, 32, 48, 64, 96, 128, 256};
#define N_ICON_SIZES (sizeof(icon_sizes) / sizeof(icon_sizes[0]))
#define MAX_ENTRY_FILE 8192

struct vd_menu {
	char apps_dir[PATH_MAX];
	char icons_dir[PATH_MAX]; // .../icons/hicolor
	char directories_dir[PATH_MAX];
	char menus_dir[PATH_MAX];
	char exec[PATH_MAX]; // the vmdesk command, as written in Exec lines
};

struct staged {
	char *id;
	char *text; // the entry file
	uint8_t *png; // NULL: no icon
	size_t png_len;
	int icon_size;
};

struct vd_menu_snapshot {
	struct vd_menu *menu;
	char vm[VD_VM_NAME_MAX + 1];
	struct vd_color color;
	struct staged *items;
	size_t count, cap;
	size_t bytes;
	bool warned_bytes;
};

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

/* "vmdesk.VM.ID" (ID ends in .desktop): the entry's file name. */
static void entry_file_name(const char *vm, const char *id, char *out, size_t size) {
	format(out, size, "vmdesk.%s.%s", vm, id);
}

/* "vmdesk.VM.ID" without .desktop: the icon's name. */
static void icon_name_of(const char *vm, const char *id, char *out, size_t size) {
	size_t len = strlen(id);
	format(out, size, "vmdesk.%s.%.*s", vm, (int)(len > 8 ? len - 8 : len), id);
}

const char *const vd_menu_db_programs[VD_MENU_DB_PROGRAMS] = {
	"/usr/bin/update-desktop-database", "/usr/local/bin/update-desktop-database",
};

bool vd_menu_apps_dir(char *out, size_t size) {
	char data[PATH_MAX - 64];
	return base_dir(data, sizeof(data), "XDG_DATA_HOME", ".local/share") &&
		format(out, size, "%s/applications", data);
}

struct vd_menu *vd_menu_create(const char *cli_path) {
	char data[PATH_MAX - 64], config[PATH_MAX - 64];
	if (!base_dir(data, sizeof(data), "XDG_DATA_HOME", ".local/share") ||
			!base_dir(config, sizeof(config), "XDG_CONFIG_HOME", ".config")) {
		return NULL;
	}
	struct vd_menu *menu = calloc(1, sizeof(*menu));
	if (menu == NULL) {
		return NULL;
	}
	vd_menu_apps_dir(menu->apps_dir, sizeof(menu->apps_dir));
	format(menu->icons_dir, sizeof(menu->icons_dir), "%s/icons/hicolor", data);
	format(menu->directories_dir, sizeof(menu->directories_dir), "%s/desktop-directories",
		data);
	format(menu->menus_dir, sizeof(menu->menus_dir), "%s/menus/applications-merged", config);
	/* Exec lines need no quoting when the path is plain; otherwise rely on $PATH. */
	format(menu->exec, sizeof(menu->exec), "%s",
		cli_path != NULL && cli_path[0] == '/' && exec_safe(cli_path) ? cli_path : "vmdesk");
	return menu;
}

size_t vd_menu_make_dirs(struct vd_menu *menu, const char **dirs) {
	const char *const own[VD_MENU_DIRS] = {
		menu->apps_dir, menu->icons_dir, menu->directories_dir, menu->menus_dir,
	};
	size_t n = 0;
	for (size_t i = 0; i < VD_MENU_DIRS; i++) {
		if (mkdir_p(own[i])) {
			dirs[n++] = own[i];
		} else {
			vd_log_errno(VD_WARN, "cannot create %s", own[i]);
		}
	}
	return n;
}

void vd_menu_destroy(struct vd_menu *menu) {
	if (menu == NULL) {
		return;
	}
	free(menu);
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

/* ---- files ---- */

/* Reads a small file; NULL if it is not a regular file of at most max bytes. */
static char *read_small(const char *path, size_t max, size_t *len) {
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= max) {
		buf = malloc((size_t)st.st_size + 1);
		ssize_t n = buf != NULL ? read(fd, buf, (size_t)st.st_size) : -1;
		if (n != st.st_size) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	close(fd);
	return buf;
}

/* The value of KEY= in a small vmdesk-written entry. */
static bool read_key(const char *path, const char *key, char *out, size_t size) {
	size_t len;
	char *buf = read_small(path, MAX_ENTRY_FILE, &len);
	if (buf == NULL) {
		return false;
	}
	size_t klen = strlen(key);
	bool found = false;
	for (char *line = buf; line != NULL && *line && !found;) {
		char *nl = strchr(line, '\n');
		if (nl != NULL) {
			*nl = '\0';
		}
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			found = format(out, size, "%s", line + klen + 1);
		}
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return found;
}

/* Writes path atomically (a temporary file, then rename), unless it already holds data. */
static bool write_file(const char *path, const void *data, size_t len) {
	size_t old_len;
	char *old = read_small(path, len, &old_len);
	bool same = old != NULL && old_len == len && memcmp(old, data, len) == 0;
	free(old);
	if (same) {
		return true;
	}
	char tmp[PATH_MAX + 64];
	static unsigned counter;
	format(tmp, sizeof(tmp), "%s.vmdesk-tmp-%d-%u", path, (int)getpid(), ++counter);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		return false;
	}
	const uint8_t *p = data;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		done += (size_t)n;
	}
	bool ok = close(fd) == 0 && done == len && rename(tmp, path) == 0;
	if (!ok) {
		unlink(tmp);
	}
	return ok;
}

static void icon_files_remove(const struct vd_menu *menu, const char *icon_name, int keep) {
	for (size_t i = 0; i < N_ICON_SIZES; i++) {
		if (icon_sizes[i] == keep) {
			continue;
		}
		char path[PATH_MAX];
		format(path, sizeof(path), "%s/%dx%d/apps/%s.png", menu->icons_dir, icon_sizes[i],
			icon_sizes[i], icon_name);
		unlink(path);
	}
}

/* Whether path is free, or an entry of vm (which it may replace). */
static bool entry_ours(const char *path, const char *vm, char *err, size_t err_size) {
	struct stat st;
	if (lstat(path, &st) != 0) {
		return true;
	}
	char owner[64];
	if (!S_ISREG(st.st_mode) || !read_key(path, "X-Vmdesk-VM", owner, sizeof(owner)) ||
			strcmp(owner, vm) != 0) {
		format(err, err_size, "%s exists and is not an entry of VM %s", path, vm);
		return false;
	}
	return true;
}

/* ---- snapshots ---- */

struct vd_menu_snapshot *vd_menu_snapshot_begin(struct vd_menu *menu, const char *vm,
		struct vd_color color) {
	if (!vd_vm_name_valid(vm, strlen(vm))) {
		return NULL; // file names are made of it
	}
	struct vd_menu_snapshot *snapshot = calloc(1, sizeof(*snapshot));
	if (snapshot == NULL) {
		return NULL;
	}
	snapshot->menu = menu;
	format(snapshot->vm, sizeof(snapshot->vm), "%s", vm);
	snapshot->color = color;
	return snapshot;
}

static void staged_finish(struct staged *item) {
	free(item->id);
	free(item->text);
	free(item->png);
}

void vd_menu_snapshot_abort(struct vd_menu_snapshot *snapshot) {
	if (snapshot == NULL) {
		return;
	}
	for (size_t i = 0; i < snapshot->count; i++) {
		staged_finish(&snapshot->items[i]);
	}
	free(snapshot->items);
	free(snapshot);
}

/* Desktop-entry string escaping; the text is already free of control characters. */
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

static char *entry_text(const struct vd_menu *menu, const char *vm,
		const struct vd_link_app *app, bool has_icon, const char *icon_name) {
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		return NULL;
	}
	char categories[256], prefix[64];
	vd_menu_filter_categories(app->categories, categories, sizeof(categories));
	format(prefix, sizeof(prefix), "%s: ", vm);
	fprintf(f, "[Desktop Entry]\nType=Application\n");
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
		/* the app id the proxy gives the VM's windows: never a host application's */
		fprintf(f, "StartupWMClass=vmdesk.%s.%s\n", vm, app->wm_class);
	}
	fprintf(f, "X-Vmdesk-VM=%s\n", vm);
	fprintf(f, "X-Vmdesk-App=%s\n", app->id);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

bool vd_menu_snapshot_add(struct vd_menu_snapshot *snapshot, const struct vd_link_app *app,
		char *err, size_t err_size) {
	struct vd_menu *menu = snapshot->menu;
	const char *vm = snapshot->vm;
	/* The decoder checked these; check again, as paths are built from them. */
	if (!vd_vm_name_valid(vm, strlen(vm)) || !vd_desktop_id_valid(app->id, strlen(app->id))) {
		format(err, err_size, "invalid desktop ID");
		return false;
	}
	for (size_t i = 0; i < snapshot->count; i++) {
		if (strcmp(snapshot->items[i].id, app->id) == 0) {
			format(err, err_size, "duplicate desktop ID %s", app->id);
			return false;
		}
	}
	if (snapshot->count >= VD_LINK_MAX_APPS) {
		format(err, err_size, "more than %u applications", VD_LINK_MAX_APPS);
		return false;
	}
	char name[PATH_MAX], path[PATH_MAX], icon_name[512];
	entry_file_name(vm, app->id, name, sizeof(name));
	format(path, sizeof(path), "%s/%s", menu->apps_dir, name);
	if (!entry_ours(path, vm, err, err_size)) {
		return false;
	}
	icon_name_of(vm, app->id, icon_name, sizeof(icon_name));
	struct staged item = {0};
	if (app->icon_len > 0) {
		if (!vd_menu_icon_png(app->icon, app->icon_width, app->icon_height, snapshot->color,
				&item.png, &item.png_len, &item.icon_size)) {
			vd_log(VD_WARN, "vm=%s app %s: cannot draw its icon", vm, app->id);
		} else if (snapshot->bytes + item.png_len > VD_MENU_MAX_STAGED) {
			if (!snapshot->warned_bytes) {
				vd_log(VD_WARN, "vm=%s: icons over %u MiB: the rest get none", vm,
					VD_MENU_MAX_STAGED >> 20);
				snapshot->warned_bytes = true;
			}
			free(item.png);
			item.png = NULL;
			item.png_len = 0;
		}
	}
	item.text = entry_text(menu, vm, app, item.png != NULL, icon_name);
	item.id = strdup(app->id);
	size_t bytes = item.png_len + (item.text != NULL ? strlen(item.text) : 0);
	if (item.text == NULL || item.id == NULL || snapshot->bytes + bytes > VD_MENU_MAX_STAGED) {
		format(err, err_size, item.text == NULL || item.id == NULL ? "out of memory" :
			"the VM's menu entries are over %u MiB", VD_MENU_MAX_STAGED >> 20);
		staged_finish(&item);
		return false;
	}
	if (snapshot->count == snapshot->cap) {
		size_t cap = snapshot->cap ? snapshot->cap * 2 : 16;
		struct staged *items = realloc(snapshot->items, cap * sizeof(*items));
		if (items == NULL) {
			format(err, err_size, "out of memory");
			staged_finish(&item);
			return false;
		}
		snapshot->items = items;
		snapshot->cap = cap;
	}
	snapshot->items[snapshot->count++] = item;
	snapshot->bytes += bytes;
	return true;
}

static void write_submenu(const struct vd_menu *menu, const char *vm) {
	char name[128], text[2048], path[PATH_MAX];
	format(name, sizeof(name), "vmdesk.%s.directory", vm);
	format(text, sizeof(text),
		"[Desktop Entry]\nType=Directory\nName=%s\nComment=Applications of the VM %s\n"
		"Icon=computer\n", vm, vm);
	format(path, sizeof(path), "%s/%s", menu->directories_dir, name);
	if (!mkdir_p(menu->directories_dir) || !write_file(path, text, strlen(text))) {
		vd_log(VD_WARN, "vm=%s: cannot write %s", vm, path);
	}
	format(name, sizeof(name), "vmdesk.%s.menu", vm);
	format(text, sizeof(text),
		"<!DOCTYPE Menu PUBLIC \"-//freedesktop//DTD Menu 1.0//EN\"\n"
		" \"http://www.freedesktop.org/standards/menu-spec/1.0/menu.dtd\">\n"
		"<Menu>\n"
		"\t<Name>Applications</Name>\n"
		"\t<Menu>\n"
		"\t\t<Name>vmdesk.%s</Name>\n"
		"\t\t<Directory>vmdesk.%s.directory</Directory>\n"
		"\t\t<Include>\n"
		"\t\t\t<Category>X-Vmdesk-VM-%s</Category>\n"
		"\t\t</Include>\n"
		"\t</Menu>\n"
		"</Menu>\n", vm, vm, vm);
	format(path, sizeof(path), "%s/%s", menu->menus_dir, name);
	if (!mkdir_p(menu->menus_dir) || !write_file(path, text, strlen(text))) {
		vd_log(VD_WARN, "vm=%s: cannot write %s", vm, path);
	}
}

static bool write_icon(const struct vd_menu *menu, const char *icon_name,
		const struct staged *item) {
	char dir[PATH_MAX], path[PATH_MAX];
	format(dir, sizeof(dir), "%s/%dx%d/apps", menu->icons_dir, item->icon_size,
		item->icon_size);
	format(path, sizeof(path), "%s/%s.png", dir, icon_name);
	icon_files_remove(menu, icon_name, item->icon_size); // a new size replaces the old one
	return mkdir_p(dir) && write_file(path, item->png, item->png_len);
}

static bool in_list(char **list, size_t n, const char *s) {
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i], s) == 0) {
			return true;
		}
	}
	return false;
}

static bool icon_name_plain(const char *s) {
	if (strncmp(s, "vmdesk", 6) != 0) {
		return false; // only icons we wrote
	}
	for (; *s; s++) {
		bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || strchr("._-", *s) != NULL;
		if (!ok) {
			return false;
		}
	}
	return true;
}

/*
 * Removes entries: of vm (if vm) whose ID is not in list, or (if !vm) of VMs
 * not in list. Entries whose file name is not the one their keys give (an
 * older vmdesk's "vmdesk-VM-ID") go as well.
 */
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
		if (strncmp(de->d_name, "vmdesk", 6) != 0 || len < 9 ||
				strcmp(de->d_name + len - 8, ".desktop") != 0) {
			continue;
		}
		char path[PATH_MAX], owner[64], id[512], icon[512], want[PATH_MAX];
		format(path, sizeof(path), "%s/%s", menu->apps_dir, de->d_name);
		if (!read_key(path, "X-Vmdesk-VM", owner, sizeof(owner)) ||
				!read_key(path, "X-Vmdesk-App", id, sizeof(id))) {
			continue; // not ours
		}
		entry_file_name(owner, id, want, sizeof(want));
		bool canonical = strcmp(want, de->d_name) == 0 &&
			vd_vm_name_valid(owner, strlen(owner)) && vd_desktop_id_valid(id, strlen(id));
		bool remove;
		if (vm != NULL) {
			remove = strcmp(owner, vm) == 0 && (!canonical || !in_list(list, nlist, id));
		} else {
			remove = !canonical || !in_list(list, nlist, owner);
		}
		if (!remove) {
			continue;
		}
		if (read_key(path, "Icon", icon, sizeof(icon)) && icon_name_plain(icon)) {
			icon_files_remove(menu, icon, 0);
		}
		unlink(path);
		removed++;
	}
	closedir(d);
	return removed;
}

void vd_menu_snapshot_commit(struct vd_menu_snapshot *snapshot) {
	struct vd_menu *menu = snapshot->menu;
	const char *vm = snapshot->vm;
	write_submenu(menu, vm);
	if (!mkdir_p(menu->apps_dir)) {
		vd_log(VD_WARN, "vm=%s: cannot create %s: %s", vm, menu->apps_dir, strerror(errno));
	}
	char **ids = calloc(snapshot->count + 1, sizeof(char *));
	size_t nids = 0;
	for (size_t i = 0; i < snapshot->count; i++) {
		struct staged *item = &snapshot->items[i];
		char name[PATH_MAX], path[PATH_MAX], icon_name[512], err[PATH_MAX + 64];
		entry_file_name(vm, item->id, name, sizeof(name));
		format(path, sizeof(path), "%s/%s", menu->apps_dir, name);
		icon_name_of(vm, item->id, icon_name, sizeof(icon_name));
		if (!entry_ours(path, vm, err, sizeof(err))) {
			vd_log(VD_WARN, "vm=%s app refused: %s", vm, err);
			continue;
		}
		if (item->png != NULL && !write_icon(menu, icon_name, item)) {
			vd_log(VD_WARN, "vm=%s app %s: cannot write its icon", vm, item->id);
		} else if (item->png == NULL) {
			icon_files_remove(menu, icon_name, 0);
		}
		if (!write_file(path, item->text, strlen(item->text))) {
			vd_log(VD_WARN, "vm=%s: cannot write %s", vm, path);
			continue;
		}
		if (ids != NULL) {
			ids[nids++] = item->id;
		}
	}
	size_t removed = ids != NULL ? remove_entries(menu, vm, ids, nids) : 0;
	vd_log(VD_INFO, "vm=%s: menu has %zu entries (%zu removed)", vm, nids, removed);
	free(ids);
	vd_menu_snapshot_abort(snapshot);
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
		if (strncmp(de->d_name, "vmdesk", 6) != 0 || len <= 7 + slen ||
				strcmp(de->d_name + len - slen, suffix) != 0) {
			continue;
		}
		char vm[128];
		format(vm, sizeof(vm), "%.*s", (int)(len - 7 - slen), de->d_name + 7);
		/* an older vmdesk's "vmdesk-VM.menu" goes; "vmdesk.VM.menu" of a gone VM too */
		if (de->d_name[6] != '.' || !in_list(vms, nvms, vm)) {
			char path[PATH_MAX];
			format(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

size_t vd_menu_prune(struct vd_menu *menu, char **vms, size_t nvms) {
	size_t removed = remove_entries(menu, NULL, vms, nvms);
	remove_submenus(menu->menus_dir, ".menu", vms, nvms);
	remove_submenus(menu->directories_dir, ".directory", vms, nvms);
	if (removed > 0) {
		vd_log(VD_INFO, "removed %zu menu entries of VMs that no longer exist", removed);
	}
	return removed;
}
