#include <string.h>

#include "protocols/text.h"

size_t vd_utf8_decode(const uint8_t *s, size_t len, int32_t *cp) {
	uint8_t c = s[0];
	*cp = -1;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t count;
	uint8_t lo = 0x80, hi = 0xbf;
	int32_t value;
	if (c >= 0xc2 && c <= 0xdf) {
		count = 1;
		value = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		count = 2;
		value = c & 0x0f;
		if (c == 0xe0) {
			lo = 0xa0; // no overlongs
		} else if (c == 0xed) {
			hi = 0x9f; // no surrogates
		}
	} else if (c >= 0xf0 && c <= 0xf4) {
		count = 3;
		value = c & 0x07;
		if (c == 0xf0) {
			lo = 0x90; // no overlongs
		} else if (c == 0xf4) {
			hi = 0x8f; // nothing past U+10FFFF
		}
	} else {
		return 1; // a continuation byte, C0/C1 lead bytes, F5..FF
	}
	for (size_t i = 1; i <= count; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			return i;
		}
		value = value << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = value;
	return count + 1;
}

bool vd_utf8_valid(const uint8_t *s, size_t len) {
	size_t i = 0;
	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		int32_t cp;
		i += vd_utf8_decode(s + i, len - i, &cp);
		if (cp < 0) {
			return false;
		}
	}
	return true;
}

bool vd_char_is_control(uint32_t cp) {
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

bool vd_char_is_deceptive(uint32_t cp) {
	return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
		cp == 0x200e || cp == 0x200f || cp == 0x061c || cp == 0x2028 || cp == 0x2029 ||
		cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xfdd0 && cp <= 0xfdef) ||
		(cp & 0xfffe) == 0xfffe;
}

bool vd_text_valid(const char *str, size_t len, unsigned flags) {
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c >= 0x20 && c < 0x7f) {
			i++; // the common case
			continue;
		}
		int32_t cp;
		size_t n = vd_utf8_decode(s + i, len - i, &cp);
		if (cp < 0) {
			return false;
		}
		if (vd_char_is_control((uint32_t)cp)) {
			bool allowed = ((flags & VD_TEXT_NEWLINES) && (cp == '\n' || cp == '\t')) ||
				((flags & VD_TEXT_CR) && cp == '\r');
			if (!allowed) {
				return false;
			}
		} else if (!(flags & VD_TEXT_FORMAT) && vd_char_is_deceptive((uint32_t)cp)) {
			return false;
		}
		i += n;
	}
	return true;
}

bool vd_latin1_valid(const uint8_t *s, size_t len) {
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		if (vd_char_is_control(c) && c != '\t' && c != '\n' && c != '\r') {
			return false;
		}
	}
	return true;
}

bool vd_mime_valid(const char *mime, size_t len) {
	if (len == 0 || len > VD_MIME_MAX || mime[0] == ' ' || mime[len - 1] == ' ') {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)mime[i];
		if (c < 0x20 || c > 0x7e) {
			return false;
		}
	}
	return true;
}

const char *const vd_text_mimes[] = {
	"text/plain;charset=utf-8",
	"UTF8_STRING",
	"text/plain",
	"TEXT",
	"STRING",
};
const size_t vd_text_mime_count = sizeof(vd_text_mimes) / sizeof(vd_text_mimes[0]);

bool vd_mime_is_text(const char *mime) {
	for (size_t i = 0; i < vd_text_mime_count; i++) {
		if (strcmp(mime, vd_text_mimes[i]) == 0) {
			return true;
		}
	}
	return false;
}

bool vd_mime_is_utf8(const char *mime) {
	/* STRING is ISO 8859-1; on Wayland text/plain and TEXT are UTF-8 in practice. */
	return vd_mime_is_text(mime) && strcmp(mime, "STRING") != 0;
}

bool vd_text_data_safe(const char *mime, const uint8_t *data, size_t len) {
	if (vd_mime_is_utf8(mime)) {
		return vd_text_valid((const char *)data, len,
			VD_TEXT_NEWLINES | VD_TEXT_CR | VD_TEXT_FORMAT);
	}
	return vd_latin1_valid(data, len);
}
