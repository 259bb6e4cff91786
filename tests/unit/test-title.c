#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/color.h"
#include "decoration/title.h"
#include "tests/unit/tap.h"

/*
 * vd_title_sanitize, vd_title_format, vd_app_id_format and vd_color_text_for
 * against adversarial input. Every output is also checked by an independent
 * strict UTF-8 validator and a hand-written list of characters that must
 * never come out.
 */

#define FORMAT_MAX (2 + VD_TITLE_VM_MAX_BYTES + 1 + VD_TITLE_MAX_BYTES)
#define APP_ID_MAX (7 + VD_TITLE_VM_MAX_BYTES + 1 + VD_APP_ID_MAX_BYTES)

/* Strict UTF-8 (RFC 3629), written from the RFC's ABNF rather than from
 * title.c. Stores the code points in cps (if not NULL); -1 when invalid. */
static long utf8_decode_all(const char *str, uint32_t *cps, size_t max_cps) {
	const unsigned char *s = (const unsigned char *)str;
	long count = 0;
	while (*s != '\0') {
		uint32_t cp;
		size_t n;
		if (s[0] < 0x80) {
			cp = s[0];
			n = 1;
		} else if ((s[0] & 0xe0) == 0xc0) {
			cp = s[0] & 0x1f;
			n = 2;
		} else if ((s[0] & 0xf0) == 0xe0) {
			cp = s[0] & 0x0f;
			n = 3;
		} else if ((s[0] & 0xf8) == 0xf0) {
			cp = s[0] & 0x07;
			n = 4;
		} else {
			return -1;
		}
		for (size_t i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80) {
				return -1;
			}
			cp = cp << 6 | (s[i] & 0x3f);
		}
		static const uint32_t min_for_length[] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			return -1;
		}
		if (cps != NULL && (size_t)count < max_cps) {
			cps[count] = cp;
		}
		count++;
		s += n;
	}
	return count;
}

static bool utf8_valid(const char *str) {
	return utf8_decode_all(str, NULL, 0) >= 0;
}

/* Characters the brief names: none of them may survive sanitizing. */
static const uint32_t forbidden[] = {
	0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068,
	0x2069, 0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff, 0x00ad,
	0x180e, 0x115f, 0x1160, 0x3164, 0xffa0, 0x2028, 0x2029, 0x0085, 0x00a0, 0x3000,
};

static bool cp_forbidden(uint32_t cp) {
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xe0000 && cp <= 0xe007f)) {
		return true;
	}
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		if (forbidden[i] == cp) {
			return true;
		}
	}
	return false;
}

/* Valid UTF-8, at most max bytes, no forbidden characters, no leading,
 * trailing or double spaces. Returns a reason, or NULL when clean. */
static const char *clean_problem(const char *str, size_t max) {
	static uint32_t cps[4096];
	if (strlen(str) > max) {
		return "longer than the cap";
	}
	long count = utf8_decode_all(str, cps, sizeof(cps) / sizeof(cps[0]));
	if (count < 0) {
		return "invalid UTF-8";
	}
	if (count > (long)(sizeof(cps) / sizeof(cps[0]))) {
		return "too many characters for the checker";
	}
	for (long i = 0; i < count; i++) {
		if (cp_forbidden(cps[i])) {
			return "a forbidden character";
		}
		if (cps[i] == ' ' && (i == 0 || i == count - 1 || cps[i - 1] == ' ')) {
			return "a leading, trailing or double space";
		}
	}
	return NULL;
}

#define CHECK_CLEAN(str, max) \
	do { \
		const char *_problem = clean_problem((str), (max)); \
		CHECK(_problem == NULL, "'%s' has %s", (str), _problem); \
	} while (0)

/* Sanitizes in, checks the result is want (and clean and idempotent). */
static bool sanitize_is(const char *in, size_t max, const char *want) {
	char *got = vd_title_sanitize(in, max);
	CHECK(got != NULL, "out of memory");
	bool same = strcmp(got, want) == 0;
	const char *problem = clean_problem(got, max);
	char *again = vd_title_sanitize(got, max);
	bool stable = again != NULL && strcmp(again, got) == 0;
	if (!same) {
		printf("# sanitize('%s', %zu): got '%s', want '%s'\n", in, max, got, want);
	}
	if (problem != NULL) {
		printf("# sanitize('%s', %zu) = '%s' has %s\n", in, max, got, problem);
	}
	if (!stable) {
		printf("# sanitize is not idempotent on '%s': '%s'\n", got, again ? again : "");
	}
	free(again);
	free(got);
	return same && problem == NULL && stable;
}

#define CHECK_SANITIZE(in, max, want) \
	CHECK(sanitize_is((in), (max), (want)), "sanitize(%s)", #in)

#define FFFD "\xef\xbf\xbd"
#define ELLIPSIS "\xe2\x80\xa6"

static bool test_plain_text_kept(void) {
	CHECK_SANITIZE("Terminal", 256, "Terminal");
	CHECK_SANITIZE("~/src: vim main.c (1/2) [+]", 256, "~/src: vim main.c (1/2) [+]");
	CHECK_SANITIZE("Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5\xe6\x9c\xac \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7",
		256, "Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5\xe6\x9c\xac \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7");
	CHECK_SANITIZE("\xf0\x9f\x98\x80 smile", 256, "\xf0\x9f\x98\x80 smile");
	CHECK_SANITIZE("\xf4\x8f\xbf\xbd", 256, "\xf4\x8f\xbf\xbd"); // U+10FFFD, private use
	CHECK_SANITIZE(FFFD, 256, FFFD); // a real U+FFFD stays
	return true;
}

static bool test_null_and_empty(void) {
	char *s = vd_title_sanitize(NULL, 256);
	CHECK_STR(s, "");
	free(s);
	CHECK_SANITIZE("", 256, "");
	CHECK_SANITIZE("abc", 0, "");
	return true;
}

static bool test_escape_sequences(void) {
	CHECK_SANITIZE("\x1b]0;evil\x07", 256, "]0;evil");
	CHECK_SANITIZE("a\x1b[31mred\x1b[0m", 256, "a[31mred[0m");
	CHECK_SANITIZE("a\x7f" "b", 256, "ab"); // DEL
	CHECK_SANITIZE("a\xc2\x9b" "31mb", 256, "a31mb"); // C1 CSI U+009B
	CHECK_SANITIZE("a\xc2\x9d" "0;x\xc2\x9c" "b", 256, "a0;xb"); // C1 OSC ... ST
	CHECK_SANITIZE("a\x01\x02\x03\x08\x1f" "b", 256, "ab");
	CHECK_SANITIZE("\xc2\x80\xc2\x9f", 256, "");
	return true;
}

static bool test_bidi_controls_removed(void) {
	CHECK_SANITIZE("\xe2\x80\xae" "gnp.exe", 256, "gnp.exe"); // U+202E
	static const uint32_t bidi[] = {
		0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067,
		0x2068, 0x2069,
	};
	for (size_t i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++) {
		char in[16];
		uint32_t cp = bidi[i];
		if (cp < 0x800) {
			snprintf(in, sizeof(in), "a%c%cb", 0xc0 | cp >> 6, 0x80 | (cp & 0x3f));
		} else {
			snprintf(in, sizeof(in), "a%c%c%cb", 0xe0 | cp >> 12, 0x80 | (cp >> 6 & 0x3f),
				0x80 | (cp & 0x3f));
		}
		CHECK(sanitize_is(in, 256, "ab"), "U+%04X was not removed", cp);
	}
	return true;
}

static void encode(uint32_t cp, char *out) {
	if (cp < 0x80) {
		out[0] = (char)cp;
		out[1] = '\0';
	} else if (cp < 0x800) {
		snprintf(out, 8, "%c%c", 0xc0 | cp >> 6, 0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		snprintf(out, 8, "%c%c%c", 0xe0 | cp >> 12, 0x80 | (cp >> 6 & 0x3f), 0x80 | (cp & 0x3f));
	} else {
		snprintf(out, 8, "%c%c%c%c", 0xf0 | cp >> 18, 0x80 | (cp >> 12 & 0x3f),
			0x80 | (cp >> 6 & 0x3f), 0x80 | (cp & 0x3f));
	}
}

static bool test_invisible_characters_removed(void) {
	static const uint32_t invisible[] = {
		0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff, 0x00ad,
		0x180e, 0x115f, 0x1160, 0x3164, 0xffa0, 0x034f, 0xfff9, 0xfffb, 0x1d173, 0xe0001,
		0xe0020, 0xe0041, 0xe007f, 0xfdd0, 0xfffe, 0xffff, 0x1fffe, 0x10ffff,
	};
	for (size_t i = 0; i < sizeof(invisible) / sizeof(invisible[0]); i++) {
		char ch[8], in[32];
		encode(invisible[i], ch);
		snprintf(in, sizeof(in), "a%sb%s", ch, ch);
		CHECK(sanitize_is(in, 256, "ab"), "U+%04X was not removed", invisible[i]);
	}
	/* a tag sequence spelling "host" after a flag emoji */
	CHECK_SANITIZE("x\xf3\xa0\x81\xa8\xf3\xa0\x81\xaf\xf3\xa0\x81\xb3\xf3\xa0\x81\xb4", 256, "x");
	return true;
}

static bool test_whitespace_collapsed(void) {
	CHECK_SANITIZE("  a \t\n b\xe2\x80\xa8" "c\xe3\x80\x80\xc2\xa0 d\xe2\x80\xa9  ", 256,
		"a b c d");
	CHECK_SANITIZE("a\r\n\r\nb", 256, "a b");
	CHECK_SANITIZE("a\xc2\x85" "b", 256, "a b"); // NEL
	CHECK_SANITIZE("a\xe2\x80\x8b \xe2\x80\x8b b", 256, "a b"); // ZWSP around a space
	CHECK_SANITIZE(" \t\n\xe2\x80\x83 ", 256, "");
	return true;
}

static bool test_invalid_utf8_replaced(void) {
	CHECK_SANITIZE("a\x80" "b", 256, "a" FFFD "b"); // lone continuation byte
	CHECK_SANITIZE("a\x80\xbf\xff\xfe" "b", 256, "a" FFFD "b"); // one run, one U+FFFD
	CHECK_SANITIZE("ho\xffst", 256, "ho" FFFD "st"); // never glued into "host"
	CHECK_SANITIZE("abc\xe2\x82", 256, "abc" FFFD); // truncated at the end
	CHECK_SANITIZE("abc\xf0\x9f\x98", 256, "abc" FFFD);
	CHECK_SANITIZE("abc\xc3", 256, "abc" FFFD);
	CHECK_SANITIZE("\xc0\xaf", 256, FFFD); // overlong '/'
	CHECK_SANITIZE("\xe0\x80\xaf", 256, FFFD); // overlong '/', 3 bytes
	CHECK_SANITIZE("\xf0\x80\x80\xaf", 256, FFFD); // overlong '/', 4 bytes
	CHECK_SANITIZE("a\xc0\x80" "b", 256, "a" FFFD "b"); // modified-UTF-8 NUL is no NUL
	CHECK_SANITIZE("\xed\xa0\x80", 256, FFFD); // surrogate U+D800
	CHECK_SANITIZE("\xed\xbf\xbf" "x", 256, FFFD "x"); // surrogate U+DFFF
	CHECK_SANITIZE("\xf4\x90\x80\x80", 256, FFFD); // U+110000
	CHECK_SANITIZE("\xf5\x80\x80\x80", 256, FFFD);
	CHECK_SANITIZE("\xf8\x88\x80\x80\x80", 256, FFFD); // 5-byte form
	CHECK_SANITIZE("\xe2\x82" "a", 256, FFFD "a"); // truncated in the middle
	CHECK_SANITIZE("\xe2\x80\xae\xff", 256, FFFD); // override then garbage
	return true;
}

static bool test_selectors_and_marks(void) {
	CHECK_SANITIZE("\xe2\x9d\xa4\xef\xb8\x8f", 256, "\xe2\x9d\xa4\xef\xb8\x8f"); // U+2764 U+FE0F
	CHECK_SANITIZE("\xef\xb8\x8f" "a", 256, "a"); // standalone selector
	CHECK_SANITIZE("a \xef\xb8\x8f" "b", 256, "a b");
	CHECK_SANITIZE("e\xcc\x81", 256, "e\xcc\x81"); // e + U+0301
	CHECK_SANITIZE("\xcc\x81" "abc", 256, "abc"); // a mark at the start
	CHECK_SANITIZE("a \xcc\x81" "b", 256, "a b"); // a mark after a space
	CHECK_SANITIZE("a\xe2\x80\x8b\xcc\x81", 256, "a\xcc\x81"); // through a removed ZWSP

	/* "Zalgo": at most VD_TITLE_MAX_MARKS non-spacing marks on a base */
	char zalgo[1 + 2 * 40 + 2];
	char want[1 + 2 * VD_TITLE_MAX_MARKS + 2];
	zalgo[0] = want[0] = 'a';
	for (int i = 0; i < 40; i++) {
		memcpy(zalgo + 1 + 2 * i, "\xcc\x81", 2);
	}
	strcpy(zalgo + 1 + 2 * 40, "b");
	for (int i = 0; i < VD_TITLE_MAX_MARKS; i++) {
		memcpy(want + 1 + 2 * i, "\xcc\x81", 2);
	}
	strcpy(want + 1 + 2 * VD_TITLE_MAX_MARKS, "b");
	CHECK_SANITIZE(zalgo, 256, want);
	return true;
}

static bool test_cut_on_boundary(void) {
	CHECK_SANITIZE("abcdef", 6, "abcdef");
	CHECK_SANITIZE("abcdefg", 6, "abc" ELLIPSIS);
	CHECK_SANITIZE("abcdef", 4, "a" ELLIPSIS);
	CHECK_SANITIZE("abcdef", 3, ELLIPSIS);
	CHECK_SANITIZE("abc", 2, "ab"); // no room for an ellipsis
	CHECK_SANITIZE("ab cdef", 6, "ab" ELLIPSIS); // not "ab " + ellipsis
	CHECK_SANITIZE("a bcdef", 5, "a" ELLIPSIS);
	/* two-byte characters: "é" x 5 = 10 bytes */
	const char *e5 = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	CHECK_SANITIZE(e5, 10, e5);
	CHECK_SANITIZE(e5, 9, "\xc3\xa9\xc3\xa9\xc3\xa9" ELLIPSIS);
	CHECK_SANITIZE(e5, 8, "\xc3\xa9\xc3\xa9" ELLIPSIS);
	CHECK_SANITIZE(e5, 7, "\xc3\xa9\xc3\xa9" ELLIPSIS);
	CHECK_SANITIZE(e5, 1, "");
	/* four-byte characters */
	CHECK_SANITIZE("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 7, "\xf0\x9f\x98\x80" ELLIPSIS);
	CHECK_SANITIZE("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 6, ELLIPSIS);
	CHECK_SANITIZE("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2, "");
	/* an invalid byte that becomes U+FFFD counts at its output size */
	CHECK_SANITIZE("ab\xff", 4, "a" ELLIPSIS);
	return true;
}

/* 10,000 characters of every width, and 10,000 pseudo-random bytes. */
static bool test_huge_titles(void) {
	static const char *units[] = { "a", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80",
		"e\xcc\x81", "\xe2\x80\xae", " \t", "\xff" };
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t unit_len = strlen(units[u]);
		char *in = malloc(10000 * unit_len + 1);
		CHECK(in != NULL, "out of memory");
		for (size_t i = 0; i < 10000; i++) {
			memcpy(in + i * unit_len, units[u], unit_len);
		}
		in[10000 * unit_len] = '\0';
		char *title = vd_title_format("work", in);
		char *plain = vd_title_sanitize(in, VD_TITLE_MAX_BYTES);
		free(in);
		CHECK(title != NULL && plain != NULL, "out of memory");
		bool ok = strlen(title) <= FORMAT_MAX && utf8_valid(title) &&
			strncmp(title, "[work]", 6) == 0 && strlen(plain) <= VD_TITLE_MAX_BYTES &&
			clean_problem(plain, VD_TITLE_MAX_BYTES) == NULL;
		size_t plain_len = strlen(plain);
		/* everything visible was cut: the result ends in the ellipsis */
		bool cut = u >= 5 || (plain_len >= VD_TITLE_MAX_BYTES - 8 &&
			strcmp(plain + plain_len - 3, ELLIPSIS) == 0);
		if (!ok || !cut) {
			printf("# unit %zu: %zu bytes, '%s'\n", u, strlen(title), title);
		}
		free(title);
		free(plain);
		CHECK(ok && cut, "10,000 x unit %zu", u);
	}

	char *in = malloc(10001);
	CHECK(in != NULL, "out of memory");
	uint32_t state = 12345;
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < 10000; i++) {
			state = state * 1103515245u + 12345u;
			in[i] = (char)((state >> 16) % 255 + 1);
		}
		in[10000] = '\0';
		for (size_t max = 0; max <= VD_TITLE_MAX_BYTES; max += 37) {
			char *out = vd_title_sanitize(in, max);
			CHECK(out != NULL, "out of memory");
			const char *problem = clean_problem(out, max);
			free(out);
			CHECK(problem == NULL, "random round %d, max %zu: %s", round, max, problem);
		}
	}
	free(in);
	return true;
}

static bool test_format(void) {
	char *s;
	s = vd_title_format("work", "Terminal");
	CHECK_STR(s, "[work] Terminal");
	free(s);
	s = vd_title_format("work", "");
	CHECK_STR(s, "[work]");
	free(s);
	s = vd_title_format("work", NULL);
	CHECK_STR(s, "[work]");
	free(s);
	s = vd_title_format("work", "  \t\n");
	CHECK_STR(s, "[work]");
	free(s);
	/* only invisible characters */
	s = vd_title_format("work", "\xe2\x80\x8b\xe2\x80\xae \xef\xbb\xbf\xe2\x81\xa6\xc2\xad\x1b");
	CHECK_STR(s, "[work]");
	free(s);
	s = vd_title_format("work", "\xef\xb8\x8f\xcc\x81");
	CHECK_STR(s, "[work]");
	free(s);
	return true;
}

static bool test_format_prefix_first(void) {
	char *s;
	s = vd_title_format("work", "[host] Password required");
	CHECK_STR(s, "[work] [host] Password required");
	free(s);
	s = vd_title_format("work", "[vault] Unlock");
	CHECK_STR(s, "[work] [vault] Unlock");
	free(s);
	/* tries to hide the real prefix or swap it with an RTL override */
	s = vd_title_format("work", "\xe2\x80\xae[tluav] x");
	CHECK_STR(s, "[work] [tluav] x");
	free(s);
	s = vd_title_format("work", "\r\n[vault]\xe2\x80\xa8x");
	CHECK_STR(s, "[work] [vault] x");
	free(s);
	s = vd_title_format("work", "\x1b[2K\r[host] root shell");
	CHECK_STR(s, "[work] [2K [host] root shell");
	free(s);
	/* the VM name is cleaned too */
	s = vd_title_format("wo\nrk", "x");
	CHECK_STR(s, "[wo rk] x");
	free(s);
	return true;
}

static bool test_app_id(void) {
	char *s;
	s = vd_app_id_format("work", "org.gnome.Terminal");
	CHECK_STR(s, "vmdesk.work.org.gnome.Terminal");
	free(s);
	s = vd_app_id_format("work", "foot");
	CHECK_STR(s, "vmdesk.work.foot");
	free(s);
	s = vd_app_id_format("work", NULL);
	CHECK_STR(s, "vmdesk.work");
	free(s);
	s = vd_app_id_format("work", "");
	CHECK_STR(s, "vmdesk.work");
	free(s);
	s = vd_app_id_format("work", "my app/../x_y-z");
	CHECK_STR(s, "vmdesk.work.my_app_.._x_y-z");
	free(s);
	s = vd_app_id_format("work", "caf\xc3\xa9\xf0\x9f\x98\x80!");
	CHECK_STR(s, "vmdesk.work.caf___"); // one '_' per character
	free(s);
	s = vd_app_id_format("work", "\xff\xfe\x1b\xe2\x80\xae");
	CHECK_STR(s, "vmdesk.work.____");
	free(s);
	/* a '.' in the VM name cannot make "vmdesk.work.x..." ambiguous */
	s = vd_app_id_format("work.x", "y");
	CHECK_STR(s, "vmdesk.work_x.y");
	free(s);
	s = vd_app_id_format("work", "vmdesk.host.settings");
	CHECK_STR(s, "vmdesk.work.vmdesk.host.settings");
	free(s);

	char long_id[10001];
	memset(long_id, 'a', 10000);
	long_id[10000] = '\0';
	s = vd_app_id_format("work", long_id);
	CHECK(s != NULL && strlen(s) == strlen("vmdesk.work.") + VD_APP_ID_MAX_BYTES,
		"long app_id: %zu bytes", s ? strlen(s) : 0);
	CHECK(strlen(s) <= APP_ID_MAX, "over the cap");
	free(s);
	return true;
}

static bool test_vm_name_valid(void) {
	static const char *good[] = { "work", "a", "work-2", "personal", "sys-net",
		"abcdefghijklmnopqrstuvwxyz012345" };
	static const char *bad[] = { "", "1work", "-a", ".a", "_a", "w\xc3\xb6rk", "a b", "a]",
		"a/b", "abcdefghijklmnopqrstuvwxyz0123456", "Work", "a.b", "a_b", "host" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(vd_title_vm_name_valid(good[i]), "'%s' refused", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!vd_title_vm_name_valid(bad[i]), "'%s' accepted", bad[i]);
	}
	CHECK(!vd_title_vm_name_valid(NULL), "NULL accepted");
	return true;
}

static double contrast(struct vd_color a, struct vd_color b) {
	double la = vd_color_luminance(a), lb = vd_color_luminance(b);
	return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

static bool is_black(struct vd_color c) {
	return c.r == 0 && c.g == 0 && c.b == 0;
}

static bool is_white(struct vd_color c) {
	return c.r == 0xff && c.g == 0xff && c.b == 0xff;
}

static bool test_text_color(void) {
	static const struct {
		const char *name;
		bool black_text;
	} cases[] = {
		{ "yellow", true }, { "green", true }, { "orange", true }, { "white", true },
		{ "#ffff00", true }, { "blue", false }, { "black", false }, { "red", false },
		{ "gray", false }, { "purple", false }, { "#0000ff", false }, { "navy", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vd_color bg;
		char err[128];
		CHECK(vd_color_parse(cases[i].name, &bg, err, sizeof(err)), "%s", err);
		struct vd_color text = vd_color_text_for(bg);
		CHECK(is_black(text) || is_white(text), "%s: neither black nor white", cases[i].name);
		CHECK(is_black(text) == cases[i].black_text, "%s: wrong text color", cases[i].name);
	}
	/* every gray level: the choice has the higher contrast ratio */
	for (int v = 0; v < 256; v++) {
		struct vd_color bg = { (uint8_t)v, (uint8_t)v, (uint8_t)v };
		struct vd_color text = vd_color_text_for(bg);
		struct vd_color other = is_black(text) ? (struct vd_color){ 0xff, 0xff, 0xff } :
			(struct vd_color){ 0, 0, 0 };
		CHECK(contrast(text, bg) >= contrast(other, bg), "gray %d", v);
	}
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_plain_text_kept),
	TAP_CASE(test_null_and_empty),
	TAP_CASE(test_escape_sequences),
	TAP_CASE(test_bidi_controls_removed),
	TAP_CASE(test_invisible_characters_removed),
	TAP_CASE(test_whitespace_collapsed),
	TAP_CASE(test_invalid_utf8_replaced),
	TAP_CASE(test_selectors_and_marks),
	TAP_CASE(test_cut_on_boundary),
	TAP_CASE(test_huge_titles),
	TAP_CASE(test_format),
	TAP_CASE(test_format_prefix_first),
	TAP_CASE(test_app_id),
	TAP_CASE(test_vm_name_valid),
	TAP_CASE(test_text_color),
};

TAP_MAIN(cases)
