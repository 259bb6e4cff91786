#ifndef GUEST_WAYLAND_CLIENT_H
#define GUEST_WAYLAND_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "guest/wayland/bridge.h"
#include "proxy/wl/channel-in.h"

/*
 * One Wayland client of the guest and its channel. Toward the host its
 * requests, the link objects their fds became and the bytes of its commits
 * wait in one ordered queue (items), which the link takes turn by turn with
 * the other channels (protocols/link-mux.h): Wayland bytes within the host's
 * window, everything else as it comes. The client is read only while that
 * queue is short, so a client that sends faster than the link carries waits
 * in its own sendmsg. From the host, events wait in `in` (at most the window
 * this bridge grants) until the client's socket takes them.
 */

/* The client is read no more while this much waits for the link (jobs count their bytes)... */
#define QUEUE_HIGH (512u * 1024u)
/* ...and again once the queue is below this. */
#define QUEUE_LOW (128u * 1024u)

struct freed;
struct job;
struct pool;

enum item_kind {
	ITEM_BYTES, // the next len Wayland bytes of out_bytes
	ITEM_MSG, // a link message of fixed fields (a pool's or a pipe's)
	ITEM_JOB, // the bytes of a commit (job.c)
	ITEM_DISCARD, // zero bytes of a pool's shadow, then WL_POOL_DISCARD
	ITEM_COPY, // copy rows between shadows, then WL_POOL_COPY
	ITEM_CLOSE, // WL_CLOSE: the client is gone
};

struct item {
	struct wl_list link; // client.items
	enum item_kind kind;
	size_t len; // ITEM_BYTES
	struct vd_link_msg msg; // ITEM_MSG, ITEM_DISCARD (no pointers in it)
	struct job *job; // ITEM_JOB
	struct pool *pool; // ITEM_DISCARD, ITEM_COPY (the destination): a reference
	struct pool *src; // ITEM_COPY: a reference
};

struct client {
	struct bridge *bridge;
	struct wl_list link; // bridge.clients
	struct vd_endpoint *sock;
	struct vd_tracker tracker;
	uint32_t channel; // 0 while waiting for a link
	struct wl_event_source *wait_timer;

	/* toward the host */
	struct wl_list items; // item.link, in order
	uint8_t *out_bytes;
	size_t out_start, out_end, out_cap;
	size_t queued; // bytes of the items (Wayland bytes, and the jobs' sizes)
	uint32_t credit; // the host's window left
	struct vd_mux_source mux;
	uint32_t next_pool;
	size_t pool_count;
	struct pool *new_pool; // made by a create_pool hook, for its post hook
	struct freed *freed; // bytes of destroyed buffers, discarded after the requests read
	size_t freed_count, freed_cap;

	/* from the host */
	struct vd_channel_in in;
	struct vd_connection events; // the tracker reads events here
	struct vd_link_pipes pipes;

	struct {
		uint64_t commits, examined, sent, wayland; // for the log when it ends
	} stats;

	bool reading; // the client's socket is watched for requests
	bool gone; // the client's socket is closed: what is queued still goes, then WL_CLOSE
	bool host_closed; // WL_CLOSE came: events flushed, then the client is closed
	bool failed; // an error is posted: close once it is flushed
	struct wl_event_source *reaper; // frees a gone client from the loop
	char error[256];
};

/* client-queue.c: the queue toward the host */
void client_queue_bytes(struct client *client, const uint8_t *data, size_t len);
void client_queue_msg(struct client *client, const struct vd_link_msg *msg);
void client_queue_job(struct client *client, struct job *job, size_t bytes);
void client_queue_discard(struct client *client, struct pool *pool, uint32_t offset,
	uint32_t length);
/* Rows from one pool to another, on both ends (msg: a WL_POOL_COPY). */
void client_queue_copy(struct client *client, struct pool *src, struct pool *dst,
	const struct vd_link_msg *msg);
/* The multiplexer's turn: writes up to budget bytes of the queue to the link. */
bool client_produce(struct vd_mux_source *source, struct vd_link_conn *conn, size_t budget);
/* Watches the client's socket for what it can do now (reading, writing events). */
void client_update_watch(struct client *client);

/* client.c */
void client_free_item(struct client *client, struct item *item);
void client_schedule_reap(struct client *client);
/* Posts wl_display.error (object, code, text) to the client and closes it. */
void client_fail(struct client *client, uint32_t object, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
