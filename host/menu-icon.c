#include <cairo.h>
#include <stdlib.h>
#include <string.h>

#include "host/menu.h"

/*
 * Menu icons: the guest sends pixels (RGBA, not premultiplied, at most
 * 256x256, a size the decoder checked against the length), never an image
 * file: no image decoder on the host ever sees guest bytes. Here they are
 * premultiplied (every channel stays at most alpha, so nothing wraps), scaled
 * into the smallest hicolor size that holds them, framed in the VM's color
 * and encoded as PNG by cairo.
 */

/* Icon sizes the hicolor theme's index.theme knows. */
static const int icon_sizes[] = {16, 22, 24, 32, 48, 64, 96, 128, 256};
#define N_ICON_SIZES (sizeof(icon_sizes) / sizeof(icon_sizes[0]))
#define MAX_PNG (1024u * 1024u)

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

static cairo_surface_t *from_rgba(const uint8_t *rgba, uint32_t width, uint32_t height) {
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
			const uint8_t *p = rgba + ((size_t)y * width + x) * 4;
			uint32_t a = p[3];
			uint32_t r = (p[0] * a + 127) / 255;
			uint32_t g = (p[1] * a + 127) / 255;
			uint32_t b = (p[2] * a + 127) / 255;
			row[x] = a << 24 | r << 16 | g << 8 | b;
		}
	}
	cairo_surface_mark_dirty(surface);
	return surface;
}

bool vd_menu_icon_png(const uint8_t *rgba, uint32_t width, uint32_t height, struct vd_color color,
		uint8_t **png, size_t *png_len, int *size_out) {
	if (width == 0 || height == 0 || width > 256 || height > 256) {
		return false;
	}
	cairo_surface_t *src = from_rgba(rgba, width, height);
	if (src == NULL) {
		return false;
	}
	uint32_t max = width > height ? width : height;
	int size = icon_sizes[N_ICON_SIZES - 1];
	for (size_t i = 0; i < N_ICON_SIZES; i++) {
		if ((uint32_t)icon_sizes[i] >= max) {
			size = icon_sizes[i];
			break;
		}
	}
	int border = size / 16 > 1 ? size / 16 : 1;
	cairo_surface_t *dst = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size);
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
	cairo_set_source_rgb(cr, color.r / 255.0, color.g / 255.0, color.b / 255.0);
	cairo_set_line_width(cr, border);
	cairo_rectangle(cr, border / 2.0, border / 2.0, size - border, size - border);
	cairo_stroke(cr);
	cairo_destroy(cr);
	cairo_surface_destroy(src);
	struct png_out out = {0};
	cairo_status_t status = cairo_surface_write_to_png_stream(dst, png_write, &out);
	cairo_surface_destroy(dst);
	if (status != CAIRO_STATUS_SUCCESS) {
		free(out.data);
		return false;
	}
	*png = out.data;
	*png_len = out.len;
	*size_out = size;
	return true;
}
