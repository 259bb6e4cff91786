#ifndef DECORATION_RENDER_H
#define DECORATION_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "decoration/color.h"

/*
 * Geometry and pixels of the frame vmdesk-proxy draws around a VM's windows.
 *
 * The frame is five strips around the window geometry (w x h, the
 * xdg_surface window geometry, so client-side shadows stay outside):
 *
 *     +------------------------+----+  -title_height
 *     | [vm] title       (TOP) |CORN|
 *     +----+-------------------+----+  0
 *     |LEFT|      window       |RIGH|
 *     |    |      w x h        |  T |
 *     +----+-------------------+    |  h
 *     |      BOTTOM            |    |
 *     +------------------------+----+  h + border
 *    -border                   w    w + border
 *
 * The title strip replaces the top border: it is title_height high, not
 * title_height + border. Popups use VD_POPUP_BORDER on all four sides
 * (title_height == border, no text).
 */

/*
 * 4 px: wide enough that the VM color reads at a glance on a 1x or 2x
 * screen (Qubes' WM themes use 4-6 px) and that a resize edge is easy to hit,
 * narrow enough not to eat a tiled layout (the ITL prototype's 6 px cost 12
 * px of every tile's width).
 */
#define VD_FRAME_BORDER 4
/* 24 px: the usual title bar height of GTK/Qt server-side decorations; it
 * fits a 14 px (10.5 pt at 96 dpi) bold label with room for descenders. */
#define VD_FRAME_TITLE_HEIGHT 24
/* Menus and tooltips: Qubes' 2 px override-redirect frame. */
#define VD_POPUP_BORDER 2

/* Window sizes and buffer sizes are refused or clamped above this (Qubes'
 * MAX_WINDOW_WIDTH). */
#define VD_FRAME_MAX_SIZE 16384
/* Largest buffer scale the renderer accepts. */
#define VD_FRAME_MAX_SCALE 8

struct vd_frame_style {
	int border;
	int title_height;
};

#define VD_FRAME_STYLE_TOPLEVEL \
	((struct vd_frame_style){ .border = VD_FRAME_BORDER, .title_height = VD_FRAME_TITLE_HEIGHT })
#define VD_FRAME_STYLE_POPUP \
	((struct vd_frame_style){ .border = VD_POPUP_BORDER, .title_height = VD_POPUP_BORDER })

enum vd_frame_part {
	VD_FRAME_TOP = 0, // the title strip, over the left border and the window
	VD_FRAME_LEFT = 1,
	VD_FRAME_RIGHT = 2, // down to the bottom of the bottom border
	VD_FRAME_BOTTOM = 3, // under the left border and the window
	VD_FRAME_CORNER = 4, // the top-right corner, beside the title strip
	VD_FRAME_PART_COUNT = 5,
};

/* A strip, relative to the window geometry's top-left corner. */
struct vd_frame_rect {
	int x, y;
	int width, height;
};

/* How far the frame extends beyond the window geometry on each side: the
 * compositor's window geometry grows by (left + right) x (top + bottom) and
 * configure sizes shrink by as much. */
struct vd_frame_extents {
	int left, top, right, bottom;
};

/* The style's border and title_height clamped to [0, 256] and
 * title_height >= border. */
struct vd_frame_extents vd_frame_extents(const struct vd_frame_style *style);

/*
 * The five strips for a window geometry of width x height (each clamped to
 * [0, VD_FRAME_MAX_SIZE]), indexed by enum vd_frame_part. A strip can be
 * empty (width or height 0) when the window or the border is.
 */
void vd_frame_layout(const struct vd_frame_style *style, int width, int height,
	struct vd_frame_rect out[VD_FRAME_PART_COUNT]);

/* The stride in bytes of an ARGB8888 buffer width pixels wide, as cairo
 * wants it; -1 when width is not in [1, VD_FRAME_MAX_SIZE * VD_FRAME_MAX_SCALE]. */
int vd_frame_stride(int width);

/*
 * Draws a title strip into pixels (width x height buffer pixels, wl_shm
 * ARGB8888, i.e. native-endian 0xAARRGGBB words on the little-endian machines
 * wl_shm assumes; every pixel opaque): filled with color, the VM name in
 * bold, then the title, ellipsized at the end to fit, vertically centered,
 * in vd_color_text_for(color). scale is the buffer scale (paddings are
 * scaled; the font size follows the height). vm and title are sanitized
 * here (vd_title_sanitize), and the title is clipped to its own area: nothing
 * in it can draw over the VM name. Returns false without touching pixels if
 * an argument is out of range (width or height not in [1, VD_FRAME_MAX_SIZE *
 * VD_FRAME_MAX_SCALE], height above 256 * scale, scale not in [1,
 * VD_FRAME_MAX_SCALE], stride != vd_frame_stride(width), misaligned pixels);
 * also false, with the strip possibly half drawn, if cairo or pango fail.
 * The first call in a process loads fonts (tens of ms); see
 * vd_frame_render_init. Not thread-safe.
 */
bool vd_frame_render_title(uint32_t *pixels, int width, int height, int stride_bytes, int scale,
	struct vd_color color, const char *vm, const char *title);

/* Number of glyphs in the last title strip drawn that no font on this
 * machine has (pango draws them as boxes with the code point). */
int vd_frame_render_unknown_glyphs(void);

/* Fills pixels with the opaque color; false (pixels untouched) on
 * out-of-range arguments. */
bool vd_frame_render_solid(uint32_t *pixels, int width, int height, int stride_bytes,
	struct vd_color color);

/* Builds the per-process text rendering cache (pango context, fonts for
 * "sans" regular and bold) now, so that the first window's title strip does
 * not wait for fontconfig. Optional; false if pango cannot be set up. */
bool vd_frame_render_init(void);

/* Frees the per-process text rendering cache (a pango context and fonts).
 * Rendering again afterwards rebuilds it. For leak checkers and tests. */
void vd_frame_render_finish(void);

#endif
