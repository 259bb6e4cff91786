#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocols/helper.h"
#include "protocols/log.h"

static int compare_fds(const void *a, const void *b) {
	return *(const int *)a - *(const int *)b;
}

void vd_helper_detach(const int *keep, size_t nkeep) {
	int fds[4];
	size_t n = 0;
	for (size_t i = 0; i < nkeep && n < 4; i++) {
		if (keep[i] > STDERR_FILENO) {
			fds[n++] = keep[i];
		}
	}
	qsort(fds, n, sizeof(fds[0]), compare_fds);
	unsigned next = STDERR_FILENO + 1;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)fds[i] > next) {
			close_range(next, (unsigned)fds[i] - 1, 0);
		}
		next = (unsigned)fds[i] + 1;
	}
	close_range(next, ~0u, 0);
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		close(null_fd);
	}
	for (int sig = 1; sig < NSIG; sig++) {
		signal(sig, SIG_DFL);
	}
	static const int ignored[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		signal(ignored[i], SIG_IGN);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int vd_helper_pidfd(pid_t pid) {
	int fd = pidfd_open(pid, 0);
	if (fd < 0) {
		vd_log_errno(VD_WARN, "no pidfd of helper %d: its end is waited for without a bound",
			(int)pid);
	}
	return fd;
}

/* Whether pidfd's process ended within timeout_ms. */
static bool ended_within(int pidfd, int timeout_ms) {
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	int r;
	while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR) {
	}
	return r != 0; // an error: waitpid says more
}

bool vd_helper_reap(pid_t pid, int *pidfd, int timeout_ms, char *how, size_t size) {
	bool killed = false;
	if (*pidfd >= 0) {
		if (!ended_within(*pidfd, timeout_ms)) {
			killed = pidfd_send_signal(*pidfd, SIGKILL, NULL, 0) == 0;
		}
		close(*pidfd);
		*pidfd = -1;
	}
	int status = 0;
	pid_t r;
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
	}
	if (r != pid) {
		snprintf(how, size, "not reaped: %s", strerror(errno));
		return false;
	}
	if (killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		snprintf(how, size, "still running %d ms after its link closed: killed", timeout_ms);
	} else if (WIFSIGNALED(status)) {
		snprintf(how, size, "killed by signal %d (%s)", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	} else {
		snprintf(how, size, "exited with status %d", WEXITSTATUS(status));
	}
	return true;
}
