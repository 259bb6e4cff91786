#ifndef PROTOCOLS_LINK_CONN_PRIVATE_H
#define PROTOCOLS_LINK_CONN_PRIVATE_H

/*
 * The inside of a link end, shared by its three files: link-conn.c (the
 * output queue, closing, the event sources, create and destroy),
 * link-conn-read.c (frames in: the handshake, bulk data, resynchronisation)
 * and link-conn-port.c (a serial carrier on a character device without a
 * host).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/link-conn.h"

/* Bytes read per readable event, so that one busy peer cannot starve the others. */
#define READ_BUDGET (256u * 1024u)
#define CLOSE_TIMEOUT_MS 5000
#define HELLO_RESEND_MS 1000
/* A port without a host: how often to look, besides the edge that says so. */
#define PORT_CHECK_MS 2000
/*
 * Serial carriers: a frame still incomplete this long (plus 1 ms per 4 KiB
 * it announces), with a SYNC marker in what it holds, is the remnant of a
 * peer that restarted in its middle, swallowing the new session's SYNC and
 * HELLO: the reader hunts for SYNC.
 */
#define FRAME_STALL_MS 3000
/* iovecs per write when bytes of the caller's are queued (send_ref) */
#define MAX_IOV 64

/* Bytes of the caller's queued between our own (vd_link_conn_send_ref). */
struct out_ref {
	uint64_t at; // our own bytes queued before it, since the start
	const uint8_t *data;
	size_t len, done;
	bool faulted; // the memory went away: zeros are sent for the rest
	vd_link_release_func release;
	void *release_data;
};

enum conn_state {
	STATE_HANDSHAKE, // waiting for the peer's HELLO
	STATE_READY,
	STATE_CLOSING, // writing what is queued, then closed()
	STATE_FAILED, // closed() at the next idle
	STATE_CLOSED, // closed() was called
};

struct vd_link_conn {
	struct wl_event_loop *loop;
	int fd;
	bool is_socket;
	struct wl_event_source *fd_source;
	struct wl_event_source *idle; // flush, and closed() when closing is done
	struct wl_event_source *timer; // hello timeout, close timeout, HELLO resends
	uint32_t mask;

	struct vd_link_conn_config config;
	char software[65];
	const struct vd_link_conn_impl *impl;
	void *data;

	struct vd_link_reader reader;
	struct vd_link_buf out;
	uint64_t out_total, out_sent; // our own bytes queued and written, since the start
	struct out_ref *refs; // refs[ref_start, +ref_count)
	size_t ref_start, ref_count, ref_cap, ref_bytes;
	struct {
		bool active; // reading a bulk frame's data to target
		bool declined; // the owner wanted the head frame delivered as any frame
		struct vd_link_msg msg; // its head, data pointing at target
		uint8_t *target;
		size_t len, got;
		bool expect; // one just ended: the next frame may well be another
		size_t head_max; // bytes of a header and the largest bulk head of the set
	} bulk;
	uint64_t partial_since_ms; // serial carriers: when the incomplete frame began (0: none)
	bool port; // serial carrier on a port: EOF means no host now
	bool host_away; // a port without a host: waiting for one
	int port_epoll; // the port, edge-triggered, while waiting (-1: none)
	struct wl_event_source *port_source;
	enum conn_state state;
	char reason[512];
	bool have_reason;
	bool paused;
	bool write_closed; // the peer stopped reading for good (EPIPE): read what it said

	uint32_t caps;
	uint32_t peer_max_frame;
	char peer_software[65];
	uint64_t nonce, peer_nonce;

	int busy; // inside a handler
	bool destroyed; // vd_link_conn_destroy was called while busy
};

/* link-conn.c */
size_t link_conn_out_pending(const struct vd_link_conn *conn);
void link_conn_out_drop(struct vd_link_conn *conn);
void link_conn_update_mask(struct vd_link_conn *conn);
/* Marks the link failed: closed() runs from the next idle callback. */
void link_conn_fail(struct vd_link_conn *conn, const char *reason);
void link_conn_schedule_idle(struct vd_link_conn *conn);
void link_conn_send_hello(struct vd_link_conn *conn);
int link_conn_handle_fd(int fd, uint32_t mask, void *data);

/* link-conn-read.c: reads what is there (within the budget), handles every whole frame */
void link_conn_handle_readable(struct vd_link_conn *conn);

/* link-conn-port.c */
/* No host on the port (EOF or EIO): the link resets and waits for one. */
void link_conn_port_host_away(struct vd_link_conn *conn);
/* The periodic look while no host is there (the timer). */
void link_conn_port_rearm(struct vd_link_conn *conn);
/* Stops waiting for a host (or never started). */
void link_conn_port_wait_finish(struct vd_link_conn *conn);

#endif
