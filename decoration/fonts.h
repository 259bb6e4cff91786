#ifndef DECORATION_FONTS_H
#define DECORATION_FONTS_H

#include <stddef.h>

/*
 * Where fontconfig reads from, as it is configured now: its font
 * directories, its caches, and the directories of its configuration files
 * (and of their targets, which are mostly symbolic links). For a process
 * that confines its reads (Landlock) after loading its fonts: a title in a
 * new script makes fontconfig open a fallback font later. No path is
 * beneath another. Fills at most max paths (malloc'd) and returns how many;
 * vd_font_paths_free frees them.
 */
size_t vd_font_paths(char **paths, size_t max);
void vd_font_paths_free(char **paths, size_t n);

#endif
