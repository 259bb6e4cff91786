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
};

void vd_rate_init(struct vd_rate *rate, uint32_t burst, uint32_t interval_ms, uint64_t now_ms);
/* Takes a token if there is one. */
bool vd_rate_take(struct vd_rate *rate, uint64_t now_ms);

#endif
