#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/icon.h"
#include "decoration/title.h"
#include "host/notify-call.h"
#include "host/notify.h"
#include "protocols/names.h"

#define NAME "org.freedesktop.Notifications"
#define PATH "/org/freedesktop/Notifications"
#define BODY_MAX_BYTES 65536
#define LABEL_MAX_BYTES 128
#define IMAGE_MIN 48
#define IMAGE_MAX 128
#define BADGE_SIZE 64

static bool append_variant(DBusMessageIter *dict, const char *key, int type, const char *sig,
		const void *value) {
	DBusMessageIter entry, variant;
	return dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
		dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
		dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, sig, &variant) &&
		dbus_message_iter_append_basic(&variant, type, value) &&
		dbus_message_iter_close_container(&entry, &variant) &&
		dbus_message_iter_close_container(dict, &entry);
}

/* image-data (iiibiiay): the guest's image in a border of the VM's color, or its badge. */
static bool append_image(DBusMessageIter *dict, const struct vd_vmconf *conf,
		const struct vd_link_notify *m) {
	cairo_surface_t *surface;
	if (m->image_len > 0) {
		int size = m->image_width > m->image_height ? m->image_width : m->image_height;
		size = size < IMAGE_MIN ? IMAGE_MIN : size > IMAGE_MAX ? IMAGE_MAX : size;
		surface = vd_icon_frame(m->image, m->image_width, m->image_height, conf->color,
			VD_ICON_BORDER, size);
	} else {
		surface = vd_icon_badge(conf->color, conf->name, BADGE_SIZE);
	}
	if (surface == NULL) {
		return true; // no image, the rest still goes
	}
	size_t len;
	uint8_t *rgba = vd_icon_rgba(surface, &len);
	dbus_int32_t w = cairo_image_surface_get_width(surface);
	dbus_int32_t h = cairo_image_surface_get_height(surface);
	cairo_surface_destroy(surface);
	if (rgba == NULL) {
		return true;
	}
	dbus_int32_t stride = w * 4, bits = 8, channels = 4;
	dbus_bool_t alpha = TRUE;
	const char *key = "image-data";
	DBusMessageIter entry, variant, st, bytes;
	bool ok = dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
		dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
		dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "(iiibiiay)", &variant) &&
		dbus_message_iter_open_container(&variant, DBUS_TYPE_STRUCT, NULL, &st) &&
		dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &w) &&
		dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &h) &&
		dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &stride) &&
		dbus_message_iter_append_basic(&st, DBUS_TYPE_BOOLEAN, &alpha) &&
		dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &bits) &&
		dbus_message_iter_append_basic(&st, DBUS_TYPE_INT32, &channels) &&
		dbus_message_iter_open_container(&st, DBUS_TYPE_ARRAY, "y", &bytes) &&
		dbus_message_iter_append_fixed_array(&bytes, DBUS_TYPE_BYTE, &rgba, (int)len) &&
		dbus_message_iter_close_container(&st, &bytes) &&
		dbus_message_iter_close_container(&variant, &st) &&
		dbus_message_iter_close_container(&entry, &variant) &&
		dbus_message_iter_close_container(dict, &entry);
	free(rgba);
	return ok;
}

static bool append_hints(DBusMessageIter *args, const struct vd_notify_caps *caps,
		const struct vd_vmconf *conf, const struct vd_link_notify *m) {
	char color[8];
	snprintf(color, sizeof(color), "#%02x%02x%02x", conf->color.r, conf->color.g,
		conf->color.b);
	const char *name = conf->name, *color_str = color;
	uint8_t urgency = m->urgency;
	dbus_bool_t yes = TRUE;
	DBusMessageIter dict;
	bool ok = dbus_message_iter_open_container(args, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
		append_variant(&dict, "urgency", DBUS_TYPE_BYTE, "y", &urgency) &&
		append_variant(&dict, "x-vmdesk-vm", DBUS_TYPE_STRING, "s", &name) &&
		append_variant(&dict, "x-vmdesk-color", DBUS_TYPE_STRING, "s", &color_str) &&
		append_image(&dict, conf, m);
	/* the codec checked the category: [a-z.], a letter first */
	if (ok && m->category[0] != '\0') {
		ok = append_variant(&dict, "category", DBUS_TYPE_STRING, "s", &m->category);
	}
	if (ok && caps->persistence && (m->flags & VD_LINK_NOTIFY_FLAGS_TRANSIENT)) {
		ok = append_variant(&dict, "transient", DBUS_TYPE_BOOLEAN, "b", &yes);
	}
	if (ok && caps->persistence && (m->flags & VD_LINK_NOTIFY_FLAGS_RESIDENT)) {
		ok = append_variant(&dict, "resident", DBUS_TYPE_BOOLEAN, "b", &yes);
	}
	if (ok && caps->sound && (m->flags & VD_LINK_NOTIFY_FLAGS_SUPPRESS_SOUND)) {
		ok = append_variant(&dict, "suppress-sound", DBUS_TYPE_BOOLEAN, "b", &yes);
	}
	return ok && dbus_message_iter_close_container(args, &dict);
}

static bool append_actions(DBusMessageIter *args, const struct vd_notify_caps *caps,
		const struct vd_link_notify *m) {
	DBusMessageIter array;
	if (!dbus_message_iter_open_container(args, DBUS_TYPE_ARRAY, "s", &array)) {
		return false;
	}
	bool ok = true;
	for (uint32_t i = 0; ok && caps->actions && i < m->actions_count; i++) {
		const char *key = m->actions[i].key;
		if (!vd_action_key_valid(key, strlen(key))) {
			continue; // the codec checked it already
		}
		char *label = vd_title_sanitize(m->actions[i].label, LABEL_MAX_BYTES);
		if (label == NULL) {
			return false;
		}
		ok = dbus_message_iter_append_basic(&array, DBUS_TYPE_STRING, &key) &&
			dbus_message_iter_append_basic(&array, DBUS_TYPE_STRING, &label);
		free(label);
	}
	return ok && dbus_message_iter_close_container(args, &array);
}

DBusMessage *vd_notify_call_build(const struct vd_notify_caps *caps,
		const struct vd_vmconf *conf, const struct vd_link_notify *m, uint32_t replaces) {
	char app[64];
	snprintf(app, sizeof(app), "vmdesk: %s", conf->name);
	char *summary = vd_title_format(conf->name, m->summary);
	char *body = vd_text_block_sanitize(m->body, VD_TEXT_MAX_LINES, BODY_MAX_BYTES);
	if (body != NULL && caps->body_markup) {
		/* never parsed: the host shows the guest's text as written */
		char *escaped = vd_text_markup_escape(body);
		free(body);
		body = escaped;
	}
	DBusMessage *msg = dbus_message_new_method_call(NAME, PATH, NAME, "Notify");
	if (summary == NULL || body == NULL || msg == NULL) {
		goto fail;
	}
	const char *app_name = app, *icon = "";
	dbus_uint32_t replaces_id = replaces;
	dbus_int32_t expire = -1;
	if (m->expire_ms != VD_LINK_NOTIFY_EXPIRE_DEFAULT) {
		expire = (dbus_int32_t)(m->expire_ms > VD_HOST_NOTIFY_MAX_EXPIRE_MS ?
			VD_HOST_NOTIFY_MAX_EXPIRE_MS : m->expire_ms);
	}
	DBusMessageIter args;
	dbus_message_iter_init_append(msg, &args);
	bool ok = dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &app_name) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_UINT32, &replaces_id) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &icon) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &summary) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_STRING, &body) &&
		append_actions(&args, caps, m) && append_hints(&args, caps, conf, m) &&
		dbus_message_iter_append_basic(&args, DBUS_TYPE_INT32, &expire);
	if (!ok) {
		goto fail;
	}
	free(summary);
	free(body);
	return msg;
fail:
	if (msg != NULL) {
		dbus_message_unref(msg);
	}
	free(summary);
	free(body);
	return NULL;
}
