#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/color.h"

/*
 * vd_color_parse on arbitrary bytes (up to the first NUL). Beyond memory
 * safety it checks: a parsed color survives a round trip through #rrggbb and
 * rgb(), its luminance is in [0, 1], and an error message is non-empty,
 * terminated and printable ASCII (it ends up on a terminal).
 */

#define FUZZ_COLOR_MAX 256

static void check_error(const char *err, size_t size) {
	size_t len = strnlen(err, size);
	if (len == 0 || len == size) {
		abort();
	}
	for (size_t i = 0; i < len; i++) {
		if (err[i] < 0x20 || err[i] > 0x7e) {
			abort();
		}
	}
}

static void check_same(const char *str, struct vd_color want) {
	struct vd_color got;
	char err[128];
	if (!vd_color_parse(str, &got, err, sizeof(err)) || got.r != want.r || got.g != want.g ||
			got.b != want.b) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char str[FUZZ_COLOR_MAX + 1];
	size_t len = size < FUZZ_COLOR_MAX ? size : FUZZ_COLOR_MAX;
	memcpy(str, data, len);
	str[len] = '\0';

	struct vd_color color;
	char err[256];
	memset(err, 'x', sizeof(err));
	if (!vd_color_parse(str, &color, err, sizeof(err))) {
		check_error(err, sizeof(err));
		return 0;
	}
	double lum = vd_color_luminance(color);
	if (!(lum >= 0.0 && lum <= 1.0)) {
		abort();
	}
	char text[32];
	snprintf(text, sizeof(text), "#%02x%02x%02x", color.r, color.g, color.b);
	check_same(text, color);
	snprintf(text, sizeof(text), "rgb(%u, %u, %u)", color.r, color.g, color.b);
	check_same(text, color);
	return 0;
}
