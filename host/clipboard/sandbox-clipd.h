#ifndef HOST_CLIPBOARD_SANDBOX_CLIPD_H
#define HOST_CLIPBOARD_SANDBOX_CLIPD_H

#include "protocols/sandbox.h"

/* vmdesk-clipd's seccomp filter (sandbox-clipd.c), entered once it listens. */
extern const struct vd_sandbox_policy clipd_sandbox_policy;

/*
 * Landlock, before the filter and only when it enforces: vmdesk-clipd reads
 * only its policy file's directory (a user's file cannot be read and pasted
 * into a VM) and removes only in its socket's directory (its socket and
 * lock at exit); it changes nothing else and executes nothing. A policy
 * directory made after it started is read after a restart.
 */
void clipd_sandbox_confine_files(const char *socket_path, const char *policy_path);

#endif
