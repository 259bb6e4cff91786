#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "protocols/helper.h"

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
