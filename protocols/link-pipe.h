#ifndef PROTOCOLS_LINK_PIPE_H
#define PROTOCOLS_LINK_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/link-conn.h"
#include "protocols/link-mux.h"

/*
 * Pipes carried on a Wayland channel (protocols/link.md "Wayland channels"):
 * the clipboard's wl_data_offer.receive and wl_data_source.send (and the
 * primary selection's), whichever end holds which side. Both ends of the
 * link run the same code.
 *
 * A pipe's local end is an fd of this side. If data comes out of it (a read
 * end) it is read as far as the peer's window allows and sent as
 * WL_PIPE_DATA, turn by turn with everything else on the link (link-mux.h);
 * at its end of file WL_PIPE_CLOSE follows. If data goes into it (a write
 * end) what arrives is written, at most one window buffered, and
 * acknowledged as it is written (WL_PIPE_ACK); a reader that went away is
 * told to the peer with WL_PIPE_CLOSE. A pipe ends when both sides are done,
 * or with its channel.
 */

struct vd_link_pipes {
	struct vd_mux *mux;
	struct wl_event_loop *loop;
	uint32_t channel;
	bool host; // the host's numbers have VD_LINK_WL_HOST_PIPE set
	uint32_t window; // what we take per pipe unacknowledged
	uint32_t peer_window; // what the peer takes
	size_t max_pipes;
	struct wl_list pipes; // vd_link_pipe.link
	size_t count;
	uint32_t next_id; // ours
	uint32_t last_peer_id; // the peer's numbers only grow: an older one is a closed pipe
};

void vd_link_pipes_init(struct vd_link_pipes *pipes, struct vd_mux *mux,
	struct wl_event_loop *loop, uint32_t channel, bool host, uint32_t window,
	uint32_t peer_window, size_t max_pipes);
/* Closes every pipe (nothing is sent). */
void vd_link_pipes_finish(struct vd_link_pipes *pipes);

/*
 * A pipe end of ours goes to the peer (an fd in a message we pass on):
 * fills msg with the WL_PIPE to send before that message, and takes fd. The
 * kind of end comes from the fd (a read end, or a write end; anything else
 * open for writing counts as a write end). False (fd closed) with err.
 */
bool vd_link_pipes_add_local(struct vd_link_pipes *pipes, int fd, struct vd_link_msg *msg,
	char *err, size_t err_size);
/*
 * The peer's WL_PIPE: a pipe of ours whose other end is returned in *fd, to
 * be passed on in the peer's next message. False with err: a protocol
 * violation (number reused or out of its range, too many pipes) or no fds.
 */
bool vd_link_pipes_add_remote(struct vd_link_pipes *pipes, const struct vd_link_wl_pipe *pipe,
	int *fd, char *err, size_t err_size);
/*
 * WL_PIPE_DATA, WL_PIPE_ACK or WL_PIPE_CLOSE of the peer. False with err:
 * a protocol violation (data past the window, acknowledgement of more than
 * was sent, a number never used).
 */
bool vd_link_pipes_message(struct vd_link_pipes *pipes, const struct vd_link_msg *msg,
	char *err, size_t err_size);

#endif
