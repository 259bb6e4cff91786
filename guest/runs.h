#ifndef GUEST_RUNS_H
#define GUEST_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <wayland-server-core.h>

#include "protocols/link-conn.h"

/*
 * Programs vmdesk-guestd runs for hosts (its runs module). A program starts
 * from an argv, never through a shell, by the spawner the runs module forks
 * when it is created (protocols/spawner.h), before the agent's seccomp
 * filter: the agent never forks or execs itself. Without WAIT it is
 * detached (double fork, own session; the spawner is a child subreaper, so
 * it still reaps it and reports its end);
 * with WAIT it is the agent's child in its own session and process group,
 * its output goes back as RUN_OUTPUT within the run's window (the host
 * acknowledges what its reader took), its input comes as RUN_INPUT (STDIN),
 * and RUN_EXIT follows once it exited and its output is drained. Nothing
 * here waits for a program or a pipe.
 */

struct vd_guest_runs;

/*
 * changed(): the number of programs running changed (for idleness).
 * lost(): the spawner is gone, no program can start (the agent ends).
 * Forks the spawner: call it before threads start and before the filter.
 */
struct vd_guest_runs *vd_guest_runs_create(struct wl_event_loop *loop,
	void (*changed)(void *data, size_t running), void (*lost)(void *data), void *data);
void vd_guest_runs_destroy(struct vd_guest_runs *runs);
size_t vd_guest_runs_count(const struct vd_guest_runs *runs);
/* The spawner's pid: the one process the agent waits for (at exit). */
pid_t vd_guest_runs_spawner_pid(const struct vd_guest_runs *runs);

/* Starts a program for the host on conn, answering RUN_STARTED or ERROR. */
void vd_guest_runs_start(struct vd_guest_runs *runs, struct vd_link_conn *conn, uint32_t id,
	char *const *argv, const struct vd_link_run_env *env, uint32_t envc, uint32_t flags);
/* The run's messages from its host. */
void vd_guest_runs_handle(struct vd_guest_runs *runs, struct vd_link_conn *conn,
	const struct vd_link_msg *msg);
/* conn's queue emptied: read the output of its runs again. */
void vd_guest_runs_resume(struct vd_guest_runs *runs, struct vd_link_conn *conn);
/* The host on conn is gone: its waited-for programs get SIGHUP. */
void vd_guest_runs_detach(struct vd_guest_runs *runs, struct vd_link_conn *conn);

#endif
