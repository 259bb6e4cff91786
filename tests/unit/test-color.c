#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/color.h"
#include "tests/unit/tap.h"

struct expected_color {
	const char *name;
	uint32_t rgb;
};

/* CSS Color Module Level 4, section 6.1 "Named Colors", as published. The
 * eight Qubes label names are overridden in test_qubes_labels. */
static const struct expected_color css_colors[] = {
	{ "aliceblue", 0xf0f8ff },
	{ "antiquewhite", 0xfaebd7 },
	{ "aqua", 0x00ffff },
	{ "aquamarine", 0x7fffd4 },
	{ "azure", 0xf0ffff },
	{ "beige", 0xf5f5dc },
	{ "bisque", 0xffe4c4 },
	{ "black", 0x000000 },
	{ "blanchedalmond", 0xffebcd },
	{ "blue", 0x0000ff },
	{ "blueviolet", 0x8a2be2 },
	{ "brown", 0xa52a2a },
	{ "burlywood", 0xdeb887 },
	{ "cadetblue", 0x5f9ea0 },
	{ "chartreuse", 0x7fff00 },
	{ "chocolate", 0xd2691e },
	{ "coral", 0xff7f50 },
	{ "cornflowerblue", 0x6495ed },
	{ "cornsilk", 0xfff8dc },
	{ "crimson", 0xdc143c },
	{ "cyan", 0x00ffff },
	{ "darkblue", 0x00008b },
	{ "darkcyan", 0x008b8b },
	{ "darkgoldenrod", 0xb8860b },
	{ "darkgray", 0xa9a9a9 },
	{ "darkgreen", 0x006400 },
	{ "darkgrey", 0xa9a9a9 },
	{ "darkkhaki", 0xbdb76b },
	{ "darkmagenta", 0x8b008b },
	{ "darkolivegreen", 0x556b2f },
	{ "darkorange", 0xff8c00 },
	{ "darkorchid", 0x9932cc },
	{ "darkred", 0x8b0000 },
	{ "darksalmon", 0xe9967a },
	{ "darkseagreen", 0x8fbc8f },
	{ "darkslateblue", 0x483d8b },
	{ "darkslategray", 0x2f4f4f },
	{ "darkslategrey", 0x2f4f4f },
	{ "darkturquoise", 0x00ced1 },
	{ "darkviolet", 0x9400d3 },
	{ "deeppink", 0xff1493 },
	{ "deepskyblue", 0x00bfff },
	{ "dimgray", 0x696969 },
	{ "dimgrey", 0x696969 },
	{ "dodgerblue", 0x1e90ff },
	{ "firebrick", 0xb22222 },
	{ "floralwhite", 0xfffaf0 },
	{ "forestgreen", 0x228b22 },
	{ "fuchsia", 0xff00ff },
	{ "gainsboro", 0xdcdcdc },
	{ "ghostwhite", 0xf8f8ff },
	{ "gold", 0xffd700 },
	{ "goldenrod", 0xdaa520 },
	{ "gray", 0x808080 },
	{ "green", 0x008000 },
	{ "greenyellow", 0xadff2f },
	{ "grey", 0x808080 },
	{ "honeydew", 0xf0fff0 },
	{ "hotpink", 0xff69b4 },
	{ "indianred", 0xcd5c5c },
	{ "indigo", 0x4b0082 },
	{ "ivory", 0xfffff0 },
	{ "khaki", 0xf0e68c },
	{ "lavender", 0xe6e6fa },
	{ "lavenderblush", 0xfff0f5 },
	{ "lawngreen", 0x7cfc00 },
	{ "lemonchiffon", 0xfffacd },
	{ "lightblue", 0xadd8e6 },
	{ "lightcoral", 0xf08080 },
	{ "lightcyan", 0xe0ffff },
	{ "lightgoldenrodyellow", 0xfafad2 },
	{ "lightgray", 0xd3d3d3 },
	{ "lightgreen", 0x90ee90 },
	{ "lightgrey", 0xd3d3d3 },
	{ "lightpink", 0xffb6c1 },
	{ "lightsalmon", 0xffa07a },
	{ "lightseagreen", 0x20b2aa },
	{ "lightskyblue", 0x87cefa },
	{ "lightslategray", 0x778899 },
	{ "lightslategrey", 0x778899 },
	{ "lightsteelblue", 0xb0c4de },
	{ "lightyellow", 0xffffe0 },
	{ "lime", 0x00ff00 },
	{ "limegreen", 0x32cd32 },
	{ "linen", 0xfaf0e6 },
	{ "magenta", 0xff00ff },
	{ "maroon", 0x800000 },
	{ "mediumaquamarine", 0x66cdaa },
	{ "mediumblue", 0x0000cd },
	{ "mediumorchid", 0xba55d3 },
	{ "mediumpurple", 0x9370db },
	{ "mediumseagreen", 0x3cb371 },
	{ "mediumslateblue", 0x7b68ee },
	{ "mediumspringgreen", 0x00fa9a },
	{ "mediumturquoise", 0x48d1cc },
	{ "mediumvioletred", 0xc71585 },
	{ "midnightblue", 0x191970 },
	{ "mintcream", 0xf5fffa },
	{ "mistyrose", 0xffe4e1 },
	{ "moccasin", 0xffe4b5 },
	{ "navajowhite", 0xffdead },
	{ "navy", 0x000080 },
	{ "oldlace", 0xfdf5e6 },
	{ "olive", 0x808000 },
	{ "olivedrab", 0x6b8e23 },
	{ "orange", 0xffa500 },
	{ "orangered", 0xff4500 },
	{ "orchid", 0xda70d6 },
	{ "palegoldenrod", 0xeee8aa },
	{ "palegreen", 0x98fb98 },
	{ "paleturquoise", 0xafeeee },
	{ "palevioletred", 0xdb7093 },
	{ "papayawhip", 0xffefd5 },
	{ "peachpuff", 0xffdab9 },
	{ "peru", 0xcd853f },
	{ "pink", 0xffc0cb },
	{ "plum", 0xdda0dd },
	{ "powderblue", 0xb0e0e6 },
	{ "purple", 0x800080 },
	{ "rebeccapurple", 0x663399 },
	{ "red", 0xff0000 },
	{ "rosybrown", 0xbc8f8f },
	{ "royalblue", 0x4169e1 },
	{ "saddlebrown", 0x8b4513 },
	{ "salmon", 0xfa8072 },
	{ "sandybrown", 0xf4a460 },
	{ "seagreen", 0x2e8b57 },
	{ "seashell", 0xfff5ee },
	{ "sienna", 0xa0522d },
	{ "silver", 0xc0c0c0 },
	{ "skyblue", 0x87ceeb },
	{ "slateblue", 0x6a5acd },
	{ "slategray", 0x708090 },
	{ "slategrey", 0x708090 },
	{ "snow", 0xfffafa },
	{ "springgreen", 0x00ff7f },
	{ "steelblue", 0x4682b4 },
	{ "tan", 0xd2b48c },
	{ "teal", 0x008080 },
	{ "thistle", 0xd8bfd8 },
	{ "tomato", 0xff6347 },
	{ "turquoise", 0x40e0d0 },
	{ "violet", 0xee82ee },
	{ "wheat", 0xf5deb3 },
	{ "white", 0xffffff },
	{ "whitesmoke", 0xf5f5f5 },
	{ "yellow", 0xffff00 },
	{ "yellowgreen", 0x9acd32 },
};

/* qubes-core-admin qubes/app.py default labels */
static const struct expected_color qubes_labels[] = {
	{ "red", 0xcc0000 },
	{ "orange", 0xf57900 },
	{ "yellow", 0xedd400 },
	{ "green", 0x73d216 },
	{ "gray", 0x555555 },
	{ "blue", 0x3465a4 },
	{ "purple", 0x75507b },
	{ "black", 0x000000 },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t pack(struct vd_color c) {
	return (uint32_t)c.r << 16 | (uint32_t)c.g << 8 | c.b;
}

/* Parses str, which must succeed with the value want. */
static bool parses_to(const char *str, uint32_t want) {
	char err[256] = "";
	struct vd_color c = { 1, 2, 3 };
	CHECK(vd_color_parse(str, &c, err, sizeof(err)), "'%s' refused: %s", str, err);
	CHECK(pack(c) == want, "'%s' gave #%06x, want #%06x", str, pack(c), want);
	return true;
}

/* Parses str, which must fail with exactly the message want and leave the
 * color untouched. */
static bool fails_with(const char *str, const char *want) {
	char err[256] = "";
	struct vd_color c = { 1, 2, 3 };
	CHECK(!vd_color_parse(str, &c, err, sizeof(err)), "'%s' accepted as #%06x", str,
		pack(c));
	CHECK(strcmp(err, want) == 0, "'%s': got error \"%s\", want \"%s\"", str, err, want);
	CHECK(c.r == 1 && c.g == 2 && c.b == 3, "'%s': color changed on failure", str);
	return true;
}

static const struct expected_color *find_label(const char *name) {
	for (size_t i = 0; i < ARRAY_LEN(qubes_labels); i++) {
		if (strcmp(qubes_labels[i].name, name) == 0) {
			return &qubes_labels[i];
		}
	}
	return NULL;
}

static bool test_qubes_labels(void) {
	for (size_t i = 0; i < ARRAY_LEN(qubes_labels); i++) {
		if (!parses_to(qubes_labels[i].name, qubes_labels[i].rgb)) {
			return false;
		}
	}
	return true;
}

static bool test_css_named_colors(void) {
	CHECK(ARRAY_LEN(css_colors) == 148, "the CSS list has 148 names");
	size_t checked = 0;
	for (size_t i = 0; i < ARRAY_LEN(css_colors); i++) {
		const struct expected_color *label = find_label(css_colors[i].name);
		uint32_t want = label != NULL ? label->rgb : css_colors[i].rgb;
		if (!parses_to(css_colors[i].name, want)) {
			return false;
		}
		checked++;
	}
	CHECK(checked == 148, "checked %zu names", checked);
	return true;
}

/* Where X11 and CSS disagree, CSS wins except for the Qubes label names. */
static bool test_css_over_x11(void) {
	return parses_to("maroon", 0x800000) && parses_to("grey", 0x808080) &&
		parses_to("darkgray", 0xa9a9a9) && parses_to("rebeccapurple", 0x663399) &&
		parses_to("gray", 0x555555) && parses_to("purple", 0x75507b) &&
		parses_to("green", 0x73d216);
}

static bool test_names_case_insensitive(void) {
	return parses_to("RED", 0xcc0000) && parses_to("Red", 0xcc0000) &&
		parses_to("rEd", 0xcc0000) && parses_to("AliceBlue", 0xf0f8ff) &&
		parses_to("LIGHTGOLDENRODYELLOW", 0xfafad2) && parses_to("GrAy", 0x555555);
}

static bool test_hex(void) {
	return parses_to("#000", 0x000000) && parses_to("#fff", 0xffffff) &&
		parses_to("#abc", 0xaabbcc) && parses_to("#123456", 0x123456) &&
		parses_to("#ABCDEF", 0xabcdef) && parses_to("#aBcDeF", 0xabcdef) &&
		parses_to("#09f", 0x0099ff) && parses_to("#000000", 0x000000);
}

static bool test_rgb(void) {
	return parses_to("rgb(1,2,3)", 0x010203) &&
		parses_to("rgb(0,0,0)", 0x000000) &&
		parses_to("rgb(255,255,255)", 0xffffff) &&
		parses_to("rgb( 18 , 52 ,86 )", 0x123456) &&
		parses_to("rgb(\t1,\t2,\t3\t)", 0x010203) &&
		parses_to("RGB(1,2,3)", 0x010203) &&
		parses_to("Rgb(1,2,3)", 0x010203) &&
		parses_to("rgb(+1,002,0255)", 0x0102ff);
}

static bool test_length_cap(void) {
	/* 64 characters is the limit: "rgb(1,2,3" + 54 spaces + ")" */
	char str[128];
	strcpy(str, "rgb(1,2,3");
	memset(str + 9, ' ', 54);
	strcpy(str + 63, ")");
	CHECK(strlen(str) == 64, "built %zu characters", strlen(str));
	if (!parses_to(str, 0x010203)) {
		return false;
	}
	strcpy(str, "rgb(1,2,3");
	memset(str + 9, ' ', 55);
	strcpy(str + 64, ")");
	CHECK(strlen(str) == 65, "built %zu characters", strlen(str));
	return fails_with(str, "color is longer than 64 characters");
}

static bool test_very_long_input(void) {
	size_t len = 10000;
	char *str = malloc(len + 1);
	CHECK(str != NULL, "malloc");
	memset(str, 'a', len);
	str[len] = '\0';
	bool ok = fails_with(str, "color is longer than 64 characters");
	str[0] = '#';
	ok = ok && fails_with(str, "color is longer than 64 characters");
	memcpy(str, "rgb(", 4);
	ok = ok && fails_with(str, "color is longer than 64 characters");
	free(str);
	return ok;
}

static bool test_empty(void) {
	char err[64] = "";
	struct vd_color c;
	CHECK(!vd_color_parse(NULL, &c, err, sizeof(err)), "NULL accepted");
	CHECK_STR(err, "empty color");
	return fails_with("", "empty color");
}

static bool test_unknown_names(void) {
	return fails_with("foo", "unknown color name 'foo'") &&
		fails_with("transparent", "unknown color name 'transparent'") &&
		fails_with("currentcolor", "unknown color name 'currentcolor'") &&
		fails_with("rgb", "unknown color name 'rgb'") &&
		fails_with(" red", "unknown color name ' red'") &&
		fails_with("red ", "unknown color name 'red '") &&
		fails_with("red\n", "unknown color name 'red\\x0a'") &&
		fails_with("r\x01" "ed", "unknown color name 'r\\x01ed'") &&
		fails_with("r\xc3\xa9" "d", "unknown color name 'r\\xc3\\xa9d'") &&
		fails_with("lightgoldenrodyellowx", "unknown color name 'lightgoldenrodyellowx'") &&
		fails_with("light blue", "unknown color name 'light blue'") &&
		fails_with("0", "unknown color name '0'") &&
		fails_with("rgba(1,2,3,4)", "unknown color name 'rgba(1,2,3,4)'") &&
		fails_with("hsl(0,0%,0%)", "unknown color name 'hsl(0,0%,0%)'");
}

static bool test_long_name_is_quoted_short(void) {
	return fails_with("abcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
		"unknown color name 'abcdefghijklmnopqrstuvwxyzabcdef...'");
}

static bool test_hex_errors(void) {
	return fails_with("#", "'#' is not #rgb or #rrggbb") &&
		fails_with("#1", "'#1' is not #rgb or #rrggbb") &&
		fails_with("#12", "'#12' is not #rgb or #rrggbb") &&
		fails_with("#1234", "'#1234' is not #rgb or #rrggbb") &&
		fails_with("#12345", "'#12345' is not #rgb or #rrggbb") &&
		fails_with("#1234567", "'#1234567' is not #rgb or #rrggbb") &&
		fails_with("#12345678", "'#12345678' is not #rgb or #rrggbb") &&
		fails_with("#ggg", "'#ggg' is not #rgb or #rrggbb: 'g' is not a hex digit") &&
		fails_with("#12345z", "'#12345z' is not #rgb or #rrggbb: 'z' is not a hex digit") &&
		fails_with("# 12", "'# 12' is not #rgb or #rrggbb: ' ' is not a hex digit") &&
		fails_with("#-12", "'#-12' is not #rgb or #rrggbb: '-' is not a hex digit") &&
		fails_with("#\xff" "12",
			"'#\\xff12' is not #rgb or #rrggbb: '\\xff' is not a hex digit") &&
		fails_with("##12", "'##12' is not #rgb or #rrggbb: '#' is not a hex digit") &&
		fails_with("0x123456", "unknown color name '0x123456'");
}

static bool test_rgb_errors(void) {
	return fails_with("rgb(300,0,0)", "rgb() component 300 out of range 0-255") &&
		fails_with("rgb(0,256,0)", "rgb() component 256 out of range 0-255") &&
		fails_with("rgb(-1,0,0)", "rgb() component -1 out of range 0-255") &&
		fails_with("rgb(-0,0,0)", "rgb() component -0 out of range 0-255") &&
		fails_with("rgb(99999999999999999999,0,0)",
			"rgb() component 99999999999999999999 out of range 0-255") &&
		fails_with("rgb(1,2)", "rgb() has 2 components, expected 3") &&
		fails_with("rgb(1)", "rgb() has 1 component, expected 3") &&
		fails_with("rgb(1,2,3,4)", "rgb() has more than 3 components") &&
		fails_with("rgb(1,2,3,)", "rgb() has more than 3 components") &&
		fails_with("rgb()", "rgb() component 1 is empty") &&
		fails_with("rgb(", "rgb() component 1 is empty") &&
		fails_with("rgb(1,,3)", "rgb() component 2 is empty") &&
		fails_with("rgb(1, ,3)", "rgb() component 2 is empty") &&
		fails_with("rgb(1,2,3", "rgb() is missing its closing ')'") &&
		fails_with("rgb(1,2,3 ", "rgb() is missing its closing ')'") &&
		fails_with("rgb(1 2 3)",
			"rgb() expected ',' or ')' after component 1, got '2 3)'") &&
		fails_with("rgb(1;2;3)", "rgb() component '1;2;3' is not an integer 0-255") &&
		fails_with("rgb(1.5,2,3)", "rgb() component '1.5' is not an integer 0-255") &&
		fails_with("rgb(50%,2,3)", "rgb() component '50%' is not an integer 0-255") &&
		fails_with("rgb(0x10,2,3)", "rgb() component '0x10' is not an integer 0-255") &&
		fails_with("rgb(a,2,3)", "rgb() component 'a' is not an integer 0-255") &&
		fails_with("rgb(-,2,3)", "rgb() component '-' is not an integer 0-255") &&
		fails_with("rgb(1,2,3))", "unexpected ')' after rgb()") &&
		fails_with("rgb(1,2,3) ", "unexpected ' ' after rgb()") &&
		fails_with("rgb (1,2,3)", "unknown color name 'rgb (1,2,3)'");
}

static bool test_small_error_buffer(void) {
	char err[8];
	memset(err, 'x', sizeof(err));
	struct vd_color c;
	CHECK(!vd_color_parse("nosuchcolor", &c, err, sizeof(err)), "accepted");
	CHECK(memchr(err, '\0', sizeof(err)) != NULL, "error not NUL-terminated");
	CHECK_STR(err, "unknown");
	CHECK(!vd_color_parse("nosuchcolor", &c, NULL, 0), "accepted without an error buffer");
	return true;
}

static double expected_linear(uint8_t v) {
	double c = v / 255.0;
	return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

/* Grays have luminance == the transfer function, since the weights sum to 1. */
static bool test_luminance_transfer_table(void) {
	for (int v = 0; v < 256; v++) {
		struct vd_color gray = { (uint8_t)v, (uint8_t)v, (uint8_t)v };
		double got = vd_color_luminance(gray);
		double want = expected_linear((uint8_t)v);
		CHECK(fabs(got - want) < 1e-12, "gray %d: %.17g, want %.17g", v, got, want);
	}
	return true;
}

static bool test_luminance_weights(void) {
	struct { struct vd_color c; double want; } cases[] = {
		{ { 0, 0, 0 }, 0.0 },
		{ { 255, 255, 255 }, 1.0 },
		{ { 255, 0, 0 }, 0.2126 },
		{ { 0, 255, 0 }, 0.7152 },
		{ { 0, 0, 255 }, 0.0722 },
		/* Qubes red #cc0000 */
		{ { 0xcc, 0, 0 }, 0.2126 * expected_linear(0xcc) },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		double got = vd_color_luminance(cases[i].c);
		CHECK(fabs(got - cases[i].want) < 1e-12, "#%06x: %.17g, want %.17g",
			pack(cases[i].c), got, cases[i].want);
	}
	return true;
}

/* WCAG: black on white has the maximal contrast ratio 21:1. */
static bool test_luminance_contrast(void) {
	double white = vd_color_luminance((struct vd_color){ 255, 255, 255 });
	double black = vd_color_luminance((struct vd_color){ 0, 0, 0 });
	double ratio = (white + 0.05) / (black + 0.05);
	CHECK(fabs(ratio - 21.0) < 1e-9, "ratio %.17g", ratio);
	/* a dark label wants light title text and a light one dark text */
	struct vd_color c;
	char err[64];
	CHECK(vd_color_parse("black", &c, err, sizeof(err)), "%s", err);
	CHECK(vd_color_luminance(c) < 0.179, "black is dark");
	CHECK(vd_color_parse("yellow", &c, err, sizeof(err)), "%s", err);
	CHECK(vd_color_luminance(c) > 0.179, "Qubes yellow is light: %f", vd_color_luminance(c));
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_qubes_labels),
	TAP_CASE(test_css_named_colors),
	TAP_CASE(test_css_over_x11),
	TAP_CASE(test_names_case_insensitive),
	TAP_CASE(test_hex),
	TAP_CASE(test_rgb),
	TAP_CASE(test_length_cap),
	TAP_CASE(test_very_long_input),
	TAP_CASE(test_empty),
	TAP_CASE(test_unknown_names),
	TAP_CASE(test_long_name_is_quoted_short),
	TAP_CASE(test_hex_errors),
	TAP_CASE(test_rgb_errors),
	TAP_CASE(test_small_error_buffer),
	TAP_CASE(test_luminance_transfer_table),
	TAP_CASE(test_luminance_weights),
	TAP_CASE(test_luminance_contrast),
};

TAP_MAIN(cases)
