#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "protocols/vd-link.h"
#include "proxy/mirror.h"

/* The largest pool there can be: the reservation of every mirror. */
#define RESERVED ((size_t)VD_LINK_WL_MAX_POOL_SIZE + 1)

static size_t granules(uint32_t size) {
	return ((size_t)size + VD_MIRROR_GRANULE - 1) / VD_MIRROR_GRANULE;
}

static bool map_size(struct vd_mirror *mirror, uint32_t size, char *err, size_t err_size) {
	if (ftruncate(mirror->fd, size) != 0) {
		snprintf(err, err_size, "cannot make a mirror of %u bytes: %s", size, strerror(errno));
		return false;
	}
	if (mmap(mirror->map, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mirror->fd,
			0) == MAP_FAILED) {
		snprintf(err, err_size, "cannot map a mirror of %u bytes: %s", size, strerror(errno));
		return false;
	}
	uint8_t *touched = realloc(mirror->touched, (granules(size) + 7) / 8);
	if (touched == NULL) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	size_t old = (granules(mirror->size) + 7) / 8;
	memset(touched + old, 0, (granules(size) + 7) / 8 - old);
	mirror->touched = touched;
	mirror->size = size;
	return true;
}

struct vd_mirror *vd_mirror_create(uint32_t id, uint32_t size, char *err, size_t err_size) {
	struct vd_mirror *mirror = calloc(1, sizeof(*mirror));
	if (mirror == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	mirror->id = id;
	mirror->map = MAP_FAILED;
	wl_list_init(&mirror->link);
	mirror->fd = memfd_create("vmdesk-shm-mirror", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mirror->fd < 0) {
		snprintf(err, err_size, "cannot make a mirror: %s", strerror(errno));
		goto error;
	}
	/* nobody may shrink it under the mappings: no SIGBUS, here or in the compositor */
	fcntl(mirror->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL);
	mirror->map = mmap(NULL, RESERVED, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		-1, 0);
	if (mirror->map == MAP_FAILED) {
		snprintf(err, err_size, "cannot reserve a mirror: %s", strerror(errno));
		goto error;
	}
	if (!map_size(mirror, size, err, err_size)) {
		goto error;
	}
	return mirror;

error:
	vd_mirror_destroy(mirror);
	return NULL;
}

void vd_mirror_destroy(struct vd_mirror *mirror) {
	if (mirror == NULL) {
		return;
	}
	if (mirror->map != MAP_FAILED) {
		munmap(mirror->map, RESERVED);
	}
	if (mirror->fd >= 0) {
		close(mirror->fd);
	}
	wl_list_remove(&mirror->link);
	free(mirror->touched);
	free(mirror);
}

int vd_mirror_dup_fd(const struct vd_mirror *mirror) {
	return mirror->fd >= 0 ? fcntl(mirror->fd, F_DUPFD_CLOEXEC, 0) : -1;
}

bool vd_mirror_resize(struct vd_mirror *mirror, uint32_t size, char *err, size_t err_size) {
	if (mirror->fd < 0) {
		snprintf(err, err_size, "pool %u resized after its wl_shm_pool was destroyed",
			mirror->id);
		return false;
	}
	if (size < mirror->size) {
		snprintf(err, err_size, "pool %u shrunk from %u to %u bytes (pools only grow)",
			mirror->id, mirror->size, size);
		return false;
	}
	return size == mirror->size || map_size(mirror, size, err, err_size);
}

void vd_mirror_seal(struct vd_mirror *mirror) {
	if (mirror->fd >= 0) {
		close(mirror->fd);
		mirror->fd = -1;
	}
}

bool vd_mirror_contains(const struct vd_mirror *mirror, uint32_t offset, uint32_t stride,
		uint32_t width, uint32_t rows) {
	if (rows == 0 || width == 0) {
		return true;
	}
	uint64_t end = (uint64_t)offset + (uint64_t)(rows - 1) * stride + width;
	return end <= mirror->size;
}

static bool bit(const uint8_t *bits, size_t i) {
	return (bits[i / 8] >> (i % 8)) & 1;
}

/* Marks every granule of the rows; returns the bytes of those not marked before. */
static uint64_t walk(struct vd_mirror *mirror, uint32_t offset, uint32_t stride,
		uint32_t width, uint32_t rows) {
	uint64_t added = 0;
	size_t last = SIZE_MAX; // rows share granules: start after the last one marked
	bool contiguous = rows == 1 || stride == width;
	uint64_t span = contiguous ? (uint64_t)width * rows : width;
	uint32_t count = contiguous ? 1 : rows;
	for (uint32_t r = 0; r < count; r++) {
		uint64_t start = (uint64_t)offset + (uint64_t)r * stride;
		size_t first = (size_t)(start / VD_MIRROR_GRANULE);
		size_t end = (size_t)((start + span - 1) / VD_MIRROR_GRANULE);
		for (size_t g = first == last ? first + 1 : first; g <= end; g++) {
			if (!bit(mirror->touched, g)) {
				added += VD_MIRROR_GRANULE;
				mirror->touched[g / 8] |= (uint8_t)(1u << (g % 8));
			}
		}
		last = end;
	}
	return added;
}

uint64_t vd_mirror_touch(struct vd_mirror *mirror, uint32_t offset, uint32_t stride,
		uint32_t width, uint32_t rows) {
	uint64_t added = walk(mirror, offset, stride, width, rows);
	mirror->bytes += added;
	return added;
}

void vd_mirror_write(struct vd_mirror *mirror, uint32_t offset, uint32_t stride, uint32_t width,
		uint32_t rows, const uint8_t *data) {
	if (rows == 1 || stride == width) {
		memcpy(mirror->map + offset, data, (size_t)width * rows);
		return;
	}
	for (uint32_t r = 0; r < rows; r++) {
		memcpy(mirror->map + offset + (size_t)r * stride, data + (size_t)r * width, width);
	}
}

void vd_mirror_copy(struct vd_mirror *dst, uint32_t dst_offset, uint32_t dst_stride,
		const struct vd_mirror *src, uint32_t src_offset, uint32_t src_stride, uint32_t width,
		uint32_t rows) {
	/* rows that overlap in one pool: the order that never reads what it wrote */
	bool backwards = dst == src && dst_offset > src_offset;
	for (uint32_t i = 0; i < rows; i++) {
		uint32_t r = backwards ? rows - 1 - i : i;
		memmove(dst->map + dst_offset + (size_t)r * dst_stride,
			src->map + src_offset + (size_t)r * src_stride, width);
	}
}

uint64_t vd_mirror_discard(struct vd_mirror *mirror, uint32_t offset, uint32_t length) {
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t start = offset, end = (uint64_t)offset + length;
	uint64_t first_page = (start + page - 1) / page * page;
	uint64_t last_page = end / page * page;
	if (first_page < last_page) {
		memset(mirror->map + start, 0, (size_t)(first_page - start));
		madvise(mirror->map + first_page, (size_t)(last_page - first_page), MADV_REMOVE);
		memset(mirror->map + last_page, 0, (size_t)(end - last_page));
	} else {
		memset(mirror->map + start, 0, (size_t)(end - start));
	}
	/* the granules wholly inside count no more */
	uint64_t freed = 0;
	size_t g0 = (size_t)((start + VD_MIRROR_GRANULE - 1) / VD_MIRROR_GRANULE);
	size_t g1 = (size_t)(end / VD_MIRROR_GRANULE);
	for (size_t g = g0; g < g1; g++) {
		if (bit(mirror->touched, g)) {
			mirror->touched[g / 8] &= (uint8_t)~(1u << (g % 8));
			freed += VD_MIRROR_GRANULE;
		}
	}
	mirror->bytes -= freed;
	return freed;
}
