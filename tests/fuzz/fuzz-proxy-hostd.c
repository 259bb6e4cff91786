/*
 * vmdesk-proxy's link to the global clipboard (proxy/hostd-link.c), compiled
 * here so that fuzz-proxy can hand it a connected socket at once: the real
 * link dials from a timer, which would cost every input a millisecond.
 */
#include "proxy/hostd-link.c"
#include "tests/fuzz/proxy-harness.h"

void fuzz_hostd_link_attach(struct vd_hostd_link *link, int fd) {
	handle_dialed(link, fd, NULL);
}
