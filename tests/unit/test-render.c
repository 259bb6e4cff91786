#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/color.h"
#include "decoration/render.h"
#include "decoration/title.h"
#include "tests/unit/tap.h"

/*
 * Frame geometry and pixels: the four strips tile the frame exactly; a title
 * strip is opaque, has the VM color on its edges and text drawn in the color
 * vd_color_text_for picks; nothing in a title can change the pixels of the
 * VM name. Fonts: whatever fontconfig's "sans" is on this machine, so the
 * checks count pixels rather than compare images.
 */

/* Qubes' green and blue labels and yellow */
static const struct vd_color green = { 0x73, 0xd2, 0x16 };
static const struct vd_color blue = { 0x34, 0x65, 0xa4 };
static const struct vd_color yellow = { 0xed, 0xd4, 0x00 };
static const struct vd_color black = { 0, 0, 0 };

struct image {
	uint32_t *pixels;
	int width, height, stride;
};

static bool image_init(struct image *img, int width, int height) {
	img->width = width;
	img->height = height;
	img->stride = vd_frame_stride(width);
	img->pixels = img->stride > 0 ? malloc((size_t)img->stride * (size_t)height) : NULL;
	if (img->pixels != NULL) {
		memset(img->pixels, 0x5a, (size_t)img->stride * (size_t)height);
	}
	return img->pixels != NULL;
}

static uint32_t pixel(const struct image *img, int x, int y) {
	return img->pixels[(size_t)y * (size_t)(img->stride / 4) + (size_t)x];
}

static uint32_t argb(struct vd_color c) {
	return 0xff000000u | (uint32_t)c.r << 16 | (uint32_t)c.g << 8 | c.b;
}

static bool render(struct image *img, struct vd_color color, const char *vm, const char *title) {
	return vd_frame_render_title(img->pixels, img->width, img->height, img->stride, 1, color,
		vm, title);
}

/* Pixels equal to value in columns [x0, x1). */
static int count_in_columns(const struct image *img, int x0, int x1, uint32_t value) {
	int count = 0;
	for (int y = 0; y < img->height; y++) {
		for (int x = x0; x < x1; x++) {
			count += pixel(img, x, y) == value;
		}
	}
	return count;
}

/* The last column holding a pixel other than background, or -1. */
static int last_ink_column(const struct image *img, uint32_t background) {
	for (int x = img->width - 1; x >= 0; x--) {
		for (int y = 0; y < img->height; y++) {
			if (pixel(img, x, y) != background) {
				return x;
			}
		}
	}
	return -1;
}

static bool rect_equal(struct vd_frame_rect r, int x, int y, int w, int h) {
	return r.x == x && r.y == y && r.width == w && r.height == h;
}

#define CHECK_RECT(r, want_x, want_y, want_w, want_h) \
	CHECK(rect_equal((r), (want_x), (want_y), (want_w), (want_h)), \
		"%s is %d,%d %dx%d, want %d,%d %dx%d", #r, (r).x, (r).y, (r).width, (r).height, \
		(want_x), (want_y), (want_w), (want_h))

static bool test_layout_toplevel(void) {
	struct vd_frame_style style = VD_FRAME_STYLE_TOPLEVEL;
	struct vd_frame_rect r[VD_FRAME_PART_COUNT];
	vd_frame_layout(&style, 640, 480, r);
	CHECK_RECT(r[VD_FRAME_TOP], -4, -24, 644, 24);
	CHECK_RECT(r[VD_FRAME_CORNER], 640, -24, 4, 24);
	CHECK_RECT(r[VD_FRAME_LEFT], -4, 0, 4, 480);
	CHECK_RECT(r[VD_FRAME_RIGHT], 640, 0, 4, 484);
	CHECK_RECT(r[VD_FRAME_BOTTOM], -4, 480, 644, 4);
	/* no part wider or taller than the window plus one border (sway's clip) */
	for (int i = 0; i < VD_FRAME_PART_COUNT; i++) {
		CHECK(r[i].width <= 644 && r[i].height <= 484, "part %d is %dx%d", i, r[i].width,
			r[i].height);
	}
	struct vd_frame_extents ext = vd_frame_extents(&style);
	CHECK(ext.left == 4 && ext.top == 24 && ext.right == 4 && ext.bottom == 4,
		"extents %d %d %d %d", ext.left, ext.top, ext.right, ext.bottom);
	return true;
}

static bool test_layout_popup(void) {
	struct vd_frame_style style = VD_FRAME_STYLE_POPUP;
	struct vd_frame_rect r[VD_FRAME_PART_COUNT];
	vd_frame_layout(&style, 200, 100, r);
	CHECK_RECT(r[VD_FRAME_TOP], -2, -2, 202, 2);
	CHECK_RECT(r[VD_FRAME_CORNER], 200, -2, 2, 2);
	CHECK_RECT(r[VD_FRAME_LEFT], -2, 0, 2, 100);
	CHECK_RECT(r[VD_FRAME_RIGHT], 200, 0, 2, 102);
	CHECK_RECT(r[VD_FRAME_BOTTOM], -2, 100, 202, 2);
	return true;
}

static bool test_layout_clamped(void) {
	struct vd_frame_rect r[VD_FRAME_PART_COUNT];
	struct vd_frame_style style = VD_FRAME_STYLE_TOPLEVEL;
	vd_frame_layout(&style, -5, -1, r);
	CHECK_RECT(r[VD_FRAME_TOP], -4, -24, 4, 24);
	CHECK_RECT(r[VD_FRAME_LEFT], -4, 0, 4, 0);
	CHECK_RECT(r[VD_FRAME_BOTTOM], -4, 0, 4, 4);
	vd_frame_layout(&style, 1 << 30, 1 << 30, r);
	CHECK_RECT(r[VD_FRAME_TOP], -4, -24, VD_FRAME_MAX_SIZE + 4, 24);
	CHECK_RECT(r[VD_FRAME_RIGHT], VD_FRAME_MAX_SIZE, 0, 4, VD_FRAME_MAX_SIZE + 4);
	/* a title lower than the border becomes the border; negatives become 0 */
	style = (struct vd_frame_style){ .border = 10, .title_height = 3 };
	vd_frame_layout(&style, 10, 10, r);
	CHECK_RECT(r[VD_FRAME_TOP], -10, -10, 20, 10);
	style = (struct vd_frame_style){ .border = -3, .title_height = 100000 };
	vd_frame_layout(&style, 10, 10, r);
	CHECK_RECT(r[VD_FRAME_TOP], 0, -256, 10, 256);
	CHECK_RECT(r[VD_FRAME_LEFT], 0, 0, 0, 10);
	return true;
}

/* The strips cover the frame (outer rectangle minus the window) exactly
 * once, for many sizes and styles. */
static bool test_layout_tiles_frame(void) {
	static const struct vd_frame_style styles[] = { { 4, 24 }, { 2, 2 }, { 0, 24 }, { 7, 7 },
		{ 1, 30 } };
	static const int sizes[][2] = { { 1, 1 }, { 3, 17 }, { 40, 2 }, { 64, 48 } };
	for (size_t s = 0; s < sizeof(styles) / sizeof(styles[0]); s++) {
		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			int w = sizes[z][0], h = sizes[z][1];
			struct vd_frame_rect r[VD_FRAME_PART_COUNT];
			vd_frame_layout(&styles[s], w, h, r);
			int b = styles[s].border, t = styles[s].title_height;
			for (int y = -t - 1; y <= h + b; y++) {
				for (int x = -b - 1; x <= w + b; x++) {
					int covered = 0;
					for (int i = 0; i < VD_FRAME_PART_COUNT; i++) {
						covered += x >= r[i].x && x < r[i].x + r[i].width &&
							y >= r[i].y && y < r[i].y + r[i].height;
					}
					bool in_window = x >= 0 && x < w && y >= 0 && y < h;
					bool in_outer = x >= -b && x < w + b && y >= -t && y < h + b;
					int want = in_outer && !in_window ? 1 : 0;
					CHECK(covered == want, "style %zu size %dx%d: (%d,%d) covered %d times",
						s, w, h, x, y, covered);
				}
			}
		}
	}
	return true;
}

static bool test_stride(void) {
	CHECK(vd_frame_stride(1) == 4, "%d", vd_frame_stride(1));
	CHECK(vd_frame_stride(1928) == 1928 * 4, "%d", vd_frame_stride(1928));
	CHECK(vd_frame_stride(0) == -1, "0");
	CHECK(vd_frame_stride(-1) == -1, "-1");
	CHECK(vd_frame_stride(VD_FRAME_MAX_SIZE * VD_FRAME_MAX_SCALE + 1) == -1, "too wide");
	return true;
}

static bool untouched(const struct image *img) {
	const unsigned char *bytes = (const unsigned char *)img->pixels;
	for (size_t i = 0; i < (size_t)img->stride * (size_t)img->height; i++) {
		if (bytes[i] != 0x5a) {
			return false;
		}
	}
	return true;
}

static bool test_render_refuses_nonsense(void) {
	struct image img;
	CHECK(image_init(&img, 64, 24), "out of memory");
	bool ok = true;
	ok = ok && !vd_frame_render_title(NULL, 64, 24, img.stride, 1, green, "vm", "t");
	ok = ok && !vd_frame_render_title(img.pixels, 64, 24, img.stride + 4, 1, green, "vm", "t");
	ok = ok && !vd_frame_render_title(img.pixels, 64, 24, img.stride - 4, 1, green, "vm", "t");
	ok = ok && !vd_frame_render_title(img.pixels, 0, 24, img.stride, 1, green, "vm", "t");
	ok = ok && !vd_frame_render_title(img.pixels, 64, 0, img.stride, 1, green, "vm", "t");
	ok = ok && !vd_frame_render_title(img.pixels, 64, -24, img.stride, 1, green, "vm", "t");
	ok = ok && !vd_frame_render_title(img.pixels, 64, 24, img.stride, 0, green, "vm", "t");
	ok = ok && !vd_frame_render_title(img.pixels, 64, 24, img.stride,
		VD_FRAME_MAX_SCALE + 1, green, "vm", "t");
	ok = ok && !vd_frame_render_title((uint32_t *)((char *)img.pixels + 1), 16, 4, 64, 1,
		green, "vm", "t");
	ok = ok && !vd_frame_render_solid(img.pixels, 64, 24, img.stride + 4, green);
	ok = ok && !vd_frame_render_solid(NULL, 64, 24, img.stride, green);
	ok = ok && !vd_frame_render_solid(img.pixels, 64, -1, img.stride, green);
	bool clean = untouched(&img);
	free(img.pixels);
	CHECK(ok, "nonsense accepted");
	CHECK(clean, "a refused call wrote pixels");
	return true;
}

static bool test_render_solid(void) {
	struct image img;
	CHECK(image_init(&img, 37, 5), "out of memory");
	bool drawn = vd_frame_render_solid(img.pixels, img.width, img.height, img.stride, blue);
	int count = count_in_columns(&img, 0, img.width, argb(blue));
	free(img.pixels);
	CHECK(drawn, "a valid solid strip refused");
	CHECK(count == 37 * 5, "%d pixels of %d are blue", count, 37 * 5);
	return true;
}

/* A title strip: opaque, VM color on its edges and in the right padding,
 * text pixels in the text color. */
static bool check_strip(struct vd_color color, struct vd_color text_color, int width,
		int height, int scale, const char *title) {
	struct image img;
	CHECK(image_init(&img, width, height), "out of memory");
	bool rendered = vd_frame_render_title(img.pixels, width, height, img.stride, scale, color,
		"work", title);
	uint32_t bg = argb(color);
	uint32_t fg = argb(text_color);
	int opaque = 0, edges = 0, edge_count = 0;
	for (int y = 0; y < height; y++) {
		for (int x = 0; x < width; x++) {
			opaque += pixel(&img, x, y) >> 24 == 0xff;
			if (x == 0 || y == 0 || x == width - 1 || y == height - 1) {
				edge_count++;
				edges += pixel(&img, x, y) == bg;
			}
		}
	}
	int text = count_in_columns(&img, 0, width, fg);
	int right_padding = count_in_columns(&img, width - 4 * scale, width, bg);
	int ink_end = last_ink_column(&img, bg);
	free(img.pixels);
	CHECK(rendered, "render failed");
	CHECK(opaque == width * height, "%d of %d pixels opaque", opaque, width * height);
	CHECK(edges == edge_count, "%d of %d edge pixels in the VM color", edges, edge_count);
	CHECK(text >= 20 * scale * scale, "only %d pixels in the text color", text);
	CHECK(right_padding == 4 * scale * height, "text in the right padding");
	CHECK(ink_end < width - 4 * scale, "ink up to column %d of %d", ink_end, width);
	return true;
}

static bool test_render_title_green(void) {
	CHECK(vd_color_text_for(green).r == 0, "green wants black text");
	return check_strip(green, black, 400, 24, 1, "Terminal");
}

static bool test_render_title_text_colors(void) {
	struct vd_color white = { 0xff, 0xff, 0xff };
	CHECK(check_strip(yellow, black, 300, 24, 1, "yellow"), "yellow: black text");
	CHECK(check_strip(blue, white, 300, 24, 1, "blue"), "blue: white text");
	CHECK(check_strip(black, white, 300, 24, 1, "black"), "black: white text");
	return true;
}

static bool test_render_title_long_is_ellipsized(void) {
	char title[4001];
	for (int i = 0; i < 4000; i++) {
		title[i] = "abcdefghij WXYZ "[i % 16];
	}
	title[4000] = '\0';
	CHECK(check_strip(green, black, 300, 24, 1, title), "long title");
	CHECK(check_strip(green, black, 120, 24, 1, title), "long title, narrow strip");
	return true;
}

static bool test_render_title_scaled(void) {
	return check_strip(blue, (struct vd_color){ 0xff, 0xff, 0xff }, 800, 48, 2, "scaled");
}

/* Strips too small for text are still filled. */
static bool test_render_tiny(void) {
	struct image img;
	CHECK(image_init(&img, 3, 2), "out of memory");
	bool ok = render(&img, green, "work", "title");
	int count = count_in_columns(&img, 0, 3, argb(green));
	free(img.pixels);
	CHECK(ok, "render failed");
	CHECK(count == 6, "%d of 6 pixels green", count);
	return true;
}

/*
 * The VM name's pixels are the same whatever the title: no override, mark
 * pile, right-to-left text or fake prefix reaches into them. And each title
 * did draw something (so the comparison is not vacuous).
 */
static bool test_title_cannot_touch_label(void) {
	static const char *titles[] = {
		"Terminal",
		"\xe2\x80\xae\x65xe.gnp", // U+202E "exe.gnp"
		"\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xd8\xa8\xd8\xa7\xd9\x84\xd8\xb9\xd8\xa7\xd9\x84\xd9\x85",
		"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d [host]",
		"a\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81",
		"\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87",
		"\xea\xa7\x81\xea\xa7\x81\xea\xa7\x81",
		"[host] \xf0\x9f\x98\x80\xf0\x9f\x98\x80",
		"\x1b[8m\x1b]0;x\x07\xff\xfe",
	};
	struct image ref, img;
	CHECK(image_init(&ref, 500, 24) && image_init(&img, 500, 24), "out of memory");
	CHECK(render(&ref, blue, "work", ""), "render failed");
	uint32_t bg = argb(blue);
	int label_end = last_ink_column(&ref, bg);
	bool ok = label_end > 8 && label_end < 120;
	for (size_t i = 0; ok && i < sizeof(titles) / sizeof(titles[0]); i++) {
		ok = render(&img, blue, "work", titles[i]);
		for (int y = 0; ok && y < 24; y++) {
			for (int x = 0; ok && x <= label_end + 2; x++) {
				ok = pixel(&img, x, y) == pixel(&ref, x, y);
			}
		}
		ok = ok && last_ink_column(&img, bg) > label_end + 4;
		if (!ok) {
			printf("# title %zu changed the label or drew nothing\n", i);
		}
	}
	free(ref.pixels);
	free(img.pixels);
	CHECK(ok, "label end %d", label_end);
	return true;
}

/* An empty or invisible title draws the VM name only; the same as "". */
static bool test_invisible_title_draws_label_only(void) {
	struct image a, b;
	CHECK(image_init(&a, 300, 24) && image_init(&b, 300, 24), "out of memory");
	bool ok = render(&a, green, "work", NULL) &&
		render(&b, green, "work", "\xe2\x80\x8b\xe2\x80\xae \t\xef\xbb\xbf");
	bool same = memcmp(a.pixels, b.pixels, (size_t)a.stride * 24) == 0;
	int text = count_in_columns(&a, 0, 300, argb(black));
	free(a.pixels);
	free(b.pixels);
	CHECK(ok, "render failed");
	CHECK(same, "an invisible title drew something");
	CHECK(text > 20, "no VM name drawn");
	return true;
}

/* CJK titles (issue 13, item 15): the quickstart installs a CJK font, and
 * pango finds a glyph for every character (no boxes with code points). */
static bool test_render_title_cjk(void) {
	struct image img;
	CHECK(image_init(&img, 900, 24), "out of memory");
	const char *titles[] = {
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x82\xbf\xe3\x82\xa4\xe3\x83\x88\xe3\x83\xab", // 日本語のタイトル
		"\xe4\xb8\xad\xe6\x96\x87\xe6\xa0\x87\xe9\xa2\x98", // 中文标题
		"\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xec\xa0\x9c\xeb\xaa\xa9", // 한국어 제목
	};
	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
		bool drawn = render(&img, green, "work", titles[i]);
		int unknown = vd_frame_render_unknown_glyphs();
		if (!drawn || unknown != 0) {
			free(img.pixels);
			CHECK(drawn, "title %zu not drawn", i);
			CHECK(unknown == 0, "title %zu: %d glyphs without a font (install a CJK font: "
				"fonts-wqy-microhei)", i, unknown);
		}
	}
	/* the check can fail: a private-use character has no glyph */
	render(&img, green, "work", "\xf3\xb0\x80\x80");
	int unknown = vd_frame_render_unknown_glyphs();
	free(img.pixels);
	CHECK(unknown > 0, "a character without any font counted no unknown glyph");
	return true;
}

static bool test_cleanup(void) {
	/* render again after freeing the cache: it is rebuilt, with or without
	 * vd_frame_render_init */
	vd_frame_render_finish();
	CHECK(check_strip(green, black, 200, 24, 1, "again"), "rebuilt on demand");
	vd_frame_render_finish();
	CHECK(vd_frame_render_init(), "init failed");
	CHECK(vd_frame_render_init(), "second init failed");
	CHECK(check_strip(blue, (struct vd_color){ 0xff, 0xff, 0xff }, 200, 24, 1, "after init"),
		"after init");
	vd_frame_render_finish();
	vd_frame_render_finish();
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_layout_toplevel),
	TAP_CASE(test_layout_popup),
	TAP_CASE(test_layout_clamped),
	TAP_CASE(test_layout_tiles_frame),
	TAP_CASE(test_stride),
	TAP_CASE(test_render_refuses_nonsense),
	TAP_CASE(test_render_solid),
	TAP_CASE(test_render_title_green),
	TAP_CASE(test_render_title_text_colors),
	TAP_CASE(test_render_title_long_is_ellipsized),
	TAP_CASE(test_render_title_scaled),
	TAP_CASE(test_render_tiny),
	TAP_CASE(test_render_title_cjk),
	TAP_CASE(test_title_cannot_touch_label),
	TAP_CASE(test_invisible_title_draws_label_only),
	TAP_CASE(test_cleanup),
};

TAP_MAIN(cases)
