#include <string.h>

#include "protocols/names.h"

static bool is_lower(char c) {
	return c >= 'a' && c <= 'z';
}

static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

bool vd_vm_name_valid(const char *name, size_t len) {
	if (len == 0 || len > VD_VM_NAME_MAX || !is_lower(name[0])) {
		return false;
	}
	for (size_t i = 1; i < len; i++) {
		if (!is_lower(name[i]) && !is_digit(name[i]) && name[i] != '-') {
			return false;
		}
	}
	return !(len == strlen(VD_HOST_DOMAIN) && memcmp(name, VD_HOST_DOMAIN, len) == 0);
}

bool vd_domain_name_valid(const char *name, size_t len) {
	return vd_vm_name_valid(name, len) ||
		(len == strlen(VD_HOST_DOMAIN) && memcmp(name, VD_HOST_DOMAIN, len) == 0);
}

void vd_vm_name_dbus(const char *name, char *out) {
	size_t i = 0;
	for (; name[i] != '\0' && i < VD_VM_NAME_MAX; i++) {
		out[i] = name[i] == '-' ? '_' : name[i];
	}
	out[i] = '\0';
}

bool vd_desktop_id_valid(const char *id, size_t len) {
	static const char suffix[] = ".desktop";
	size_t slen = sizeof(suffix) - 1;
	if (len <= slen || len > VD_DESKTOP_ID_MAX) {
		return false;
	}
	if (memcmp(id + len - slen, suffix, slen) != 0 || id[0] == '.' || id[0] == '-') {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		bool ok = is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
			c == '_' || c == '-';
		if (!ok || (c == '.' && i + 1 < len && id[i + 1] == '.')) {
			return false;
		}
	}
	return true;
}

static bool is_alpha(char c) {
	return is_lower(c) || (c >= 'A' && c <= 'Z');
}

bool vd_action_key_valid(const char *key, size_t len) {
	if (len == 0 || len > VD_ACTION_KEY_MAX || !is_alpha(key[0])) {
		return false;
	}
	for (size_t i = 1; i < len; i++) {
		char c = key[i];
		if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '_' && c != ':' && c != '-') {
			return false;
		}
	}
	return true;
}

bool vd_notify_category_valid(const char *category, size_t len) {
	if (len == 0 || len > VD_NOTIFY_CATEGORY_MAX || !is_lower(category[0]) ||
			category[len - 1] == '.') {
		return false;
	}
	for (size_t i = 1; i < len; i++) {
		if (!is_lower(category[i]) && category[i] != '.') {
			return false;
		}
	}
	return true;
}

bool vd_image_name_valid(const char *name, size_t len) {
	if (len == 0 || len > VD_IMAGE_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c);
		if (!alnum && (i == 0 || (c != '_' && c != '-'))) {
			return false;
		}
	}
	return true;
}
