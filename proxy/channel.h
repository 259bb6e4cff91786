#ifndef PROXY_CHANNEL_H
#define PROXY_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/link-pipe.h"
#include "proxy/wl/channel-in.h"
#include "proxy/wl/endpoint.h"

/*
 * One guest client on the VM link, as its session's client endpoint
 * (proxy/wl/endpoint.h, label "channel=N"): read() turns what the link
 * brought into bytes and real host fds (a pool's mirror, proxy/mirror.h; a
 * pipe; see proxy/wl/channel-in.h), flush() turns what the session sends
 * into WL_DATA within the guest's window and the fds of events into link
 * objects (a keymap's contents as WL_FILE, pipes as WL_PIPE). Buffer
 * contents arrive as WL_POOL_DATA and land in the mirror before the commit
 * that shows them is read.
 *
 * What a guest can get wrong on a channel (data outside a pool, an unknown
 * pool, a lying size, mirrors over their limits, the window overrun) ends
 * that channel: its client gets wl_display.error, the session ends with a
 * log line, the guest gets WL_CLOSE.
 */

struct vd_vm_link;
struct vd_session;

struct vd_channel {
	struct vd_endpoint base;
	struct vd_vm_link *link;
	struct wl_list link_node; // vd_vm_link.channels
	uint32_t id;
	struct vd_session *session;
	struct vd_channel_in in;
	struct vd_link_pipes pipes;
	uint32_t credit; // WL_DATA bytes the guest still takes
	struct wl_list pools; // vd_mirror.link
	size_t pool_count;
	uint32_t last_pool;
	uint64_t mirror_bytes; // this channel's share of the VM's count
	struct wl_event_source *kick; // tells the session, from the loop
	bool guest_closed; // WL_CLOSE came: the client is gone
	bool link_gone; // the link ended under it
	bool failed; // a protocol error: what comes is ignored
};

/* WL_OPEN: a channel and its session. Returns false if refused (WL_CLOSE sent). */
bool vd_channel_open(struct vd_vm_link *link, uint32_t id);
/* A message of the channel's (not WL_OPEN). */
void vd_channel_message(struct vd_channel *channel, const struct vd_link_msg *msg);
/* Where a WL_POOL_DATA's bytes go, or NULL to have it delivered whole. */
uint8_t *vd_channel_bulk_target(struct vd_channel *channel, const struct vd_link_msg *msg);
/* The link ended: the session ends soon (its windows close). */
void vd_channel_link_gone(struct vd_channel *channel);
/* The channel of that number, or NULL. */
struct vd_channel *vd_channel_find(struct vd_vm_link *link, uint32_t id);

#endif
