#ifndef PROTOCOLS_CLOCK_H
#define PROTOCOLS_CLOCK_H

#include <stdint.h>

/* The one clock of every program: CLOCK_MONOTONIC in milliseconds. */
uint64_t vd_now_ms(void);

#endif
