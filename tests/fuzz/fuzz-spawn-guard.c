/*
 * fuzz-spawn-guard: vmdesk-hostd's spawn guard (host/spawn-guard.c), which
 * runs in its spawner and is the last word on what a hostd a VM took over
 * may start or adopt. Adoptions: the guard reads what the process shows of
 * itself, /proc/PID/exe and /proc/PID/cmdline, and a process sets its own
 * cmdline to any bytes (arguments without their NUL, none at all, ...).
 * Spawns: the argv, environment and flags such a hostd asks for.
 *
 * The guard works from one VM definition (QEMU, whose program is /bin/true
 * so that its real path is found on every machine) in a private directory,
 * with a run directory nobody makes. The oracle, independent of the
 * guard's code: a spawn allowed is exactly one of the commands the guard
 * knows, with no environment and no flags but its own; an adoption allowed
 * either ends, at an argument's start, with a known command, or names the
 * run directory in one of its arguments.
 *
 * Input: byte 0: bit 0 spawn (else adopt), bits 1-2 the environment's size
 * (spawns), bits 3-7 the flags (spawns); byte 1: the process's exe
 * (adoptions: a known command's program, python3, sleep, sh); then tokens
 * that build the cmdline or the argv: a tag byte, then for tag % 4 == 0 a
 * length byte and that many bytes; 1: known command (next byte) whole, its
 * NULs included; 2: the run directory and a '/'; 3: a NUL. At most 16 KiB.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/spawn-guard.h"
#include "protocols/log.h"
#include "tests/fuzz/scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_CMDLINE (16u << 10)
#define MAX_ARGS 256

static struct vd_spawn_guard guard;
static char run_dir[PATH_MAX], known_exe[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	(void)argc;
	(void)argv;
	if (!fz_initialize_once("fuzz-spawn-guard")) {
		return 0;
	}
	const char *root = fz_scratch_dir("vmdesk-fuzz-spawn-guard");
	static char vms[PATH_MAX], apps[PATH_MAX];
	snprintf(vms, sizeof(vms), "%s/vms", root);
	snprintf(apps, sizeof(apps), "%s/applications", root);
	snprintf(run_dir, sizeof(run_dir), "%s/run", root); // never made: only named
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/work.conf", vms);
	FILE *f = mkdir(vms, 0700) == 0 ? fopen(path, "we") : NULL;
	if (f == NULL || fputs("[vm]\ncolor = green\nvmm = qemu\nkernel = /img/vmlinuz\n"
			"initrd = /img/initrd.img\nroot = /img/root.erofs\n", f) < 0 || fclose(f) != 0) {
		abort();
	}
	static struct vd_launch_env env = {
		.images_dir = "/nonexistent-images",
		.proxy = "/usr/libexec/vmdesk/vmdesk-proxy",
	};
	env.run_dir = run_dir;
	env.binaries[VD_LAUNCH_BIN_QEMU] = "/bin/true";
	const char *dirs[] = {vms};
	if (!vd_spawn_guard_init(&guard, &env, dirs, 1, apps) || guard.nknown == 0 ||
			realpath("/bin/true", known_exe) == NULL) {
		abort();
	}
	return 0;
}

static void put(char *buf, size_t *len, const void *bytes, size_t n) {
	if (*len + n > MAX_CMDLINE) {
		n = MAX_CMDLINE - *len;
	}
	memcpy(buf + *len, bytes, n);
	*len += n;
}

/* The cmdline (or NUL-joined argv) the tokens build. */
static size_t build(const uint8_t *data, size_t size, char *buf) {
	size_t len = 0;
	for (size_t i = 0; i < size && len < MAX_CMDLINE;) {
		uint8_t tag = data[i++];
		switch (tag % 4) {
		case 0: {
			size_t n = i < size ? data[i++] : 0;
			n = n < size - i ? n : size - i;
			put(buf, &len, data + i, n);
			i += n;
			break;
		}
		case 1: {
			size_t k = (i < size ? data[i++] : 0) % guard.nknown;
			put(buf, &len, guard.known[k].bytes, guard.known[k].len);
			break;
		}
		case 2:
			put(buf, &len, run_dir, strlen(run_dir));
			put(buf, &len, "/", 1);
			break;
		case 3:
			put(buf, &len, "", 1);
			break;
		}
	}
	return len;
}

/* The oracle's own reading of "ends with a known command at an argument's start". */
static bool ends_with_known(const char *cmdline, size_t len) {
	for (size_t i = 0; i < guard.nknown; i++) {
		size_t k = guard.known[i].len;
		if (k <= len && memcmp(cmdline + len - k, guard.known[i].bytes, k) == 0 &&
				(k == len || cmdline[len - k - 1] == '\0')) {
			return true;
		}
	}
	return false;
}

static void check_adopt(uint8_t which, const char *cmdline, size_t len) {
	static const char *const others[] = {"/usr/bin/python3.11", "/usr/bin/sleep", "/bin/sh"};
	const char *exe = which % 4 == 0 ? known_exe : others[which % 4 - 1];
	char why[512];
	bool ok = vd_spawn_guard_adopt(exe, cmdline, len, &guard, why, sizeof(why));
	char prefix[PATH_MAX + 1];
	int n = snprintf(prefix, sizeof(prefix), "%s/", run_dir);
	if (ok && !ends_with_known(cmdline, len) &&
			memmem(cmdline, len, prefix, (size_t)n) == NULL) {
		fprintf(stderr, "fuzz-spawn-guard: adopted a process that runs no known command "
			"and names no path in the run directory\n");
		abort();
	}
	if (!ok && why[0] == '\0') {
		abort(); // a refusal says why
	}
}

static void check_spawn(uint8_t mode, char *joined, size_t len) {
	// the argv: NUL-separated, the last one ended here if it was not
	char *argv[MAX_ARGS + 1];
	size_t argc = 0;
	joined[len] = '\0';
	for (size_t pos = 0; pos < len && argc < MAX_ARGS;) {
		argv[argc++] = joined + pos;
		pos += strlen(joined + pos) + 1;
	}
	if (argc == 0) {
		return; // the spawner's reader never hands over an empty argv
	}
	argv[argc] = NULL;
	static const char *const env[] = {"A=1", "PATH=/tmp", "LD_PRELOAD=/tmp/x.so"};
	struct vd_spawn spawn = {
		.argv = argv,
		.env = env,
		.env_count = (mode >> 1) & 3,
		.flags = (uint32_t)(mode >> 3), // the four flags and one unknown
		.fds = {-1, -1, -1},
	};
	char why[512] = "";
	bool ok = vd_spawn_guard_allow(&spawn, &guard, why, sizeof(why));
	if (!ok) {
		return;
	}
	size_t used = 0;
	for (size_t i = 0; i < argc; i++) {
		used += strlen(argv[i]) + 1;
	}
	bool exact = false;
	for (size_t i = 0; i < guard.nknown; i++) {
		exact |= guard.known[i].len == used && memcmp(guard.known[i].bytes, joined, used) == 0;
	}
	if (!exact || spawn.env_count != 0 ||
			(spawn.flags & ~(uint32_t)(VD_SPAWN_PIDFD | VD_SPAWN_SEARCH_PATH)) != 0) {
		fprintf(stderr, "fuzz-spawn-guard: allowed a spawn that is no known command\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	LLVMFuzzerInitialize(NULL, NULL);
	if (size < 2) {
		return 0;
	}
	static char buf[MAX_CMDLINE + 1];
	size_t len = build(data + 2, size - 2, buf);
	if (data[0] & 1) {
		check_spawn(data[0], buf, len);
	} else {
		// exactly len bytes, as the spawner reads them: no NUL beyond
		char *cmdline = malloc(len > 0 ? len : 1);
		if (cmdline == NULL) {
			abort();
		}
		memcpy(cmdline, buf, len);
		check_adopt(data[1], cmdline, len);
		free(cmdline);
	}
	return 0;
}
