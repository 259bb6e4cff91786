#ifndef PROTOCOLS_SPAWNER_H
#define PROTOCOLS_SPAWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <wayland-server-core.h>

/*
 * The spawner: a small process a daemon forks at startup, before it enters
 * its seccomp filter, that starts programs for it. A filter is inherited
 * through fork and exec, so a daemon that runs programs (vmdesk-guestd runs
 * what the host asks for) cannot exec under its own list; the spawner runs
 * unfiltered, owns nothing but its two sockets to the daemon, and does only
 * this: start a program (argv, environment additions, fds 0-2 passed by
 * SCM_RIGHTS) in a session of its own, signal a program it started, and
 * report the exit status of each (it is their parent, and a subreaper for
 * the detached ones). The daemon never forks or execs after startup.
 *
 * Only the daemon talks to it, but it checks every request against caps
 * before use; a request it cannot frame ends it (the daemon sees its
 * events socket close). It ends when the daemon closes its end: programs
 * still running go on, as they did when the daemon ran them itself.
 */

#define VD_SPAWNER_MAX_ARGS 4096
#define VD_SPAWNER_MAX_ENV 256
#define VD_SPAWNER_MAX_STRINGS (4u << 20) // bytes of argv and environment strings
#define VD_SPAWNER_MAX_CHILDREN 4096 // programs running at once

enum vd_spawn_flags {
	VD_SPAWN_SEARCH_PATH = 1u << 0, // argv[0] is looked up in PATH (execvp), else a path
	VD_SPAWN_DETACH = 1u << 1, // forked twice (setsid between): not the program's parent
	VD_SPAWN_CHDIR_HOME = 1u << 2, // start in $HOME (else /), else the daemon's directory
	VD_SPAWN_PIDFD = 1u << 3, // the result carries a pidfd of the program
};
#define VD_SPAWN_FLAGS_ALL 0xfu

struct vd_spawn {
	char *const *argv; // at least argv[0]
	const char *const *env; // "NAME=VALUE" set over the daemon's startup environment
	size_t env_count;
	uint32_t flags; // enum vd_spawn_flags
	int fds[3]; // the program's stdin, stdout, stderr; -1: /dev/null; VD_SPAWN_INHERIT
};
/* In vd_spawn.fds: the spawner's own (the daemon's at startup: its journal). */
#define VD_SPAWN_INHERIT (-2)

struct vd_spawn_result {
	pid_t pid;
	unsigned long long start; // its start time (protocols/proc.h); 0 if it ended already
	pid_t pgid; // its process group (its own, or the detaching process's)
	int pidfd; // VD_SPAWN_PIDFD only, else -1 (the caller owns it)
};

struct vd_spawner;

/* A program the spawner started ended (status as waitpid's); pid is no longer its. */
typedef void (*vd_spawner_exited)(pid_t pid, int status, void *data);
/* The spawner is gone (killed, or it refused a request it could not frame). */
typedef void (*vd_spawner_lost)(void *data);

/*
 * The spawner's own say over what it starts. The daemon may be the one a
 * peer took over (it parses what a VM sends): a spawner that ran any argv
 * would hand that peer everything the user can do. allow() runs in the
 * spawner, on its copy of the daemon's memory at the fork (so data must be
 * filled in before vd_spawner_create and never change), for every spawn
 * request once it is framed; false refuses the request with EPERM and why
 * is logged. It may read files the daemon cannot change (its definitions).
 */
struct vd_spawner_guard {
	bool (*allow)(const struct vd_spawn *spawn, void *data, char *why, size_t why_size);
	/*
	 * Whether the daemon may have a pidfd of a process it did not start
	 * (one a previous daemon left): exe is the program it runs
	 * (/proc/PID/exe), cmdline its argv, each argument ending in NUL, of
	 * cmdline_len bytes. NULL: never.
	 */
	bool (*adopt)(const char *exe, const char *cmdline, size_t cmdline_len, void *data,
		char *why, size_t why_size);
	void *data;
};

/*
 * Forks the spawner. Call it early, before threads and connections, and
 * before vd_sandbox_enter(). exited() and lost() run from loop. guard NULL:
 * it starts whatever the daemon asks (vmdesk-guestd: the guest's programs
 * are the host's to name). NULL with a log line if it cannot.
 */
struct vd_spawner *vd_spawner_create(struct wl_event_loop *loop, vd_spawner_exited exited,
	vd_spawner_lost lost, void *data, const struct vd_spawner_guard *guard);
/* Closes the spawner's sockets (it ends) and reaps it. Accepts NULL. */
void vd_spawner_destroy(struct vd_spawner *spawner);
/* The spawner's pid: the one process the daemon waits for. */
pid_t vd_spawner_pid(const struct vd_spawner *spawner);
/* Its request socket, for tests that send it malformed requests. */
int vd_spawner_request_fd(const struct vd_spawner *spawner);

/*
 * Starts a program and returns once it runs (or exec failed): true with
 * *result, or false with *err_no (ENOENT, EACCES, ... of exec; EAGAIN when
 * too many run; EPERM when its guard refused it; EPIPE when the spawner is gone). The fds stay the caller's.
 */
bool vd_spawner_spawn(struct vd_spawner *spawner, const struct vd_spawn *spawn,
	struct vd_spawn_result *result, int *err_no);

/*
 * The start time of any process (protocols/proc.h), read by the spawner:
 * for a daemon that may not read /proc itself. False with *err_no (ESRCH:
 * no such process; EPIPE: the spawner is gone).
 */
bool vd_spawner_start_time(struct vd_spawner *spawner, pid_t pid, unsigned long long *start,
	int *err_no);

/*
 * A pidfd of a process the spawner did not start (a program a previous
 * daemon left running), opened by the spawner if its guard allows that
 * process (no guard: any), with its start time read after the pidfd was
 * opened: if the pid was reused in between, the pidfd names a process that
 * ended, and the start time the new one's, which the caller compares with
 * the one it recorded. False with *err_no (ESRCH: no such process; EPERM:
 * the guard refused it; EPIPE: the spawner is gone). The caller owns *pidfd.
 */
bool vd_spawner_adopt(struct vd_spawner *spawner, pid_t pid, int *pidfd,
	unsigned long long *start, int *err_no);

/*
 * Sends signo to a program the spawner started and has not reaped, or
 * with group to its process group. False with *err_no (ESRCH: not one of
 * its programs, or it ended).
 */
bool vd_spawner_signal(struct vd_spawner *spawner, pid_t pid, int signo, bool group,
	int *err_no);

#endif
