#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/image.h"

#define MAX_PNG_BYTES (4u * 1024u * 1024u)

void vd_guest_image_finish(struct vd_guest_image *image) {
	free(image->rgba);
	*image = (struct vd_guest_image){0};
}

cairo_surface_t *vd_guest_image_fit(cairo_surface_t *src, int size) {
	int w = cairo_image_surface_get_width(src), h = cairo_image_surface_get_height(src);
	if (w <= 0 || h <= 0 || w > VD_GUEST_IMAGE_MAX_SOURCE || h > VD_GUEST_IMAGE_MAX_SOURCE ||
			size < 1) {
		return NULL;
	}
	double scale = 1.0;
	int max = w > h ? w : h;
	if (max > size) {
		scale = (double)size / max;
	}
	int dw = (int)(w * scale + 0.5), dh = (int)(h * scale + 0.5);
	dw = dw < 1 ? 1 : dw;
	dh = dh < 1 ? 1 : dh;
	cairo_surface_t *dst = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, dw, dh);
	if (cairo_surface_status(dst) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(dst);
		return NULL;
	}
	cairo_t *cr = cairo_create(dst);
	cairo_scale(cr, scale, scale);
	cairo_set_source_surface(cr, src, 0, 0);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
	cairo_paint(cr);
	cairo_destroy(cr);
	return dst;
}

bool vd_guest_image_from_surface(cairo_surface_t *img, struct vd_guest_image *image) {
	cairo_surface_flush(img);
	int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
	int stride = cairo_image_surface_get_stride(img);
	const uint8_t *pixels = cairo_image_surface_get_data(img);
	if (pixels == NULL || w <= 0 || h <= 0 || w > UINT16_MAX || h > UINT16_MAX) {
		return false;
	}
	uint8_t *out = malloc((size_t)w * (size_t)h * 4);
	if (out == NULL) {
		return false;
	}
	for (int y = 0; y < h; y++) {
		const uint32_t *row = (const uint32_t *)(const void *)(pixels + (size_t)y * (size_t)stride);
		for (int x = 0; x < w; x++) {
			uint32_t p = row[x];
			uint32_t a = p >> 24, r = p >> 16 & 0xff, g = p >> 8 & 0xff, b = p & 0xff;
			uint8_t *o = out + ((size_t)y * (size_t)w + (size_t)x) * 4;
			o[0] = (uint8_t)(a ? (r * 255 + a / 2) / a : 0);
			o[1] = (uint8_t)(a ? (g * 255 + a / 2) / a : 0);
			o[2] = (uint8_t)(a ? (b * 255 + a / 2) / a : 0);
			o[3] = (uint8_t)a;
		}
	}
	vd_guest_image_finish(image);
	image->rgba = out;
	image->len = (size_t)w * (size_t)h * 4;
	image->width = (uint16_t)w;
	image->height = (uint16_t)h;
	return true;
}

/* A premultiplied surface of width x height from a pixel reader, then fitted into size. */
static bool convert(int32_t width, int32_t height, int size, struct vd_guest_image *image,
		void (*pixel)(const void *ctx, int32_t x, int32_t y, uint8_t rgba[4]), const void *ctx) {
	cairo_surface_t *src = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
	if (cairo_surface_status(src) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(src);
		return false;
	}
	cairo_surface_flush(src);
	uint8_t *pixels = cairo_image_surface_get_data(src);
	int stride = cairo_image_surface_get_stride(src);
	for (int32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)(void *)(pixels + (size_t)y * (size_t)stride);
		for (int32_t x = 0; x < width; x++) {
			uint8_t p[4];
			pixel(ctx, x, y, p);
			uint32_t a = p[3];
			row[x] = a << 24 | (p[0] * a + 127) / 255 << 16 | (p[1] * a + 127) / 255 << 8 |
				(p[2] * a + 127) / 255;
		}
	}
	cairo_surface_mark_dirty(src);
	cairo_surface_t *fit = vd_guest_image_fit(src, size);
	cairo_surface_destroy(src);
	if (fit == NULL) {
		return false;
	}
	bool ok = vd_guest_image_from_surface(fit, image);
	cairo_surface_destroy(fit);
	return ok;
}

struct data_ctx {
	const uint8_t *data;
	int32_t rowstride, channels;
};

static void data_pixel(const void *ctx, int32_t x, int32_t y, uint8_t rgba[4]) {
	const struct data_ctx *c = ctx;
	const uint8_t *p = c->data + (size_t)y * (size_t)c->rowstride + (size_t)x * (size_t)c->channels;
	rgba[0] = p[0];
	rgba[1] = p[1];
	rgba[2] = p[2];
	rgba[3] = c->channels == 4 ? p[3] : 255;
}

bool vd_guest_image_from_data(int32_t width, int32_t height, int32_t rowstride, bool has_alpha,
		int32_t bits, int32_t channels, const uint8_t *data, size_t len, int size,
		struct vd_guest_image *image) {
	if (width < 1 || height < 1 || width > VD_GUEST_IMAGE_MAX_SOURCE ||
			height > VD_GUEST_IMAGE_MAX_SOURCE || bits != 8 ||
			channels != (has_alpha ? 4 : 3) || rowstride < width * channels) {
		return false;
	}
	/* the last row needs only its pixels; the others a whole rowstride */
	uint64_t need = (uint64_t)(height - 1) * (uint64_t)rowstride +
		(uint64_t)width * (uint64_t)channels;
	if (len < need) {
		return false;
	}
	struct data_ctx ctx = {data, rowstride, channels};
	return convert(width, height, size, image, data_pixel, &ctx);
}

static void argb_pixel(const void *ctx, int32_t x, int32_t y, uint8_t rgba[4]) {
	const struct data_ctx *c = ctx;
	const uint8_t *p = c->data + (size_t)y * (size_t)c->rowstride + (size_t)x * 4;
	rgba[0] = p[1];
	rgba[1] = p[2];
	rgba[2] = p[3];
	rgba[3] = p[0];
}

bool vd_guest_image_from_argb(int32_t width, int32_t height, const uint8_t *data, size_t len,
		int size, struct vd_guest_image *image) {
	if (width < 1 || height < 1 || width > VD_GUEST_IMAGE_MAX_SOURCE ||
			height > VD_GUEST_IMAGE_MAX_SOURCE ||
			len != (size_t)width * (size_t)height * 4) {
		return false;
	}
	struct data_ctx ctx = {data, width * 4, 4};
	return convert(width, height, size, image, argb_pixel, &ctx);
}

/* The width and height of a PNG's IHDR, which must come first. */
static bool png_header_ok(const uint8_t head[24]) {
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	if (memcmp(head, sig, 8) != 0 || memcmp(head + 12, "IHDR", 4) != 0) {
		return false;
	}
	uint32_t w = (uint32_t)head[16] << 24 | (uint32_t)head[17] << 16 |
		(uint32_t)head[18] << 8 | head[19];
	uint32_t h = (uint32_t)head[20] << 24 | (uint32_t)head[21] << 16 |
		(uint32_t)head[22] << 8 | head[23];
	return w >= 1 && h >= 1 && w <= VD_GUEST_IMAGE_MAX_SOURCE && h <= VD_GUEST_IMAGE_MAX_SOURCE;
}

bool vd_guest_png_file_ok(const char *path) {
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		return false;
	}
	uint8_t head[24];
	ssize_t n = read(fd, head, sizeof(head));
	close(fd);
	return n == (ssize_t)sizeof(head) && png_header_ok(head);
}

struct png_in {
	const uint8_t *data;
	size_t len, pos;
};

static cairo_status_t png_read(void *closure, unsigned char *out, unsigned int len) {
	struct png_in *in = closure;
	if (in->len - in->pos < len) {
		return CAIRO_STATUS_READ_ERROR;
	}
	memcpy(out, in->data + in->pos, len);
	in->pos += len;
	return CAIRO_STATUS_SUCCESS;
}

bool vd_guest_image_from_png(const uint8_t *data, size_t len, int size,
		struct vd_guest_image *image) {
	if (len < 24 || len > MAX_PNG_BYTES || !png_header_ok(data)) {
		return false;
	}
	struct png_in in = {data, len, 0};
	cairo_surface_t *src = cairo_image_surface_create_from_png_stream(png_read, &in);
	bool ok = false;
	if (cairo_surface_status(src) == CAIRO_STATUS_SUCCESS) {
		cairo_surface_t *fit = vd_guest_image_fit(src, size);
		if (fit != NULL) {
			ok = vd_guest_image_from_surface(fit, image);
			cairo_surface_destroy(fit);
		}
	}
	cairo_surface_destroy(src);
	return ok;
}
