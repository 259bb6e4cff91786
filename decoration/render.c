#include <cairo.h>
#include <pango/pangocairo.h>
#include <stdint.h>
#include <stdlib.h>

#define LOG_TAG "decoration"
#include "decoration/render.h"
#include "decoration/title.h"
#include "protocols/log.h"

/*
 * Frame strips. Text goes through pango and cairo: pango shapes every script
 * (HarfBuzz), handles bidi and finds fallback fonts through fontconfig, so a
 * title in Arabic, Devanagari or with emoji is drawn right, the way GTK
 * draws it in the VM. The font is the fontconfig family "sans", whichever
 * file that resolves to on the host.
 */

/* Styles are clamped to this so that a misconfigured style cannot make
 * absurd strips. */
#define STYLE_MAX 256
/* Title text size is this fraction of the strip height: 14 px in 24 px. */
#define TEXT_SIZE_NUM 7
#define TEXT_SIZE_DEN 12
/* Logical pixels left of the VM name and between it and the title. */
#define TEXT_PADDING 8
#define TEXT_GAP 8
#define FONT_FAMILY "sans"

/* One per process: building a pango context and loading fonts costs far more
 * than drawing a strip. Not thread-safe, like the rest of the proxy. */
static struct {
	int unknown_glyphs; // in the last strip drawn
	PangoFontMap *font_map;
	PangoContext *context;
	PangoLayout *label;
	PangoLayout *title;
	PangoFontDescription *label_font;
	PangoFontDescription *title_font;
} text_cache;

static int clamp(int value, int min, int max) {
	return value < min ? min : value > max ? max : value;
}

struct vd_frame_extents vd_frame_extents(const struct vd_frame_style *style) {
	int border = clamp(style->border, 0, STYLE_MAX);
	int title = clamp(style->title_height, border, STYLE_MAX);
	return (struct vd_frame_extents){
		.left = border,
		.top = title,
		.right = border,
		.bottom = border,
	};
}

void vd_frame_layout(const struct vd_frame_style *style, int width, int height,
		struct vd_frame_rect out[VD_FRAME_PART_COUNT]) {
	struct vd_frame_extents ext = vd_frame_extents(style);
	width = clamp(width, 0, VD_FRAME_MAX_SIZE);
	height = clamp(height, 0, VD_FRAME_MAX_SIZE);
	/*
	 * No part is wider than the window plus one border, nor taller than it
	 * plus one border: sway 1.7 clips each surface of a tiled window to
	 * the window's size less the geometry offset, which would cut a strip
	 * spanning the whole frame. Five parts cover the frame without that.
	 */
	out[VD_FRAME_TOP] = (struct vd_frame_rect){ -ext.left, -ext.top, ext.left + width, ext.top };
	out[VD_FRAME_CORNER] = (struct vd_frame_rect){ width, -ext.top, ext.right, ext.top };
	out[VD_FRAME_LEFT] = (struct vd_frame_rect){ -ext.left, 0, ext.left, height };
	out[VD_FRAME_RIGHT] = (struct vd_frame_rect){ width, 0, ext.right, height + ext.bottom };
	out[VD_FRAME_BOTTOM] = (struct vd_frame_rect){ -ext.left, height, ext.left + width,
		ext.bottom };
}

int vd_frame_stride(int width) {
	if (width < 1 || width > VD_FRAME_MAX_SIZE * VD_FRAME_MAX_SCALE) {
		return -1;
	}
	return cairo_format_stride_for_width(CAIRO_FORMAT_ARGB32, width);
}

static bool buffer_valid(const uint32_t *pixels, int width, int height, int stride_bytes) {
	return pixels != NULL && (uintptr_t)pixels % sizeof(uint32_t) == 0 &&
		height >= 1 && height <= VD_FRAME_MAX_SIZE * VD_FRAME_MAX_SCALE &&
		vd_frame_stride(width) > 0 && stride_bytes == vd_frame_stride(width);
}

static uint32_t argb(struct vd_color color) {
	return 0xff000000u | (uint32_t)color.r << 16 | (uint32_t)color.g << 8 | color.b;
}

bool vd_frame_render_solid(uint32_t *pixels, int width, int height, int stride_bytes,
		struct vd_color color) {
	if (!buffer_valid(pixels, width, height, stride_bytes)) {
		return false;
	}
	uint32_t value = argb(color);
	for (int y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)((char *)pixels + (size_t)y * (size_t)stride_bytes);
		for (int x = 0; x < width; x++) {
			row[x] = value;
		}
	}
	return true;
}

void vd_frame_render_finish(void) {
	if (text_cache.label != NULL) {
		g_object_unref(text_cache.label);
	}
	if (text_cache.title != NULL) {
		g_object_unref(text_cache.title);
	}
	if (text_cache.context != NULL) {
		g_object_unref(text_cache.context);
	}
	if (text_cache.font_map != NULL) {
		g_object_unref(text_cache.font_map);
	}
	pango_font_description_free(text_cache.label_font);
	pango_font_description_free(text_cache.title_font);
	text_cache.label = NULL;
	text_cache.title = NULL;
	text_cache.context = NULL;
	text_cache.font_map = NULL;
	text_cache.label_font = NULL;
	text_cache.title_font = NULL;
}

static PangoLayout *layout_create(PangoContext *context) {
	PangoLayout *layout = pango_layout_new(context);
	/* Left to right whatever the text: a right-to-left title is reordered
	 * inside its own area, never moved to the other end of the strip. */
	pango_layout_set_auto_dir(layout, FALSE);
	pango_layout_set_single_paragraph_mode(layout, TRUE);
	pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
	pango_layout_set_alignment(layout, PANGO_ALIGN_LEFT);
	return layout;
}

static bool text_cache_init(void) {
	if (text_cache.context != NULL) {
		return true;
	}
	text_cache.font_map = pango_cairo_font_map_new_for_font_type(CAIRO_FONT_TYPE_FT);
	if (text_cache.font_map == NULL) {
		text_cache.font_map = pango_cairo_font_map_new();
	}
	text_cache.context = pango_font_map_create_context(text_cache.font_map);
	if (text_cache.context == NULL) {
		vd_log(VD_ERROR, "cannot create a pango context");
		vd_frame_render_finish();
		return false;
	}
	/* Grayscale antialiasing: the strip may be scaled or rotated by the
	 * compositor, where subpixel colors would fringe. */
	cairo_font_options_t *options = cairo_font_options_create();
	cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
	cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_SLIGHT);
	cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_ON);
	pango_cairo_context_set_font_options(text_cache.context, options);
	cairo_font_options_destroy(options);
	pango_context_set_base_dir(text_cache.context, PANGO_DIRECTION_LTR);

	text_cache.label_font = pango_font_description_new();
	pango_font_description_set_family_static(text_cache.label_font, FONT_FAMILY);
	pango_font_description_set_weight(text_cache.label_font, PANGO_WEIGHT_BOLD);
	text_cache.title_font = pango_font_description_copy_static(text_cache.label_font);
	pango_font_description_set_weight(text_cache.title_font, PANGO_WEIGHT_NORMAL);

	text_cache.label = layout_create(text_cache.context);
	text_cache.title = layout_create(text_cache.context);
	return true;
}

bool vd_frame_render_init(void) {
	if (!text_cache_init()) {
		return false;
	}
	/* Laying out a sample loads the fonts a title strip needs. */
	PangoRectangle logical;
	pango_font_description_set_absolute_size(text_cache.label_font,
		(double)VD_FRAME_TITLE_HEIGHT * TEXT_SIZE_NUM / TEXT_SIZE_DEN * PANGO_SCALE);
	pango_layout_set_font_description(text_cache.label, text_cache.label_font);
	pango_layout_set_text(text_cache.label, "[vm] Title", -1);
	pango_layout_get_pixel_extents(text_cache.label, NULL, &logical);
	pango_font_description_set_absolute_size(text_cache.title_font,
		(double)VD_FRAME_TITLE_HEIGHT * TEXT_SIZE_NUM / TEXT_SIZE_DEN * PANGO_SCALE);
	pango_layout_set_font_description(text_cache.title, text_cache.title_font);
	pango_layout_set_text(text_cache.title, "[vm] Title", -1);
	pango_layout_get_pixel_extents(text_cache.title, NULL, &logical);
	return true;
}

/* Sets text, font size and width of a layout; returns its logical width in
 * pixels (at most max_width), its height in *height and its baseline in
 * *baseline. */
static int layout_prepare(PangoLayout *layout, PangoFontDescription *font, int size_px,
		const char *text, int max_width, int *height, int *baseline) {
	pango_font_description_set_absolute_size(font, (double)size_px * PANGO_SCALE);
	pango_layout_set_font_description(layout, font);
	pango_layout_set_width(layout, max_width * PANGO_SCALE);
	pango_layout_set_text(layout, text, -1);
	PangoRectangle logical;
	pango_layout_get_pixel_extents(layout, NULL, &logical);
	*height = logical.height;
	*baseline = pango_layout_get_baseline(layout) / PANGO_SCALE;
	return logical.width < max_width ? logical.width : max_width;
}

static void show_layout_clipped(cairo_t *cr, PangoLayout *layout, int x, int y, int clip_x,
		int clip_width, int height) {
	cairo_save(cr);
	cairo_rectangle(cr, clip_x, 0, clip_width, height);
	cairo_clip(cr);
	cairo_move_to(cr, x, y);
	pango_cairo_show_layout(cr, layout);
	cairo_restore(cr);
}

static void draw_text(cairo_t *cr, int width, int height, int scale, const char *vm,
		const char *title) {
	int padding = TEXT_PADDING * scale;
	int gap = TEXT_GAP * scale;
	int size_px = height * TEXT_SIZE_NUM / TEXT_SIZE_DEN;
	int label_max = width - 2 * padding;
	if (size_px < 1 || label_max < 1 || vm[0] == '\0') {
		return;
	}
	int label_height, label_baseline;
	int label_width = layout_prepare(text_cache.label, text_cache.label_font, size_px, vm,
		label_max, &label_height, &label_baseline);
	int label_y = (height - label_height) / 2;
	int baseline = label_y + label_baseline;
	show_layout_clipped(cr, text_cache.label, padding, label_y, 0, padding + label_max,
		height);
	text_cache.unknown_glyphs += pango_layout_get_unknown_glyphs_count(text_cache.label);

	int title_x = padding + label_width + gap;
	int title_max = width - padding - title_x;
	if (title[0] == '\0' || title_max < size_px) {
		return;
	}
	int title_height, title_baseline;
	layout_prepare(text_cache.title, text_cache.title_font, size_px, title, title_max,
		&title_height, &title_baseline);
	show_layout_clipped(cr, text_cache.title, title_x, baseline - title_baseline, title_x,
		title_max, height);
	text_cache.unknown_glyphs += pango_layout_get_unknown_glyphs_count(text_cache.title);
}

int vd_frame_render_unknown_glyphs(void) {
	return text_cache.unknown_glyphs;
}

bool vd_frame_render_title(uint32_t *pixels, int width, int height, int stride_bytes, int scale,
		struct vd_color color, const char *vm, const char *title) {
	if (!buffer_valid(pixels, width, height, stride_bytes) || scale < 1 ||
			scale > VD_FRAME_MAX_SCALE || height > STYLE_MAX * scale) {
		return false;
	}
	if (!text_cache_init()) {
		return false;
	}
	bool ok = false;
	char *vm_text = vd_title_sanitize(vm, VD_TITLE_VM_MAX_BYTES);
	char *title_text = vd_title_sanitize(title, VD_TITLE_MAX_BYTES);
	cairo_surface_t *surface = cairo_image_surface_create_for_data((unsigned char *)pixels,
		CAIRO_FORMAT_ARGB32, width, height, stride_bytes);
	cairo_t *cr = cairo_create(surface);
	if (vm_text == NULL || title_text == NULL || cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
		vd_log(VD_ERROR, "cannot draw a %dx%d title strip", width, height);
		goto cleanup;
	}

	cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
	cairo_set_source_rgb(cr, color.r / 255.0, color.g / 255.0, color.b / 255.0);
	cairo_paint(cr);

	cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
	text_cache.unknown_glyphs = 0;
	struct vd_color text = vd_color_text_for(color);
	cairo_set_source_rgb(cr, text.r / 255.0, text.g / 255.0, text.b / 255.0);
	draw_text(cr, width, height, scale, vm_text, title_text);

	cairo_surface_flush(surface);
	ok = cairo_status(cr) == CAIRO_STATUS_SUCCESS;
	if (!ok) {
		vd_log(VD_ERROR, "drawing a title strip failed: %s",
			cairo_status_to_string(cairo_status(cr)));
	}
cleanup:
	cairo_destroy(cr);
	cairo_surface_destroy(surface);
	free(title_text);
	free(vm_text);
	return ok;
}
