#ifndef HOST_CLIPBOARD_SANDBOX_CLIPD_H
#define HOST_CLIPBOARD_SANDBOX_CLIPD_H

#include "protocols/sandbox.h"

/* vmdesk-clipd's seccomp filter (sandbox-clipd.c), entered once it listens. */
extern const struct vd_sandbox_policy clipd_sandbox_policy;

#endif
