#ifndef PROXY_VM_LINK_H
#define PROXY_VM_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/backoff.h"
#include "protocols/link-conn.h"
#include "protocols/link-mux.h"
#include "protocols/transport.h"

/*
 * The proxy's link to the VM's Wayland bridge (vmdesk-proxy --guest
 * ADDRESS; protocols/link.md "Wayland channels"). The proxy dials
 * vmdesk-guest-wayland in the VM; the link is the VM's identity: everything
 * that comes over it is this VM's, whatever the guest says. Each guest
 * client is a channel, and each channel a session like a local client's
 * (proxy/channel.h): same policy, frames, titles, clipboard and limits, its
 * log lines "vm=NAME channel=N".
 *
 * Faults: a link that breaks (the guest or its bridge went away, a protocol
 * error, no answer to pings within timeout_ms) ends every channel of that
 * link (their windows close) and is dialled again with the one backoff.
 * Nothing else of the proxy, its local clients and other VMs is touched.
 */

struct vd_server;
struct vd_hook_registry;

struct vd_vm_link_limits {
	uint32_t max_channels; // guest clients at once
	uint32_t max_pools; // shm pools per channel
	uint64_t pool_mirror; // bytes one pool's mirror may hold
	uint64_t vm_mirror; // bytes all the VM's mirrors may hold
	uint32_t timeout_ms; // no answer to a ping for this long: the link is cut
};

/* Defaults: two 4K windows of four buffers each fit (4 x 3840 x 2160 x 4 = 127 MiB each). */
#define VD_VM_LINK_MAX_CHANNELS 256
#define VD_VM_LINK_MAX_POOLS 256
#define VD_VM_LINK_POOL_MIRROR (256ull << 20)
#define VD_VM_LINK_VM_MIRROR (512ull << 20)
#define VD_VM_LINK_TIMEOUT_MS 15000

struct vd_vm_link;

/* Starts dialling addr from the loop; NULL if out of memory. */
struct vd_vm_link *vd_vm_link_create(struct vd_server *server, const struct vd_addr *addr,
	const struct vd_vm_link_limits *limits);
/* Ends every channel and the link. Accepts NULL. */
void vd_vm_link_destroy(struct vd_vm_link *link);

/* ---- for proxy/channel.c ---- */

struct vd_vm_link {
	struct vd_server *server;
	struct vd_addr addr;
	char addr_text[160];
	struct vd_vm_link_limits limits;
	struct vd_hook_registry *hooks; // the link sessions' (fd-carrying globals hidden)
	struct vd_dialer *dialer;
	struct vd_link_conn *conn; // NULL while not connected
	struct wl_event_source *retry_timer, *ping_timer;
	struct vd_backoff backoff;
	struct vd_mux mux; // the pipes' turns
	bool ready; // the handshake and the guest's WL_LIMITS are done
	bool got_hello;
	uint32_t peer_window, peer_pipe_window; // the guest's WL_LIMITS
	uint32_t last_channel; // channel numbers only grow within a link
	struct wl_list channels; // vd_channel.link_node
	size_t channel_count;
	uint64_t mirror_bytes; // what every channel's mirrors hold
	uint32_t ping_seq, pong_seq;
	uint64_t ping_sent_ms; // the oldest ping not answered (0: none)
	bool warned; // about a guest that is not there
	uint64_t refused; // channels refused over the limit (logged once in a while)
};

/* Channel windows: what the proxy takes per channel and per pipe. */
#define VD_VM_LINK_WINDOW (256u * 1024u)
#define VD_VM_LINK_PIPE_WINDOW (64u * 1024u)
#define VD_VM_LINK_MAX_PIPES 32

#endif
