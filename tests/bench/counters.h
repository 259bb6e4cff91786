#ifndef TESTS_BENCH_COUNTERS_H
#define TESTS_BENCH_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Counters a benchmark tool shares with the runner: a file of `count`
 * little-endian 64-bit words, mapped shared, so the runner reads them at any
 * moment (struct.unpack) without asking the tool. Aligned 64-bit stores are
 * atomic on the machines this runs on; a reader sees each word whole.
 */

/* Creates (truncates) path with count zeroed words and maps it; NULL on error. */
volatile uint64_t *counters_create(const char *path, size_t count);

#endif
