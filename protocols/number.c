#include <string.h>

#include "protocols/number.h"

bool vd_parse_number_len(const char *str, size_t len, long long min, long long max,
		long long *out) {
	if (len == 0) {
		return false;
	}
	while (len > 1 && str[0] == '0') {
		str++;
		len--;
	}
	if (len > 18) {
		return false; // 18 digits always fit a long long
	}
	long long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (str[i] < '0' || str[i] > '9') {
			return false;
		}
		v = v * 10 + (str[i] - '0');
	}
	if (v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}

bool vd_parse_number(const char *str, long long min, long long max, long long *out) {
	return vd_parse_number_len(str, strlen(str), min, max, out);
}
