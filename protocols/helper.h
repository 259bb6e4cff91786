#ifndef PROTOCOLS_HELPER_H
#define PROTOCOLS_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * A helper process a daemon forks at startup (its spawner, vmdesk-hostd's
 * menu writer), in the child right after the fork: it keeps the fds in
 * keep (at most 4) and closes every other one of the daemon's but stdout
 * and stderr (its log), reads stdin from /dev/null, and lives by its
 * sockets, not by the session's signals: SIGINT, SIGTERM, SIGHUP, SIGUSR1,
 * SIGUSR2 and SIGPIPE are ignored, every other signal has its default
 * action, none is blocked. It ends when the daemon closes its end.
 */
void vd_helper_detach(const int *keep, size_t nkeep);

/*
 * A pidfd of the helper pid the daemon just forked (pidfds are close-on-exec),
 * to reap it with a bound; -1 if the kernel has none (logged), and reaping
 * then waits without one.
 */
int vd_helper_pidfd(pid_t pid);

/*
 * Reaps the helper pid once the daemon closed its end: waits up to
 * timeout_ms for it to end (it ends when it reads the end of its link) and
 * kills it (SIGKILL, through pidfd) if it has not, so that a helper that is
 * stuck or no longer the helper cannot hold the daemon. Closes *pidfd (set
 * to -1). how gets what happened ("exited with status 0", "killed by signal
 * 31 (Bad system call)", ...). Calls poll, pidfd_send_signal and wait4 (the
 * daemon's filter allows them). true: reaped.
 */
bool vd_helper_reap(pid_t pid, int *pidfd, int timeout_ms, char *how, size_t size);

#endif
