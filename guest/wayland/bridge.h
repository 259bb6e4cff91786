#ifndef GUEST_WAYLAND_BRIDGE_H
#define GUEST_WAYLAND_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/link-conn.h"
#include "protocols/link-mux.h"
#include "protocols/link-pipe.h"
#include "protocols/listen.h"
#include "protocols/transport.h"
#include "proxy/wl/vd-wl.h"

/*
 * vmdesk-guest-wayland: the guest session's Wayland socket, every client
 * carried as a channel of one link to vmdesk-proxy on the host
 * (protocols/link.md "Wayland channels"). It passes messages through with
 * their IDs (proxy/wl/tracker.h), parsing only what it must to carry fds:
 * shm pools become mirrors on the host, filled with what changed in a
 * buffer at each commit (guest/wayland/shm.c, surface.c, job.c), pipes
 * and keymaps cross as link objects. It filters nothing (the host decides)
 * and trusts nothing from the host beyond the link's rules.
 *
 *   main.c      options, the sockets, the loop
 *   hostlink.c  the link: handshake, limits, pings, messages to channels
 *   client.c    a client: its socket, tracker, requests, events, channel
 *   client-queue.c  its queue toward the host, taken by the link's turns
 *   shm.c       pools and buffers, their shadows, freed bytes
 *   surface.c   surfaces, damage, viewports: what a commit sends
 *   job.c       sending a commit's bytes: diff against a shadow, or copy
 */

#define VD_BRIDGE_DEFAULT_PORT 5001
#define VD_BRIDGE_WINDOW (256u * 1024u) // host-to-guest bytes per channel
#define VD_BRIDGE_PIPE_WINDOW (64u * 1024u)
#define VD_BRIDGE_MAX_PIPES 32
#define VD_BRIDGE_MAX_OBJECTS 200000

struct client;

struct bridge {
	struct wl_event_loop *loop;
	/* the session's Wayland socket */
	struct vd_listener display;
	struct wl_event_source *display_source;
	char display_path[108];
	/* the link: listening (vsock, unix) or a port (serial) */
	struct vd_addr link_addr;
	char link_text[160];
	struct vd_listener link_listener;
	struct wl_event_source *link_source;
	struct vd_link_conn *conn; // the host's link (one at a time)
	struct wl_event_source *port_retry; // a serial port's link failed: open it again
	bool ready; // handshake done and the host's WL_LIMITS read
	uint32_t host_window, host_pipe_window, max_pools; // from the host's WL_LIMITS
	struct vd_mux mux;
	uint32_t next_channel;
	struct wl_list clients; // client.link
	size_t client_count, waiting;
	struct vd_hook_registry *hooks;
	/* options */
	uint32_t wait_ms; // how long a new client waits for a link
	uint32_t max_clients;
	bool quit;
	bool failed; // quit because of an error: the exit status says so
};

/* hostlink.c */
bool hostlink_start(struct bridge *bridge, char *err, size_t err_size);
void hostlink_finish(struct bridge *bridge);
/* Sends a link message now (false if there is no ready link). */
bool hostlink_send(struct bridge *bridge, const struct vd_link_msg *msg);

/* client.c */
void client_create(struct bridge *bridge, int fd);
void client_destroy(struct client *client);
/* The link is ready: waiting clients get channels. */
void clients_link_ready(struct bridge *bridge);
/* The link ended: every channel ends, their clients are told and closed. */
void clients_link_gone(struct bridge *bridge, const char *why);
/* A message of a channel (not link-level). */
void clients_message(struct bridge *bridge, const struct vd_link_msg *msg);
struct vd_hook_registry *client_hooks_create(void);

#endif
