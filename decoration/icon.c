#include <cairo.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/icon.h"
#include "decoration/title.h"

#define MAX_PNG (1024u * 1024u)

int vd_icon_border_width(int size) {
	if (size <= 16) {
		return 1;
	}
	return size / 16 > 2 ? size / 16 : 2;
}

/* Qubes' tint of one channel set (qubesimgconverter): lightness kept, hue from the color. */
static void tint_pixel(uint8_t p[3], const double tn[3]) {
	int max = p[0], min = p[0];
	for (int i = 1; i < 3; i++) {
		max = p[i] > max ? p[i] : max;
		min = p[i] < min ? p[i] : min;
	}
	double c = max - min;
	double c2 = 255.0 / 4 + 0.75 * c; // even greys get a quarter of the chroma
	double m2 = c < 255 ? min * (255 - c2) / (255 - c) : 0;
	for (int i = 0; i < 3; i++) {
		double v = m2 + tn[i] * c2;
		p[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
	}
}

static void tint_factors(struct vd_color color, double tn[3]) {
	int t[3] = {color.r, color.g, color.b};
	int max = t[0], min = t[0];
	for (int i = 1; i < 3; i++) {
		max = t[i] > max ? t[i] : max;
		min = t[i] < min ? t[i] : min;
	}
	for (int i = 0; i < 3; i++) {
		tn[i] = max == min ? 0.5 : (double)(t[i] - min) / (max - min);
	}
}

static cairo_surface_t *from_rgba(const uint8_t *rgba, uint32_t width, uint32_t height,
		const double *tint) {
	cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)width,
		(int)height);
	if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(surface);
		return NULL;
	}
	cairo_surface_flush(surface);
	uint8_t *pixels = cairo_image_surface_get_data(surface);
	int stride = cairo_image_surface_get_stride(surface);
	for (uint32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)(void *)(pixels + (size_t)y * (size_t)stride);
		for (uint32_t x = 0; x < width; x++) {
			const uint8_t *src = rgba + ((size_t)y * width + x) * 4;
			uint8_t p[3] = {src[0], src[1], src[2]};
			if (tint != NULL) {
				tint_pixel(p, tint);
			}
			uint32_t a = src[3];
			uint32_t r = (p[0] * a + 127) / 255;
			uint32_t g = (p[1] * a + 127) / 255;
			uint32_t b = (p[2] * a + 127) / 255;
			row[x] = a << 24 | r << 16 | g << 8 | b;
		}
	}
	cairo_surface_mark_dirty(surface);
	return surface;
}

cairo_surface_t *vd_icon_frame(const uint8_t *rgba, uint32_t width, uint32_t height,
		struct vd_color color, enum vd_icon_mode mode, int size) {
	if (width == 0 || height == 0 || width > VD_ICON_MAX_SOURCE ||
			height > VD_ICON_MAX_SOURCE || size < 1 || size > VD_ICON_MAX_SIZE) {
		return NULL;
	}
	double tn[3];
	tint_factors(color, tn);
	cairo_surface_t *src = from_rgba(rgba, width, height, mode == VD_ICON_TINT ? tn : NULL);
	if (src == NULL) {
		return NULL;
	}
	cairo_surface_t *dst = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
	if (cairo_surface_status(dst) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(src);
		cairo_surface_destroy(dst);
		return NULL;
	}
	int border = mode == VD_ICON_BORDER ? vd_icon_border_width(size) : 0;
	uint32_t max = width > height ? width : height;
	cairo_t *cr = cairo_create(dst);
	double inner = size - 2.0 * border;
	double scale = inner / max;
	cairo_save(cr);
	cairo_translate(cr, border + (inner - width * scale) / 2, border + (inner - height * scale) / 2);
	cairo_scale(cr, scale, scale);
	cairo_set_source_surface(cr, src, 0, 0);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
	cairo_paint(cr);
	cairo_restore(cr);
	if (border > 0) {
		cairo_set_source_rgb(cr, color.r / 255.0, color.g / 255.0, color.b / 255.0);
		cairo_set_line_width(cr, border);
		cairo_rectangle(cr, border / 2.0, border / 2.0, size - border, size - border);
		cairo_stroke(cr);
	}
	cairo_destroy(cr);
	cairo_surface_destroy(src);
	cairo_surface_flush(dst);
	return dst;
}

cairo_surface_t *vd_icon_badge(struct vd_color color, const char *vm, int size) {
	if (size < 1 || size > VD_ICON_MAX_SIZE) {
		return NULL;
	}
	cairo_surface_t *dst = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
	if (cairo_surface_status(dst) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(dst);
		return NULL;
	}
	cairo_t *cr = cairo_create(dst);
	cairo_set_source_rgb(cr, color.r / 255.0, color.g / 255.0, color.b / 255.0);
	cairo_paint(cr);
	char initial[2] = {vm != NULL && vm[0] >= 'a' && vm[0] <= 'z' ? (char)(vm[0] - 32) : '?',
		'\0'};
	struct vd_color text = vd_color_text_for(color);
	cairo_set_source_rgb(cr, text.r / 255.0, text.g / 255.0, text.b / 255.0);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
	cairo_set_font_size(cr, size * 0.6);
	cairo_text_extents_t ext;
	cairo_text_extents(cr, initial, &ext);
	cairo_move_to(cr, (size - ext.width) / 2 - ext.x_bearing,
		(size - ext.height) / 2 - ext.y_bearing);
	cairo_show_text(cr, initial);
	cairo_destroy(cr);
	cairo_surface_flush(dst);
	return dst;
}

/* Unpremultiplied channels of the surface's pixels, in the byte order order[] names. */
static uint8_t *unpremultiply(cairo_surface_t *surface, size_t *len, bool argb) {
	cairo_surface_flush(surface);
	int w = cairo_image_surface_get_width(surface), h = cairo_image_surface_get_height(surface);
	int stride = cairo_image_surface_get_stride(surface);
	const uint8_t *pixels = cairo_image_surface_get_data(surface);
	if (pixels == NULL || w <= 0 || h <= 0) {
		return NULL;
	}
	uint8_t *out = malloc((size_t)w * (size_t)h * 4);
	if (out == NULL) {
		return NULL;
	}
	for (int y = 0; y < h; y++) {
		const uint32_t *row = (const uint32_t *)(const void *)(pixels + (size_t)y * (size_t)stride);
		for (int x = 0; x < w; x++) {
			uint32_t p = row[x];
			uint32_t a = p >> 24, r = p >> 16 & 0xff, g = p >> 8 & 0xff, b = p & 0xff;
			uint8_t c[3] = {
				(uint8_t)(a ? (r * 255 + a / 2) / a : 0),
				(uint8_t)(a ? (g * 255 + a / 2) / a : 0),
				(uint8_t)(a ? (b * 255 + a / 2) / a : 0),
			};
			uint8_t *o = out + ((size_t)y * (size_t)w + (size_t)x) * 4;
			if (argb) {
				o[0] = (uint8_t)a;
				memcpy(o + 1, c, 3);
			} else {
				memcpy(o, c, 3);
				o[3] = (uint8_t)a;
			}
		}
	}
	*len = (size_t)w * (size_t)h * 4;
	return out;
}

uint8_t *vd_icon_rgba(cairo_surface_t *surface, size_t *len) {
	return unpremultiply(surface, len, false);
}

uint8_t *vd_icon_argb_be(cairo_surface_t *surface, size_t *len) {
	return unpremultiply(surface, len, true);
}

struct png_out {
	uint8_t *data;
	size_t len, cap;
};

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int len) {
	struct png_out *out = closure;
	if (out->len + len > MAX_PNG) {
		return CAIRO_STATUS_WRITE_ERROR;
	}
	if (out->cap - out->len < len) {
		size_t cap = out->cap ? out->cap * 2 : 16384;
		while (cap - out->len < len) {
			cap *= 2;
		}
		uint8_t *d = realloc(out->data, cap);
		if (d == NULL) {
			return CAIRO_STATUS_NO_MEMORY;
		}
		out->data = d;
		out->cap = cap;
	}
	memcpy(out->data + out->len, data, len);
	out->len += len;
	return CAIRO_STATUS_SUCCESS;
}

bool vd_icon_png(cairo_surface_t *surface, uint8_t **png, size_t *png_len) {
	struct png_out out = {0};
	if (cairo_surface_write_to_png_stream(surface, png_write, &out) != CAIRO_STATUS_SUCCESS) {
		free(out.data);
		return false;
	}
	*png = out.data;
	*png_len = out.len;
	return true;
}
