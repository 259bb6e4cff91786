#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "protocols/path.h"

bool vd_path_dir(const char *path, char *dir, size_t size) {
	const char *slash = path != NULL ? strrchr(path, '/') : NULL;
	if (slash == NULL) {
		return false;
	}
	size_t len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= size) {
		return false;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
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
