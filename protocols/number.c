#include <errno.h>
#include <stdlib.h>

#include "protocols/number.h"

bool vd_parse_number(const char *str, long long min, long long max, long long *out) {
	if (str[0] < '0' || str[0] > '9') {
		return false;
	}
	char *end;
	errno = 0;
	long long v = strtoll(str, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}
