/*
 * vmdesk-proxy's VM link (proxy/vm-link.c), compiled here so that
 * fuzz-proxy-vm-link can hand it a connected socket at once: the real link
 * dials from a timer, which would cost every input a millisecond (the
 * harness still dials for real when an input's header asks, FZ_V_DIAL).
 */
#include "proxy/vm-link.c"
#include "tests/fuzz/proxy-harness.h"

void fuzz_vm_link_attach(struct vd_vm_link *link, int fd) {
	handle_dialed(link, fd, ""); // err is read only when fd < 0
}
