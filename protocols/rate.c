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
