#ifndef PROTOCOLS_HELPER_H
#define PROTOCOLS_HELPER_H

#include <stddef.h>

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

#endif
