#ifndef GUEST_IMAGE_H
#define GUEST_IMAGE_H

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Images the guest's applications hand over in memory (a notification's
 * image-data, a tray item's pixmaps, a menu item's PNG), checked and
 * scaled here, in the guest, to the RGBA pixels the link carries: the host
 * decodes no image from a guest.
 */

/* Sources larger than this a side are refused before anything is decoded. */
#define VD_GUEST_IMAGE_MAX_SOURCE 4096

struct vd_guest_image {
	uint8_t *rgba; // width x height pixels, not premultiplied; NULL: none
	size_t len;
	uint16_t width, height;
};

void vd_guest_image_finish(struct vd_guest_image *image);

/* A surface scaled down to fit size x size (never enlarged); NULL if out of range. */
cairo_surface_t *vd_guest_image_fit(cairo_surface_t *src, int size);
/* Unpremultiplied RGBA of an ARGB32 surface into image. */
bool vd_guest_image_from_surface(cairo_surface_t *surface, struct vd_guest_image *image);

/*
 * The notification spec's image-data (iiibiiay): width, height, rowstride,
 * has_alpha, bits per sample (8), channels (3, or 4 with alpha), data of at
 * least (height - 1) x rowstride + width x channels bytes. False if any of
 * it does not hold.
 */
bool vd_guest_image_from_data(int32_t width, int32_t height, int32_t rowstride, bool has_alpha,
	int32_t bits, int32_t channels, const uint8_t *data, size_t len, int size,
	struct vd_guest_image *image);
/* A StatusNotifierItem pixmap: ARGB32 in network byte order, exactly width x height x 4. */
bool vd_guest_image_from_argb(int32_t width, int32_t height, const uint8_t *data, size_t len,
	int size, struct vd_guest_image *image);
/* PNG bytes (a dbusmenu icon-data): the header's size checked before decoding. */
bool vd_guest_image_from_png(const uint8_t *data, size_t len, int size,
	struct vd_guest_image *image);
/* Whether a PNG file's header announces at most VD_GUEST_IMAGE_MAX_SOURCE a side. */
bool vd_guest_png_file_ok(const char *path);

#endif
