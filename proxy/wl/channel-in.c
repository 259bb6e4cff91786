#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/wl/channel-in.h"

bool vd_channel_in_init(struct vd_channel_in *in, uint32_t window, size_t max_fds) {
	*in = (struct vd_channel_in){.window = window, .max_fds = max_fds};
	in->data = malloc(window);
	in->fds = calloc(max_fds > 0 ? max_fds : 1, sizeof(*in->fds));
	if (in->data == NULL || in->fds == NULL) {
		free(in->data);
		free(in->fds);
		*in = (struct vd_channel_in){0};
		return false;
	}
	return true;
}

void vd_channel_in_finish(struct vd_channel_in *in) {
	for (size_t i = 0; i < in->fd_count; i++) {
		close(in->fds[(in->fd_start + i) % in->max_fds].fd);
	}
	free(in->data);
	free(in->fds);
	*in = (struct vd_channel_in){0};
}

bool vd_channel_in_push(struct vd_channel_in *in, const uint8_t *data, size_t len) {
	size_t held = in->end - in->start;
	if ((uint64_t)held + in->unacked + len > in->window) {
		return false;
	}
	if (in->end + len > in->window) {
		memmove(in->data, in->data + in->start, held);
		in->start = 0;
		in->end = held;
	}
	memcpy(in->data + in->end, data, len);
	in->end += len;
	return true;
}

bool vd_channel_in_push_fd(struct vd_channel_in *in, int fd) {
	if (in->fd_count == in->max_fds) {
		return false;
	}
	in->fds[(in->fd_start + in->fd_count) % in->max_fds] = (struct vd_channel_in_fd){
		.at = in->pos + (in->end - in->start), .fd = fd};
	in->fd_count++;
	return true;
}

size_t vd_channel_in_take(struct vd_channel_in *in, struct vd_connection *conn, size_t max,
		bool *too_many_fds) {
	*too_many_fds = false;
	size_t moved = 0;
	while (moved < max && in->start < in->end) {
		/* the fds that go before the next byte */
		while (in->fd_count > 0 && in->fds[in->fd_start].at <= in->pos) {
			if (!vd_connection_push_fd(conn, in->fds[in->fd_start].fd)) {
				*too_many_fds = true;
				return moved;
			}
			in->fd_start = (in->fd_start + 1) % in->max_fds;
			in->fd_count--;
		}
		size_t n = in->end - in->start;
		if (in->fd_count > 0 && in->fds[in->fd_start].at - in->pos < n) {
			n = (size_t)(in->fds[in->fd_start].at - in->pos);
		}
		size_t space;
		uint8_t *tail = vd_connection_in_tail(conn, &space);
		n = n < space ? n : space;
		n = n < max - moved ? n : max - moved;
		if (n == 0) {
			break;
		}
		memcpy(tail, in->data + in->start, n);
		vd_connection_in_commit(conn, n);
		in->start += n;
		in->pos += n;
		in->unacked += (uint32_t)n;
		moved += n;
	}
	if (in->start == in->end) {
		in->start = in->end = 0;
	}
	return moved;
}

uint32_t vd_channel_in_ack(struct vd_channel_in *in, bool force) {
	if (in->unacked == 0 || (!force && in->unacked < in->window / 4)) {
		return 0;
	}
	uint32_t bytes = in->unacked;
	in->unacked = 0;
	return bytes;
}
