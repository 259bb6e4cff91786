#ifndef PROTOCOLS_PATH_H
#define PROTOCOLS_PATH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Paths, one rule each: the directory of a path, and of the running
 * program. False if the path has no '/' or the result does not fit.
 */

/* The directory of path into dir: "/a/b" gives "/a", "/b" gives "/". */
bool vd_path_dir(const char *path, char *dir, size_t size);

/* The directory of the running program (/proc/self/exe). */
bool vd_path_self_dir(char *dir, size_t size);

#endif
