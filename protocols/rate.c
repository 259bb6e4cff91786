#include "protocols/rate.h"

void vd_rate_init(struct vd_rate *rate, uint32_t burst, uint32_t interval_ms, uint64_t now_ms) {
	*rate = (struct vd_rate){.burst = burst, .interval_ms = interval_ms ? interval_ms : 1,
		.tokens = burst, .at = now_ms};
}

bool vd_rate_take(struct vd_rate *rate, uint64_t now_ms) {
	if (now_ms > rate->at) {
		rate->tokens += (double)(now_ms - rate->at) / rate->interval_ms;
		rate->at = now_ms;
	}
	if (rate->tokens > rate->burst) {
		rate->tokens = rate->burst;
	}
	if (rate->tokens < 1) {
		return false;
	}
	rate->tokens -= 1;
	return true;
}

bool vd_rate_take_or_drop(struct vd_rate *rate, uint64_t now_ms, bool *new_flood) {
	*new_flood = false;
	if (vd_rate_take(rate, now_ms)) {
		return true;
	}
	*new_flood = rate->dropped_at == 0 || now_ms - rate->dropped_at >= VD_RATE_FLOOD_QUIET_MS;
	rate->dropped_at = now_ms;
	return false;
}
