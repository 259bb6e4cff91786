#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/interface.h"
#include "proxy/policy.h"

/*
 * vd_policy_parse on arbitrary text. Beyond memory safety and leaks it checks
 * that an accepted policy only allows interfaces of the tables, at versions
 * 1..tables' version, each once; and that an error names the source, is
 * terminated and printable ASCII.
 */

static void check_policy(const struct vd_policy *policy) {
	for (size_t i = 0; i < policy->global_count; i++) {
		const struct vd_policy_global *global = &policy->globals[i];
		const struct vd_interface *iface = vd_interface_find(global->interface);
		if (iface == NULL || global->max_version < 1 ||
				global->max_version > iface->version) {
			abort();
		}
		if (vd_policy_max_version(policy, global->interface) != global->max_version) {
			abort(); // a duplicate: lookup found an earlier entry
		}
	}
}

static void check_error(const char *err, size_t size) {
	size_t len = strnlen(err, size);
	if (len == size || strncmp(err, "fuzz", 4) != 0) {
		abort();
	}
	for (size_t i = 0; i < len; i++) {
		if (err[i] < 0x20 || err[i] > 0x7e) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char err[512];
	memset(err, 'x', sizeof(err));
	struct vd_policy *policy = vd_policy_parse((const char *)data, size, "fuzz", err,
		sizeof(err));
	if (policy == NULL) {
		check_error(err, sizeof(err));
		return 0;
	}
	check_policy(policy);
	vd_policy_destroy(policy);
	return 0;
}
