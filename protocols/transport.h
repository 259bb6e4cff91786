#ifndef PROTOCOLS_TRANSPORT_H
#define PROTOCOLS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/listen.h"

/*
 * The carriers of links, one code path for all:
 *   vsock:CID:PORT    AF_VSOCK (crosvm, QEMU vhost-vsock)
 *   hvsock:PATH:PORT  the Unix socket of a cloud-hypervisor/Firecracker hybrid
 *                     vsock: connect, send "CONNECT <port>\n", expect "OK <n>\n"
 *   unix:PATH         a plain Unix stream socket (tests, an agent on the host)
 * Listening addresses: vsock:PORT (any CID) and unix:PATH. Every socket made
 * here is non-blocking and close-on-exec.
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

/* Listens on addr (unix: with vd_listen_unix and its lock). */
bool vd_transport_listen(const struct vd_addr *addr, struct vd_listener *listener, char *err,
	size_t err_size);
/* Accepts one connection (non-blocking, close-on-exec). Returns an fd or -1 (errno set). */
int vd_transport_accept(int listen_fd);

/*
 * A dial on the event loop: connect, then for hvsock the CONNECT/OK
 * handshake, within a time limit. done() is called once, from a callback
 * of the loop (never inside vd_dial), with the connected fd (now the
 * caller's) or -1 and the reason; the dialer is gone after it returns.
 */
typedef void (*vd_dial_done)(void *data, int fd, const char *err);

struct vd_dialer;

/* NULL if out of memory. */
struct vd_dialer *vd_dial(struct wl_event_loop *loop, const struct vd_addr *addr, int timeout_ms,
	vd_dial_done done, void *data);
/* Stops a dial; done() is not called. Accepts NULL. */
void vd_dialer_cancel(struct vd_dialer *dialer);

#endif
