#ifndef PROTOCOLS_LANDLOCK_H
#define PROTOCOLS_LANDLOCK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Landlock (the kernel's unprivileged access control, Linux 5.13+): what a
 * seccomp filter cannot say, "write only here". After vd_landlock_confine
 * the process may create, write, truncate, rename, link or remove files
 * only beneath the given directories; reading, executing and everything else is left to the seccomp
 * filter. Set before the filter (its calls are not on any list), and
 * inherited by anything the process forks afterwards (the spawner, forked
 * before, is not confined). With the ABI of Linux 6.7+ it also refuses TCP
 * bind and connect outright.
 */

/* The Landlock ABI version the kernel offers; 0 if none (old kernel, or off at boot). */
int vd_landlock_abi(void);

/*
 * Confines writes to dirs (which must exist). Sets
 * no_new_privs. False with a log line if the kernel has no Landlock (the
 * caller may go on: say so) or a rule cannot be made (the process is then
 * not confined).
 */
bool vd_landlock_confine(const char *const *dirs, size_t ndirs);

#endif
