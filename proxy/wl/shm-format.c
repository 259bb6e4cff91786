#include <stddef.h>

#include "protocols/interface.h"
#include "proxy/wl/shm-format.h"

struct format_info {
	uint32_t format;
	uint32_t bpp; // bytes per pixel of the first plane
};

static const struct format_info formats[] = {
	{ VD_WL_SHM_FORMAT_C8, 1 }, { VD_WL_SHM_FORMAT_R8, 1 },
	{ VD_WL_SHM_FORMAT_RGB565, 2 }, { VD_WL_SHM_FORMAT_BGR565, 2 },
	{ VD_WL_SHM_FORMAT_ARGB1555, 2 }, { VD_WL_SHM_FORMAT_XRGB1555, 2 },
	{ VD_WL_SHM_FORMAT_ARGB4444, 2 }, { VD_WL_SHM_FORMAT_XRGB4444, 2 },
	{ VD_WL_SHM_FORMAT_RG88, 2 }, { VD_WL_SHM_FORMAT_GR88, 2 },
	{ VD_WL_SHM_FORMAT_R16, 2 },
	{ VD_WL_SHM_FORMAT_RGB888, 3 }, { VD_WL_SHM_FORMAT_BGR888, 3 },
	{ VD_WL_SHM_FORMAT_ABGR8888, 4 }, { VD_WL_SHM_FORMAT_XBGR8888, 4 },
	{ VD_WL_SHM_FORMAT_RGBA8888, 4 }, { VD_WL_SHM_FORMAT_RGBX8888, 4 },
	{ VD_WL_SHM_FORMAT_BGRA8888, 4 }, { VD_WL_SHM_FORMAT_BGRX8888, 4 },
	{ VD_WL_SHM_FORMAT_ARGB2101010, 4 }, { VD_WL_SHM_FORMAT_XRGB2101010, 4 },
	{ VD_WL_SHM_FORMAT_ABGR2101010, 4 }, { VD_WL_SHM_FORMAT_XBGR2101010, 4 },
	{ VD_WL_SHM_FORMAT_ABGR16161616F, 8 }, { VD_WL_SHM_FORMAT_XBGR16161616F, 8 },
	{ VD_WL_SHM_FORMAT_ABGR16161616, 8 }, { VD_WL_SHM_FORMAT_XBGR16161616, 8 },
};

uint32_t vd_shm_format_bpp(uint32_t format) {
	if (format == VD_WL_SHM_FORMAT_ARGB8888 || format == VD_WL_SHM_FORMAT_XRGB8888) {
		return 4;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].format == format) {
			return formats[i].bpp;
		}
	}
	return 1; // another advertised format: at least a byte per pixel
}
