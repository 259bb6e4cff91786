#ifndef PROTOCOLS_NUMBER_H
#define PROTOCOLS_NUMBER_H

#include <stdbool.h>

/*
 * Parses a decimal number from the command line or a configuration file:
 * digits only (no sign, no spaces, no trailing text), within [min, max].
 */
bool vd_parse_number(const char *str, long long min, long long max, long long *out);

#endif
