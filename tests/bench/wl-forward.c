/*
 * wl-forward: the cheapest possible out-of-process Wayland proxy, as a floor
 * for the benchmark. It parses nothing: bytes and fds are copied as they come,
 * one upstream connection per client, one thread, epoll.
 *
 *   wl-forward [--count FILE] SOCKET UPSTREAM
 *
 * SOCKET is the path to listen on; UPSTREAM the socket to connect to for each
 * client. With --count, FILE holds four 64-bit counters (counters.h), kept
 * current: bytes client -> upstream, bytes upstream -> client, connections,
 * fds passed (a link that passes fds shares memory, so its bytes say little).
 * The runner splices it into a link (waypipe's, or vmdesk's unix: carrier) to
 * measure the bytes that cross it. Runs until killed. Not a security
 * boundary: a benchmark tool only.
 */
#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "relay.h"

enum forward_counter {
	FORWARD_TO_UPSTREAM,
	FORWARD_TO_CLIENT,
	FORWARD_CONNECTIONS,
	FORWARD_FDS,
	FORWARD_COUNTER_COUNT,
};

static void *count_open(void *data) {
	volatile uint64_t *counters = data;
	counters[FORWARD_CONNECTIONS]++;
	return data;
}

static bool count_chunk(void *conn, bool to_upstream, const uint8_t *data, size_t len,
		const int *fds, size_t fd_count) {
	volatile uint64_t *counters = conn;
	counters[to_upstream ? FORWARD_TO_UPSTREAM : FORWARD_TO_CLIENT] += len;
	counters[FORWARD_FDS] += fd_count;
	return true;
}

int main(int argc, char *argv[]) {
	const char *count_path = NULL;
	int arg = 1;
	if (argc == 5 && strcmp(argv[1], "--count") == 0) {
		count_path = argv[2];
		arg = 3;
	} else if (argc != 3) {
		fprintf(stderr, "usage: wl-forward [--count FILE] SOCKET UPSTREAM\n");
		return 2;
	}
	struct relay_observer counter = {
		.open = count_open,
		.chunk = count_chunk,
	};
	if (count_path != NULL) {
		counter.data = (void *)counters_create(count_path, FORWARD_COUNTER_COUNT);
		if (counter.data == NULL) {
			perror("wl-forward: counters");
			return 1;
		}
	}
	relay_run(argv[arg], argv[arg + 1], count_path != NULL ? &counter : NULL);
	perror("wl-forward: setup");
	return 1;
}
