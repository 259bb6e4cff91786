#ifndef PROXY_MIRROR_H
#define PROXY_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-util.h>

/*
 * The host's copy of a guest client's wl_shm pool (protocols/link.md,
 * "Wayland channels"): a memfd of the pool's size that the compositor maps
 * in place of the guest's memory, written by the link (WL_POOL_DATA, read
 * straight into it) before the commit that shows it is passed on.
 *
 * Its mapping is reserved once at the largest pool size, so that it never
 * moves when the pool grows and the link may read into it at any time. A
 * foot window makes its pools 512 MiB large and uses a few MiB of each, so
 * memory is counted by what was written, in granules of
 * VD_MIRROR_GRANULE bytes, not by the pool's size; bytes no buffer uses
 * any more are given back (WL_POOL_DISCARD) and count no more.
 */

#define VD_MIRROR_GRANULE (64u * 1024u)

struct vd_mirror {
	struct wl_list link; // the channel's pools
	uint32_t id;
	int fd; // -1 once the pool cannot grow any more (sealed)
	uint8_t *map; // reserved; [0, size) mapped
	uint32_t size;
	uint8_t *touched; // a bit per granule written
	uint64_t bytes; // granules written x VD_MIRROR_GRANULE
};

/* A zero-filled mirror; NULL with the reason in err. */
struct vd_mirror *vd_mirror_create(uint32_t id, uint32_t size, char *err, size_t err_size);
void vd_mirror_destroy(struct vd_mirror *mirror);
/* A new fd for the compositor (-1 if the mirror is sealed or out of fds). */
int vd_mirror_dup_fd(const struct vd_mirror *mirror);
/* Grows the pool (pools only grow); false with err. */
bool vd_mirror_resize(struct vd_mirror *mirror, uint32_t size, char *err, size_t err_size);
/* No more resizes: the fd is closed, the mapping stays. */
void vd_mirror_seal(struct vd_mirror *mirror);

/* Whether rows of width bytes every stride bytes from offset lie inside the pool. */
bool vd_mirror_contains(const struct vd_mirror *mirror, uint32_t offset, uint32_t stride,
	uint32_t width, uint32_t rows);
/* Counts the rows' granules as written; returns the bytes added. */
uint64_t vd_mirror_touch(struct vd_mirror *mirror, uint32_t offset, uint32_t stride,
	uint32_t width, uint32_t rows);
/* Copies rows of width bytes (packed in data) to every stride bytes from offset. */
void vd_mirror_write(struct vd_mirror *mirror, uint32_t offset, uint32_t stride, uint32_t width,
	uint32_t rows, const uint8_t *data);
/*
 * Copies rows of width bytes from src (every src_stride from src_offset) to
 * dst (every dst_stride from dst_offset), as memmove would if they overlap.
 * Both must be checked with vd_mirror_contains.
 */
void vd_mirror_copy(struct vd_mirror *dst, uint32_t dst_offset, uint32_t dst_stride,
	const struct vd_mirror *src, uint32_t src_offset, uint32_t src_stride, uint32_t width,
	uint32_t rows);
/*
 * Forgets [offset, offset + length): its whole pages read as zeros again
 * and the granules it covers count no more. Returns the bytes taken off the
 * count. The range must lie inside the pool.
 */
uint64_t vd_mirror_discard(struct vd_mirror *mirror, uint32_t offset, uint32_t length);

#endif
