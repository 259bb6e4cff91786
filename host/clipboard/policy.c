#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/clipboard/policy.h"
#include "protocols/link.h"
#include "protocols/names.h"
#include "protocols/number.h"

#define MAX_FILE_SIZE (1u << 20)

static bool fail(char *err, size_t err_size, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static bool fail(char *err, size_t err_size, const char *file, int line, const char *fmt, ...) {
	int n = snprintf(err, err_size, "%s:%d: ", file, line);
	if (n >= 0 && (size_t)n < err_size) {
		va_list args;
		va_start(args, fmt);
		vsnprintf(err + n, err_size - (size_t)n, fmt, args);
		va_end(args);
	}
	return false;
}

static bool domain_valid(const char *name) {
	return strcmp(name, "*") == 0 || vd_domain_name_valid(name, strlen(name));
}

/* Splits line (modified) into at most max words; returns the count, or
 * max + 1 if there are more. */
static size_t split(char *line, char **words, size_t max) {
	size_t n = 0;
	char *save = NULL;
	for (char *w = strtok_r(line, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (n == max) {
			return max + 1;
		}
		words[n++] = w;
	}
	return n;
}

static bool parse_line(struct vd_clip_policy *policy, const char *file, int lineno, char *line,
		char *err, size_t err_size) {
	char *hash = strchr(line, '#');
	if (hash != NULL) {
		*hash = '\0';
	}
	for (char *p = line; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c < 0x20 && c != '\t') || c >= 0x7f) {
			return fail(err, err_size, file, lineno,
				"control or non-ASCII character (byte 0x%02x)", c);
		}
	}
	char *w[5];
	size_t n = split(line, w, 4);
	if (n == 0) {
		return true;
	}
	if (strcmp(w[0], "allow") == 0 || strcmp(w[0], "deny") == 0) {
		if (n != 4 || strcmp(w[2], "->") != 0) {
			return fail(err, err_size, file, lineno,
				"expected '%s SOURCE -> TARGET'", w[0]);
		}
		for (int i = 1; i <= 3; i += 2) {
			if (!domain_valid(w[i])) {
				return fail(err, err_size, file, lineno, "invalid %s '%s': a VM "
					"name, 'host' or '*'", i == 1 ? "source" : "target", w[i]);
			}
		}
		if (policy->rule_count == VD_CLIP_POLICY_MAX_RULES) {
			return fail(err, err_size, file, lineno, "more than %d rules",
				VD_CLIP_POLICY_MAX_RULES);
		}
		struct vd_clip_rule *rules = realloc(policy->rules,
			(policy->rule_count + 1) * sizeof(*rules));
		if (rules == NULL) {
			return fail(err, err_size, file, lineno, "out of memory");
		}
		policy->rules = rules;
		struct vd_clip_rule *rule = &rules[policy->rule_count++];
		*rule = (struct vd_clip_rule){ .allow = w[0][0] == 'a', .line = lineno };
		snprintf(rule->source, sizeof(rule->source), "%s", w[1]);
		snprintf(rule->target, sizeof(rule->target), "%s", w[3]);
		return true;
	}
	if (strcmp(w[0], "ask") == 0) {
		return fail(err, err_size, file, lineno,
			"'ask' is not supported: use allow or deny");
	}
	long long v;
	if (strcmp(w[0], "max-size") == 0) {
		if (n != 2 || !vd_parse_number(w[1], 256, VD_LINK_MAX_CLIP_DATA, &v)) {
			return fail(err, err_size, file, lineno, "max-size wants bytes from 256 "
				"to %u", VD_LINK_MAX_CLIP_DATA);
		}
		policy->max_size = v;
		return true;
	}
	if (strcmp(w[0], "timeout-ms") == 0) {
		if (n != 2 || !vd_parse_number(w[1], 100, 60000, &v)) {
			return fail(err, err_size, file, lineno,
				"timeout-ms wants milliseconds from 100 to 60000");
		}
		policy->timeout_ms = (int)v;
		return true;
	}
	if (strcmp(w[0], "clear-after-paste") == 0) {
		if (n != 2 || (strcmp(w[1], "yes") != 0 && strcmp(w[1], "no") != 0)) {
			return fail(err, err_size, file, lineno, "clear-after-paste wants yes or no");
		}
		policy->clear_after_paste = strcmp(w[1], "yes") == 0;
		return true;
	}
	return fail(err, err_size, file, lineno, "unknown keyword '%s' (allow, deny, max-size, "
		"timeout-ms, clear-after-paste)", w[0]);
}

bool clip_policy_parse(struct vd_clip_policy *policy, const char *file, const char *text,
		char *err, size_t err_size) {
	*policy = (struct vd_clip_policy){ .max_size = -1, .timeout_ms = -1,
		.clear_after_paste = -1 };
	char *copy = strdup(text);
	if (copy == NULL) {
		return fail(err, err_size, file, 0, "out of memory");
	}
	bool ok = true;
	int lineno = 0;
	char *p = copy;
	while (ok && *p != '\0') {
		lineno++;
		char *nl = strchr(p, '\n');
		if (nl != NULL) {
			*nl = '\0';
		}
		size_t len = strlen(p);
		if (len > 0 && p[len - 1] == '\r') {
			p[len - 1] = '\0';
		}
		if (len > 1024) {
			ok = fail(err, err_size, file, lineno, "line longer than 1024 bytes");
		} else {
			ok = parse_line(policy, file, lineno, p, err, err_size);
		}
		p = nl != NULL ? nl + 1 : p + len;
	}
	free(copy);
	if (!ok) {
		clip_policy_finish(policy);
	}
	return ok;
}

bool clip_policy_load(struct vd_clip_policy *policy, const char *path, char *err,
		size_t err_size) {
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT) {
			return clip_policy_parse(policy, path, "", err, err_size);
		}
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return false;
	}
	char *text = malloc(MAX_FILE_SIZE + 1);
	if (text == NULL) {
		fclose(f);
		snprintf(err, err_size, "%s: out of memory", path);
		return false;
	}
	size_t n = fread(text, 1, MAX_FILE_SIZE + 1, f);
	bool read_error = ferror(f);
	fclose(f);
	if (read_error || n > MAX_FILE_SIZE) {
		free(text);
		snprintf(err, err_size, "%s: %s", path, read_error ? "read error" :
			"larger than 1 MiB");
		return false;
	}
	if (memchr(text, '\0', n) != NULL) {
		free(text);
		snprintf(err, err_size, "%s: NUL byte in the file", path);
		return false;
	}
	text[n] = '\0';
	bool ok = clip_policy_parse(policy, path, text, err, err_size);
	free(text);
	return ok;
}

void clip_policy_finish(struct vd_clip_policy *policy) {
	free(policy->rules);
	policy->rules = NULL;
	policy->rule_count = 0;
}

static bool matches(const char *pattern, const char *name) {
	return strcmp(pattern, "*") == 0 || strcmp(pattern, name) == 0;
}

bool clip_policy_allows(const struct vd_clip_policy *policy, const char *source,
		const char *target, int *line) {
	for (size_t i = 0; i < policy->rule_count; i++) {
		const struct vd_clip_rule *rule = &policy->rules[i];
		if (matches(rule->source, source) && matches(rule->target, target)) {
			*line = rule->line;
			return rule->allow;
		}
	}
	*line = 0;
	return true;
}
