#define LOG_TAG "vmstate"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/vmstate.h"
#include "protocols/log.h"
#include "protocols/number.h"

#define MAGIC "vmdesk-vmstate 1"
#define STATE_MAX (64 * 1024)
#define MAX_ARGS 128

static bool fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(char *err, size_t err_size, const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	vsnprintf(err, err_size, fmt, args);
	va_end(args);
	return false;
}

void vd_vmstate_finish(struct vd_vmstate *st) {
	vd_vmm_cmd_finish(&st->powerdown);
	vd_vmm_cmd_finish(&st->force_stop);
	vd_vmm_cmd_finish(&st->proxy);
	*st = (struct vd_vmstate){0};
}

static bool write_args(FILE *f, const char *key, const struct vd_vmm_cmd *cmd) {
	for (size_t i = 0; i < cmd->argc; i++) {
		if (strchr(cmd->argv[i], '\n') != NULL) {
			return false;
		}
		fprintf(f, "%s=%s\n", key, cmd->argv[i]);
	}
	return true;
}

bool vd_vmstate_write(const char *dir, const struct vd_vmstate *st, char *err,
		size_t err_size) {
	char path[PATH_MAX], tmp[PATH_MAX];
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(tmp, sizeof(tmp), "%s/state.tmp", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		if (fd >= 0) {
			close(fd);
		}
		return fail(err, err_size, "%s: %s", tmp, strerror(errno));
	}
	fprintf(f, MAGIC "\nvmm=%s\nvmm-pid=%d\nvmm-start=%llu\nproxy-pid=%d\nproxy-start=%llu\n",
		vd_vmm_kind_name(st->vmm), (int)st->vmm_pid, st->vmm_start, (int)st->proxy_pid,
		st->proxy_start);
	for (size_t i = 0; i < st->nhelpers; i++) {
		fprintf(f, "helper=%d %llu\n", (int)st->helper_pid[i], st->helper_start[i]);
	}
	fprintf(f, "started=%lld\nagent=%s\nagent-serial=%d\ncontrol=%s\n", st->started, st->agent,
		st->agent_serial ? 1 : 0, st->control == VD_VMM_CONTROL_QMP ? "qmp" : "command");
	bool ok = write_args(f, "powerdown", &st->powerdown) &&
		write_args(f, "force", &st->force_stop) && write_args(f, "proxy-arg", &st->proxy);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	if (fclose(f) != 0 || !ok) {
		unlink(tmp);
		return fail(err, err_size, "%s: cannot write it", tmp);
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return fail(err, err_size, "%s: %s", path, strerror(errno));
	}
	return true;
}

static bool parse_pid(const char *value, pid_t *pid) {
	long long n;
	if (!vd_parse_number(value, 0, 0x7fffffff, &n)) {
		return false;
	}
	*pid = (pid_t)n;
	return true;
}

static bool parse_ull(const char *value, unsigned long long *out) {
	long long n;
	if (!vd_parse_number(value, 0, 0x7fffffffffffffffLL, &n)) {
		return false;
	}
	*out = (unsigned long long)n;
	return true;
}

static bool parse_line(struct vd_vmstate *st, char *line) {
	char *eq = strchr(line, '=');
	if (eq == NULL) {
		return false;
	}
	*eq = '\0';
	const char *key = line, *value = eq + 1;
	long long n;
	if (strcmp(key, "vmm") == 0) {
		return vd_vmm_kind_parse(value, &st->vmm);
	} else if (strcmp(key, "vmm-pid") == 0) {
		return parse_pid(value, &st->vmm_pid);
	} else if (strcmp(key, "vmm-start") == 0) {
		return parse_ull(value, &st->vmm_start);
	} else if (strcmp(key, "proxy-pid") == 0) {
		return parse_pid(value, &st->proxy_pid);
	} else if (strcmp(key, "proxy-start") == 0) {
		return parse_ull(value, &st->proxy_start);
	} else if (strcmp(key, "helper") == 0) {
		char *space = strchr(value, ' ');
		if (space == NULL || st->nhelpers == VD_VMSTATE_MAX_HELPERS) {
			return false;
		}
		*space = '\0';
		size_t i = st->nhelpers;
		if (!parse_pid(value, &st->helper_pid[i]) || !parse_ull(space + 1, &st->helper_start[i])) {
			return false;
		}
		st->nhelpers++;
		return true;
	} else if (strcmp(key, "started") == 0) {
		if (!vd_parse_number(value, 0, 0x7fffffffffffffffLL, &n)) {
			return false;
		}
		st->started = n;
		return true;
	} else if (strcmp(key, "agent") == 0) {
		if (strlen(value) >= sizeof(st->agent)) {
			return false;
		}
		snprintf(st->agent, sizeof(st->agent), "%s", value);
		return true;
	} else if (strcmp(key, "agent-serial") == 0) {
		if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
			return false;
		}
		st->agent_serial = value[0] == '1';
		return true;
	} else if (strcmp(key, "control") == 0) {
		if (strcmp(value, "qmp") != 0 && strcmp(value, "command") != 0) {
			return false;
		}
		st->control = value[0] == 'q' ? VD_VMM_CONTROL_QMP : VD_VMM_CONTROL_COMMAND;
		return true;
	} else if (strcmp(key, "powerdown") == 0 || strcmp(key, "force") == 0 ||
			strcmp(key, "proxy-arg") == 0) {
		struct vd_vmm_cmd *cmd = strcmp(key, "powerdown") == 0 ? &st->powerdown :
			strcmp(key, "force") == 0 ? &st->force_stop : &st->proxy;
		return cmd->argc < MAX_ARGS && vd_vmm_cmd_add(cmd, "%s", value);
	}
	return true; // a key of a later version
}

bool vd_vmstate_parse(const char *text, size_t len, struct vd_vmstate *st, char *err,
		size_t err_size) {
	*st = (struct vd_vmstate){.control = VD_VMM_CONTROL_QMP};
	if (len > STATE_MAX || memchr(text, '\0', len) != NULL) {
		return fail(err, err_size, "not a state file (too large, or binary)");
	}
	char *copy = strndup(text, len);
	if (copy == NULL) {
		return fail(err, err_size, "out of memory");
	}
	int lineno = 0;
	bool ok = true;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line != NULL && ok;
			line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (lineno == 1) {
			ok = strcmp(line, MAGIC) == 0;
		} else {
			ok = parse_line(st, line);
		}
	}
	free(copy);
	if (!ok || lineno == 0) {
		vd_vmstate_finish(st);
		return fail(err, err_size, "line %d is not what a state file holds", lineno);
	}
	if (st->vmm_pid <= 1 || st->vmm_start == 0 || st->agent[0] == '\0' ||
			(st->control == VD_VMM_CONTROL_COMMAND &&
				(st->powerdown.argc == 0 || st->force_stop.argc == 0))) {
		vd_vmstate_finish(st);
		return fail(err, err_size, "the state file is incomplete");
	}
	return true;
}

bool vd_vmstate_read(const char *dir, struct vd_vmstate *st, char *err, size_t err_size) {
	*st = (struct vd_vmstate){0};
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/state", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		return fail(err, err_size, "%s: %s", path, strerror(errno));
	}
	char *buf = malloc(STATE_MAX + 1);
	size_t len = 0;
	ssize_t n = 0;
	while (buf != NULL && len <= STATE_MAX &&
			(n = read(fd, buf + len, STATE_MAX + 1 - len)) > 0) {
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL || n < 0) {
		free(buf);
		return fail(err, err_size, "%s: cannot read it", path);
	}
	char why[200];
	bool ok = vd_vmstate_parse(buf, len, st, why, sizeof(why));
	free(buf);
	if (!ok) {
		return fail(err, err_size, "%s: %s", path, why);
	}
	return true;
}

bool vd_vmstate_make_dir(const char *dir, char *err, size_t err_size) {
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) < 0 && errno != EEXIST) {
			return fail(err, err_size, "%s: %s", parent, strerror(errno));
		}
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		return fail(err, err_size, "%s: %s", dir, strerror(errno));
	}
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) {
		return fail(err, err_size, "%s: not a directory of this user", dir);
	}
	return true;
}

void vd_vmstate_remove_dir(const char *dir) {
	DIR *d = opendir(dir);
	if (d == NULL) {
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
			continue;
		}
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			vd_log_errno(VD_WARN, "cannot remove %s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT) {
		vd_log_errno(VD_WARN, "cannot remove %s", dir);
	}
}
