/*
 * Counters shared with the benchmark runner through a mapped file (counters.h).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "counters.h"

volatile uint64_t *counters_create(const char *path, size_t count) {
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		return NULL;
	}
	size_t size = count * sizeof(uint64_t);
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return NULL;
	}
	void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return map == MAP_FAILED ? NULL : map;
}
