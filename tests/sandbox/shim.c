/*
 * Tests only (never installed): an LD_PRELOAD shim that makes a vmdesk
 * daemon attempt one forbidden system call when it gets SIGUSR2, to show
 * that its seccomp filter kills it (tests/sandbox/sandbox.py).
 *
 * VD_SHIM_CALL names the call:
 *   execve       execve("/nonexistent/vmdesk-shim") (fails with ENOENT if allowed)
 *   socket-inet  socket(AF_INET, SOCK_STREAM)
 *   open-new     openat(VD_SHIM_PATH, O_WRONLY | O_CREAT) of a new file
 *   fork         clone(SIGCHLD), a new process (which exits at once)
 *   read-file    openat(VD_SHIM_PATH, O_RDONLY) of an existing file
 *   unlink       unlink(VD_SHIM_PATH) of an existing file
 *   glib-warning g_log(G_LOG_LEVEL_WARNING) through the daemon's own GLib
 *                (returns -2 if it has none)
 *   garble-hang  16 bytes of 0xff on every socket it holds (returns how many
 *                took them), then it reads a pipe of its own for good: a
 *                helper taken over that holds its daemon up
 * After the call (if it lived) the shim writes "vmdesk-shim: CALL returned R"
 * to stderr, and " (errno E)" after it when R is negative.
 *
 * With VD_SHIM_PROCESS=NAME the handler is set, instead, in the process that
 * names itself NAME (prctl PR_SET_NAME) once it has: vmdesk-hostd's menu
 * writer ("vmdesk-menu"), a fork that resets its signals first.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char call[32];
static char path[256];

static void say(const char *what, long result) {
	int err = errno; // the call's
	char line[128];
	int n = result < 0 ?
		snprintf(line, sizeof(line), "vmdesk-shim: %s returned %ld (errno %d)\n", what, result,
			err) :
		snprintf(line, sizeof(line), "vmdesk-shim: %s returned %ld\n", what, result);
	if (n > 0) {
		(void)!write(STDERR_FILENO, line, (size_t)n);
	}
}

static void handle_usr2(int sig) {
	(void)sig;
	long r;
	if (strcmp(call, "execve") == 0) {
		char *argv[] = { "vmdesk-shim", NULL };
		r = execve("/nonexistent/vmdesk-shim", argv, argv + 1);
	} else if (strcmp(call, "socket-inet") == 0) {
		r = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (r >= 0) {
			close((int)r);
		}
	} else if (strcmp(call, "open-new") == 0) {
		// the raw call: a sanitizer runtime would make open() an open(2)
		r = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0600);
		if (r >= 0) {
			close((int)r);
		}
	} else if (strcmp(call, "read-file") == 0) {
		r = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
		if (r >= 0) {
			close((int)r);
		}
	} else if (strcmp(call, "unlink") == 0) {
		r = syscall(SYS_unlink, path); // what glibc's unlink() calls, on the shared list
	} else if (strcmp(call, "glib-warning") == 0) {
		// what pango does when a font fails to load after startup
		void (*g_log)(const char *, int, const char *, ...) = (void (*)(const char *, int,
			const char *, ...))dlsym(RTLD_DEFAULT, "g_log");
		r = -2;
		if (g_log != NULL) {
			g_log("vmdesk-shim", 1 << 4 /* G_LOG_LEVEL_WARNING */, "a warning, as %s", "pango's");
			r = 0;
		}
	} else if (strcmp(call, "fork") == 0) {
		// the raw call: glibc's fork() would take its own locks first
		r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
		if (r == 0) {
			_exit(0);
		}
	} else if (strcmp(call, "garble-hang") == 0) {
		static const unsigned char junk[16] = {
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		};
		r = 0;
		for (int fd = STDERR_FILENO + 1; fd < 256; fd++) {
			struct stat st;
			if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
					write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk)) {
				r++;
			}
		}
		say(call, r);
		int p[2];
		char c;
		if (pipe2(p, O_CLOEXEC) == 0) {
			(void)!read(p[0], &c, 1); // nobody writes: for good
		}
		return;
	} else {
		r = -1000;
	}
	say(call, r);
}

static char process[16];

static void set_handler(void) {
	struct sigaction sa = { .sa_handler = handle_usr2, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}

int prctl(int option, ...) {
	va_list ap;
	va_start(ap, option);
	unsigned long a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = va_arg(ap, unsigned long);
	}
	va_end(ap);
	int (*real)(int, ...) = (int (*)(int, ...))dlsym(RTLD_NEXT, "prctl");
	int r = real(option, a[0], a[1], a[2], a[3]);
	if (option == PR_SET_NAME && process[0] != '\0' && call[0] != '\0' &&
			strncmp((const char *)a[0], process, sizeof(process) - 1) == 0) {
		set_handler();
	}
	return r;
}

__attribute__((constructor)) static void shim_init(void) {
	const char *c = getenv("VD_SHIM_CALL");
	const char *p = getenv("VD_SHIM_PATH");
	const char *in = getenv("VD_SHIM_PROCESS");
	if (c == NULL) {
		return;
	}
	snprintf(call, sizeof(call), "%s", c);
	snprintf(path, sizeof(path), "%s", p != NULL ? p : "/tmp/vmdesk-shim-file");
	if (in != NULL) {
		snprintf(process, sizeof(process), "%s", in);
		return;
	}
	set_handler();
}
