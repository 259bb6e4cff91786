#ifndef PROXY_WL_CHANNEL_IN_H
#define PROXY_WL_CHANNEL_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/wl/connection.h"

/*
 * What arrives on one Wayland channel of a VM link (protocols/link.md
 * "Wayland channels"), kept in order until the connection of its reader
 * takes it: Wayland bytes (WL_DATA) and the fds that link objects became
 * (a pool's mirror, a pipe, a keymap), each fd at the byte offset where it
 * came, so that it enters the connection just before the bytes of the
 * message that carries it. Both ends of the link use it: the host's channel
 * endpoint (read) and the guest's events toward a client.
 *
 * Flow control: the peer may have at most window bytes unacknowledged; they
 * fit here. The bytes taken are acknowledged (WL_ACK) in batches.
 */

struct vd_channel_in_fd {
	uint64_t at; // the byte offset it goes before
	int fd;
};

struct vd_channel_in {
	uint8_t *data; // window bytes
	size_t start, end;
	uint64_t pos; // offset of data[start] since the channel began
	struct vd_channel_in_fd *fds; // ring of max_fds
	size_t fd_start, fd_count, max_fds;
	uint32_t window;
	uint32_t unacked; // taken and not yet acknowledged
};

bool vd_channel_in_init(struct vd_channel_in *in, uint32_t window, size_t max_fds);
/* Closes the fds still held. */
void vd_channel_in_finish(struct vd_channel_in *in);

/* WL_DATA: false if it passes the window (the peer broke the flow control). */
bool vd_channel_in_push(struct vd_channel_in *in, const uint8_t *data, size_t len);
/* An fd for the next message; false (fd not taken) if max_fds are held. */
bool vd_channel_in_push_fd(struct vd_channel_in *in, int fd);

static inline size_t vd_channel_in_size(const struct vd_channel_in *in) {
	return in->end - in->start;
}

/*
 * Moves at most max bytes into conn's input, each fd just before the byte it
 * goes with (an fd waits for the first byte after it). Returns the bytes
 * moved; *too_many_fds if conn refused an fd (it stays here).
 */
size_t vd_channel_in_take(struct vd_channel_in *in, struct vd_connection *conn, size_t max,
	bool *too_many_fds);

/* Bytes to acknowledge now (a quarter of the window taken, or any if force), then 0. */
uint32_t vd_channel_in_ack(struct vd_channel_in *in, bool force);

#endif
