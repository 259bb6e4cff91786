#ifndef HOST_MENU_WRITER_PRIVATE_H
#define HOST_MENU_WRITER_PRIVATE_H

#include <limits.h>
#include <stddef.h>

#include "protocols/sandbox.h"

/* What the writer keeps of hostd's startup: a copy, made before the fork. */
struct menu_writer_options {
	char cli_path[PATH_MAX];
	char config_dirs[2][PATH_MAX];
	size_t nconfig_dirs;
	enum vd_seccomp_mode seccomp;
};

/* The writer process (menu-writer-process.c), in the child of the fork: serves fd, then exits. */
_Noreturn void menu_writer_main(int fd, const struct menu_writer_options *options);

#endif
