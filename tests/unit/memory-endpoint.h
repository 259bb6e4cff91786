#ifndef TESTS_UNIT_MEMORY_ENDPOINT_H
#define TESTS_UNIT_MEMORY_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/wl/endpoint.h"

/*
 * A transport of the tests' own, as a VM link channel would be: bytes and
 * fds arrive in memory (what the "link" delivered), output leaves into
 * memory through a window that the "link" opens and closes. It shows how a
 * transport that is not a socket plugs in under proxy/wl/endpoint.h.
 */

#define MEMORY_ENDPOINT_BYTES 65536
#define MEMORY_ENDPOINT_FDS 8

/* What the endpoint sent, kept by the test beyond the endpoint's life. */
struct memory_sink {
	uint8_t data[MEMORY_ENDPOINT_BYTES];
	size_t len;
	int fds[MEMORY_ENDPOINT_FDS]; // dups of the fds sent: the test closes them
	size_t fd_count;
	bool destroyed;
};

struct memory_endpoint {
	struct vd_endpoint base;
	uint8_t incoming[MEMORY_ENDPOINT_BYTES];
	size_t incoming_len, incoming_pos;
	int incoming_fds[MEMORY_ENDPOINT_FDS];
	size_t incoming_fd_count;
	bool hangup; // the link closed the channel: reads end
	struct memory_sink *sink;
	size_t window; // bytes the link takes now
	uint32_t watched; // the owner's mask
};

/* label: how log lines name the peer ("channel=7"). */
struct memory_endpoint *memory_endpoint_create(const char *label, struct memory_sink *sink);
/* The link delivers bytes (and fds, taken) for the owner to read. */
bool memory_endpoint_deliver(struct memory_endpoint *mem, const void *data, size_t size,
	const int *fds, size_t fd_count);

#endif
