#ifndef GUEST_APPS_H
#define GUEST_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The guest's application list: .desktop files from $XDG_DATA_HOME and
 * $XDG_DATA_DIRS (first directory wins for a desktop ID), without NoDisplay
 * or Hidden entries and without the host's own entries (X-Vmdesk-VM), cut
 * down to what the link carries, with icons rendered to RGBA pixels of a
 * bounded size (the host draws them; it decodes no image file from a guest).
 */

struct vd_guest_app {
	char *id;
	char *name, *generic_name, *comment, *categories, *icon_name, *wm_class;
	char *exec; // never leaves the guest
	uint8_t *rgba; // icon_width x icon_height, not premultiplied; NULL: no icon
	size_t rgba_len;
	uint16_t icon_width, icon_height;
};

struct vd_guest_apps {
	int refs;
	struct vd_guest_app *items;
	size_t count;
};

/* Scans and renders icons at most icon_size pixels square. Never NULL except on OOM. */
struct vd_guest_apps *vd_guest_apps_scan(int icon_size);
struct vd_guest_apps *vd_guest_apps_ref(struct vd_guest_apps *apps);
void vd_guest_apps_unref(struct vd_guest_apps *apps);
const struct vd_guest_app *vd_guest_apps_find(const struct vd_guest_apps *apps, const char *id);
bool vd_guest_apps_equal(const struct vd_guest_apps *a, const struct vd_guest_apps *b);

/* The data directories, most important first ($XDG_DATA_HOME, then $XDG_DATA_DIRS). */
char **vd_guest_data_dirs(size_t *count);
void vd_guest_data_dirs_free(char **dirs, size_t count);

/*
 * Splits a desktop-entry Exec value (already unescaped at the string level)
 * into argv, dropping field codes. Returns NULL on a syntax error.
 */
char **vd_desktop_exec_split(const char *exec);
void vd_strv_free(char **strv);

/* Renders the icon file at path (PNG or SVG) to RGBA pixels of at most size x size. */
bool vd_guest_icon_render(const char *path, int size, uint8_t **rgba, size_t *rgba_len,
	uint16_t *width, uint16_t *height);
/* Finds the file of a themed icon name, or NULL. */
char *vd_guest_icon_lookup(const char *name, int size, char **data_dirs, size_t ndirs);

#endif
