#define LOG_TAG "notify"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "guest/apps.h"
#include "guest/notify-request.h"
#include "protocols/log.h"
#include "protocols/names.h"

#define APP_NAME_MAX 128
#define SUMMARY_MAX 1024
#define LABEL_MAX 256

struct reader {
	int image_size;
	char **dirs;
	size_t ndirs;
};

void vd_guest_notify_request_finish(struct vd_guest_notify_request *req) {
	free(req->app_name);
	free(req->summary);
	free(req->body);
	for (uint32_t i = 0; i < req->nactions; i++) {
		free(req->labels[i]);
	}
	vd_guest_image_finish(&req->image);
}

static void parse_actions(struct vd_guest_notify_request *req, DBusMessageIter *array) {
	DBusMessageIter it = *array;
	while (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING &&
			req->nactions < VD_LINK_MAX_ACTIONS) {
		const char *key, *label;
		dbus_message_iter_get_basic(&it, &key);
		if (!dbus_message_iter_next(&it)) {
			break; // an odd count: the last key has no label
		}
		dbus_message_iter_get_basic(&it, &label);
		dbus_message_iter_next(&it);
		if (!vd_action_key_valid(key, strlen(key))) {
			vd_log(VD_DEBUG, "action key \"%s\" dropped", key);
			continue;
		}
		char *clean = vd_title_sanitize(label, LABEL_MAX);
		if (clean == NULL) {
			continue;
		}
		req->labels[req->nactions] = clean;
		req->actions[req->nactions++] = (struct vd_link_notify_actions){key, clean};
	}
}

/* image-data (iiibiiay), decoded here: the host gets pixels or nothing. */
static void parse_image_data(const struct reader *r, struct vd_guest_notify_request *req,
		DBusMessageIter *variant) {
	char *sig = dbus_message_iter_get_signature(variant);
	bool ok = sig != NULL && strcmp(sig, "(iiibiiay)") == 0;
	dbus_free(sig);
	if (!ok || req->have_image_data) {
		return;
	}
	DBusMessageIter st, bytes;
	dbus_message_iter_recurse(variant, &st);
	dbus_int32_t v[6];
	dbus_bool_t alpha = FALSE;
	for (int i = 0; i < 6; i++) { // width, height, rowstride, has_alpha, bits, channels
		if (i == 3) {
			dbus_message_iter_get_basic(&st, &alpha);
		} else {
			dbus_message_iter_get_basic(&st, &v[i < 3 ? i : i - 1]);
		}
		dbus_message_iter_next(&st);
	}
	dbus_message_iter_recurse(&st, &bytes);
	const uint8_t *data = NULL;
	int len = 0;
	dbus_message_iter_get_fixed_array(&bytes, &data, &len);
	if (vd_guest_image_from_data(v[0], v[1], v[2], alpha, v[3], v[4], data, (size_t)len,
			r->image_size, &req->image)) {
		req->have_image_data = true;
	} else {
		vd_log(VD_DEBUG, "image-data %dx%d (rowstride %d, %d bits, %d channels, %d bytes) "
			"refused", v[0], v[1], v[2], v[3], v[4], len);
	}
}

static void parse_hints(const struct reader *r, struct vd_guest_notify_request *req,
		DBusMessageIter *array) {
	DBusMessageIter it = *array;
	while (dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter entry, variant;
		const char *key;
		dbus_message_iter_recurse(&it, &entry);
		dbus_message_iter_get_basic(&entry, &key);
		dbus_message_iter_next(&entry);
		dbus_message_iter_recurse(&entry, &variant);
		int type = dbus_message_iter_get_arg_type(&variant);
		if (strcmp(key, "urgency") == 0 && type == DBUS_TYPE_BYTE) {
			uint8_t u;
			dbus_message_iter_get_basic(&variant, &u);
			if (u <= VD_LINK_URGENCY_CRITICAL) {
				req->urgency = u;
			}
		} else if (strcmp(key, "category") == 0 && type == DBUS_TYPE_STRING) {
			const char *c;
			dbus_message_iter_get_basic(&variant, &c);
			if (vd_notify_category_valid(c, strlen(c))) {
				req->category = c;
			}
		} else if (type == DBUS_TYPE_BOOLEAN && (strcmp(key, "transient") == 0 ||
				strcmp(key, "resident") == 0 || strcmp(key, "suppress-sound") == 0)) {
			dbus_bool_t b;
			dbus_message_iter_get_basic(&variant, &b);
			uint32_t flag = key[0] == 't' ? VD_LINK_NOTIFY_FLAGS_TRANSIENT :
				key[0] == 'r' ? VD_LINK_NOTIFY_FLAGS_RESIDENT :
				VD_LINK_NOTIFY_FLAGS_SUPPRESS_SOUND;
			req->flags = b ? req->flags | flag : req->flags & ~flag;
		} else if (strcmp(key, "image-data") == 0 || strcmp(key, "image_data") == 0 ||
				strcmp(key, "icon_data") == 0) {
			parse_image_data(r, req, &variant);
		} else if ((strcmp(key, "image-path") == 0 || strcmp(key, "image_path") == 0) &&
				type == DBUS_TYPE_STRING) {
			dbus_message_iter_get_basic(&variant, &req->image_path);
		}
		dbus_message_iter_next(&it);
	}
}

/* An icon name, an absolute path or a file:// URI of a PNG or SVG, rendered here. */
static void load_image_path(const struct reader *r, struct vd_guest_notify_request *req,
		const char *path) {
	if (path == NULL || path[0] == '\0') {
		return;
	}
	if (strncmp(path, "file://", 7) == 0) {
		path += 7;
	}
	char *file = vd_guest_icon_lookup(path, r->image_size, r->dirs, r->ndirs);
	if (file == NULL) {
		vd_log(VD_DEBUG, "image %s not found", path);
		return;
	}
	uint8_t *rgba;
	size_t len;
	uint16_t w, h;
	if (vd_guest_icon_render(file, r->image_size, &rgba, &len, &w, &h)) {
		vd_guest_image_finish(&req->image);
		req->image = (struct vd_guest_image){rgba, len, w, h};
	}
	free(file);
}

bool vd_guest_notify_request_parse(DBusMessage *call, int image_size, char **dirs, size_t ndirs,
		struct vd_guest_notify_request *req, char *err, size_t err_len) {
	*req = (struct vd_guest_notify_request){.urgency = VD_LINK_URGENCY_NORMAL, .category = "",
		.expire_ms = VD_LINK_NOTIFY_EXPIRE_DEFAULT};
	if (!dbus_message_has_signature(call, "susssasa{sv}i")) {
		snprintf(err, err_len, "Notify takes (susssasa{sv}i)");
		return false;
	}
	const struct reader r = {image_size, dirs, ndirs};
	DBusMessageIter args, sub;
	dbus_message_iter_init(call, &args);
	const char *app_name, *app_icon, *summary, *body;
	dbus_uint32_t replaces_id;
	dbus_int32_t expire;
	dbus_message_iter_get_basic(&args, &app_name);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &replaces_id);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &app_icon);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &summary);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &body);
	dbus_message_iter_next(&args);
	req->replaces_id = replaces_id;
	dbus_message_iter_recurse(&args, &sub);
	parse_actions(req, &sub);
	dbus_message_iter_next(&args);
	dbus_message_iter_recurse(&args, &sub);
	parse_hints(&r, req, &sub);
	dbus_message_iter_next(&args);
	dbus_message_iter_get_basic(&args, &expire);
	if (expire < -1) {
		snprintf(err, err_len, "expire_timeout %d", expire);
		vd_guest_notify_request_finish(req);
		return false;
	}
	if (expire >= 0) {
		req->expire_ms = (uint32_t)expire > VD_LINK_MAX_EXPIRE_MS ? VD_LINK_MAX_EXPIRE_MS :
			(uint32_t)expire;
	}
	if (!req->have_image_data) {
		load_image_path(&r, req, req->image_path != NULL ? req->image_path : app_icon);
	}
	req->app_name = vd_title_sanitize(app_name, APP_NAME_MAX);
	req->summary = vd_title_sanitize(summary, SUMMARY_MAX);
	req->body = vd_text_block_sanitize(body, VD_TEXT_MAX_LINES, VD_LINK_MAX_NOTIFY_BODY);
	if (req->app_name == NULL || req->summary == NULL || req->body == NULL) {
		snprintf(err, err_len, "%s", "");
		vd_guest_notify_request_finish(req);
		return false;
	}
	return true;
}
