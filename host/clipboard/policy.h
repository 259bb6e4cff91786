#ifndef HOST_CLIPBOARD_POLICY_H
#define HOST_CLIPBOARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "protocols/names.h"

/*
 * The global clipboard's policy file (host/clipboard/README.md):
 *
 *   # comment
 *   deny untrusted -> vault      rules: allow|deny SOURCE -> TARGET
 *   deny * -> banking            SOURCE/TARGET: a VM name, host, or *
 *   allow work -> *              the first matching rule wins; default allow
 *   max-size 262144              settings: max-size BYTES (256 .. 2097152),
 *   timeout-ms 3000                timeout-ms N (100 .. 60000),
 *   clear-after-paste no           clear-after-paste yes|no
 *
 * Errors name file:line.
 */

#define VD_CLIP_POLICY_MAX_RULES 1024

struct vd_clip_rule {
	bool allow;
	char source[VD_VM_NAME_MAX + 1];
	char target[VD_VM_NAME_MAX + 1];
	int line;
};

struct vd_clip_policy {
	struct vd_clip_rule *rules;
	size_t rule_count;
	/* settings; negative: not set by the file */
	long long max_size;
	int timeout_ms;
	int clear_after_paste;
};

/* Parses text; false with "file:line: reason" in err. */
bool clip_policy_parse(struct vd_clip_policy *policy, const char *file, const char *text,
	char *err, size_t err_size);
/* Loads path; a missing file is an empty policy. */
bool clip_policy_load(struct vd_clip_policy *policy, const char *path, char *err,
	size_t err_size);
void clip_policy_finish(struct vd_clip_policy *policy);
/* Whether source may paste into target; *line is the rule's (0: default). */
bool clip_policy_allows(const struct vd_clip_policy *policy, const char *source,
	const char *target, int *line);

#endif
