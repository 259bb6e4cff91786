#define LOG_TAG "landlock"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "protocols/landlock.h"
#include "protocols/log.h"

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

static bool add_path(int ruleset, const char *path, uint64_t rights) {
	struct landlock_path_beneath_attr attr = {.allowed_access = rights};
	attr.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (attr.parent_fd < 0) {
		vd_log_errno(VD_ERROR, "cannot open %s for a Landlock rule", path);
		return false;
	}
	bool ok = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) == 0;
	if (!ok) {
		vd_log_errno(VD_ERROR, "cannot add a Landlock rule for %s", path);
	}
	close(attr.parent_fd);
	return ok;
}

bool vd_landlock_confine(const char *const *dirs, size_t ndirs) {
	int abi = vd_landlock_abi();
	if (abi == 0) {
		vd_log(VD_WARN, "the kernel offers no Landlock: writes are not confined to "
			"vmdesk's directories");
		return false;
	}
	uint64_t rights = write_rights(abi);
	struct ruleset_attr attr = {.handled_access_fs = rights};
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
	bool ok = true;
	for (size_t i = 0; ok && i < ndirs; i++) {
		ok = add_path(ruleset, dirs[i], rights);
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
		vd_log(VD_DEBUG, "Landlock ABI %d: writes confined to %zu directories", abi, ndirs);
	}
	return ok;
}
