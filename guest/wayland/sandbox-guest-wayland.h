#ifndef GUEST_WAYLAND_SANDBOX_GUEST_WAYLAND_H
#define GUEST_WAYLAND_SANDBOX_GUEST_WAYLAND_H

#include <stdbool.h>

#include "protocols/sandbox.h"

/*
 * vmdesk-guest-wayland's seccomp filter (sandbox-guest-wayland.c), entered
 * once it serves its Wayland socket and listens for (or holds) the link.
 * serial: the link is a virtio-serial port, which the bridge opens again
 * (read-write, never creating) when the host goes away.
 */
const struct vd_sandbox_policy *guest_wayland_sandbox_policy(bool serial);

#endif
