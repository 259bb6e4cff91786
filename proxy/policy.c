#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocols/interface.h"
#include "proxy/policy.h"

/*
 * The policy file format is documented at the top of proxy/default.policy.
 * The parser is strict: the first mistake stops it, with "FILE:LINE: reason".
 * A policy is a security boundary; a typo must not silently allow or hide
 * something. Everything is ASCII and locale-independent.
 */

#define POLICY_MAX_SIZE (1024 * 1024)
#define POLICY_MAX_LINE 4096
#define POLICY_MAX_ENTRIES 1024
#define POLICY_MAX_NAME 128
/* A directive has at most 3 words; one more is read to report it. */
#define POLICY_MAX_WORDS 4
/* How much of a word an error message quotes. */
#define QUOTE_MAX 64
#define QUOTE_SIZE (QUOTE_MAX * 4 + 4)

struct parser {
	const char *source;
	size_t line;
	struct vd_policy *policy;
	size_t global_cap;
	char **denied;
	size_t denied_count, denied_cap;
	size_t entries;
	bool fullscreen_set;
	char *err;
	size_t err_size;
};

struct word {
	const char *str;
	size_t len;
};

__attribute__((format(printf, 2, 3)))
static bool fail(struct parser *p, const char *fmt, ...) {
	if (p->err_size == 0) {
		return false;
	}
	int n = snprintf(p->err, p->err_size, "%s:%zu: ", p->source, p->line);
	if (n < 0 || (size_t)n >= p->err_size) {
		return false;
	}
	va_list args;
	va_start(args, fmt);
	vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, args);
	va_end(args);
	return false;
}

/* Copies a word for an error message: printable ASCII as is, anything else
 * as \xNN, cut with "..." when long. */
static const char *quote(char out[static QUOTE_SIZE], struct word w) {
	size_t n = 0;
	size_t i;
	for (i = 0; i < w.len && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)w.str[i];
		if (c >= 0x20 && c < 0x7f) {
			out[n++] = (char)c;
		} else {
			n += (size_t)snprintf(out + n, QUOTE_SIZE - n, "\\x%02x", c);
		}
	}
	if (i < w.len) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

static bool word_is(struct word w, const char *str) {
	return strlen(str) == w.len && memcmp(w.str, str, w.len) == 0;
}

static bool is_name_char(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_';
}

/* An interface name: [A-Za-z0-9_]+, at most POLICY_MAX_NAME characters.
 * On success writes it NUL-terminated to name. */
static bool parse_name(struct parser *p, struct word w, char name[static POLICY_MAX_NAME + 1]) {
	char q[QUOTE_SIZE];
	if (w.len > POLICY_MAX_NAME) {
		return fail(p, "interface name '%s' is longer than %d characters", quote(q, w),
			POLICY_MAX_NAME);
	}
	for (size_t i = 0; i < w.len; i++) {
		if (!is_name_char(w.str[i])) {
			return fail(p, "'%s' is not an interface name (letters, digits and _)",
				quote(q, w));
		}
	}
	memcpy(name, w.str, w.len);
	name[w.len] = '\0';
	return true;
}

static struct vd_policy_global *find_allowed(const struct vd_policy *policy, const char *name) {
	for (size_t i = 0; i < policy->global_count; i++) {
		if (strcmp(policy->globals[i].interface, name) == 0) {
			return &policy->globals[i];
		}
	}
	return NULL;
}

static bool is_denied(const struct parser *p, const char *name) {
	for (size_t i = 0; i < p->denied_count; i++) {
		if (strcmp(p->denied[i], name) == 0) {
			return true;
		}
	}
	return false;
}

/* Returns array, grown if needed to hold count + 1 elements of elem_size;
 * NULL if that fails (array is then unchanged). */
static void *reserve(void *array, size_t count, size_t *cap, size_t elem_size) {
	if (count < *cap) {
		return array;
	}
	size_t new_cap = *cap == 0 ? 16 : *cap * 2;
	void *grown = realloc(array, new_cap * elem_size);
	if (grown != NULL) {
		*cap = new_cap;
	}
	return grown;
}

/* A version: decimal digits, at least 1; anything above the tables clamps. */
static bool parse_version(struct parser *p, struct word w, const char *name,
		uint32_t table_version, uint32_t *version) {
	char q[QUOTE_SIZE];
	uint64_t v = 0;
	for (size_t i = 0; i < w.len; i++) {
		if (w.str[i] < '0' || w.str[i] > '9') {
			return fail(p, "expected a version number after %s, got '%s'", name,
				quote(q, w));
		}
		if (v <= UINT32_MAX) {
			v = v * 10 + (uint64_t)(w.str[i] - '0');
		}
	}
	if (v == 0) {
		return fail(p, "version 0 for %s: versions start at 1", name);
	}
	*version = v > table_version ? table_version : (uint32_t)v;
	return true;
}

static bool parse_allow(struct parser *p, const struct word *words, size_t count) {
	char q[QUOTE_SIZE];
	char name[POLICY_MAX_NAME + 1];
	if (count < 2) {
		return fail(p, "allow needs an interface name");
	}
	if (!parse_name(p, words[1], name)) {
		return false;
	}
	const struct vd_interface *iface = vd_interface_find(name);
	if (iface == NULL) {
		return fail(p, "%s is unknown to this proxy (not in its protocol tables)", name);
	}
	if (find_allowed(p->policy, name) != NULL) {
		return fail(p, "duplicate allow for %s", name);
	}
	if (is_denied(p, name)) {
		return fail(p, "%s is both allowed and denied", name);
	}
	uint32_t version = iface->version;
	if (count >= 3 && !parse_version(p, words[2], name, iface->version, &version)) {
		return false;
	}
	if (count > 3) {
		return fail(p, "unexpected '%s' after allow %s VERSION", quote(q, words[3]), name);
	}
	struct vd_policy *policy = p->policy;
	struct vd_policy_global *globals = reserve(policy->globals, policy->global_count,
		&p->global_cap, sizeof(policy->globals[0]));
	if (globals == NULL) {
		return fail(p, "out of memory");
	}
	policy->globals = globals;
	char *copy = strdup(name);
	if (copy == NULL) {
		return fail(p, "out of memory");
	}
	policy->globals[policy->global_count++] = (struct vd_policy_global){
		.interface = copy,
		.max_version = version,
	};
	return true;
}

static bool parse_deny(struct parser *p, const struct word *words, size_t count) {
	char q[QUOTE_SIZE];
	char name[POLICY_MAX_NAME + 1];
	if (count < 2) {
		return fail(p, "deny needs an interface name");
	}
	if (!parse_name(p, words[1], name)) {
		return false;
	}
	if (count > 2) {
		return fail(p, "unexpected '%s' after deny %s", quote(q, words[2]), name);
	}
	if (is_denied(p, name)) {
		return fail(p, "duplicate deny for %s", name);
	}
	if (find_allowed(p->policy, name) != NULL) {
		return fail(p, "%s is both allowed and denied", name);
	}
	char **denied = reserve(p->denied, p->denied_count, &p->denied_cap,
		sizeof(p->denied[0]));
	if (denied == NULL) {
		return fail(p, "out of memory");
	}
	p->denied = denied;
	char *copy = strdup(name);
	if (copy == NULL) {
		return fail(p, "out of memory");
	}
	p->denied[p->denied_count++] = copy;
	return true;
}

static bool parse_set(struct parser *p, const struct word *words, size_t count) {
	char q[QUOTE_SIZE];
	if (count < 2) {
		return fail(p, "set needs a setting and a value, e.g. 'set fullscreen deny'");
	}
	if (!word_is(words[1], "fullscreen")) {
		return fail(p, "unknown setting '%s'", quote(q, words[1]));
	}
	if (count < 3) {
		return fail(p, "expected allow or deny after set fullscreen");
	}
	bool allow;
	if (word_is(words[2], "allow")) {
		allow = true;
	} else if (word_is(words[2], "deny")) {
		allow = false;
	} else {
		return fail(p, "expected allow or deny after set fullscreen, got '%s'",
			quote(q, words[2]));
	}
	if (count > 3) {
		return fail(p, "unexpected '%s' after set fullscreen %s", quote(q, words[3]),
			allow ? "allow" : "deny");
	}
	if (p->fullscreen_set) {
		return fail(p, "fullscreen is set twice");
	}
	p->fullscreen_set = true;
	p->policy->allow_fullscreen = allow;
	return true;
}

/* Parses one line, without its "\n" (a trailing "\r" is dropped here). */
static bool parse_line(struct parser *p, const char *line, size_t len) {
	if (len > POLICY_MAX_LINE) {
		return fail(p, "line longer than %d bytes", POLICY_MAX_LINE);
	}
	if (memchr(line, '\0', len) != NULL) {
		return fail(p, "NUL byte in the policy");
	}
	if (len > 0 && line[len - 1] == '\r') {
		len--;
	}
	const char *comment = memchr(line, '#', len);
	if (comment != NULL) {
		len = (size_t)(comment - line);
	}

	struct word words[POLICY_MAX_WORDS];
	size_t count = 0;
	size_t i = 0;
	while (count < POLICY_MAX_WORDS) {
		while (i < len && (line[i] == ' ' || line[i] == '\t')) {
			i++;
		}
		if (i == len) {
			break;
		}
		size_t start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t') {
			i++;
		}
		words[count++] = (struct word){ .str = line + start, .len = i - start };
	}
	if (count == 0) {
		return true;
	}

	if (p->entries == POLICY_MAX_ENTRIES) {
		return fail(p, "more than %d entries", POLICY_MAX_ENTRIES);
	}
	p->entries++;
	if (word_is(words[0], "allow")) {
		return parse_allow(p, words, count);
	} else if (word_is(words[0], "deny")) {
		return parse_deny(p, words, count);
	} else if (word_is(words[0], "set")) {
		return parse_set(p, words, count);
	}
	char q[QUOTE_SIZE];
	return fail(p, "unknown directive '%s'", quote(q, words[0]));
}

struct vd_policy *vd_policy_parse(const char *text, size_t len, const char *source,
		char *err, size_t err_size) {
	struct parser p = {
		.source = source != NULL ? source : "policy",
		.err = err,
		.err_size = err_size,
	};
	if (err_size > 0) {
		err[0] = '\0';
	}
	if (len > POLICY_MAX_SIZE) {
		snprintf(err, err_size, "%s: larger than %d bytes", p.source, POLICY_MAX_SIZE);
		return NULL;
	}
	p.policy = calloc(1, sizeof(*p.policy));
	if (p.policy == NULL) {
		snprintf(err, err_size, "%s: out of memory", p.source);
		return NULL;
	}

	bool ok = true;
	size_t pos = 0;
	while (ok && pos < len) {
		p.line++;
		const char *line = text + pos;
		const char *newline = memchr(line, '\n', len - pos);
		size_t line_len = newline != NULL ? (size_t)(newline - line) : len - pos;
		ok = parse_line(&p, line, line_len);
		pos += line_len + (newline != NULL ? 1 : 0);
	}

	for (size_t i = 0; i < p.denied_count; i++) {
		free(p.denied[i]);
	}
	free(p.denied);
	if (!ok) {
		vd_policy_destroy(p.policy);
		return NULL;
	}
	return p.policy;
}

struct vd_policy *vd_policy_load_file(const char *path, char *err, size_t err_size) {
	struct vd_policy *policy = NULL;
	char *text = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, err_size, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size > POLICY_MAX_SIZE) {
		snprintf(err, err_size, "%s: larger than %d bytes", path, POLICY_MAX_SIZE);
		goto out;
	}
	/* One byte more than the cap, to notice a file that grew past it. */
	text = malloc(POLICY_MAX_SIZE + 1);
	if (text == NULL) {
		snprintf(err, err_size, "%s: out of memory", path);
		goto out;
	}
	size_t len = 0;
	while (len < POLICY_MAX_SIZE + 1) {
		ssize_t n = read(fd, text + len, POLICY_MAX_SIZE + 1 - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	policy = vd_policy_parse(text, len, path, err, err_size);

out:
	free(text);
	close(fd);
	return policy;
}

void vd_policy_destroy(struct vd_policy *policy) {
	if (policy == NULL) {
		return;
	}
	for (size_t i = 0; i < policy->global_count; i++) {
		free(policy->globals[i].interface);
	}
	free(policy->globals);
	free(policy);
}

uint32_t vd_policy_max_version(const struct vd_policy *policy, const char *interface) {
	if (policy == NULL || interface == NULL) {
		return 0;
	}
	const struct vd_policy_global *global = find_allowed(policy, interface);
	return global != NULL ? global->max_version : 0;
}
