#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/apps.h"
#include "guest/tray-props.h"

#define MAX_PIXMAPS 32

static bool is_file(const char *path) {
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

struct reader {
	char **dirs;
	size_t ndirs;
	int size;
};

/* An icon name: the item's own theme directory first, then the data directories. */
static char *find_icon(const struct reader *r, const char *name, const char *theme_path) {
	if (name == NULL || name[0] == '\0') {
		return NULL;
	}
	if (theme_path != NULL && theme_path[0] == '/' && strchr(name, '/') == NULL &&
			strstr(name, "..") == NULL) {
		static const char *const subdirs[] = {"", "/hicolor/scalable/apps",
			"/hicolor/48x48/apps", "/hicolor/32x32/apps", "/hicolor/24x24/apps",
			"/hicolor/22x22/apps", "/hicolor/16x16/apps", "/hicolor/64x64/apps"};
		char path[4096];
		for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
			for (int e = 0; e < 2; e++) {
				snprintf(path, sizeof(path), "%s%s/%s.%s", theme_path, subdirs[i], name,
					e ? "svg" : "png");
				if (is_file(path)) {
					return strdup(path);
				}
			}
		}
	}
	return vd_guest_icon_lookup(name, r->size, r->dirs, r->ndirs);
}

/* The best of a(iiay): the smallest at least ICON_SIZE, else the largest. */
static bool pixmap_image(const struct reader *r, DBusMessageIter *variant,
		struct vd_guest_image *image) {
	char *sig = dbus_message_iter_get_signature(variant);
	bool ok = sig != NULL && strcmp(sig, "a(iiay)") == 0;
	dbus_free(sig);
	if (!ok) {
		return false;
	}
	DBusMessageIter array, best_st;
	int32_t best = -1;
	dbus_message_iter_recurse(variant, &array);
	for (int n = 0; n < MAX_PIXMAPS && dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_STRUCT;
			n++, dbus_message_iter_next(&array)) {
		DBusMessageIter st;
		dbus_int32_t w, h;
		dbus_message_iter_recurse(&array, &st);
		dbus_message_iter_get_basic(&st, &w);
		dbus_message_iter_next(&st);
		dbus_message_iter_get_basic(&st, &h);
		if (w < 1 || h < 1 || w > VD_GUEST_IMAGE_MAX_SOURCE || h > VD_GUEST_IMAGE_MAX_SOURCE) {
			continue;
		}
		int32_t edge = w > h ? w : h;
		bool better = best < 0 || (best < r->size ? edge > best :
			edge >= r->size && edge < best);
		if (better) {
			best = edge;
			dbus_message_iter_recurse(&array, &best_st);
		}
	}
	if (best < 0) {
		return false;
	}
	dbus_int32_t w, h;
	dbus_message_iter_get_basic(&best_st, &w);
	dbus_message_iter_next(&best_st);
	dbus_message_iter_get_basic(&best_st, &h);
	dbus_message_iter_next(&best_st);
	DBusMessageIter bytes;
	dbus_message_iter_recurse(&best_st, &bytes);
	const uint8_t *data = NULL;
	int len = 0;
	dbus_message_iter_get_fixed_array(&bytes, &data, &len);
	return vd_guest_image_from_argb(w, h, data, (size_t)len, r->size, image);
}

static void name_image(const struct reader *r, const char *name, const char *theme_path,
		struct vd_guest_image *image) {
	char *file = find_icon(r, name, theme_path);
	uint8_t *rgba;
	size_t len;
	uint16_t w, h;
	if (file != NULL && vd_guest_icon_render(file, r->size, &rgba, &len, &w, &h)) {
		vd_guest_image_finish(image);
		*image = (struct vd_guest_image){rgba, len, w, h};
	}
	free(file);
}

static const char *string_of(DBusMessageIter *v) {
	int type = dbus_message_iter_get_arg_type(v);
	if (type != DBUS_TYPE_STRING && type != DBUS_TYPE_OBJECT_PATH) {
		return NULL;
	}
	const char *s;
	dbus_message_iter_get_basic(v, &s);
	return s;
}

static void parse_tooltip(struct vd_guest_tray_props *p, DBusMessageIter *v) {
	char *sig = dbus_message_iter_get_signature(v);
	bool ok = sig != NULL && strcmp(sig, "(sa(iiay)ss)") == 0;
	dbus_free(sig);
	if (!ok) {
		return;
	}
	DBusMessageIter st;
	dbus_message_iter_recurse(v, &st);
	dbus_message_iter_next(&st); // icon name
	dbus_message_iter_next(&st); // icon pixmaps
	dbus_message_iter_get_basic(&st, &p->tip_title);
	dbus_message_iter_next(&st);
	dbus_message_iter_get_basic(&st, &p->tip_body);
}

void vd_guest_tray_props_parse(DBusMessageIter *dict, char **icon_dirs, size_t ndirs,
		int icon_size, struct vd_guest_tray_props *p) {
	*p = (struct vd_guest_tray_props){0};
	struct reader r = {icon_dirs, ndirs, icon_size};
	const char *names[3] = {NULL, NULL, NULL};
	static const char *const pixmap_keys[3] = {"IconPixmap", "AttentionIconPixmap",
		"OverlayIconPixmap"};
	static const char *const name_keys[3] = {"IconName", "AttentionIconName", "OverlayIconName"};
	DBusMessageIter it = *dict;
	for (; dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_DICT_ENTRY;
			dbus_message_iter_next(&it)) {
		DBusMessageIter entry, v;
		const char *key;
		dbus_message_iter_recurse(&it, &entry);
		dbus_message_iter_get_basic(&entry, &key);
		dbus_message_iter_next(&entry);
		dbus_message_iter_recurse(&entry, &v);
		for (int k = 0; k < 3; k++) {
			if (strcmp(key, pixmap_keys[k]) == 0) {
				pixmap_image(&r, &v, &p->images[k]);
			} else if (strcmp(key, name_keys[k]) == 0) {
				names[k] = string_of(&v);
			}
		}
		if (strcmp(key, "Id") == 0) {
			p->id = string_of(&v);
		} else if (strcmp(key, "Title") == 0) {
			p->title = string_of(&v);
		} else if (strcmp(key, "Status") == 0) {
			p->status = string_of(&v);
		} else if (strcmp(key, "Category") == 0) {
			p->category = string_of(&v);
		} else if (strcmp(key, "IconThemePath") == 0) {
			p->theme_path = string_of(&v);
		} else if (strcmp(key, "Menu") == 0) {
			p->menu = string_of(&v);
		} else if (strcmp(key, "ToolTip") == 0) {
			parse_tooltip(p, &v);
		} else if (strcmp(key, "ItemIsMenu") == 0 &&
				dbus_message_iter_get_arg_type(&v) == DBUS_TYPE_BOOLEAN) {
			dbus_bool_t b;
			dbus_message_iter_get_basic(&v, &b);
			p->item_is_menu = b;
		}
	}
	for (int k = 0; k < 3; k++) {
		/* a name that resolves here wins over pixmaps, as the spec suggests */
		name_image(&r, names[k], p->theme_path, &p->images[k]);
	}
}

void vd_guest_tray_props_finish(struct vd_guest_tray_props *p) {
	for (int k = 0; k < 3; k++) {
		vd_guest_image_finish(&p->images[k]);
	}
}


