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
 *   unix:PATH         a plain Unix stream socket (tests, an agent on the host;
 *                     also the host end of a QEMU virtio-serial port's chardev)
 * Listening addresses: vsock:PORT (any CID), unix:PATH, and in a guest
 * serial:DEVICE, a virtio-serial port (/dev/virtio-ports/NAME) for VMMs
 * without vsock: not listened on but opened once and kept
 * (vd_transport_open_serial), one link with the nonce handshake
 * (VD_LINK_CARRIER_SERIAL, link.md "Serial carriers"). Every socket and
 * port opened here is non-blocking and close-on-exec.
 */

enum vd_addr_kind {
	VD_ADDR_VSOCK,
	VD_ADDR_HVSOCK,
	VD_ADDR_UNIX,
	VD_ADDR_SERIAL, // listening addresses only
};

#define VD_ADDR_PATH_MAX 108 // sizeof(sockaddr_un.sun_path)

struct vd_addr {
	enum vd_addr_kind kind;
	uint32_t cid; // vsock only (VMADDR_CID_ANY when listening)
	uint32_t port; // vsock and hvsock
	char path[VD_ADDR_PATH_MAX]; // hvsock, unix and serial, NUL-terminated
};

/* The longest line a hybrid-vsock muxer may answer ("OK 1073741824\n" is 14). */
#define VD_HVSOCK_REPLY_MAX 32

/* Parses a connect address (listen = false) or a listen address (listen = true). */
bool vd_addr_parse(const char *str, bool listen, struct vd_addr *addr, char *err,
	size_t err_size);
/* Formats an address back into its string form. */
void vd_addr_format(const struct vd_addr *addr, char *buf, size_t size);

/*
 * Opens a serial: address's port for reading and writing (it stays open for
 * the program's life: closing drops what the host sends, and a second open
 * fails with EBUSY). Returns the fd, or -1 with the reason in err.
 */
int vd_transport_open_serial(const struct vd_addr *addr, char *err, size_t err_size);

/* Listens on addr (unix: with vd_listen_unix and its lock; not serial:). */
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
