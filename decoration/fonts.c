#include <fontconfig/fontconfig.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/fonts.h"
#include "protocols/path.h"

/* Whether path is dir or beneath it. */
static bool beneath(const char *path, const char *dir) {
	size_t len = strlen(dir);
	return strncmp(path, dir, len) == 0 &&
		(path[len] == '\0' || path[len] == '/' || (len > 0 && dir[len - 1] == '/'));
}

struct path_set {
	char **paths;
	size_t n, max;
};

/* Adds path unless one already there contains it; drops those it contains. */
static void add(struct path_set *set, const char *path) {
	if (path == NULL || path[0] != '/') {
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (beneath(path, set->paths[i])) {
			return;
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (beneath(set->paths[i], path)) {
			free(set->paths[i]);
		} else {
			set->paths[kept++] = set->paths[i];
		}
	}
	set->n = kept;
	if (set->n < set->max) {
		char *copy = strdup(path);
		if (copy != NULL) {
			set->paths[set->n++] = copy;
		}
	}
}

static void add_list(struct path_set *set, FcStrList *list) {
	if (list == NULL) {
		return;
	}
	for (FcChar8 *s; (s = FcStrListNext(list)) != NULL;) {
		add(set, (const char *)s);
	}
	FcStrListDone(list);
}

/* A configuration file's directory, and its target's. */
static void add_config_dirs(struct path_set *set, FcStrList *files) {
	if (files == NULL) {
		return;
	}
	for (FcChar8 *s; (s = FcStrListNext(files)) != NULL;) {
		char real[PATH_MAX], dir[PATH_MAX];
		if (realpath((const char *)s, real) != NULL && vd_path_dir(real, dir, sizeof(dir))) {
			add(set, dir);
		}
		if (vd_path_dir((const char *)s, dir, sizeof(dir))) {
			add(set, dir);
		}
	}
	FcStrListDone(files);
}

size_t vd_font_paths(char **paths, size_t max) {
	struct path_set set = {paths, 0, max};
	FcConfig *config = FcConfigGetCurrent();
	if (config == NULL) {
		return 0;
	}
	add_list(&set, FcConfigGetFontDirs(config));
	add_list(&set, FcConfigGetCacheDirs(config));
	add_config_dirs(&set, FcConfigGetConfigFiles(config));
	return set.n;
}

void vd_font_paths_free(char **paths, size_t n) {
	for (size_t i = 0; i < n; i++) {
		free(paths[i]);
	}
}
