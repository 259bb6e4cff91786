#include <stdio.h>
#include <string.h>

#include "protocols/link.h"
#include "protocols/names.h"
#include "protocols/text.h"

/*
 * The rules protocols/link.xml names with check=: on one string field
 * (vd_link_check_NAME) and across the fields of a message
 * (vd_link_check_msg_NAME). Each rule is the project's one function for it
 * (protocols/names.h, protocols/text.h) where there is one.
 */

bool vd_link_check_text(const char *s, size_t len) {
	return vd_text_valid(s, len, 0);
}

bool vd_link_check_mtext(const char *s, size_t len) {
	return vd_text_valid(s, len, VD_TEXT_NEWLINES);
}

bool vd_link_check_vm_name(const char *s, size_t len) {
	return vd_vm_name_valid(s, len);
}

bool vd_link_check_domain_or_empty(const char *s, size_t len) {
	return len == 0 || vd_domain_name_valid(s, len);
}

bool vd_link_check_desktop_id(const char *s, size_t len) {
	return vd_desktop_id_valid(s, len);
}

bool vd_link_check_mime(const char *s, size_t len) {
	return vd_mime_valid(s, len);
}

/* The environment a host may set for a program: locale, time zone, terminal. */
bool vd_link_check_env_name(const char *s, size_t len) {
	static const char *const allowed[] = {
		"LANG", "LANGUAGE", "LC_ALL", "LC_ADDRESS", "LC_COLLATE", "LC_CTYPE",
		"LC_IDENTIFICATION", "LC_MEASUREMENT", "LC_MESSAGES", "LC_MONETARY", "LC_NAME",
		"LC_NUMERIC", "LC_PAPER", "LC_TELEPHONE", "LC_TIME", "TZ", "NO_COLOR", "COLUMNS",
		"LINES",
	};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (strlen(allowed[i]) == len && memcmp(allowed[i], s, len) == 0) {
			return true;
		}
	}
	return false;
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

bool vd_link_check_categories(const char *s, size_t len) {
	return chars_in(s, len, ";_-");
}

bool vd_link_check_icon_name(const char *s, size_t len) {
	return chars_in(s, len, "._-");
}

bool vd_link_check_action_key(const char *s, size_t len) {
	return vd_action_key_valid(s, len);
}

bool vd_link_check_category_or_empty(const char *s, size_t len) {
	return len == 0 || vd_notify_category_valid(s, len);
}

/* ---- across fields ---- */

static bool argv_ok(uint32_t argc, const char **argv, char *err, size_t err_size) {
	if (argc == 0 || argv[0][0] == '\0') {
		snprintf(err, err_size, "empty program name");
		return false;
	}
	return true;
}

bool vd_link_check_msg_run(const void *body, char *err, size_t err_size) {
	const struct vd_link_run *m = body;
	return argv_ok(m->argv_count, m->argv, err, err_size);
}

bool vd_link_check_msg_ctl_run(const void *body, char *err, size_t err_size) {
	const struct vd_link_ctl_run *m = body;
	return argv_ok(m->argv_count, m->argv, err, err_size);
}

bool vd_link_check_msg_run_exit(const void *body, char *err, size_t err_size) {
	/* RUN_EXIT and CTL_EXIT share the layout (CTL_EXIT copies RUN_EXIT). */
	const struct vd_link_run_exit *m = body;
	if (m->kind == VD_LINK_EXIT_KIND_EXITED && m->value > 255) {
		snprintf(err, err_size, "exit status %u over 255", m->value);
		return false;
	}
	if (m->kind == VD_LINK_EXIT_KIND_SIGNALED && (m->value == 0 || m->value > 64)) {
		snprintf(err, err_size, "signal %u not in 1..64", m->value);
		return false;
	}
	return true;
}

bool vd_link_check_msg_input(const void *body, char *err, size_t err_size) {
	/* RUN_INPUT and CTL_INPUT share the layout. */
	const struct vd_link_run_input *m = body;
	if (m->data_len == 0 && !m->eof) {
		snprintf(err, err_size, "neither data nor end of input");
		return false;
	}
	return true;
}

/* Raw RGBA pixels: both sizes 0 (none) or neither, and exactly width x height x 4 bytes. */
static bool rgba_ok(const char *what, uint32_t width, uint32_t height, uint32_t len, char *err,
		size_t err_size) {
	if ((width == 0) != (height == 0)) {
		snprintf(err, err_size, "%s size %ux%u", what, width, height);
		return false;
	}
	uint32_t want = width * height * 4;
	if (len != want) {
		snprintf(err, err_size, "%s of %u bytes is not %ux%u RGBA (%u bytes)", what, len, width,
			height, want);
		return false;
	}
	return true;
}

bool vd_link_check_msg_app(const void *body, char *err, size_t err_size) {
	const struct vd_link_app *m = body;
	return rgba_ok("icon", m->icon_width, m->icon_height, m->icon_len, err, err_size);
}

bool vd_link_check_msg_menu_app(const void *body, char *err, size_t err_size) {
	const struct vd_link_menu_app *m = body;
	return rgba_ok("icon", m->icon_width, m->icon_height, m->icon_len, err, err_size);
}

bool vd_link_check_msg_notify(const void *body, char *err, size_t err_size) {
	const struct vd_link_notify *m = body;
	if (m->expire_ms != VD_LINK_NOTIFY_EXPIRE_DEFAULT && m->expire_ms > VD_LINK_MAX_EXPIRE_MS) {
		snprintf(err, err_size, "expire timeout %u ms", m->expire_ms);
		return false;
	}
	return rgba_ok("image", m->image_width, m->image_height, m->image_len, err, err_size);
}

bool vd_link_check_msg_tray_icon(const void *body, char *err, size_t err_size) {
	const struct vd_link_tray_icon *m = body;
	return rgba_ok("icon", m->width, m->height, m->data_len, err, err_size);
}

/*
 * A menu as a list: ids unique, each item's parent the root (0) or an item
 * before it, at most VD_LINK_MAX_MENU_DEPTH levels, icons exact.
 */
bool vd_link_check_msg_tray_menu(const void *body, char *err, size_t err_size) {
	const struct vd_link_tray_menu *m = body;
	uint8_t depth[VD_LINK_MAX_MENU_ITEMS];
	for (uint32_t i = 0; i < m->items_count; i++) {
		const struct vd_link_tray_menu_items *item = &m->items[i];
		if (!rgba_ok("menu icon", item->icon_width, item->icon_height, item->icon_len, err,
				err_size)) {
			return false;
		}
		depth[i] = 1;
		bool parent_found = item->parent == 0;
		for (uint32_t k = 0; k < i; k++) {
			if (m->items[k].id == item->id) {
				snprintf(err, err_size, "menu item %u twice", item->id);
				return false;
			}
			if (m->items[k].id == item->parent) {
				parent_found = true;
				depth[i] = (uint8_t)(depth[k] + 1);
			}
		}
		if (!parent_found) {
			snprintf(err, err_size, "menu item %u: parent %u not before it", item->id,
				item->parent);
			return false;
		}
		if (depth[i] > VD_LINK_MAX_MENU_DEPTH) {
			snprintf(err, err_size, "menu item %u deeper than %u levels", item->id,
				VD_LINK_MAX_MENU_DEPTH);
			return false;
		}
	}
	return true;
}

bool vd_link_check_msg_clip_copy_reply(const void *body, char *err, size_t err_size) {
	const struct vd_link_clip_copy_reply *m = body;
	if (m->status == VD_LINK_CLIP_STATUS_OK) {
		if (!vd_mime_valid(m->mime, strlen(m->mime))) {
			snprintf(err, err_size, "invalid MIME type name");
			return false;
		}
	} else if (m->data_len != 0 || m->mime[0] != '\0') {
		snprintf(err, err_size, "data in a failed reply");
		return false;
	}
	return true;
}

bool vd_link_check_msg_pool_data(const void *body, char *err, size_t err_size) {
	/* a bulk message: the rule reads the lengths, never the bytes */
	const struct vd_link_wl_pool_data *m = body;
	if (m->data_len % m->width != 0) {
		snprintf(err, err_size, "%u bytes are not rows of %u", m->data_len, m->width);
		return false;
	}
	uint32_t rows = m->data_len / m->width;
	if (rows > 1 && m->stride < m->width) {
		snprintf(err, err_size, "rows of %u bytes every %u bytes overlap", m->width, m->stride);
		return false;
	}
	uint64_t end = (uint64_t)m->offset + (uint64_t)(rows - 1) * m->stride + m->width;
	if (end > VD_LINK_WL_MAX_POOL_SIZE) {
		snprintf(err, err_size, "rows end at byte %llu, past any pool",
			(unsigned long long)end);
		return false;
	}
	return true;
}

bool vd_link_check_msg_pool_copy(const void *body, char *err, size_t err_size) {
	const struct vd_link_wl_pool_copy *m = body;
	if (m->rows > 1 && (m->src_stride < m->width || m->dst_stride < m->width)) {
		snprintf(err, err_size, "rows of %u bytes every %u/%u bytes overlap", m->width,
			m->src_stride, m->dst_stride);
		return false;
	}
	return true;
}
