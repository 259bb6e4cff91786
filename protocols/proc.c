#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/proc.h"

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

bool vd_proc_cmdline(pid_t pid, char *buf, size_t size, size_t *len) {
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	size_t got = 0;
	bool ok = true;
	for (;;) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 || (n > 0 && got + (size_t)n == size)) {
			ok = false; // an error, or as long as buf: maybe longer
			break;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (!ok || got == 0 || buf[got - 1] != '\0') {
		return false;
	}
	*len = got;
	return true;
}

bool vd_proc_exe(pid_t pid, char *out, size_t size) {
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, out, size - 1);
	if (n <= 0 || (size_t)n >= size - 1) {
		return false;
	}
	out[n] = '\0';
	static const char deleted[] = " (deleted)";
	size_t dl = sizeof(deleted) - 1;
	if ((size_t)n > dl && strcmp(out + n - dl, deleted) == 0) {
		out[n - dl] = '\0'; // upgraded while it runs
	}
	return true;
}
