#ifndef GUEST_SANDBOX_GUESTD_H
#define GUEST_SANDBOX_GUESTD_H

#include <stdbool.h>
#include <sys/types.h>

#include "protocols/sandbox.h"

/*
 * vmdesk-guestd's seccomp filter (sandbox-guestd.c), entered once it
 * listens (or holds its serial port), is on the session bus and its app
 * scanner runs. Programs start through its spawner (protocols/spawner.h),
 * forked before the filter: the agent itself never execs or forks.
 * serial: its link is a virtio-serial port, opened again after a failure;
 * spawner: the spawner's pid, the one process it waits for (at exit).
 */
const struct vd_sandbox_policy *guestd_sandbox_policy(bool serial, pid_t spawner);

#endif
