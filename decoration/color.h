#ifndef DECORATION_COLOR_H
#define DECORATION_COLOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vd_color {
	uint8_t r, g, b;
};

/*
 * Parses a VM color: a Qubes label name (red, orange, yellow, green, gray,
 * blue, purple, black, with Qubes' values), a CSS/X11 color name, #rgb,
 * #rrggbb or rgb(r,g,b). Case-insensitive names. On failure returns false
 * and explains why in err.
 */
bool vd_color_parse(const char *str, struct vd_color *color, char *err, size_t err_size);

/* Relative luminance in [0, 1] (sRGB, WCAG formula). */
double vd_color_luminance(struct vd_color color);

#endif
