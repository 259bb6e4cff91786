#ifndef PROTOCOLS_NUMBER_H
#define PROTOCOLS_NUMBER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Parses a decimal number from the command line, a configuration file or
 * an address: digits only (no sign, no spaces, no trailing text), within
 * [min, max]. The one number parser of every program.
 */
bool vd_parse_number(const char *str, long long min, long long max, long long *out);
/* The same on str[0..len), which needs no terminator. */
bool vd_parse_number_len(const char *str, size_t len, long long min, long long max,
	long long *out);

#endif
