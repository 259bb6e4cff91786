#ifndef HOST_CHANNEL_PRIVATE_H
#define HOST_CHANNEL_PRIVATE_H

/*
 * The inside of an agent channel, shared by channel.c (the link, the
 * application lists, status) and channel-runs.c (the programs run in the
 * guest for a requester).
 */

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "host/channel.h"
#include "protocols/backoff.h"
#include "protocols/rate.h"
#include "protocols/transport.h"

struct app {
	char *id;
	char *name;
};

struct app_list {
	struct app *items;
	size_t count, cap;
};

struct vd_run {
	struct vd_channel *channel;
	struct wl_list link; // vd_channel.runs
	uint32_t id;
	bool wait;
	bool started;
	vd_run_event event; // NULL once detached
	void *data;
	struct wl_event_source *deadline; // until RUN_STARTED
	uint64_t unacked; // output passed to the requester and not acknowledged to the guest
	uint32_t ack_pending; // acknowledged by the requester, not yet sent to the guest
};

struct vd_channel {
	struct vd_channel_config config;
	struct vd_vmconf conf;
	enum vd_channel_state state;
	/* where the agent is: conf.agent, or the launcher's while the VM runs */
	bool has_agent;
	struct vd_addr agent;
	char agent_str[VD_ADDR_PATH_MAX + 32];
	bool serial;
	struct vd_dialer *dialer;
	struct vd_link_conn *conn;
	struct wl_event_source *retry_timer;
	struct wl_event_source *ack_idle; // sends the runs' pending RUN_ACKs
	struct vd_backoff backoff;
	uint64_t retry_at;
	char last_error[320];
	unsigned connects;
	uint64_t connected_at;
	uint32_t next_id;
	struct wl_list runs; // vd_run.link

	/* the application list: of the last complete snapshot */
	struct app_list apps;
	bool apps_known;
	/* a snapshot in progress */
	bool in_snapshot;
	uint32_t snap_count, snap_received, snap_refused;
	struct app_list snap;
	bool menu_open; // a snapshot of this VM is open in the menu writer
	struct vd_rate snap_rate; // snapshots allowed (kept across links)

	bool idle_known, idle;
	uint32_t idle_seconds;
	uint64_t idle_reported_at;
};

/* channel.c */
void channel_notify(struct vd_channel *channel);
bool channel_send_msg(struct vd_channel *channel, const struct vd_link_msg *msg);
/* Whether the last complete application list has id (only when apps_known). */
bool channel_has_app(const struct vd_channel *channel, const char *id);

/* channel-runs.c */
/* Fails every run of the channel with code, saying why. */
void channel_fail_runs(struct vd_channel *channel, uint32_t code, const char *why);
/* A message about a run, from the guest. */
void channel_handle_run_message(struct vd_channel *channel, const struct vd_link_msg *msg);

#endif
