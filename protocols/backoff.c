#include "protocols/backoff.h"

void vd_backoff_init(struct vd_backoff *backoff, uint32_t min_ms, uint32_t max_ms,
		uint32_t stable_ms) {
	backoff->min_ms = min_ms > 0 ? min_ms : 1;
	backoff->max_ms = max_ms > backoff->min_ms ? max_ms : backoff->min_ms;
	backoff->stable_ms = stable_ms;
	backoff->cur_ms = 0;
	backoff->connected_at = 0;
}

uint32_t vd_backoff_next(struct vd_backoff *backoff) {
	if (backoff->cur_ms == 0) {
		backoff->cur_ms = backoff->min_ms;
	} else if (backoff->cur_ms >= backoff->max_ms / 2) {
		backoff->cur_ms = backoff->max_ms;
	} else {
		backoff->cur_ms *= 2;
	}
	return backoff->cur_ms;
}

void vd_backoff_reset(struct vd_backoff *backoff) {
	backoff->cur_ms = 0;
}

void vd_backoff_max(struct vd_backoff *backoff) {
	backoff->cur_ms = backoff->max_ms;
}

void vd_backoff_connected(struct vd_backoff *backoff, uint64_t now_ms) {
	backoff->connected_at = now_ms > 0 ? now_ms : 1;
}

void vd_backoff_disconnected(struct vd_backoff *backoff, uint64_t now_ms) {
	if (backoff->connected_at != 0 && now_ms - backoff->connected_at >= backoff->stable_ms) {
		backoff->cur_ms = 0;
	}
	backoff->connected_at = 0;
}
