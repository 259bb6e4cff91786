#ifndef HOST_CHILD_H
#define HOST_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <wayland-server-core.h>

/*
 * A process hostd supervises (a VMM, a VM's proxy, a helper, the menu's
 * update-desktop-database): started in a session of its own (so that
 * hostd's terminal and signals do not reach it, and it outlives hostd if
 * asked to), signalled through a pidfd (never a recycled pid). hostd itself
 * never forks or execs after startup (its seccomp filter forbids both): its
 * programs start in its spawner (protocols/spawner.h), forked first thing,
 * which is their parent and reports how each ended. A process found again
 * after hostd restarted is adopted by pid and start time (field 22 of
 * /proc/PID/stat; a pid that now names another process is refused) and
 * watched through its pidfd on the event loop.
 */

struct vd_child;
typedef void (*vd_child_exited)(struct vd_child *child, void *data);

struct vd_child {
	pid_t pid; // 0: none
	unsigned long long start; // /proc/PID/stat starttime, the process's identity
	bool ours; // hostd's spawner started it: its exit status is reported
	int pidfd;
	struct wl_event_source *source; // its pidfd, when watched (adopted)
	struct vd_children *children; // started and not reported yet: in its list
	struct wl_list link; // vd_children.running
	vd_child_exited exited;
	void *data;
	char how[96]; // after the exit: "exited with status 1", "killed by signal 9", ...
	int status; // after the exit: the status, 128 + signal, or -1 (unknown)
};

struct vd_spawner_guard;

/*
 * Forks the spawner (before threads, connections and the filter) whose
 * reports end hostd's children; guard (host/spawn-guard.h; NULL: none)
 * says what it starts. NULL with a log line if it cannot.
 */
struct vd_children *vd_children_create(struct wl_event_loop *loop,
	const struct vd_spawner_guard *guard);
/* The spawner ends; children still running run on. Accepts NULL. */
void vd_children_destroy(struct vd_children *children);
/* The spawner's pid (0 once it is gone): the one process hostd reaps itself. */
pid_t vd_children_spawner_pid(const struct vd_children *children);

void vd_child_init(struct vd_child *child);

/*
 * Starts argv (argv[0] a path, or a name looked up in PATH) with stdin
 * /dev/null and stdout and stderr on out_fd (-1: /dev/null). exited() runs
 * from the loop once it ended; child->how and ->status say how, and the
 * child is empty again (pid 0). False with err when it could not start
 * (also when exec failed: "cannot execute qemu-system-x86_64: No such file").
 */
bool vd_child_spawn(struct vd_child *child, struct vd_children *children, char *const *argv,
	int out_fd, vd_child_exited exited, void *data, char *err, size_t err_size);

/* Watches a process started earlier (by another hostd). False if pid is gone or another one. */
bool vd_child_adopt(struct vd_child *child, struct vd_children *children, pid_t pid,
	unsigned long long start, vd_child_exited exited, void *data);

bool vd_child_running(const struct vd_child *child);
void vd_child_signal(struct vd_child *child, int signo);
/* Stops watching (the process runs on) and empties the child. */
void vd_child_finish(struct vd_child *child);

/*
 * The start time of pid (protocols/proc.h), asked of the spawner: hostd
 * itself reads no /proc once confined. False if there is no such process.
 */
bool vd_children_start_time(struct vd_children *children, pid_t pid,
	unsigned long long *start);

/* argv[0] as execv would run it: itself if it has a '/', else the first match in PATH. */
bool vd_child_find_program(const char *name, char *out, size_t size);

#endif
