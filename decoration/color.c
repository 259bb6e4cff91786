#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/color.h"

/*
 * VM colors. Everything here is ASCII-only and locale-independent: no
 * tolower(), isdigit() or strtol(), whose behaviour depends on the locale.
 */

/* Longer input is refused before anything else looks at it. */
#define COLOR_MAX_LENGTH 64
/* How much of the input an error message quotes. */
#define COLOR_QUOTE_MAX 32

struct named_color {
	const char *name;
	struct vd_color color;
};

/*
 * The CSS Color Module Level 4 named colors (148 names, sorted for bsearch),
 * except that the eight Qubes label names carry Qubes' label colors
 * (qubes-core-admin qubes/app.py). A VM colored "green" on Qubes looks the
 * same here.
 */
static const struct named_color named_colors[] = {
	{ "aliceblue", { 0xf0, 0xf8, 0xff } },
	{ "antiquewhite", { 0xfa, 0xeb, 0xd7 } },
	{ "aqua", { 0x00, 0xff, 0xff } },
	{ "aquamarine", { 0x7f, 0xff, 0xd4 } },
	{ "azure", { 0xf0, 0xff, 0xff } },
	{ "beige", { 0xf5, 0xf5, 0xdc } },
	{ "bisque", { 0xff, 0xe4, 0xc4 } },
	{ "black", { 0x00, 0x00, 0x00 } }, // Qubes label
	{ "blanchedalmond", { 0xff, 0xeb, 0xcd } },
	{ "blue", { 0x34, 0x65, 0xa4 } }, // Qubes label
	{ "blueviolet", { 0x8a, 0x2b, 0xe2 } },
	{ "brown", { 0xa5, 0x2a, 0x2a } },
	{ "burlywood", { 0xde, 0xb8, 0x87 } },
	{ "cadetblue", { 0x5f, 0x9e, 0xa0 } },
	{ "chartreuse", { 0x7f, 0xff, 0x00 } },
	{ "chocolate", { 0xd2, 0x69, 0x1e } },
	{ "coral", { 0xff, 0x7f, 0x50 } },
	{ "cornflowerblue", { 0x64, 0x95, 0xed } },
	{ "cornsilk", { 0xff, 0xf8, 0xdc } },
	{ "crimson", { 0xdc, 0x14, 0x3c } },
	{ "cyan", { 0x00, 0xff, 0xff } },
	{ "darkblue", { 0x00, 0x00, 0x8b } },
	{ "darkcyan", { 0x00, 0x8b, 0x8b } },
	{ "darkgoldenrod", { 0xb8, 0x86, 0x0b } },
	{ "darkgray", { 0xa9, 0xa9, 0xa9 } },
	{ "darkgreen", { 0x00, 0x64, 0x00 } },
	{ "darkgrey", { 0xa9, 0xa9, 0xa9 } },
	{ "darkkhaki", { 0xbd, 0xb7, 0x6b } },
	{ "darkmagenta", { 0x8b, 0x00, 0x8b } },
	{ "darkolivegreen", { 0x55, 0x6b, 0x2f } },
	{ "darkorange", { 0xff, 0x8c, 0x00 } },
	{ "darkorchid", { 0x99, 0x32, 0xcc } },
	{ "darkred", { 0x8b, 0x00, 0x00 } },
	{ "darksalmon", { 0xe9, 0x96, 0x7a } },
	{ "darkseagreen", { 0x8f, 0xbc, 0x8f } },
	{ "darkslateblue", { 0x48, 0x3d, 0x8b } },
	{ "darkslategray", { 0x2f, 0x4f, 0x4f } },
	{ "darkslategrey", { 0x2f, 0x4f, 0x4f } },
	{ "darkturquoise", { 0x00, 0xce, 0xd1 } },
	{ "darkviolet", { 0x94, 0x00, 0xd3 } },
	{ "deeppink", { 0xff, 0x14, 0x93 } },
	{ "deepskyblue", { 0x00, 0xbf, 0xff } },
	{ "dimgray", { 0x69, 0x69, 0x69 } },
	{ "dimgrey", { 0x69, 0x69, 0x69 } },
	{ "dodgerblue", { 0x1e, 0x90, 0xff } },
	{ "firebrick", { 0xb2, 0x22, 0x22 } },
	{ "floralwhite", { 0xff, 0xfa, 0xf0 } },
	{ "forestgreen", { 0x22, 0x8b, 0x22 } },
	{ "fuchsia", { 0xff, 0x00, 0xff } },
	{ "gainsboro", { 0xdc, 0xdc, 0xdc } },
	{ "ghostwhite", { 0xf8, 0xf8, 0xff } },
	{ "gold", { 0xff, 0xd7, 0x00 } },
	{ "goldenrod", { 0xda, 0xa5, 0x20 } },
	{ "gray", { 0x55, 0x55, 0x55 } }, // Qubes label
	{ "green", { 0x73, 0xd2, 0x16 } }, // Qubes label
	{ "greenyellow", { 0xad, 0xff, 0x2f } },
	{ "grey", { 0x80, 0x80, 0x80 } },
	{ "honeydew", { 0xf0, 0xff, 0xf0 } },
	{ "hotpink", { 0xff, 0x69, 0xb4 } },
	{ "indianred", { 0xcd, 0x5c, 0x5c } },
	{ "indigo", { 0x4b, 0x00, 0x82 } },
	{ "ivory", { 0xff, 0xff, 0xf0 } },
	{ "khaki", { 0xf0, 0xe6, 0x8c } },
	{ "lavender", { 0xe6, 0xe6, 0xfa } },
	{ "lavenderblush", { 0xff, 0xf0, 0xf5 } },
	{ "lawngreen", { 0x7c, 0xfc, 0x00 } },
	{ "lemonchiffon", { 0xff, 0xfa, 0xcd } },
	{ "lightblue", { 0xad, 0xd8, 0xe6 } },
	{ "lightcoral", { 0xf0, 0x80, 0x80 } },
	{ "lightcyan", { 0xe0, 0xff, 0xff } },
	{ "lightgoldenrodyellow", { 0xfa, 0xfa, 0xd2 } },
	{ "lightgray", { 0xd3, 0xd3, 0xd3 } },
	{ "lightgreen", { 0x90, 0xee, 0x90 } },
	{ "lightgrey", { 0xd3, 0xd3, 0xd3 } },
	{ "lightpink", { 0xff, 0xb6, 0xc1 } },
	{ "lightsalmon", { 0xff, 0xa0, 0x7a } },
	{ "lightseagreen", { 0x20, 0xb2, 0xaa } },
	{ "lightskyblue", { 0x87, 0xce, 0xfa } },
	{ "lightslategray", { 0x77, 0x88, 0x99 } },
	{ "lightslategrey", { 0x77, 0x88, 0x99 } },
	{ "lightsteelblue", { 0xb0, 0xc4, 0xde } },
	{ "lightyellow", { 0xff, 0xff, 0xe0 } },
	{ "lime", { 0x00, 0xff, 0x00 } },
	{ "limegreen", { 0x32, 0xcd, 0x32 } },
	{ "linen", { 0xfa, 0xf0, 0xe6 } },
	{ "magenta", { 0xff, 0x00, 0xff } },
	{ "maroon", { 0x80, 0x00, 0x00 } },
	{ "mediumaquamarine", { 0x66, 0xcd, 0xaa } },
	{ "mediumblue", { 0x00, 0x00, 0xcd } },
	{ "mediumorchid", { 0xba, 0x55, 0xd3 } },
	{ "mediumpurple", { 0x93, 0x70, 0xdb } },
	{ "mediumseagreen", { 0x3c, 0xb3, 0x71 } },
	{ "mediumslateblue", { 0x7b, 0x68, 0xee } },
	{ "mediumspringgreen", { 0x00, 0xfa, 0x9a } },
	{ "mediumturquoise", { 0x48, 0xd1, 0xcc } },
	{ "mediumvioletred", { 0xc7, 0x15, 0x85 } },
	{ "midnightblue", { 0x19, 0x19, 0x70 } },
	{ "mintcream", { 0xf5, 0xff, 0xfa } },
	{ "mistyrose", { 0xff, 0xe4, 0xe1 } },
	{ "moccasin", { 0xff, 0xe4, 0xb5 } },
	{ "navajowhite", { 0xff, 0xde, 0xad } },
	{ "navy", { 0x00, 0x00, 0x80 } },
	{ "oldlace", { 0xfd, 0xf5, 0xe6 } },
	{ "olive", { 0x80, 0x80, 0x00 } },
	{ "olivedrab", { 0x6b, 0x8e, 0x23 } },
	{ "orange", { 0xf5, 0x79, 0x00 } }, // Qubes label
	{ "orangered", { 0xff, 0x45, 0x00 } },
	{ "orchid", { 0xda, 0x70, 0xd6 } },
	{ "palegoldenrod", { 0xee, 0xe8, 0xaa } },
	{ "palegreen", { 0x98, 0xfb, 0x98 } },
	{ "paleturquoise", { 0xaf, 0xee, 0xee } },
	{ "palevioletred", { 0xdb, 0x70, 0x93 } },
	{ "papayawhip", { 0xff, 0xef, 0xd5 } },
	{ "peachpuff", { 0xff, 0xda, 0xb9 } },
	{ "peru", { 0xcd, 0x85, 0x3f } },
	{ "pink", { 0xff, 0xc0, 0xcb } },
	{ "plum", { 0xdd, 0xa0, 0xdd } },
	{ "powderblue", { 0xb0, 0xe0, 0xe6 } },
	{ "purple", { 0x75, 0x50, 0x7b } }, // Qubes label
	{ "rebeccapurple", { 0x66, 0x33, 0x99 } },
	{ "red", { 0xcc, 0x00, 0x00 } }, // Qubes label
	{ "rosybrown", { 0xbc, 0x8f, 0x8f } },
	{ "royalblue", { 0x41, 0x69, 0xe1 } },
	{ "saddlebrown", { 0x8b, 0x45, 0x13 } },
	{ "salmon", { 0xfa, 0x80, 0x72 } },
	{ "sandybrown", { 0xf4, 0xa4, 0x60 } },
	{ "seagreen", { 0x2e, 0x8b, 0x57 } },
	{ "seashell", { 0xff, 0xf5, 0xee } },
	{ "sienna", { 0xa0, 0x52, 0x2d } },
	{ "silver", { 0xc0, 0xc0, 0xc0 } },
	{ "skyblue", { 0x87, 0xce, 0xeb } },
	{ "slateblue", { 0x6a, 0x5a, 0xcd } },
	{ "slategray", { 0x70, 0x80, 0x90 } },
	{ "slategrey", { 0x70, 0x80, 0x90 } },
	{ "snow", { 0xff, 0xfa, 0xfa } },
	{ "springgreen", { 0x00, 0xff, 0x7f } },
	{ "steelblue", { 0x46, 0x82, 0xb4 } },
	{ "tan", { 0xd2, 0xb4, 0x8c } },
	{ "teal", { 0x00, 0x80, 0x80 } },
	{ "thistle", { 0xd8, 0xbf, 0xd8 } },
	{ "tomato", { 0xff, 0x63, 0x47 } },
	{ "turquoise", { 0x40, 0xe0, 0xd0 } },
	{ "violet", { 0xee, 0x82, 0xee } },
	{ "wheat", { 0xf5, 0xde, 0xb3 } },
	{ "white", { 0xff, 0xff, 0xff } },
	{ "whitesmoke", { 0xf5, 0xf5, 0xf5 } },
	{ "yellow", { 0xed, 0xd4, 0x00 } }, // Qubes label
	{ "yellowgreen", { 0x9a, 0xcd, 0x32 } },
};

#define NAMED_COLOR_COUNT (sizeof(named_colors) / sizeof(named_colors[0]))
/* "lightgoldenrodyellow" */
#define NAMED_COLOR_MAX_LENGTH 20

static char ascii_lower(char c) {
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_is_alpha(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ascii_is_digit(char c) {
	return c >= '0' && c <= '9';
}

static int hex_value(char c) {
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = ascii_lower(c);
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

static bool starts_with_nocase(const char *str, const char *prefix) {
	for (; *prefix != '\0'; str++, prefix++) {
		if (ascii_lower(*str) != *prefix) {
			return false;
		}
	}
	return true;
}

/* Copies len bytes of str into out for an error message: printable ASCII as
 * is, anything else as \xNN, cut with "..." when long. */
static void quote(char *out, size_t out_size, const char *str, size_t len) {
	size_t n = 0;
	size_t i;
	for (i = 0; i < len && i < COLOR_QUOTE_MAX && n + 5 < out_size; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c >= 0x20 && c < 0x7f) {
			out[n++] = (char)c;
		} else {
			n += (size_t)snprintf(out + n, out_size - n, "\\x%02x", c);
		}
	}
	if (i < len && n + 4 <= out_size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

#define QUOTE_SIZE (COLOR_QUOTE_MAX * 4 + 4)

static int compare_named(const void *key, const void *elem) {
	const struct named_color *color = elem;
	return strcmp(key, color->name);
}

static bool parse_name(const char *str, size_t len, struct vd_color *color,
		char *err, size_t err_size) {
	char lower[NAMED_COLOR_MAX_LENGTH + 1];
	const struct named_color *found = NULL;
	if (len <= NAMED_COLOR_MAX_LENGTH) {
		bool letters = true;
		for (size_t i = 0; i < len; i++) {
			letters = letters && ascii_is_alpha(str[i]);
			lower[i] = ascii_lower(str[i]);
		}
		lower[len] = '\0';
		if (letters) {
			found = bsearch(lower, named_colors, NAMED_COLOR_COUNT,
				sizeof(named_colors[0]), compare_named);
		}
	}
	if (found == NULL) {
		char q[QUOTE_SIZE];
		quote(q, sizeof(q), str, len);
		snprintf(err, err_size, "unknown color name '%s'", q);
		return false;
	}
	*color = found->color;
	return true;
}

static bool parse_hex(const char *str, size_t len, struct vd_color *color,
		char *err, size_t err_size) {
	char q[QUOTE_SIZE];
	size_t digits = len - 1;
	if (digits != 3 && digits != 6) {
		quote(q, sizeof(q), str, len);
		snprintf(err, err_size, "'%s' is not #rgb or #rrggbb", q);
		return false;
	}
	int v[6];
	for (size_t i = 0; i < digits; i++) {
		v[i] = hex_value(str[1 + i]);
		if (v[i] < 0) {
			quote(q, sizeof(q), str, len);
			char c[8];
			quote(c, sizeof(c), &str[1 + i], 1);
			snprintf(err, err_size,
				"'%s' is not #rgb or #rrggbb: '%s' is not a hex digit", q, c);
			return false;
		}
	}
	if (digits == 3) {
		color->r = (uint8_t)(v[0] * 17);
		color->g = (uint8_t)(v[1] * 17);
		color->b = (uint8_t)(v[2] * 17);
	} else {
		color->r = (uint8_t)(v[0] << 4 | v[1]);
		color->g = (uint8_t)(v[2] << 4 | v[3]);
		color->b = (uint8_t)(v[4] << 4 | v[5]);
	}
	return true;
}

static const char *skip_spaces(const char *p) {
	while (*p == ' ' || *p == '\t') {
		p++;
	}
	return p;
}

/* Parses one rgb() component at *pos: an optionally signed decimal integer. */
static bool parse_component(const char **pos, int index, uint8_t *value,
		char *err, size_t err_size) {
	const char *p = skip_spaces(*pos);
	const char *start = p;
	bool negative = false;
	if (*p == '-' || *p == '+') {
		negative = *p == '-';
		p++;
	}
	const char *digits = p;
	unsigned long v = 0;
	while (ascii_is_digit(*p)) {
		if (v <= 255) {
			v = v * 10 + (unsigned long)(*p - '0');
		}
		p++;
	}
	const char *end = p;
	char q[QUOTE_SIZE];
	if (end == start && (*p == ',' || *p == ')' || *p == '\0')) {
		snprintf(err, err_size, "rgb() component %d is empty", index + 1);
		return false;
	}
	if (end == digits || (*p != ',' && *p != ')' && *p != ' ' && *p != '\t' && *p != '\0')) {
		/* quote the whole token, up to the next separator */
		while (*end != '\0' && *end != ',' && *end != ')') {
			end++;
		}
		quote(q, sizeof(q), start, (size_t)(end - start));
		snprintf(err, err_size, "rgb() component '%s' is not an integer 0-255", q);
		return false;
	}
	if (negative || v > 255) {
		quote(q, sizeof(q), start, (size_t)(end - start));
		snprintf(err, err_size, "rgb() component %s out of range 0-255", q);
		return false;
	}
	*value = (uint8_t)v;
	*pos = skip_spaces(p);
	return true;
}

static bool parse_rgb(const char *str, struct vd_color *color, char *err, size_t err_size) {
	const char *p = str + strlen("rgb(");
	uint8_t v[3];
	int count = 0;
	for (;;) {
		if (count == 3) {
			snprintf(err, err_size, "rgb() has more than 3 components");
			return false;
		}
		if (!parse_component(&p, count, &v[count], err, err_size)) {
			return false;
		}
		count++;
		if (*p == ')') {
			break;
		}
		if (*p == '\0') {
			snprintf(err, err_size, "rgb() is missing its closing ')'");
			return false;
		}
		if (*p != ',') {
			char q[QUOTE_SIZE];
			quote(q, sizeof(q), p, strlen(p));
			snprintf(err, err_size,
				"rgb() expected ',' or ')' after component %d, got '%s'", count, q);
			return false;
		}
		p++;
	}
	if (count != 3) {
		snprintf(err, err_size, "rgb() has %d component%s, expected 3", count,
			count == 1 ? "" : "s");
		return false;
	}
	p++; // ')'
	if (*p != '\0') {
		char q[QUOTE_SIZE];
		quote(q, sizeof(q), p, strlen(p));
		snprintf(err, err_size, "unexpected '%s' after rgb()", q);
		return false;
	}
	color->r = v[0];
	color->g = v[1];
	color->b = v[2];
	return true;
}

bool vd_color_parse(const char *str, struct vd_color *color, char *err, size_t err_size) {
	if (str == NULL || str[0] == '\0') {
		snprintf(err, err_size, "empty color");
		return false;
	}
	size_t len = strnlen(str, COLOR_MAX_LENGTH + 1);
	if (len > COLOR_MAX_LENGTH) {
		snprintf(err, err_size, "color is longer than %d characters", COLOR_MAX_LENGTH);
		return false;
	}
	struct vd_color parsed;
	bool ok;
	if (str[0] == '#') {
		ok = parse_hex(str, len, &parsed, err, err_size);
	} else if (starts_with_nocase(str, "rgb(")) {
		ok = parse_rgb(str, &parsed, err, err_size);
	} else {
		ok = parse_name(str, len, &parsed, err, err_size);
	}
	if (ok) {
		*color = parsed;
	}
	return ok;
}

/* The sRGB transfer function for every 8-bit value: c / 12.92 up to
 * c = 0.04045, ((c + 0.055) / 1.055) ^ 2.4 above (IEC 61966-2-1; WCAG's
 * 0.03928 threshold gives the same values for 8-bit input). A table keeps
 * libm out of the link; tests/unit/test-color.c checks it against pow(). */
static const double srgb_to_linear[256] = {
	0, 0.00030352698354883752, 0.00060705396709767503, 0.00091058095064651249,
	0.0012141079341953501, 0.0015176349177441874, 0.001821161901293025, 0.0021246888848418626,
	0.0024282158683907001, 0.0027317428519395373, 0.0030352698354883748, 0.0033465357638991608,
	0.0036765073240474359, 0.0040247170184963066, 0.0043914420374102934, 0.0047769534806937292,
	0.005181516702338386, 0.0056053916242027229, 0.0060488330228570539, 0.0065120907925944752,
	0.0069954101872653869, 0.0074990320432261753, 0.0080231929853849943, 0.0085681256180693069,
	0.0091340587022207872, 0.0097212173202378491, 0.010329823029626936, 0.010960094006488246,
	0.011612245179743885, 0.012286488356915872, 0.012983032342173012, 0.013702083047289686,
	0.014443843596092545, 0.015208514422912709, 0.015996293365509631, 0.016807375752887384,
	0.017641954488384078, 0.018500220128379697, 0.019382360956935723, 0.020288563056652401,
	0.021219010376003555, 0.022173884793387381, 0.02315336617811041, 0.024157632448504756,
	0.02518685962736163, 0.026241221894849898, 0.027320891639074894, 0.028426039504420793,
	0.0295568344378088, 0.030713443732993635, 0.031896033073011532, 0.033104766570885055,
	0.03433980680868217, 0.035601314875020343, 0.036889450401100039, 0.038204371595346502,
	0.039546235276732837, 0.040915196906853191, 0.042311410620809675, 0.043735029256973465,
	0.045186204385675541, 0.046665086336880095, 0.048171824226889419, 0.049706565984127232,
	0.051269458374043238, 0.052860647023180246, 0.054480276442442369, 0.056128490049600091,
	0.057805430191067229, 0.059511238162981199, 0.061246054231617608, 0.063010017653167674,
	0.064803266692905773, 0.066625938643772892, 0.068478169844400166, 0.070360095696595876,
	0.072271850682317479, 0.074213568380149628, 0.076185381481307851, 0.078187421805186327,
	0.080219820314468324, 0.082282707129814794, 0.084376211544148816, 0.086500462036549763,
	0.088655586285772942, 0.090841711183407683, 0.093058962846687451, 0.095307466630964705,
	0.097587347141862457, 0.099898728247113891, 0.10224173308810132, 0.10461648409110419,
	0.10702310297826761, 0.10946171077829933, 0.1119324278369056, 0.11443537382697373,
	0.11697066775851084, 0.11953842798834562, 0.12213877222960187, 0.12477181756095049,
	0.12743768043564743, 0.13013647669036429, 0.13286832155381798, 0.13563332965520566,
	0.13843161503245183, 0.14126329114027164, 0.14412847085805777, 0.14702726649759498,
	0.14995978981060856, 0.15292615199615017, 0.1559264637078274, 0.15896083506088041,
	0.16202937563911099, 0.16513219450166761, 0.16826940018969075, 0.17144110073282259,
	0.17464740365558504, 0.17788841598362912, 0.18116424424986022, 0.184474994500441,
	0.18782077230067787, 0.19120168274079138, 0.1946178304415758, 0.19806931955994886,
	0.20155625379439707, 0.20507873639031693, 0.20863687014525575, 0.21223075741405523,
	0.21586050011389926, 0.21952619972926921, 0.2232279573168085, 0.22696587351009836,
	0.23074004852434915, 0.23455058216100522, 0.238397573812271, 0.24228112246555486,
	0.24620132670783548, 0.25015828472995344, 0.25415209433082675, 0.25818285292159582,
	0.26225065752969623, 0.26635560480286247, 0.27049779101306581, 0.27467731206038465,
	0.2788942634768104, 0.28314874042999211, 0.28744083772691748, 0.29177064981753587,
	0.29613827079832111, 0.3005437944157765, 0.30498731406988627, 0.30946892281750854,
	0.31398871337571754, 0.31854677812509186, 0.32314320911295075, 0.32777809805654218,
	0.33245153634617935, 0.33716361504833037, 0.34191442490866092, 0.3467040563550296,
	0.35153259950043936, 0.35640014414594351, 0.3613067797835095, 0.36625259559883949,
	0.37123768047414912, 0.3762621229909065, 0.38132601143253014, 0.38642943378704903,
	0.39157247774972326, 0.39675523072562685, 0.40197777983219579, 0.4072402119017367,
	0.41254261348390375, 0.41788507084813747, 0.42326766998607168, 0.42869049661390662,
	0.43415363617474895, 0.43965717384091879, 0.44520119451622786, 0.45078578283822346,
	0.45641102318040466, 0.46207699965440707, 0.46778379611215898, 0.47353149614800955,
	0.4793201831008268, 0.48514994005607037, 0.49102084984783562, 0.49693299506087041,
	0.50288645803256871, 0.50888132085493376, 0.51491766537652139, 0.5209955732043543,
	0.52711512570581309, 0.53327640401050524, 0.53947948901210718, 0.5457244613701866,
	0.55201140151200012, 0.55834038963426791, 0.56471150570492923, 0.57112482946487308,
	0.57758044042965062, 0.5840784178911641, 0.59061884091933692, 0.59720178836376336,
	0.60382733885533779, 0.61049557080786476, 0.61720656241965111, 0.62396039167507611,
	0.63075713634614683, 0.63759687399403264, 0.64447968197058214, 0.65140563741982416,
	0.65837481727944847, 0.66538729828227205, 0.67244315695768753, 0.67954246963309384,
	0.6866853124353135, 0.69387176129198991, 0.70110189193297312, 0.70837577989168676,
	0.71569350050648073, 0.72305512892196933, 0.73046074009035367, 0.73791040877273084,
	0.74540420954038744, 0.75294221677607787, 0.76052450467529242, 0.76815114724750699,
	0.7758222183174236, 0.78353779152619352, 0.79129794033263023, 0.79910273801440901,
	0.8069522576692516, 0.81484657221610124, 0.82278575439628354, 0.83076987677465464,
	0.83879901174074001, 0.84687323150985805, 0.85499260812423383, 0.86315721345410235,
	0.87136711919879717, 0.87962239688783173, 0.88792311788196632, 0.89626935337426639,
	0.90466117439114957, 0.9130986517934192, 0.92158185627729461, 0.93011085837542373,
	0.938685728457888, 0.94730653673319987, 0.95597335324928612, 0.96468624789446511,
	0.97344529039841254, 0.98225055033311715, 0.99110209711382979, 1,
};

double vd_color_luminance(struct vd_color color) {
	return 0.2126 * srgb_to_linear[color.r] + 0.7152 * srgb_to_linear[color.g] +
		0.0722 * srgb_to_linear[color.b];
}
