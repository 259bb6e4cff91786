#ifndef PROXY_WL_SHM_FORMAT_H
#define PROXY_WL_SHM_FORMAT_H

#include <stdint.h>

/*
 * Bytes per pixel of the first plane of a wl_shm format (the one rule of
 * the proxy's buffer checks and the guest bridge's buffer copies). Formats
 * not in the table count as 1: at least a byte per pixel.
 */
uint32_t vd_shm_format_bpp(uint32_t format);

#endif
