#ifndef HOST_SANDBOX_HOSTD_H
#define HOST_SANDBOX_HOSTD_H

#include <sys/types.h>

#include "protocols/sandbox.h"

/*
 * vmdesk-hostd's seccomp filter (sandbox-hostd.c), entered once its control
 * socket listens, the VM definitions are read and its modules (menu,
 * launcher, notifications, tray, global clipboard) are set up. Every
 * program it runs (VMMs, helpers, proxies, update-desktop-database) starts
 * in its spawner (host/child.h), forked before the filter: hostd itself
 * never execs or forks. spawner: the spawner's pid, the one process it
 * waits for (at exit).
 */
const struct vd_sandbox_policy *hostd_sandbox_policy(pid_t spawner);

#endif
