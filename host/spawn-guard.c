#define LOG_TAG "spawn-guard"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/menu.h"
#include "host/spawn-guard.h"
#include "host/vmconf.h"
#include "protocols/log.h"

/*
 * Runs in vmdesk-hostd's spawner (host/spawn-guard.h): every command is
 * compared whole, argv[0] included, as bytes, with the commands the
 * spawner works out itself.
 */

/* argv joined with NULs, each string's NUL kept (so {"a", "b"} is not {"a\0b"}). */
static char *join(char *const *argv, size_t *len) {
	size_t total = 0;
	for (size_t i = 0; argv[i] != NULL; i++) {
		total += strlen(argv[i]) + 1;
	}
	char *bytes = malloc(total > 0 ? total : 1);
	if (bytes == NULL) {
		return NULL;
	}
	size_t pos = 0;
	for (size_t i = 0; argv[i] != NULL; i++) {
		size_t n = strlen(argv[i]) + 1;
		memcpy(bytes + pos, argv[i], n);
		pos += n;
	}
	*len = total;
	return bytes;
}

static bool known(const struct vd_spawn_guard *guard, const char *bytes, size_t len) {
	for (size_t i = 0; i < guard->nknown; i++) {
		if (guard->known[i].len == len && memcmp(guard->known[i].bytes, bytes, len) == 0) {
			return true;
		}
	}
	return false;
}

/* Adds a command the guard worked out (past the cap, over the oldest). */
static void learn(struct vd_spawn_guard *guard, char *const *argv) {
	if (argv == NULL || argv[0] == NULL) {
		return;
	}
	size_t len;
	char *bytes = join(argv, &len);
	if (bytes == NULL) {
		return; // not known: refused, which is safe
	}
	if (known(guard, bytes, len)) {
		free(bytes);
		return;
	}
	struct vd_spawn_known k = { .bytes = bytes, .len = len };
	if (guard->nknown < VD_SPAWN_GUARD_MAX_KNOWN) {
		guard->known[guard->nknown++] = k;
		return;
	}
	free(guard->known[guard->oldest].bytes);
	guard->known[guard->oldest] = k;
	guard->oldest = (guard->oldest + 1) % VD_SPAWN_GUARD_MAX_KNOWN;
}

static void learn_cmd(struct vd_spawn_guard *guard, const struct vd_vmm_cmd *cmd) {
	if (cmd->argc > 0) {
		learn(guard, cmd->argv);
	}
}

/* The commands of every VM vmdesk starts, from the definitions as they are now. */
static void learn_definitions(struct vd_spawn_guard *guard) {
	/* the daemon logged the definitions' warnings and errors already */
	enum vd_log_level level = vd_log_get_level();
	vd_log_set_level(VD_SILENT);
	struct vd_vmconf *confs = NULL;
	size_t n = vd_vmconf_load_dirs(guard->config_dirs, guard->nconfig_dirs, &confs);
	for (size_t i = 0; i < n; i++) {
		const struct vd_vmconf *conf = &confs[i];
		struct vd_launch *l = malloc(sizeof(*l));
		char err[512];
		if (!conf->machine.defined || conf->error[0] != '\0' || l == NULL ||
				!vd_launch_prepare(l, conf, &guard->env, err, sizeof(err))) {
			free(l);
			continue;
		}
		learn_cmd(guard, &l->plan.vmm);
		for (size_t h = 0; h < l->plan.helper_count; h++) {
			learn_cmd(guard, &l->plan.helpers[h]);
		}
		learn_cmd(guard, &l->plan.powerdown);
		learn_cmd(guard, &l->plan.force_stop);
		learn_cmd(guard, &l->proxy);
		vd_launch_finish(l);
		free(l);
	}
	free(confs);
	vd_log_set_level(level);
}

static void learn_menu(struct vd_spawn_guard *guard) {
	if (guard->apps_dir[0] == '\0') {
		return;
	}
	for (size_t i = 0; i < VD_MENU_DB_PROGRAMS; i++) {
		char *argv[] = {(char *)vd_menu_db_programs[i], "-q", guard->apps_dir, NULL};
		learn(guard, argv);
	}
}

bool vd_spawn_guard_init(struct vd_spawn_guard *guard, const struct vd_launch_env *env,
		const char *const *config_dirs, size_t nconfig_dirs, const char *apps_dir) {
	*guard = (struct vd_spawn_guard){ .env = *env };
	if (nconfig_dirs > VD_SPAWN_GUARD_MAX_DIRS) {
		return false;
	}
	for (size_t i = 0; i < nconfig_dirs; i++) {
		guard->config_dirs[i] = config_dirs[i];
	}
	guard->nconfig_dirs = nconfig_dirs;
	if (apps_dir != NULL) {
		int n = snprintf(guard->apps_dir, sizeof(guard->apps_dir), "%s", apps_dir);
		if (n < 0 || (size_t)n >= sizeof(guard->apps_dir)) {
			return false;
		}
	}
	guard->hook = (struct vd_spawner_guard){ .allow = vd_spawn_guard_allow,
		.adopt = vd_spawn_guard_adopt, .data = guard };
	/* what runs now is known before the fork; the spawner learns later changes itself */
	learn_menu(guard);
	learn_definitions(guard);
	return true;
}

void vd_spawn_guard_finish(struct vd_spawn_guard *guard) {
	for (size_t i = 0; i < guard->nknown; i++) {
		free(guard->known[i].bytes);
	}
	guard->nknown = 0;
	guard->oldest = 0;
}

bool vd_spawn_guard_allow(const struct vd_spawn *spawn, void *data, char *why,
		size_t why_size) {
	struct vd_spawn_guard *guard = data;
	const uint32_t ours = VD_SPAWN_PIDFD | VD_SPAWN_SEARCH_PATH;
	if (spawn->env_count > 0) {
		snprintf(why, why_size, "vmdesk-hostd's programs get no environment additions");
		return false;
	}
	if ((spawn->flags & ~ours) != 0) {
		snprintf(why, why_size, "vmdesk-hostd's programs are never detached or started in "
			"$HOME (flags 0x%x)", spawn->flags);
		return false;
	}
	size_t len;
	char *bytes = join(spawn->argv, &len);
	if (bytes == NULL) {
		snprintf(why, why_size, "out of memory");
		return false;
	}
	bool ok = known(guard, bytes, len);
	if (!ok) {
		learn_menu(guard);
		learn_definitions(guard);
		ok = known(guard, bytes, len);
	}
	free(bytes);
	if (!ok) {
		snprintf(why, why_size, "not a command of a VM definition or of the menu (the "
			"spawner works them out itself; was vmdesk-hostd taken over?)");
	}
	return ok;
}

/* Whether cmdline ends with a known command: a program's whole argv, or a script's after
 * its interpreter (the kernel puts the interpreter, and its argument, first). */
static bool known_suffix(const struct vd_spawn_guard *guard, const char *cmdline, size_t len) {
	for (size_t i = 0; i < guard->nknown; i++) {
		size_t klen = guard->known[i].len;
		if (klen <= len && memcmp(cmdline + len - klen, guard->known[i].bytes, klen) == 0 &&
				(klen == len || cmdline[len - klen - 1] == '\0')) {
			return true;
		}
	}
	return false;
}

/* The real path of a command's program: argv[0], or found in PATH if it has no '/'. */
static bool program_path(const char *program, char *real) {
	if (strchr(program, '/') != NULL) {
		return realpath(program, real) != NULL;
	}
	const char *path = getenv("PATH");
	path = path != NULL ? path : "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		size_t n = strcspn(path, ":");
		char candidate[PATH_MAX];
		int w = snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)n, path, program);
		if (n > 0 && w > 0 && (size_t)w < sizeof(candidate) && access(candidate, X_OK) == 0 &&
				realpath(candidate, real) != NULL) {
			return true;
		}
		path += n + (path[n] == ':');
	}
	return false;
}

/* cmdline's argument i (NUL-separated; the last one may lack its NUL), or NULL. */
static const char *argument(const char *cmdline, size_t len, size_t i, size_t *arg_len) {
	size_t pos = 0;
	for (;;) {
		if (pos >= len) {
			return NULL;
		}
		const char *end = memchr(cmdline + pos, '\0', len - pos);
		size_t n = end != NULL ? (size_t)(end - (cmdline + pos)) : len - pos;
		if (i-- == 0) {
			*arg_len = n;
			return cmdline + pos;
		}
		pos += n + 1;
	}
}

/*
 * Whether the process runs the program of a known command (a VMM whose
 * definition changed since it started): exe is that program or, for a
 * script, so is the argument after its interpreter (and the interpreter's
 * own argument, if it has one: the kernel puts both before the script).
 */
static bool known_program(const struct vd_spawn_guard *guard, const char *exe,
		const char *cmdline, size_t len) {
	char reals[3][PATH_MAX];
	size_t nreals = 0;
	snprintf(reals[nreals++], PATH_MAX, "%s", exe);
	for (size_t i = 1; i <= 2; i++) {
		size_t n;
		const char *arg = argument(cmdline, len, i, &n);
		char path[PATH_MAX];
		if (arg != NULL && n > 0 && n < sizeof(path) && arg[0] == '/') {
			memcpy(path, arg, n);
			path[n] = '\0';
			if (realpath(path, reals[nreals]) != NULL) {
				nreals++;
			}
		}
	}
	for (size_t i = 0; i < guard->nknown; i++) {
		char real[PATH_MAX];
		if (!program_path(guard->known[i].bytes, real)) {
			continue;
		}
		for (size_t k = 0; k < nreals; k++) {
			if (strcmp(real, reals[k]) == 0) {
				return true;
			}
		}
	}
	return false;
}

/*
 * Whether an argument names a path beneath vmdesk's run directory, as
 * every command of a VM does (its sockets): a VMM's program that the user
 * runs outside vmdesk names none.
 */
static bool names_run_dir(const struct vd_spawn_guard *guard, const char *cmdline, size_t len) {
	char prefix[PATH_MAX];
	int w = guard->env.run_dir != NULL ?
		snprintf(prefix, sizeof(prefix), "%s/", guard->env.run_dir) : -1;
	if (w <= 1 || (size_t)w >= sizeof(prefix)) {
		return false;
	}
	size_t n;
	const char *arg;
	for (size_t i = 0; (arg = argument(cmdline, len, i, &n)) != NULL; i++) {
		if (memmem(arg, n, prefix, (size_t)w) != NULL) {
			return true;
		}
	}
	return false;
}

/* A process the guard may adopt: the whole argv of a known command, or its program with
 * vmdesk's run directory among its arguments. */
static bool adoptable(const struct vd_spawn_guard *guard, const char *exe, const char *cmdline,
		size_t len) {
	return known_suffix(guard, cmdline, len) ||
		(known_program(guard, exe, cmdline, len) && names_run_dir(guard, cmdline, len));
}

bool vd_spawn_guard_adopt(const char *exe, const char *cmdline, size_t cmdline_len, void *data,
		char *why, size_t why_size) {
	struct vd_spawn_guard *guard = data;
	bool ok = adoptable(guard, exe, cmdline, cmdline_len);
	if (!ok) {
		learn_menu(guard);
		learn_definitions(guard);
		ok = adoptable(guard, exe, cmdline, cmdline_len);
	}
	if (!ok) {
		snprintf(why, why_size, "it runs no command of a VM definition, nor the program of "
			"one with vmdesk's run directory in its arguments (a state file naming another "
			"process: was vmdesk-hostd taken over?)");
	}
	return ok;
}
