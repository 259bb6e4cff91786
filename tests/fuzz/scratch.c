#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "protocols/log.h"
#include "tests/fuzz/scratch.h"

static char scratch[128];

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_scratch(void) {
	nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_scratch_dir(const char *name) {
	if (scratch[0] != '\0') {
		abort(); // one per process
	}
	snprintf(scratch, sizeof(scratch), "%s/%s-XXXXXX",
		access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", name);
	if (mkdtemp(scratch) == NULL || atexit(remove_scratch) != 0) {
		abort();
	}
	return scratch;
}

bool fz_initialize_once(const char *name) {
	static bool done;
	if (done) {
		return false;
	}
	done = true;
	vd_log_init(name, getenv("FUZZ_VERBOSE") != NULL ? VD_DEBUG : VD_SILENT);
	return true;
}
