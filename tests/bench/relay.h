#ifndef TESTS_BENCH_RELAY_H
#define TESTS_BENCH_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A byte-and-fd relay for benchmarks: listens on a Unix socket and, for
 * every connection, opens one to an upstream Unix socket and copies bytes
 * and fds both ways, one thread, epoll. An observer may look at every chunk
 * before it is forwarded (to count bytes, or to parse Wayland messages).
 * Not a security boundary: a measuring tool only.
 */

struct relay_observer {
	/* Per connection: returns the state passed to the calls below (may be NULL). */
	void *(*open)(void *data);
	/* A chunk moving client -> upstream (to_upstream) or back, with the fds that came
	 * with it. Called before the chunk is forwarded. The relay closes the fds after
	 * forwarding: an observer that keeps one dups it. False ends the connection. */
	bool (*chunk)(void *conn, bool to_upstream, const uint8_t *data, size_t len,
		const int *fds, size_t fd_count);
	void (*close)(void *conn);
	void *data;
};

/* Serves listen_path until killed; returns only on a setup error (false, errno set). */
bool relay_run(const char *listen_path, const char *upstream_path,
	const struct relay_observer *observer);

#endif
