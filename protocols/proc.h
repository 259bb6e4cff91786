#ifndef PROTOCOLS_PROC_H
#define PROTOCOLS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * A process's identity beyond its pid, which is reused: its start time,
 * field 22 of /proc/PID/stat (clock ticks since boot). A pid whose start
 * time is not the one recorded names another process.
 */

/* False if there is no such process (or it is a zombie), or /proc cannot be read. */
bool vd_proc_start_time(pid_t pid, unsigned long long *start);

/*
 * The process's argv as the kernel keeps it (/proc/PID/cmdline: each
 * argument ends in NUL) into buf; false if it cannot be read, is empty or
 * does not fit in size bytes.
 */
bool vd_proc_cmdline(pid_t pid, char *buf, size_t size, size_t *len);
/* The program the process runs (/proc/PID/exe, without " (deleted)"). */
bool vd_proc_exe(pid_t pid, char *out, size_t size);

#endif
