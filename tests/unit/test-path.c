#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocols/path.h"
#include "tests/unit/tap.h"

/* protocols/path.c: a path's directory, and the running program's. */

static bool test_dir_of_paths(void) {
	char dir[PATH_MAX];
	CHECK(vd_path_dir("/a/b/c", dir, sizeof(dir)), "/a/b/c");
	CHECK_STR(dir, "/a/b");
	CHECK(vd_path_dir("/b", dir, sizeof(dir)), "/b");
	CHECK_STR(dir, "/");
	CHECK(vd_path_dir("/", dir, sizeof(dir)), "/");
	CHECK_STR(dir, "/");
	CHECK(vd_path_dir("a/b", dir, sizeof(dir)), "a/b");
	CHECK_STR(dir, "a");
	CHECK(!vd_path_dir("plain", dir, sizeof(dir)), "a name without a directory");
	CHECK(!vd_path_dir(NULL, dir, sizeof(dir)), "NULL");
	char small[4];
	CHECK(!vd_path_dir("/abc/d", small, sizeof(small)), "does not fit");
	CHECK(vd_path_dir("/ab/c", small, sizeof(small)), "fits");
	CHECK_STR(small, "/ab");
	return true;
}

static bool test_self_dir(void) {
	char dir[PATH_MAX], exe[PATH_MAX + 32];
	CHECK(vd_path_self_dir(dir, sizeof(dir)), "no directory for this program");
	snprintf(exe, sizeof(exe), "%s/test-path", dir);
	CHECK(access(exe, X_OK) == 0, "%s is not this program", exe);
	char small[2];
	CHECK(!vd_path_self_dir(small, sizeof(small)), "does not fit");
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_dir_of_paths),
	TAP_CASE(test_self_dir),
};

TAP_MAIN(cases)
