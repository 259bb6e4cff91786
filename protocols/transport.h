#ifndef PROTOCOLS_TRANSPORT_H
#define PROTOCOLS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One code path for the three carriers of the agent channel:
 *   vsock:CID:PORT    AF_VSOCK (crosvm, QEMU vhost-vsock)
 *   hvsock:PATH:PORT  the Unix socket of a cloud-hypervisor/Firecracker hybrid
 *                     vsock: connect, send "CONNECT <port>\n", expect "OK <n>\n"
 *   unix:PATH         a plain Unix stream socket (tests, agent on the host)
 * Listening addresses: vsock:PORT (any CID) and unix:PATH.
 * Every socket made here is non-blocking and close-on-exec.
 */

enum vd_addr_kind {
	VD_ADDR_VSOCK,
	VD_ADDR_HVSOCK,
	VD_ADDR_UNIX,
};

#define VD_ADDR_PATH_MAX 108 // sizeof(sockaddr_un.sun_path)

struct vd_addr {
	enum vd_addr_kind kind;
	uint32_t cid; // vsock only (VMADDR_CID_ANY when listening)
	uint32_t port; // vsock and hvsock
	char path[VD_ADDR_PATH_MAX]; // hvsock and unix, NUL-terminated
};

/* The longest line a hybrid-vsock muxer may answer ("OK 1073741824\n" is 14). */
#define VD_HVSOCK_REPLY_MAX 32

/* Parses a connect address (listen = false) or a listen address (listen = true). */
bool vd_addr_parse(const char *str, bool listen, struct vd_addr *addr, char *err,
	size_t err_size);
/* Formats an address back into its string form. */
void vd_addr_format(const struct vd_addr *addr, char *buf, size_t size);

/* Binds and listens. A stale Unix socket file at the path is replaced. Returns an fd or -1. */
int vd_transport_listen(const struct vd_addr *addr, char *err, size_t err_size);
/* Accepts one connection (non-blocking, close-on-exec). Returns an fd or -1 (errno set). */
int vd_transport_accept(int listen_fd);

/*
 * A non-blocking dial: connect, then for hvsock the CONNECT/OK handshake, all
 * driven by poll. Usage: vd_dial_start, then poll vd_dial_fd() for
 * vd_dial_events() with a timeout of vd_dial_timeout(), calling vd_dial_step()
 * after each poll until it returns something other than VD_DIAL_AGAIN.
 */
enum vd_dial_status {
	VD_DIAL_AGAIN,
	VD_DIAL_DONE,
	VD_DIAL_FAILED,
};

enum vd_dial_state {
	VD_DIAL_CONNECTING,
	VD_DIAL_SEND_CONNECT,
	VD_DIAL_RECV_OK,
	VD_DIAL_STATE_DONE,
	VD_DIAL_STATE_FAILED,
};

struct vd_dial {
	struct vd_addr addr;
	enum vd_dial_state state;
	int fd;
	uint64_t deadline_ms;
	char line[VD_HVSOCK_REPLY_MAX + 1];
	size_t sent;
	char err[160];
};

/* Starts dialling. Returns the status; on VD_DIAL_FAILED, dial->err says why. */
enum vd_dial_status vd_dial_start(struct vd_dial *dial, const struct vd_addr *addr,
	int timeout_ms);
int vd_dial_fd(const struct vd_dial *dial);
short vd_dial_events(const struct vd_dial *dial);
/* Milliseconds until the deadline (>= 0). */
int vd_dial_timeout(const struct vd_dial *dial);
enum vd_dial_status vd_dial_step(struct vd_dial *dial);
/* Hands over the connected fd (the dial no longer owns it). */
int vd_dial_take_fd(struct vd_dial *dial);
/* Closes the fd if still owned (only after vd_dial_start). */
void vd_dial_finish(struct vd_dial *dial);

/* Blocking convenience wrapper around the dial. Returns a non-blocking fd or -1. */
int vd_transport_connect(const struct vd_addr *addr, int timeout_ms, char *err,
	size_t err_size);

/* Exponential backoff for reconnects. */
struct vd_backoff {
	uint32_t min_ms, max_ms, cur_ms;
};

void vd_backoff_init(struct vd_backoff *backoff, uint32_t min_ms, uint32_t max_ms);
/* The delay before the next attempt; doubles each call up to max_ms. */
uint32_t vd_backoff_next(struct vd_backoff *backoff);
void vd_backoff_reset(struct vd_backoff *backoff);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t vd_now_ms(void);

#endif
