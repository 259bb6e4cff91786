#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocols/path.h"

bool vd_path_dir(const char *path, char *dir, size_t size) {
	if (path == NULL) {
		return false;
	}
	int len = snprintf(dir, size, "%s", path);
	if (len < 0 || (size_t)len >= size) {
		return false;
	}
	char *slash = strrchr(dir, '/');
	if (slash == NULL) {
		return false;
	}
	slash[slash == dir ? 1 : 0] = '\0';
	return true;
}

bool vd_path_self_dir(char *dir, size_t size) {
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		return false;
	}
	self[n] = '\0';
	return vd_path_dir(self, dir, size);
}
