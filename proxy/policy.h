#ifndef PROXY_POLICY_H
#define PROXY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A VM's protocol policy: which globals its clients may bind, up to which
 * version, plus per-VM switches. The file format is documented in
 * proxy/default.policy and in the README.
 */

struct vd_policy_global {
	char *interface;
	uint32_t max_version;
};

struct vd_policy {
	struct vd_policy_global *globals;
	size_t global_count;
	bool allow_fullscreen; // "set fullscreen allow"; default false
};

struct vd_policy *vd_policy_parse(const char *text, size_t len, const char *source,
	char *err, size_t err_size);
struct vd_policy *vd_policy_load_file(const char *path, char *err, size_t err_size);
void vd_policy_destroy(struct vd_policy *policy);
/* The highest version a VM may bind, or 0 if the interface is not allowed. */
uint32_t vd_policy_max_version(const struct vd_policy *policy, const char *interface);

#endif
