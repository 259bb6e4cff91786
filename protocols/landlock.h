#ifndef PROTOCOLS_LANDLOCK_H
#define PROTOCOLS_LANDLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Landlock (the kernel's unprivileged access control, Linux 5.13+): what a
 * seccomp filter cannot say, "write only here", "read only there". After
 * vd_landlock_confine the process may change the file system (create,
 * write, truncate, rename, link, remove) only as its rules allow, and, if
 * reads are confined too, read files, list directories and execute only
 * beneath its READ paths. Set before the seccomp filter (its calls are on
 * no list), and inherited by anything the process forks afterwards (a
 * spawner forked before is not confined). With the ABI of Linux 6.7+ it
 * also refuses TCP bind and connect outright.
 */

enum vd_landlock_access {
	VD_LANDLOCK_WRITE = 1u << 0, // every change beneath the path
	VD_LANDLOCK_REMOVE = 1u << 1, // only removing files and directories beneath it
	VD_LANDLOCK_READ = 1u << 2, // reading files and listing directories (a file: reading it)
	VD_LANDLOCK_LIST = 1u << 3, // only listing directories beneath it: names, no file's bytes
};

struct vd_landlock_rule {
	const char *path;
	uint32_t access; // enum vd_landlock_access
};

/* The Landlock ABI version the kernel offers; 0 if none (old kernel, or off at boot). */
int vd_landlock_abi(void);

/*
 * Confines the process to rules. With confine_reads, reading and executing
 * are confined too (in sanitizer builds /proc, /usr and the program's own
 * directory stay readable, for the runtime's reports). A WRITE or REMOVE
 * path must exist; a READ or LIST path that does not is left out. Reads
 * the time zone first (tzset), which glibc reads once, on first use. Sets
 * no_new_privs. False with a log line if the kernel has no Landlock (the
 * caller may go on: say so) or a rule cannot be made (the process is then
 * not confined).
 */
bool vd_landlock_confine(const struct vd_landlock_rule *rules, size_t n, bool confine_reads);

#endif
