#ifndef TESTS_UNIT_TAP_H
#define TESTS_UNIT_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*
 * A minimal TAP harness for the C unit tests: one function per case, each
 * returning true on success. CHECK() prints the failed condition and a
 * message as TAP diagnostics and makes the case fail. A case may call
 * tap_skip() and return true to report "# SKIP reason".
 */

struct tap_case {
	const char *name;
	bool (*run)(void);
};

#define TAP_CASE(fn) { #fn, fn }

static const char *tap_skip_reason;

static inline void tap_skip(const char *reason) {
	tap_skip_reason = reason;
}

__attribute__((format(printf, 4, 5)))
static inline void tap_diag(const char *file, int line, const char *cond, const char *fmt, ...) {
	printf("# %s:%d: check failed: %s\n# ", file, line, cond);
	va_list args;
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	printf("\n");
}

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			tap_diag(__FILE__, __LINE__, #cond, __VA_ARGS__); \
			return false; \
		} \
	} while (0)

/* Checks that two strings are equal, printing both when they are not. */
#define CHECK_STR(got, want) \
	do { \
		const char *_got = (got), *_want = (want); \
		CHECK(_got != NULL && strcmp(_got, _want) == 0, "got '%s', want '%s'", \
			_got ? _got : "(null)", _want); \
	} while (0)

static inline int tap_run(const struct tap_case *cases, size_t count) {
	int failed = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%zu\n", count);
	for (size_t i = 0; i < count; i++) {
		tap_skip_reason = NULL;
		bool ok = cases[i].run();
		if (ok && tap_skip_reason != NULL) {
			printf("ok %zu - %s # SKIP %s\n", i + 1, cases[i].name, tap_skip_reason);
		} else {
			printf("%s %zu - %s\n", ok ? "ok" : "not ok", i + 1, cases[i].name);
		}
		failed += !ok;
	}
	return failed == 0 ? 0 : 1;
}

#define TAP_MAIN(cases) \
	int main(void) { \
		return tap_run(cases, sizeof(cases) / sizeof(cases[0])); \
	}

#endif
