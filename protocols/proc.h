#ifndef PROTOCOLS_PROC_H
#define PROTOCOLS_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * A process's identity beyond its pid, which is reused: its start time,
 * field 22 of /proc/PID/stat (clock ticks since boot). A pid whose start
 * time is not the one recorded names another process.
 */

/* False if there is no such process (or it is a zombie), or /proc cannot be read. */
bool vd_proc_start_time(pid_t pid, unsigned long long *start);

#endif
