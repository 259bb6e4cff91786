#ifndef HOST_SANDBOX_MENU_WRITER_H
#define HOST_SANDBOX_MENU_WRITER_H

#include <stddef.h>

#include "host/menu-writer-private.h"
#include "protocols/sandbox.h"

/*
 * The menu writer's seccomp filter (sandbox-menu-writer.c), entered once
 * it has made the menu's directories: files in those directories, its one
 * socket, memory. No exec, no fork, no new sockets, no signals.
 */
const struct vd_sandbox_policy *menu_writer_sandbox_policy(void);

/*
 * Landlock, before the filter and only when it enforces: the writer
 * changes files only in the menu's directories (dirs, made) and reads
 * only those and the VM definitions. Without Landlock in the kernel it
 * says so and goes on.
 */
void menu_writer_sandbox_confine_files(const char **dirs, size_t ndirs,
	const struct menu_writer_options *options);

#endif
