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
