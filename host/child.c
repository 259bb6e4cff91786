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

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

void vd_child_init(struct vd_child *child) {
	*child = (struct vd_child){.pidfd = -1, .status = -1};
}

bool vd_proc_start_time(pid_t pid, unsigned long long *start) {
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return false;
	}
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so start after its last ')' */
	char *p = strrchr(buf, ')');
	if (p == NULL) {
		return false;
	}
	p++;
	/* fields 3..22: state is field 3, starttime field 22 */
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ') {
			p++;
		}
		if (*p == '\0') {
			return false;
		}
		if (field == 3 && *p == 'Z') {
			return false; // a zombie: gone already
		}
		if (field == 22) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(p, &end, 10);
			if (errno != 0 || end == p) {
				return false;
			}
			*start = v;
			return true;
		}
		while (*p != ' ' && *p != '\0') {
			p++;
		}
	}
	return false;
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

static void describe_exit(struct vd_child *child, const siginfo_t *info) {
	if (info->si_code == CLD_EXITED) {
		child->status = info->si_status;
		snprintf(child->how, sizeof(child->how), "exited with status %d", info->si_status);
	} else {
		child->status = 128 + info->si_status;
		snprintf(child->how, sizeof(child->how), "killed by signal %d (%s)", info->si_status,
			strsignal(info->si_status));
	}
}

static int handle_pidfd(int fd, uint32_t mask, void *data) {
	struct vd_child *child = data;
	siginfo_t info = {0};
	if (child->ours) {
		if (waitid(P_PIDFD, (id_t)child->pidfd, &info, WEXITED | WNOHANG) < 0) {
			vd_log_errno(VD_WARN, "waitid for pid %d", (int)child->pid);
			snprintf(child->how, sizeof(child->how), "ended");
			child->status = -1;
		} else if (info.si_pid == 0) {
			return 0; // not yet (a spurious wake-up)
		} else {
			describe_exit(child, &info);
		}
	} else {
		/* not our child: it ended, but only its parent learns how */
		snprintf(child->how, sizeof(child->how), "ended (started by an earlier vmdesk-hostd: "
			"its exit status is unknown)");
		child->status = -1;
	}
	vd_child_exited exited = child->exited;
	void *exited_data = child->data;
	wl_event_source_remove(child->source);
	child->source = NULL;
	close(child->pidfd);
	child->pidfd = -1;
	child->pid = 0;
	child->ours = false;
	exited(child, exited_data); // may free the child's owner
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

bool vd_child_spawn(struct vd_child *child, struct wl_event_loop *loop, char *const *argv,
		int out_fd, vd_child_exited exited, void *data, char *err, size_t err_size) {
	vd_child_init(child);
	char path[PATH_MAX];
	if (!vd_child_find_program(argv[0], path, sizeof(path))) {
		snprintf(err, err_size, "cannot find %s (not in PATH)", argv[0]);
		return false;
	}
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int report[2];
	if (null_fd < 0 || pipe2(report, O_CLOEXEC) < 0) {
		snprintf(err, err_size, "cannot start %s: %s", argv[0], strerror(errno));
		if (null_fd >= 0) {
			close(null_fd);
		}
		return false;
	}
	if (out_fd < 0) {
		out_fd = null_fd;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, err_size, "cannot start %s: fork: %s", argv[0], strerror(errno));
		close(null_fd);
		close(report[0]);
		close(report[1]);
		return false;
	}
	if (pid == 0) {
		/* async-signal-safe calls only from here on */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); // the loop's signalfd blocked some
		signal(SIGPIPE, SIG_DFL);
		setsid();
		if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
				dup2(out_fd, STDERR_FILENO) < 0) {
			int e = errno;
			(void)!write(report[1], &e, sizeof(e));
			_exit(127);
		}
		int keep = report[1];
		/* everything else closes: the report pipe at exec (close-on-exec) */
		for (int fd = 3; fd < keep; fd++) {
			close(fd);
		}
		close_range((unsigned)keep + 1, ~0u, 0);
		execv(path, argv);
		int e = errno;
		(void)!write(keep, &e, sizeof(e));
		_exit(127);
	}
	close(null_fd);
	close(report[1]);
	int child_errno = 0;
	ssize_t n;
	do {
		n = read(report[0], &child_errno, sizeof(child_errno)); // EOF once exec succeeded
	} while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n > 0) {
		waitpid(pid, NULL, 0);
		snprintf(err, err_size, "cannot execute %s: %s", path, strerror(child_errno));
		return false;
	}
	child->pid = pid;
	child->ours = true;
	child->pidfd = pidfd_open(pid, 0);
	if (child->pidfd < 0 || !vd_proc_start_time(pid, &child->start) ||
			!watch(child, loop, exited, data)) {
		snprintf(err, err_size, "cannot watch %s (pid %d): %s", argv[0], (int)pid,
			strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		vd_child_finish(child);
		return false;
	}
	return true;
}

bool vd_child_adopt(struct vd_child *child, struct wl_event_loop *loop, pid_t pid,
		unsigned long long start, vd_child_exited exited, void *data) {
	vd_child_init(child);
	unsigned long long now;
	if (pid <= 1 || !vd_proc_start_time(pid, &now) || now != start) {
		return false;
	}
	child->pidfd = pidfd_open(pid, 0);
	/* the pidfd names whatever has pid now: check again that it is the same process */
	if (child->pidfd < 0 || !vd_proc_start_time(pid, &now) || now != start) {
		vd_child_finish(child);
		return false;
	}
	child->pid = pid;
	child->start = start;
	child->ours = false;
	if (!watch(child, loop, exited, data)) {
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
	if (child->source != NULL) {
		wl_event_source_remove(child->source);
	}
	if (child->pidfd >= 0) {
		close(child->pidfd);
	}
	vd_child_init(child);
}
