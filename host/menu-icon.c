#include <cairo.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/icon.h"
#include "host/menu.h"

/*
 * Menu icons: the guest sends pixels (RGBA, not premultiplied, at most
 * 256x256, a size the decoder checked against the length), never an image
 * file: no image decoder on the host ever sees guest bytes. Here they are
 * framed in the VM's color by decoration/icon.c, in the smallest hicolor size
 * that holds them, and encoded as PNG by cairo.
 */

/* Icon sizes the hicolor theme's index.theme knows. */
static const int icon_sizes[] = {16, 22, 24, 32, 48, 64, 96, 128, 256};
#define N_ICON_SIZES (sizeof(icon_sizes) / sizeof(icon_sizes[0]))

bool vd_menu_icon_png(const uint8_t *rgba, uint32_t width, uint32_t height, struct vd_color color,
		uint8_t **png, size_t *png_len, int *size_out) {
	if (width == 0 || height == 0 || width > 256 || height > 256) {
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
	cairo_surface_t *dst = vd_icon_frame(rgba, width, height, color, VD_ICON_BORDER, size);
	if (dst == NULL) {
		return false;
	}
	bool ok = vd_icon_png(dst, png, png_len);
	cairo_surface_destroy(dst);
	if (!ok) {
		return false;
	}
	*size_out = size;
	return true;
}
