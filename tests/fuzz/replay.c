#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A main() for fuzz targets when libFuzzer is not available (gcc): runs
 * LLVMFuzzerTestOneInput once on every file named on the command line, or in
 * a directory named there, and prints TAP. Each input gets a buffer of its
 * exact size, so that the sanitizers see any read past its end.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (4 * 1024 * 1024)
#define REPLAY_MAX_FILES 4096

static int test_number;

static bool read_input(const char *path, uint8_t **data, size_t *size) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("# cannot open %s: %s\n", path, strerror(errno));
		return false;
	}
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= REPLAY_MAX_INPUT;
	/* malloc(0) may return NULL: give empty inputs one byte they cannot see */
	uint8_t *buf = ok ? malloc(st.st_size > 0 ? (size_t)st.st_size : 1) : NULL;
	size_t len = 0;
	while (buf != NULL && len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n <= 0) {
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL || len != (size_t)st.st_size) {
		printf("# cannot read %s\n", path);
		free(buf);
		return false;
	}
	*data = buf;
	*size = len;
	return true;
}

static bool run_file(const char *path) {
	uint8_t *data;
	size_t size;
	test_number++;
	if (!read_input(path, &data, &size)) {
		printf("not ok %d - %s\n", test_number, path);
		return false;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	printf("ok %d - %s (%zu bytes)\n", test_number, path, size);
	return true;
}

static int skip_hidden(const struct dirent *entry) {
	return entry->d_name[0] != '.';
}

/* Runs every file of dir in name order; returns how many failed, -1 if none ran. */
static int run_dir(const char *dir) {
	struct dirent **entries;
	int n = scandir(dir, &entries, skip_hidden, alphasort);
	if (n < 0) {
		printf("# cannot read %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int failed = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		if (i < REPLAY_MAX_FILES) {
			snprintf(path, sizeof(path), "%s/%s", dir, entries[i]->d_name);
			failed += !run_file(path);
		}
		free(entries[i]);
	}
	free(entries);
	return n == 0 ? -1 : failed;
}

int main(int argc, char *argv[]) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	printf("TAP version 13\n");
	int failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			int r = run_dir(argv[i]);
			if (r < 0) {
				test_number++;
				printf("not ok %d - %s: no inputs\n", test_number, argv[i]);
				failed++;
			} else {
				failed += r;
			}
		} else {
			failed += !run_file(argv[i]);
		}
	}
	printf("1..%d\n", test_number);
	return failed == 0 ? 0 : 1;
}
