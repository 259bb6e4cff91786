#define LOG_TAG "child"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/child.h"
#include "protocols/log.h"
#include "protocols/proc.h"
#include "protocols/spawner.h"

void vd_child_init(struct vd_child *child) {
	*child = (struct vd_child){.pidfd = -1, .status = -1};
	wl_list_init(&child->link);
}

bool vd_child_find_program(const char *name, char *out, size_t size) {
	if (name[0] == '\0') {
		return false;
	}
	if (strchr(name, '/') != NULL) {
		int n = snprintf(out, size, "%s", name);
		return n > 0 && (size_t)n < size;
	}
	const char *path = getenv("PATH");
	if (path == NULL) {
		path = "/usr/local/bin:/usr/bin:/bin";
	}
	while (*path != '\0') {
		size_t len = strcspn(path, ":");
		int n = snprintf(out, size, "%.*s/%s", (int)len, path, name);
		if (len > 0 && n > 0 && (size_t)n < size && access(out, X_OK) == 0) {
			return true;
		}
		path += len;
		path += *path == ':';
	}
	return false;
}

struct vd_children {
	struct wl_event_loop *loop;
	struct vd_spawner *spawner; // NULL once it is gone
	struct wl_list running; // vd_child.link: started, not reported yet
};

/* Empties the child but for how it ended, and tells its owner (from the loop). */
static void child_ended(struct vd_child *child) {
	char how[sizeof(child->how)];
	memcpy(how, child->how, sizeof(how));
	int status = child->status;
	vd_child_exited exited = child->exited;
	void *exited_data = child->data;
	vd_child_finish(child);
	memcpy(child->how, how, sizeof(how));
	child->status = status;
	exited(child, exited_data); // may free the child's owner
}

static int handle_pidfd(int fd, uint32_t mask, void *data) {
	struct vd_child *child = data;
	/* not reported by our spawner: it ended, but only its parent learns how */
	if (child->ours) {
		snprintf(child->how, sizeof(child->how), "ended (its exit status was lost with "
			"vmdesk-hostd's spawner)");
	} else {
		snprintf(child->how, sizeof(child->how), "ended (started by an earlier vmdesk-hostd: "
			"its exit status is unknown)");
	}
	child->status = -1;
	child_ended(child);
	return 0;
}

static bool watch(struct vd_child *child, struct wl_event_loop *loop, vd_child_exited exited,
		void *data) {
	child->exited = exited;
	child->data = data;
	child->source = wl_event_loop_add_fd(loop, child->pidfd, WL_EVENT_READABLE, handle_pidfd,
		child);
	return child->source != NULL;
}

static void handle_spawner_exited(pid_t pid, int status, void *data) {
	struct vd_children *children = data;
	struct vd_child *child;
	wl_list_for_each(child, &children->running, link) {
		if (child->pid != pid) {
			continue;
		}
		if (WIFSIGNALED(status)) {
			int sig = WTERMSIG(status);
			child->status = 128 + sig;
			snprintf(child->how, sizeof(child->how), "killed by signal %d (%s)", sig,
				strsignal(sig));
		} else {
			child->status = WEXITSTATUS(status);
			snprintf(child->how, sizeof(child->how), "exited with status %d",
				child->status);
		}
		child_ended(child);
		return;
	}
	/* a child hostd stopped watching (vd_child_finish) */
}

static void handle_spawner_lost(void *data) {
	struct vd_children *children = data;
	vd_log(VD_ERROR, "the spawner is gone: no VM or program can start until vmdesk-hostd "
		"restarts; the running ones are watched without their exit status");
	vd_spawner_destroy(children->spawner);
	children->spawner = NULL;
	struct vd_child *child, *tmp;
	wl_list_for_each_safe(child, tmp, &children->running, link) {
		wl_list_remove(&child->link);
		wl_list_init(&child->link);
		child->children = NULL;
		if (!watch(child, children->loop, child->exited, child->data)) {
			vd_log(VD_WARN, "cannot watch pid %d any longer", (int)child->pid);
		}
	}
}

struct vd_children *vd_children_create(struct wl_event_loop *loop,
		const struct vd_spawner_guard *guard) {
	struct vd_children *children = calloc(1, sizeof(*children));
	if (children == NULL) {
		vd_log(VD_ERROR, "out of memory");
		return NULL;
	}
	children->loop = loop;
	wl_list_init(&children->running);
	children->spawner = vd_spawner_create(loop, handle_spawner_exited, handle_spawner_lost,
		children, guard);
	if (children->spawner == NULL) {
		free(children);
		return NULL;
	}
	return children;
}

void vd_children_destroy(struct vd_children *children) {
	if (children == NULL) {
		return;
	}
	struct vd_child *child, *tmp;
	wl_list_for_each_safe(child, tmp, &children->running, link) {
		wl_list_remove(&child->link);
		wl_list_init(&child->link);
		child->children = NULL;
	}
	vd_spawner_destroy(children->spawner);
	free(children);
}

pid_t vd_children_spawner_pid(const struct vd_children *children) {
	return children != NULL && children->spawner != NULL ?
		vd_spawner_pid(children->spawner) : 0;
}

bool vd_child_spawn(struct vd_child *child, struct vd_children *children, char *const *argv,
		int out_fd, vd_child_exited exited, void *data, char *err, size_t err_size) {
	vd_child_init(child);
	char path[PATH_MAX];
	if (!vd_child_find_program(argv[0], path, sizeof(path))) {
		snprintf(err, err_size, "cannot find %s (not in PATH)", argv[0]);
		return false;
	}
	if (children == NULL || children->spawner == NULL) {
		snprintf(err, err_size, "cannot start %s: vmdesk-hostd's spawner is gone", argv[0]);
		return false;
	}
	struct vd_spawn spawn = {
		.argv = argv,
		/* argv[0] as given, found in PATH by the spawner as above */
		.flags = VD_SPAWN_PIDFD | (strchr(argv[0], '/') == NULL ? VD_SPAWN_SEARCH_PATH : 0),
		.fds = {-1, out_fd, out_fd},
	};
	struct vd_spawn_result result;
	int err_no = 0;
	if (!vd_spawner_spawn(children->spawner, &spawn, &result, &err_no)) {
		if (err_no == EPIPE || err_no == EAGAIN) {
			snprintf(err, err_size, "cannot start %s: %s", argv[0],
				err_no == EPIPE ? "vmdesk-hostd's spawner is gone" : strerror(err_no));
		} else if (err_no == EPERM) {
			snprintf(err, err_size, "vmdesk-hostd's spawner refused to start %s: it is not a "
				"command of a VM definition (its log says why)", argv[0]);
		} else {
			snprintf(err, err_size, "cannot execute %s: %s", path, strerror(err_no));
		}
		return false;
	}
	child->pid = result.pid;
	child->pidfd = result.pidfd;
	child->ours = true;
	child->exited = exited;
	child->data = data;
	child->children = children;
	child->start = result.start; // 0: ended already, its report is on the way
	wl_list_insert(&children->running, &child->link);
	return true;
}

bool vd_children_start_time(struct vd_children *children, pid_t pid,
		unsigned long long *start) {
	int err_no;
	if (children != NULL && children->spawner != NULL) {
		return vd_spawner_start_time(children->spawner, pid, start, &err_no);
	}
	return vd_proc_start_time(pid, start); // refused under Landlock: not found
}

bool vd_child_adopt(struct vd_child *child, struct vd_children *children, pid_t pid,
		unsigned long long start, vd_child_exited exited, void *data) {
	vd_child_init(child);
	unsigned long long now;
	int err_no;
	/*
	 * hostd opens no pidfd itself (its filter has no pidfd_open): the spawner
	 * opens it, for a process its guard allows (host/spawn-guard.h), and
	 * reads the start time after, which must be the one recorded
	 */
	if (pid <= 1 || children == NULL || children->spawner == NULL ||
			!vd_children_start_time(children, pid, &now) || now != start) {
		return false; // gone (a stale state file names another process: no word of it)
	}
	if (!vd_spawner_adopt(children->spawner, pid, &child->pidfd, &now, &err_no)) {
		return false;
	}
	if (now != start) {
		vd_child_finish(child);
		return false;
	}
	child->pid = pid;
	child->start = start;
	child->ours = false;
	if (!watch(child, children->loop, exited, data)) {
		vd_child_finish(child);
		return false;
	}
	return true;
}

bool vd_child_running(const struct vd_child *child) {
	return child->pid != 0;
}

void vd_child_signal(struct vd_child *child, int signo) {
	if (child->pidfd >= 0 && pidfd_send_signal(child->pidfd, signo, NULL, 0) < 0 &&
			errno != ESRCH) {
		vd_log_errno(VD_WARN, "signal %d to pid %d", signo, (int)child->pid);
	}
}

void vd_child_finish(struct vd_child *child) {
	wl_list_remove(&child->link); // its report, if one comes, finds no child
	if (child->source != NULL) {
		wl_event_source_remove(child->source);
	}
	if (child->pidfd >= 0) {
		close(child->pidfd);
	}
	vd_child_init(child);
}
