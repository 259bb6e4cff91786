#define LOG_TAG "landlock"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "protocols/landlock.h"
#include "protocols/log.h"
#include "protocols/path.h"
#include "protocols/sandbox.h"

/* Older uapi headers lack the later rights: their values are fixed by the ABI. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#define NET_BIND_TCP (1ULL << 0)
#define NET_CONNECT_TCP (1ULL << 1)

/* struct landlock_ruleset_attr of ABI 4 (handled_access_net): sized as we pass it */
struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

int vd_landlock_abi(void) {
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi > 0 ? (int)abi : 0;
}

/* Every right that changes the file system, as far as the kernel's ABI knows them. */
static uint64_t write_rights(int abi) {
	uint64_t rights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
		LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
		LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
		LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2) {
		rights |= LANDLOCK_ACCESS_FS_REFER;
	}
	if (abi >= 3) {
		rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	}
	return rights;
}

#define READ_RIGHTS (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define REMOVE_RIGHTS (LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR)
/* The rights a rule on a file (not a directory) may carry. */
#define FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

static uint64_t rights_of(uint32_t access, uint64_t handled) {
	uint64_t rights = 0;
	if (access & VD_LANDLOCK_WRITE) {
		rights |= write_rights(INT32_MAX);
	}
	if (access & VD_LANDLOCK_REMOVE) {
		rights |= REMOVE_RIGHTS;
	}
	if (access & VD_LANDLOCK_READ) {
		rights |= READ_RIGHTS;
	}
	if (access & VD_LANDLOCK_LIST) {
		rights |= LANDLOCK_ACCESS_FS_READ_DIR;
	}
	return rights & handled;
}

/* Adds a rule for path; a missing path is skipped if optional. */
static bool add_path(int ruleset, const char *path, uint64_t rights, bool optional) {
	struct landlock_path_beneath_attr attr = {.allowed_access = rights};
	attr.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (attr.parent_fd < 0) {
		if (optional && (errno == ENOENT || errno == ENOTDIR || errno == EACCES)) {
			return true;
		}
		vd_log_errno(VD_ERROR, "cannot open %s for a Landlock rule", path);
		return false;
	}
	struct stat st;
	if (fstat(attr.parent_fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
		attr.allowed_access &= FILE_RIGHTS;
	}
	bool ok = attr.allowed_access == 0 ||
		syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) == 0;
	if (!ok) {
		vd_log_errno(VD_ERROR, "cannot add a Landlock rule for %s", path);
	}
	close(attr.parent_fd);
	return ok;
}

/* The suppressions file a sanitizer's options name (read at exit), if any. */
static bool add_suppressions(int ruleset, const char *variable) {
	const char *options = getenv(variable);
	const char *at = options != NULL ? strstr(options, "suppressions=") : NULL;
	if (at == NULL) {
		return true;
	}
	at += strlen("suppressions=");
	char path[PATH_MAX];
	size_t len = strcspn(at, ": ");
	if (len == 0 || len >= sizeof(path)) {
		return true;
	}
	memcpy(path, at, len);
	path[len] = '\0';
	return add_path(ruleset, path, LANDLOCK_ACCESS_FS_READ_FILE, true);
}

/*
 * What a sanitizer runtime reads for its reports and its leak check at exit:
 * maps, the binaries and their libraries, its suppressions files.
 */
static bool add_sanitizer_paths(int ruleset) {
	char exe[PATH_MAX];
	if (!vd_path_self_dir(exe, sizeof(exe))) {
		return false;
	}
	return add_path(ruleset, "/proc", READ_RIGHTS, false) &&
		add_path(ruleset, "/usr", READ_RIGHTS, true) &&
		add_path(ruleset, exe, READ_RIGHTS, false) &&
		add_suppressions(ruleset, "ASAN_OPTIONS") &&
		add_suppressions(ruleset, "LSAN_OPTIONS") &&
		add_suppressions(ruleset, "UBSAN_OPTIONS");
}

bool vd_landlock_confine(const struct vd_landlock_rule *rules, size_t n, bool confine_reads) {
	int abi = vd_landlock_abi();
	if (abi == 0) {
		vd_log(VD_WARN, "the kernel offers no Landlock: the file system is not confined "
			"to vmdesk's directories");
		return false;
	}
	uint64_t handled = write_rights(abi);
	if (confine_reads) {
		handled |= READ_RIGHTS | LANDLOCK_ACCESS_FS_EXECUTE;
	}
	struct ruleset_attr attr = {.handled_access_fs = handled};
	size_t attr_size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		/* no TCP at all: handled, and no rule allows it */
		attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
		attr_size = sizeof(attr);
	}
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0) {
		vd_log_errno(VD_ERROR, "cannot create a Landlock rule set");
		return false;
	}
	// localtime_r reads /etc/localtime on its first call, and only then (the
	// log's time stamps, a VM log's lines): now, before the rules refuse it
	tzset();
	bool ok = true;
	size_t reads = 0, writes = 0;
	for (size_t i = 0; ok && i < n; i++) {
		bool read_only =
			(rules[i].access & ~(uint32_t)(VD_LANDLOCK_READ | VD_LANDLOCK_LIST)) == 0;
		ok = add_path(ruleset, rules[i].path, rights_of(rules[i].access, handled), read_only);
		if (read_only) {
			reads++;
		} else {
			writes++;
		}
	}
	if (ok && confine_reads && vd_sandbox_sanitizer_build()) {
		ok = add_sanitizer_paths(ruleset);
	}
	if (ok && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		vd_log_errno(VD_ERROR, "cannot set no_new_privs");
		ok = false;
	}
	if (ok && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
		vd_log_errno(VD_ERROR, "cannot enter the Landlock rule set");
		ok = false;
	}
	close(ruleset);
	if (ok) {
		if (confine_reads) {
			vd_log(VD_DEBUG, "Landlock ABI %d: changes confined to %zu paths, reads to %zu",
				abi, writes, reads);
		} else {
			vd_log(VD_DEBUG, "Landlock ABI %d: changes confined to %zu paths", abi, writes);
		}
	}
	return ok;
}
