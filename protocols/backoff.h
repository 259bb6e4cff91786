#ifndef PROTOCOLS_BACKOFF_H
#define PROTOCOLS_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The one reconnect backoff: min_ms, then doubling up to max_ms. A
 * connection that stayed up for stable_ms earns quick retries again
 * (vd_backoff_connected, then vd_backoff_disconnected); one that fails
 * sooner keeps the longer pause, so a peer that connects and misbehaves is
 * retried less and less often.
 */

struct vd_backoff {
	uint32_t min_ms, max_ms, stable_ms;
	uint32_t cur_ms;
	uint64_t connected_at; // 0: not connected
};

void vd_backoff_init(struct vd_backoff *backoff, uint32_t min_ms, uint32_t max_ms,
	uint32_t stable_ms);
/* The pause before the next attempt. */
uint32_t vd_backoff_next(struct vd_backoff *backoff);
void vd_backoff_reset(struct vd_backoff *backoff);
/* Jumps to the longest pause (a peer that refused us for a reason that lasts). */
void vd_backoff_max(struct vd_backoff *backoff);
void vd_backoff_connected(struct vd_backoff *backoff, uint64_t now_ms);
/* Resets the pause if the connection was stable. */
void vd_backoff_disconnected(struct vd_backoff *backoff, uint64_t now_ms);

#endif
