#ifndef DECORATION_ICON_H
#define DECORATION_ICON_H

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoration/color.h"

/*
 * A VM's images on the host in its color: application icons in the host
 * menu, notification images, tray icons. The guest sends pixels (RGBA, not
 * premultiplied, at most VD_ICON_MAX_SOURCE a side, a size the link codec
 * checked against the length), never an image file: no image decoder on the
 * host ever sees guest bytes. The pixels are premultiplied here (every
 * channel stays at most alpha, so nothing wraps: QSB-104), scaled into the
 * icon, and framed or tinted in the VM's color.
 */

#define VD_ICON_MAX_SOURCE 256
#define VD_ICON_MAX_SIZE 256

enum vd_icon_mode {
	VD_ICON_BORDER, // a border in the VM's color around the scaled image (default)
	VD_ICON_TINT, // Qubes' tint: each pixel keeps its lightness, takes the VM's hue
	VD_ICON_PLAIN, // neither (pixels inside something already in the VM's color)
};

/* The border's width in an icon of edge size: 1 px up to 16 px, then size / 16, at least 2. */
int vd_icon_border_width(int size);

/*
 * A size x size image (cairo ARGB32, premultiplied) of the width x height
 * RGBA pixels, scaled to fit inside the border (or the whole icon, tinted),
 * centered. NULL if a size is out of range or memory runs out.
 */
cairo_surface_t *vd_icon_frame(const uint8_t *rgba, uint32_t width, uint32_t height,
	struct vd_color color, enum vd_icon_mode mode, int size);

/* The VM's badge, for what comes without an image: a square in its color with the VM's initial. */
cairo_surface_t *vd_icon_badge(struct vd_color color, const char *vm, int size);

/* The surface's pixels, not premultiplied: RGBA bytes, or A R G B bytes (SNI's byte order). */
uint8_t *vd_icon_rgba(cairo_surface_t *surface, size_t *len);
uint8_t *vd_icon_argb_be(cairo_surface_t *surface, size_t *len);
/* The surface as a PNG (at most 1 MiB). */
bool vd_icon_png(cairo_surface_t *surface, uint8_t **png, size_t *png_len);

#endif
