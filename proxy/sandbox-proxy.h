#ifndef PROXY_SANDBOX_PROXY_H
#define PROXY_SANDBOX_PROXY_H

#include <sys/types.h>

#include "protocols/sandbox.h"

/*
 * vmdesk-proxy's seccomp filter (sandbox-proxy.c): what it may still do
 * once it listens, has read its policy and loaded its fonts. child is the
 * command it runs (`-- COMMAND`), the one process it may signal, or 0.
 */
const struct vd_sandbox_policy *proxy_sandbox_policy(pid_t child);

#endif
