#ifndef PROTOCOLS_RATE_H
#define PROTOCOLS_RATE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The one rate limit: a burst, then one per interval (a token bucket that
 * refills one token per interval_ms, up to burst tokens).
 */

struct vd_rate {
	uint32_t burst;
	uint32_t interval_ms;
	double tokens;
	uint64_t at; // when tokens was last refilled
	uint64_t dropped_at; // the last refusal (0: none)
};

/* Refusals with less than this between them are one flood (logged once). */
#define VD_RATE_FLOOD_QUIET_MS 5000

void vd_rate_init(struct vd_rate *rate, uint32_t burst, uint32_t interval_ms, uint64_t now_ms);
/* Takes a token if there is one. */
bool vd_rate_take(struct vd_rate *rate, uint64_t now_ms);
/*
 * The same, for messages dropped when refused: *new_flood says whether this
 * refusal starts a flood (none in the VD_RATE_FLOOD_QUIET_MS before), the
 * time for one log line.
 */
bool vd_rate_take_or_drop(struct vd_rate *rate, uint64_t now_ms, bool *new_flood);

#endif
