#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "guest/apps.h"
#include "guest/image.h"
#include "guest/tray-menu.h"

#define LABEL_MAX 256

uint64_t vd_guest_hash(uint64_t hash, const void *data, size_t len) {
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		hash = (hash ^ p[i]) * 0x100000001b3ull;
	}
	return hash;
}

struct parser {
	struct vd_guest_tray_menu *menu;
	char **dirs;
	size_t ndirs;
};

static bool seen(const struct vd_guest_tray_menu *menu, uint32_t id) {
	for (uint32_t i = 0; i < menu->count; i++) {
		if (menu->items[i].id == id) {
			return true;
		}
	}
	return false;
}

bool vd_guest_tray_menu_has(const struct vd_guest_tray_menu *menu, uint32_t id) {
	return seen(menu, id);
}

static void item_icon(struct parser *p, struct vd_link_tray_menu_items *item, const uint8_t *png,
		int png_len, const char *icon_name) {
	struct vd_guest_image image = {0};
	if (png != NULL && png_len > 0) {
		vd_guest_image_from_png(png, (size_t)png_len, VD_LINK_MAX_MENU_ICON, &image);
	} else if (icon_name != NULL && icon_name[0] != '\0') {
		char *file = vd_guest_icon_lookup(icon_name, VD_LINK_MAX_MENU_ICON, p->dirs, p->ndirs);
		uint8_t *rgba;
		size_t len;
		uint16_t w, h;
		if (file != NULL && vd_guest_icon_render(file, VD_LINK_MAX_MENU_ICON, &rgba, &len, &w,
				&h)) {
			image = (struct vd_guest_image){rgba, len, w, h};
		}
		free(file);
	}
	if (image.rgba != NULL && image.width <= VD_LINK_MAX_MENU_ICON &&
			image.height <= VD_LINK_MAX_MENU_ICON) {
		item->icon = image.rgba;
		item->icon_len = (uint32_t)image.len;
		item->icon_width = (uint8_t)image.width;
		item->icon_height = (uint8_t)image.height;
		return;
	}
	vd_guest_image_finish(&image);
}

/* The properties of one item; unknown ones and those of another type are ignored. */
static void parse_props(struct parser *p, DBusMessageIter *dict,
		struct vd_link_tray_menu_items *item) {
	const char *label = "", *icon_name = NULL;
	const uint8_t *png = NULL;
	int png_len = 0;
	bool enabled = true, visible = true;
	DBusMessageIter it = *dict;
	while (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter entry, v;
		const char *key;
		dbus_message_iter_recurse(&it, &entry);
		dbus_message_iter_get_basic(&entry, &key);
		dbus_message_iter_next(&entry);
		dbus_message_iter_recurse(&entry, &v);
		int type = dbus_message_iter_get_arg_type(&v);
		const char *s = NULL;
		dbus_bool_t b = TRUE;
		dbus_int32_t i = 0;
		if (type == DBUS_TYPE_STRING) {
			dbus_message_iter_get_basic(&v, &s);
		} else if (type == DBUS_TYPE_BOOLEAN) {
			dbus_message_iter_get_basic(&v, &b);
		} else if (type == DBUS_TYPE_INT32) {
			dbus_message_iter_get_basic(&v, &i);
		}
		if (strcmp(key, "type") == 0 && s != NULL) {
			item->type = strcmp(s, "separator") == 0 ? VD_LINK_MENU_ITEM_TYPE_SEPARATOR :
				VD_LINK_MENU_ITEM_TYPE_STANDARD;
		} else if (strcmp(key, "label") == 0 && s != NULL) {
			label = s;
		} else if (strcmp(key, "enabled") == 0 && type == DBUS_TYPE_BOOLEAN) {
			enabled = b;
		} else if (strcmp(key, "visible") == 0 && type == DBUS_TYPE_BOOLEAN) {
			visible = b;
		} else if (strcmp(key, "toggle-type") == 0 && s != NULL) {
			item->toggle = strcmp(s, "checkmark") == 0 ? VD_LINK_MENU_TOGGLE_CHECKMARK :
				strcmp(s, "radio") == 0 ? VD_LINK_MENU_TOGGLE_RADIO : VD_LINK_MENU_TOGGLE_NONE;
		} else if (strcmp(key, "toggle-state") == 0 && type == DBUS_TYPE_INT32) {
			item->toggle_state = i == 0 ? VD_LINK_MENU_TOGGLE_STATE_OFF :
				i == 1 ? VD_LINK_MENU_TOGGLE_STATE_ON : VD_LINK_MENU_TOGGLE_STATE_INDETERMINATE;
		} else if (strcmp(key, "children-display") == 0 && s != NULL &&
				strcmp(s, "submenu") == 0) {
			item->flags |= VD_LINK_MENU_ITEM_FLAGS_SUBMENU;
		} else if (strcmp(key, "icon-name") == 0 && s != NULL) {
			icon_name = s;
		} else if (strcmp(key, "icon-data") == 0 && type == DBUS_TYPE_ARRAY &&
				dbus_message_iter_get_element_type(&v) == DBUS_TYPE_BYTE) {
			DBusMessageIter bytes;
			dbus_message_iter_recurse(&v, &bytes);
			dbus_message_iter_get_fixed_array(&bytes, &png, &png_len);
		}
		dbus_message_iter_next(&it);
	}
	item->flags |= (enabled ? VD_LINK_MENU_ITEM_FLAGS_ENABLED : 0) |
		(visible ? VD_LINK_MENU_ITEM_FLAGS_VISIBLE : 0);
	item->label = vd_title_sanitize(label, LABEL_MAX);
	if (item->label == NULL) {
		item->label = strdup("");
	}
	if (item->type != VD_LINK_MENU_ITEM_TYPE_SEPARATOR) {
		item_icon(p, item, png, png_len, icon_name);
	}
}

/* The children (av of (ia{sv}av)) of parent, which is at depth - 1. */
static void parse_children(struct parser *p, DBusMessageIter *array, uint32_t parent,
		uint32_t depth) {
	struct vd_guest_tray_menu *menu = p->menu;
	DBusMessageIter it = *array;
	for (; dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_VARIANT;
			dbus_message_iter_next(&it)) {
		if (menu->count == VD_LINK_MAX_MENU_ITEMS) {
			return;
		}
		DBusMessageIter v, st, dict, children;
		dbus_message_iter_recurse(&it, &v);
		char *sig = dbus_message_iter_get_signature(&v);
		bool ok = sig != NULL && strcmp(sig, "(ia{sv}av)") == 0;
		dbus_free(sig);
		if (!ok) {
			continue;
		}
		dbus_message_iter_recurse(&v, &st);
		dbus_int32_t id;
		dbus_message_iter_get_basic(&st, &id);
		if (id <= 0 || seen(menu, (uint32_t)id)) {
			continue; // with its subtree: no id is ever ambiguous on the host
		}
		dbus_message_iter_next(&st);
		dbus_message_iter_recurse(&st, &dict);
		dbus_message_iter_next(&st);
		dbus_message_iter_recurse(&st, &children);
		struct vd_link_tray_menu_items *item = &menu->items[menu->count++];
		*item = (struct vd_link_tray_menu_items){.id = (uint32_t)id, .parent = parent,
			.type = VD_LINK_MENU_ITEM_TYPE_STANDARD};
		parse_props(p, &dict, item);
		bool has_children = dbus_message_iter_get_arg_type(&children) == DBUS_TYPE_VARIANT;
		if (has_children && depth < VD_LINK_MAX_MENU_DEPTH) {
			item->flags |= VD_LINK_MENU_ITEM_FLAGS_SUBMENU;
			parse_children(p, &children, (uint32_t)id, depth + 1);
		}
	}
}

static uint64_t menu_hash(const struct vd_guest_tray_menu *menu) {
	uint64_t h = VD_GUEST_HASH_INIT;
	for (uint32_t i = 0; i < menu->count; i++) {
		const struct vd_link_tray_menu_items *item = &menu->items[i];
		uint8_t fixed[] = {item->type, item->flags, item->toggle, item->toggle_state,
			item->icon_width, item->icon_height};
		h = vd_guest_hash(h, &item->id, sizeof(item->id));
		h = vd_guest_hash(h, &item->parent, sizeof(item->parent));
		h = vd_guest_hash(h, fixed, sizeof(fixed));
		h = vd_guest_hash(h, item->label, strlen(item->label) + 1);
		h = vd_guest_hash(h, item->icon, item->icon_len);
	}
	return h;
}

bool vd_guest_tray_menu_parse(DBusMessage *reply, char **icon_dirs, size_t ndirs,
		struct vd_guest_tray_menu *menu) {
	vd_guest_tray_menu_finish(menu);
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_METHOD_RETURN ||
			!dbus_message_has_signature(reply, "u(ia{sv}av)")) {
		return false;
	}
	DBusMessageIter args, root, children;
	dbus_message_iter_init(reply, &args);
	dbus_message_iter_next(&args); // the revision
	dbus_message_iter_recurse(&args, &root);
	dbus_message_iter_next(&root); // the root's id
	dbus_message_iter_next(&root); // and properties
	dbus_message_iter_recurse(&root, &children);
	struct parser p = {menu, icon_dirs, ndirs};
	parse_children(&p, &children, 0, 1);
	menu->hash = menu_hash(menu);
	return true;
}

void vd_guest_tray_menu_finish(struct vd_guest_tray_menu *menu) {
	for (uint32_t i = 0; i < menu->count; i++) {
		free((char *)menu->items[i].label);
		free((uint8_t *)menu->items[i].icon);
	}
	menu->count = 0;
}
