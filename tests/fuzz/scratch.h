#ifndef TESTS_FUZZ_SCRATCH_H
#define TESTS_FUZZ_SCRATCH_H

#include <stdbool.h>

/*
 * A private directory for a harness's files, named NAME-XXXXXX, in memory
 * where there is one (/dev/shm, else /tmp), and removed with everything in
 * it when the process exits (not when a finding ends it: its files may
 * help). Aborts if it cannot be made. The path lives as long as the process.
 */
const char *fz_scratch_dir(const char *name);

/*
 * For a harness's LLVMFuzzerInitialize, which libFuzzer calls and the
 * replay's first input calls again: true the first time only, when it also
 * starts the log as name (silent; FUZZ_VERBOSE=1: everything).
 */
bool fz_initialize_once(const char *name);

#endif
