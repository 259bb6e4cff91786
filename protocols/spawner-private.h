#ifndef PROTOCOLS_SPAWNER_PRIVATE_H
#define PROTOCOLS_SPAWNER_PRIVATE_H

/*
 * What the daemon's end (spawner.c) and the spawner process
 * (spawner-process.c) share. Both ends are one binary, forked: no version
 * skew and no untrusted peer, so the requests are fixed structs rather than
 * link frames (protocols/link.md); the spawner still checks every size
 * against its cap before use.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Two socket pairs between the daemon and the spawner:
 * - requests (SOCK_STREAM, blocking on both ends): a request header, with
 *   the program's fds (SCM_RIGHTS) on its first bytes, its strings, and one
 *   reply (with a pidfd when asked) before the next request;
 * - events (SOCK_SEQPACKET): one struct event per program that ended, read
 *   by the daemon's loop; the spawner queues them while the socket is full.
 */

enum request_type {
	REQUEST_SPAWN = 1,
	REQUEST_SIGNAL = 2,
	REQUEST_START_TIME = 3, // of a process (any: a start time tells nothing else)
	REQUEST_ADOPT = 4, // a pidfd of a process the guard allows, with its start time
};

struct request {
	uint32_t type;
	uint32_t flags; // SPAWN: enum vd_spawn_flags; SIGNAL: 1 for the process group
	uint32_t argc; // SPAWN
	uint32_t envc; // SPAWN
	uint32_t fd_mask; // SPAWN: which of stdin, stdout, stderr come as fds, in order
	uint32_t inherit_mask; // SPAWN: which of them are the spawner's own (else /dev/null)
	int32_t pid; // SIGNAL, START_TIME, ADOPT
	int32_t signo; // SIGNAL
	uint32_t size; // SPAWN: bytes of NUL-terminated strings that follow (argv, then env)
};

struct reply {
	int32_t err; // 0, or an errno
	int32_t pid;
	int32_t pgid;
	uint32_t has_pidfd; // the pidfd comes with the reply (SCM_RIGHTS)
	uint64_t start; // SPAWN, START_TIME, ADOPT: the process's start time (protocols/proc.h); 0 none
};

struct event {
	int32_t pid;
	int32_t status;
};

/* Writes all of buf, the fds with its first bytes. */
bool spawner_send_all(int fd, const void *buf, size_t len, const int *fds, size_t nfds);
/*
 * Reads exactly len bytes (false at the end of the stream or on an error);
 * fds that come with them (up to max_fds) go to fds[*nfds...]. More fds
 * than that, or a truncated control message, set *fds_bad (the extra ones
 * are closed).
 */
bool spawner_recv_all(int fd, void *buf, size_t len, int *fds, size_t max_fds, size_t *nfds,
	bool *fds_bad);

struct vd_spawner_guard;

/*
 * Serves the requests on req, without a loop, until one cannot be framed
 * or the stream ends: the request path alone, for tests/fuzz/fuzz-spawner.c
 * (its guard refuses every spawn, so nothing is forked).
 */
void spawner_serve_all(int req, int ev, const struct vd_spawner_guard *guard);

/* The spawner process: serves req and reports on ev until the daemon goes. */
void spawner_main(int req, int ev, const struct vd_spawner_guard *guard)
	__attribute__((noreturn));

#endif
