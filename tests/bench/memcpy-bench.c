/*
 * memcpy-bench: this machine's memory-copy bandwidth, the bound for any
 * path that copies pixels. Copies a buffer far larger than the caches with
 * memcpy, repeatedly, for about --seconds (default 0.5), on one thread.
 *
 *   memcpy-bench [--mib N] [--seconds S]
 *
 * Prints key=value lines: memcpy_best_bytes_per_s (the fastest pass),
 * memcpy_median_bytes_per_s, passes. A byte copied counts once (it is read
 * once and written once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define MEMCPY_MAX_PASSES 4096

int main(int argc, char *argv[]) {
	long mib = 64;
	double seconds = 0.5;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc) {
			mib = atol(argv[++i]);
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else {
			fprintf(stderr, "usage: memcpy-bench [--mib N] [--seconds S]\n");
			return 2;
		}
	}
	if (mib < 1 || mib > 4096 || seconds <= 0) {
		fprintf(stderr, "memcpy-bench: --mib 1..4096, --seconds > 0\n");
		return 2;
	}
	size_t size = (size_t)mib << 20;
	char *src = malloc(size), *dst = malloc(size);
	static double rates[MEMCPY_MAX_PASSES];
	if (src == NULL || dst == NULL) {
		perror("memcpy-bench");
		return 1;
	}
	// Touch every page first: the first pass would otherwise time page faults.
	memset(src, 0x5a, size);
	memset(dst, 0xa5, size);
	int passes = 0;
	double start = now_s();
	while (passes < MEMCPY_MAX_PASSES && (passes < 3 || now_s() - start < seconds)) {
		double t0 = now_s();
		memcpy(dst, src, size);
		double t1 = now_s();
		// Keep the copy observable so that it is not optimized out.
		src[(size_t)passes % size] = dst[size - 1 - (size_t)passes % size];
		rates[passes++] = (double)size / (t1 - t0);
	}
	qsort(rates, (size_t)passes, sizeof(rates[0]), compare_double);
	printf("memcpy_best_bytes_per_s=%.0f\n", rates[passes - 1]);
	printf("memcpy_median_bytes_per_s=%.0f\n", rates[passes / 2]);
	printf("passes=%d\n", passes);
	printf("mib=%ld\n", mib);
	free(src);
	free(dst);
	return 0;
}
