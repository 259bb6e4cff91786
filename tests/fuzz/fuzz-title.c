#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"

/*
 * vd_title_sanitize, vd_title_format and vd_app_id_format on arbitrary bytes.
 *
 * Input: byte 0 picks max_bytes for vd_title_sanitize (0-255, plus
 * VD_TITLE_MAX_BYTES); the rest, up to the first NUL, is the title and the
 * app_id (and, once, the VM name). Beyond memory safety and leaks it checks:
 * every output is valid UTF-8 (checked here, independently of title.c),
 * within its cap, free of controls, bidi controls and the other removed
 * characters, without leading, trailing or double spaces; sanitizing is
 * idempotent; "[vm]" always comes first; app_ids use [A-Za-z0-9._-] only.
 */

#define FUZZ_TITLE_MAX_INPUT 16384
#define FORMAT_MAX (2 + VD_TITLE_VM_MAX_BYTES + 1 + VD_TITLE_MAX_BYTES)
#define APP_ID_PREFIX "vmdesk.work"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes one strict UTF-8 (RFC 3629) character; 0 when invalid. */
static size_t decode(const unsigned char *s, uint32_t *cp) {
	size_t n;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		*cp = s[0] & 0x1f;
		n = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		*cp = s[0] & 0x0f;
		n = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		*cp = s[0] & 0x07;
		n = 4;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min_for_length[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (*cp < min_for_length[n] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) {
		return 0;
	}
	return n;
}

static bool removed(uint32_t cp) {
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xad || cp == 0x61c ||
		(cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
		(cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff ||
		cp == 0x180e || cp == 0x115f || cp == 0x1160 || cp == 0x3164 || cp == 0xffa0 ||
		(cp >= 0xe0000 && cp <= 0xe007f) || cp == 0x85 || cp == 0xa0 || cp == 0x3000 ||
		(cp & 0xfffe) == 0xfffe;
}

/* Valid, clean sanitized text of at most max bytes. */
static void check_clean(const char *str, size_t max) {
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strlen(str);
	if (len > max || (len > 0 && (s[0] == ' ' || s[len - 1] == ' '))) {
		abort();
	}
	bool space = false;
	while (*s != '\0') {
		uint32_t cp;
		size_t n = decode(s, &cp);
		if (n == 0 || removed(cp) || (space && cp == ' ')) {
			abort();
		}
		space = cp == ' ';
		s += n;
	}
}

static void check_sanitize(const char *title, size_t max) {
	char *out = vd_title_sanitize(title, max);
	if (out == NULL) {
		abort();
	}
	check_clean(out, max);
	char *again = vd_title_sanitize(out, max);
	if (again == NULL || strcmp(again, out) != 0) {
		abort();
	}
	free(again);
	free(out);
}

static void check_format(const char *title) {
	char *out = vd_title_format("work", title);
	char *text = vd_title_sanitize(title, VD_TITLE_MAX_BYTES);
	if (out == NULL || text == NULL || strlen(out) > FORMAT_MAX) {
		abort();
	}
	check_clean(out, FORMAT_MAX);
	if (text[0] == '\0' ? strcmp(out, "[work]") != 0 :
			strncmp(out, "[work] ", 7) != 0 || strcmp(out + 7, text) != 0) {
		abort();
	}
	free(text);
	free(out);

	/* the same bytes as a VM name (trusted, but still never unsafe) */
	out = vd_title_format(title, title);
	if (out == NULL || out[0] != '[') {
		abort();
	}
	check_clean(out, FORMAT_MAX);
	free(out);
}

static void check_app_id(const char *app_id) {
	char *out = vd_app_id_format("work", app_id);
	if (out == NULL || strncmp(out, APP_ID_PREFIX, strlen(APP_ID_PREFIX)) != 0) {
		abort();
	}
	const char *rest = out + strlen(APP_ID_PREFIX);
	if (app_id[0] == '\0' ? rest[0] != '\0' :
			rest[0] != '.' || strlen(rest + 1) > VD_APP_ID_MAX_BYTES || rest[1] == '\0') {
		abort();
	}
	for (const char *p = out; *p != '\0'; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				c == '.' || c == '_' || c == '-')) {
			abort();
		}
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size == 0) {
		return 0;
	}
	size_t max = data[0];
	size_t len = size - 1 < FUZZ_TITLE_MAX_INPUT ? size - 1 : FUZZ_TITLE_MAX_INPUT;
	char *title = malloc(len + 1);
	if (title == NULL) {
		return 0;
	}
	memcpy(title, data + 1, len);
	title[len] = '\0';

	check_sanitize(title, max);
	check_sanitize(title, VD_TITLE_MAX_BYTES);
	check_format(title);
	check_app_id(title);
	free(title);
	return 0;
}
