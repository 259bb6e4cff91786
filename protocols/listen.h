#ifndef PROTOCOLS_LISTEN_H
#define PROTOCOLS_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The one way to listen on a Unix socket (README, "One rule each"). The
 * socket PATH comes with a lock file PATH.lock, held (flock) for as long as
 * the socket is served. A second daemon for the same PATH finds the lock
 * taken and fails with "PATH is served by pid N" without touching anything;
 * the holder of the lock knows that a socket file left at PATH is stale (its
 * owner died) and replaces it. Sockets are non-blocking, close-on-exec and
 * mode 0600.
 */

struct vd_listener {
	int fd; // -1: none
	int lock_fd; // -1: none
	char path[108]; // the socket file we made; "" for none
};

void vd_listener_init(struct vd_listener *listener);
bool vd_listen_unix(struct vd_listener *listener, const char *path, char *err, size_t err_size);
/* Closes the socket and removes its file and lock file (if ours). */
void vd_listener_finish(struct vd_listener *listener);

#endif
