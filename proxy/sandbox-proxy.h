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

/*
 * Landlock, before the filter and only when it enforces: the proxy reads
 * only what fontconfig reads (fonts, caches, configuration), so a
 * compromised proxy cannot read a user's file and hand it to its VM; it
 * removes only its socket and lock (socket_path's directory, NULL if it
 * listens on an inherited socket) and its private directory (private_dir's
 * parent, NULL if none); it changes nothing else and executes nothing. A
 * kernel without Landlock gets a warning, and the filter alone.
 */
void proxy_sandbox_confine_files(const char *socket_path, const char *private_dir);

#endif
