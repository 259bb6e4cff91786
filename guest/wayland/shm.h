#ifndef GUEST_WAYLAND_SHM_H
#define GUEST_WAYLAND_SHM_H

#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest/wayland/client.h"

/*
 * A client's shm pools as the bridge keeps them: the client's memory
 * (mapped read-only, under a SIGBUS guard) and a shadow of what the host's
 * mirror holds. Both are reserved at the largest pool size, so neither moves
 * when the pool grows. A pool lives while its wl_shm_pool, a buffer of it or
 * a queued job or write needs it (refs).
 *
 * At wl_surface.commit the attached buffer's bytes that may have changed
 * since the host last had them (the commit's damage in buffer coordinates,
 * plus what earlier commits of the surface damaged in other buffers, as
 * sommelier accumulates it; the whole buffer the first time) become a job
 * (job.c), queued in order before the commit's own bytes.
 */

#define VD_POOL_RESERVED ((size_t)VD_LINK_WL_MAX_POOL_SIZE + 1)

struct pool {
	int refs;
	struct client *client; // NULL once the client is gone
	uint32_t id;
	int fd; // the client's, while the wl_shm_pool lives (for resizes)
	uint8_t *map; // the client's memory
	uint8_t *shadow; // what the host's mirror holds
	uint32_t size;
	bool broken; // the client's file shrank under the mapping
	bool object_live; // the wl_shm_pool is not destroyed
	struct wl_list buffers; // buffer.pool_link: live buffers
	/* granules whose shadow lags behind the host (sent straight from the client's memory) */
	uint8_t *stale;
	size_t stale_size; // bytes of the bitmap
};

#define VD_POOL_GRANULE (64u * 1024u)

/* Adaptive: a buffer whose commits change nearly every byte is copied, not compared. */
struct bufstat {
	int refs;
	bool raw;
	uint32_t raw_commits;
	uint32_t streak;
};

/* A wl_buffer of a pool (shm.c); its surface follows it in surface.c. */
struct buffer {
	struct vd_object_addon addon;
	struct client *client;
	struct pool *pool;
	uint32_t offset, bpp;
	int32_t width, height, stride;
	pixman_region32_t pending; // may differ from what the host has
	bool sent; // the host has had all of it once
	struct surface *surface; // the surface it was last committed on
	struct wl_list surface_link; // surface.buffers
	struct wl_list pool_link; // pool.buffers
	struct bufstat *stat;
};

/* The buffer an object is, or NULL. */
struct buffer *buffer_of(const struct vd_object *object);

void pool_unref(struct pool *pool);
static inline struct pool *pool_ref(struct pool *pool) {
	pool->refs++;
	return pool;
}

/* The tracker hooks of shm pools and buffers (client.c adds them). */
bool shm_hooks_add(struct vd_hook_registry *registry);
/* The tracker hooks of surfaces and viewports (surface.c; client.c adds them). */
bool surface_hooks_add(struct vd_hook_registry *registry);
/* Bytes of destroyed buffers that no live buffer uses: discarded on both ends. */
void shm_flush_discards(struct client *client);

/* job.c */
struct job;
/*
 * A job sending rows of a buffer: boxes (pixels) of a buffer at offset of
 * pool, bpp bytes per pixel, stride bytes per row. Takes references.
 */
struct job *job_create(struct pool *pool, struct bufstat *stat, uint32_t offset, int32_t stride,
	int32_t width, int32_t height, uint32_t bpp, const pixman_region32_t *region);
/* Whether the shadow lags behind the host anywhere in [start, end) (job.c). */
bool pool_stale(const struct pool *pool, size_t start, size_t end);
/* Bytes it covers (for queue accounting). */
size_t job_size(const struct job *job);
/* Bytes it compared or copied, and bytes it sent (with the heads of runs). */
void job_stats(const struct job *job, uint64_t *examined, uint64_t *sent);
/*
 * Sends about budget bytes of it (compared or copied into the shadow, then
 * written from the shadow). Returns true when it is finished. *fault: the
 * client's file shrank (the pool is broken; the job is over).
 */
bool job_produce(struct job *job, struct vd_link_conn *conn, uint32_t channel, size_t *budget,
	bool *fault);
void job_free(struct job *job);
/* The SIGBUS handler for the client mappings (once, at start). */
bool job_guard_init(void);

#endif
