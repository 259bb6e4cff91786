/*
 * vmdesk-hostd's spawn guard (host/spawn-guard.c): the spawner starts only
 * the commands it works out itself from the VM definitions and hostd's
 * command line, whole and as they are; anything else a hostd that a VM took
 * over could ask for (another program, one more argument, an environment
 * addition, a detached start) is refused with EPERM, also through a real
 * spawner. Definitions that change on disk are read again on a miss.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/child.h"
#include "host/launch.h"
#include "host/menu.h"
#include "host/spawn-guard.h"
#include "host/vmconf.h"
#include "tests/unit/tap.h"

static char root[64];
static char conf_dir[128], run_dir[128], apps_dir[128];

static bool write_definition(const char *name, unsigned memory_mib) {
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.conf", conf_dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		return false;
	}
	fprintf(f, "[vm]\ncolor = green\nvmm = qemu\nkernel = /img/vmlinuz\n"
		"initrd = /img/initrd.img\nroot = /img/root.erofs\nmemory = %u\n", memory_mib);
	return fclose(f) == 0;
}

static void setup(void) {
	snprintf(root, sizeof(root), "/tmp/vd-spawn-guard-XXXXXX");
	if (mkdtemp(root) == NULL) {
		abort();
	}
	snprintf(conf_dir, sizeof(conf_dir), "%s/vms", root);
	snprintf(run_dir, sizeof(run_dir), "%s/run", root);
	snprintf(apps_dir, sizeof(apps_dir), "%s/applications", root);
	if (mkdir(conf_dir, 0700) < 0 || !write_definition("work", 512)) {
		abort();
	}
}

static struct vd_launch_env test_env(void) {
	static const char *images = "/nonexistent-images";
	struct vd_launch_env env = {
		.images_dir = images,
		.run_dir = run_dir,
		.proxy = "/usr/libexec/vmdesk/vmdesk-proxy",
	};
	env.binaries[VD_LAUNCH_BIN_QEMU] = "/bin/true"; // a VMM that ends at once
	return env;
}

static struct vd_spawn_guard *guard_create(void) {
	struct vd_spawn_guard *guard = calloc(1, sizeof(*guard));
	struct vd_launch_env env = test_env();
	const char *dirs[] = {conf_dir};
	if (guard == NULL || !vd_spawn_guard_init(guard, &env, dirs, 1, apps_dir)) {
		abort();
	}
	return guard;
}

static void guard_destroy(struct vd_spawn_guard *guard) {
	vd_spawn_guard_finish(guard);
	free(guard);
}

/* The launch hostd would make of VM name's definition as it is on disk now. */
static struct vd_launch *launch_of(const char *name) {
	char path[256], err[512];
	snprintf(path, sizeof(path), "%s/%s.conf", conf_dir, name);
	struct vd_vmconf *conf = calloc(1, sizeof(*conf));
	struct vd_launch *l = calloc(1, sizeof(*l));
	struct vd_launch_env env = test_env();
	if (conf == NULL || l == NULL || !vd_vmconf_load(path, name, conf) ||
			!vd_launch_prepare(l, conf, &env, err, sizeof(err))) {
		fprintf(stderr, "launch of %s: %s %s\n", name, conf != NULL ? conf->error : "", err);
		abort();
	}
	free(conf);
	return l;
}

static void launch_destroy(struct vd_launch *l) {
	vd_launch_finish(l);
	free(l);
}

static bool allows(struct vd_spawn_guard *guard, char *const *argv, uint32_t flags,
		const char *const *env, size_t env_count, char *why, size_t why_size) {
	struct vd_spawn spawn = {
		.argv = argv,
		.env = env,
		.env_count = env_count,
		.flags = flags,
		.fds = {-1, -1, -1},
	};
	why[0] = '\0';
	return vd_spawn_guard_allow(&spawn, guard, why, why_size);
}

/* argv with one more argument at the end (a NULL-terminated heap copy). */
static char **with_extra(char *const *argv, size_t argc, const char *extra) {
	char **out = calloc(argc + 2, sizeof(*out));
	if (out == NULL) {
		abort();
	}
	memcpy(out, argv, argc * sizeof(*out));
	out[argc] = (char *)extra;
	return out;
}

static bool test_the_plans_commands_are_allowed(void) {
	struct vd_spawn_guard *guard = guard_create();
	struct vd_launch *l = launch_of("work");
	char why[512];
	CHECK(l->plan.vmm.argc > 3, "a VMM command: %zu arguments", l->plan.vmm.argc);
	CHECK(allows(guard, l->plan.vmm.argv, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)),
		"the VMM refused: %s", why);
	CHECK(l->proxy.argc > 0, "a proxy command");
	CHECK(allows(guard, l->proxy.argv, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)),
		"the proxy refused: %s", why);
	char *db[] = {(char *)vd_menu_db_programs[0], "-q", apps_dir, NULL};
	CHECK(allows(guard, db, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)),
		"update-desktop-database refused: %s", why);
	launch_destroy(l);
	guard_destroy(guard);
	return true;
}

static bool test_anything_else_is_refused(void) {
	struct vd_spawn_guard *guard = guard_create();
	struct vd_launch *l = launch_of("work");
	char why[512];
	char *cat[] = {"cat", "/home/u/.ssh/id_rsa", NULL};
	CHECK(!allows(guard, cat, VD_SPAWN_PIDFD | VD_SPAWN_SEARCH_PATH, NULL, 0, why,
		sizeof(why)), "cat allowed");
	CHECK(strstr(why, "not a command of a VM definition") != NULL, "why: %s", why);
	// the VMM with the user's key as one more disk
	char **disk = with_extra(l->plan.vmm.argv, l->plan.vmm.argc,
		"-drive=file=/home/u/.ssh/id_rsa,format=raw");
	CHECK(!allows(guard, disk, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)), "a disk more");
	free(disk);
	// one argument fewer, and two arguments run together
	char *last = l->plan.vmm.argv[l->plan.vmm.argc - 1];
	l->plan.vmm.argv[l->plan.vmm.argc - 1] = NULL;
	CHECK(!allows(guard, l->plan.vmm.argv, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)),
		"an argument fewer");
	l->plan.vmm.argv[l->plan.vmm.argc - 1] = last;
	// the VMM's own argv, with the loader told to take a library
	const char *preload[] = {"LD_PRELOAD=/tmp/evil.so"};
	CHECK(!allows(guard, l->plan.vmm.argv, VD_SPAWN_PIDFD, preload, 1, why, sizeof(why)),
		"an environment addition");
	CHECK(strstr(why, "environment") != NULL, "why: %s", why);
	CHECK(!allows(guard, l->plan.vmm.argv, VD_SPAWN_PIDFD | VD_SPAWN_DETACH, NULL, 0, why,
		sizeof(why)), "detached");
	CHECK(!allows(guard, l->plan.vmm.argv, VD_SPAWN_CHDIR_HOME, NULL, 0, why, sizeof(why)),
		"in $HOME");
	// the menu's program over another directory
	char *db[] = {(char *)vd_menu_db_programs[0], "-q", "/home/u", NULL};
	CHECK(!allows(guard, db, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)), "db elsewhere");
	launch_destroy(l);
	guard_destroy(guard);
	return true;
}

static bool test_changed_definitions_are_read_again(void) {
	struct vd_spawn_guard *guard = guard_create();
	struct vd_launch *before = launch_of("work");
	char why[512];
	CHECK(write_definition("work", 1024) && write_definition("banking", 768), "rewrite");
	struct vd_launch *after = launch_of("work");
	struct vd_launch *added = launch_of("banking");
	CHECK(allows(guard, after->plan.vmm.argv, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)),
		"the changed VM refused: %s", why);
	CHECK(allows(guard, added->plan.vmm.argv, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)),
		"the new VM refused: %s", why);
	// a running VM's proxy restarts with the argv it started with
	CHECK(allows(guard, before->plan.vmm.argv, VD_SPAWN_PIDFD, NULL, 0, why, sizeof(why)),
		"the earlier definition forgotten: %s", why);
	char path[256];
	snprintf(path, sizeof(path), "%s/banking.conf", conf_dir);
	unlink(path);
	CHECK(write_definition("work", 512), "rewrite");
	launch_destroy(before);
	launch_destroy(after);
	launch_destroy(added);
	guard_destroy(guard);
	return true;
}

static void handle_exited(struct vd_child *child, void *data) {
	(void)child;
	(*(int *)data)++;
}

static bool test_a_real_spawner_refuses(void) {
	struct vd_spawn_guard *guard = guard_create();
	struct wl_event_loop *loop = wl_event_loop_create();
	struct vd_children *children = vd_children_create(loop, &guard->hook);
	CHECK(children != NULL, "no spawner");
	struct vd_child child;
	char err[512];
	int ended = 0;
	char *sh[] = {"sh", "-c", "cat /etc/hostname", NULL};
	CHECK(!vd_child_spawn(&child, children, sh, -1, handle_exited, &ended, err, sizeof(err)),
		"sh started");
	CHECK(strstr(err, "refused") != NULL, "err: %s", err);
	// the spawner goes on: the VMM of the definition (/bin/true here) starts and ends
	struct vd_launch *l = launch_of("work");
	CHECK(vd_child_spawn(&child, children, l->plan.vmm.argv, -1, handle_exited, &ended, err,
		sizeof(err)), "the VMM: %s", err);
	for (int i = 0; i < 2000 && ended == 0; i++) {
		wl_event_loop_dispatch(loop, 10);
	}
	CHECK(ended == 1 && child.status == 0, "the VMM ended %d times, status %d", ended,
		child.status);
	launch_destroy(l);
	vd_children_destroy(children);
	wl_event_loop_destroy(loop);
	guard_destroy(guard);
	return true;
}

/* The known command's argv, NUL-joined as /proc/PID/cmdline holds it, after prefix. */
static size_t cmdline_of(char *const *argv, const char *prefix, size_t prefix_len, char *out,
		size_t size) {
	size_t pos = prefix_len;
	memcpy(out, prefix, prefix_len);
	for (size_t i = 0; argv[i] != NULL; i++) {
		size_t n = strlen(argv[i]) + 1;
		if (pos + n > size) {
			abort();
		}
		memcpy(out + pos, argv[i], n);
		pos += n;
	}
	return pos;
}

static bool test_adopt_only_what_a_definition_runs(void) {
	struct vd_spawn_guard *guard = guard_create();
	struct vd_launch *l = launch_of("work");
	char why[512], cmdline[8192];
	// the VMM as started (its program is /bin/true here, whose real path exe is)
	char exe[4096];
	CHECK(realpath("/bin/true", exe) != NULL, "realpath");
	size_t len = cmdline_of(l->plan.vmm.argv, "", 0, cmdline, sizeof(cmdline));
	CHECK(vd_spawn_guard_adopt("/usr/bin/sleep", cmdline, len, guard, why, sizeof(why)),
		"the VMM's argv: %s", why);
	// a script: the kernel puts its interpreter first
	len = cmdline_of(l->plan.vmm.argv, "/usr/bin/python3\0", 17, cmdline, sizeof(cmdline));
	CHECK(vd_spawn_guard_adopt("/usr/bin/python3.11", cmdline, len, guard, why, sizeof(why)),
		"a script's argv: %s", why);
	// the VMM's program with other arguments (its definition changed since it started),
	// one of them a socket in the VM's run directory, as every VMM's command has
	char sock[256];
	snprintf(sock, sizeof(sock), "path=%s/work/control.sock,server=on", run_dir);
	char *changed[] = {"/bin/true", "-m", "4096", "-chardev", sock, NULL};
	len = cmdline_of(changed, "", 0, cmdline, sizeof(cmdline));
	CHECK(vd_spawn_guard_adopt(exe, cmdline, len, guard, why, sizeof(why)),
		"the VMM's program: %s", why);
	// a script VMM whose definition changed: its interpreter runs, the script follows it
	// (with the interpreter's own argument, if it has one)
	len = cmdline_of(changed, "/usr/bin/python3\0", 17, cmdline, sizeof(cmdline));
	CHECK(vd_spawn_guard_adopt("/usr/bin/python3.11", cmdline, len, guard, why, sizeof(why)),
		"a changed script: %s", why);
	len = cmdline_of(changed, "/bin/sh\0-e\0", 11, cmdline, sizeof(cmdline));
	CHECK(vd_spawn_guard_adopt("/usr/bin/dash", cmdline, len, guard, why, sizeof(why)),
		"a changed script with an interpreter's argument: %s", why);
	// the VMM's program run outside vmdesk: no path in its run directory (a prefix of
	// the directory's name is not one)
	char *outside[] = {"/bin/true", "-m", "4096", NULL};
	len = cmdline_of(outside, "", 0, cmdline, sizeof(cmdline));
	CHECK(!vd_spawn_guard_adopt(exe, cmdline, len, guard, why, sizeof(why)),
		"the VMM's program run outside vmdesk adopted");
	snprintf(sock, sizeof(sock), "path=%sx/work/control.sock", run_dir);
	len = cmdline_of(changed, "", 0, cmdline, sizeof(cmdline));
	CHECK(!vd_spawn_guard_adopt(exe, cmdline, len, guard, why, sizeof(why)),
		"a path beside the run directory taken for one in it");
	// a path in the run directory makes no other program adoptable
	snprintf(sock, sizeof(sock), "%s/work/control.sock", run_dir);
	char *other[] = {"sleep", "60", sock, NULL};
	len = cmdline_of(other, "", 0, cmdline, sizeof(cmdline));
	CHECK(!vd_spawn_guard_adopt("/usr/bin/sleep", cmdline, len, guard, why, sizeof(why)),
		"another program naming the run directory adopted");
	// the user's other processes: never
	char *sleeper[] = {"sleep", "60", NULL};
	len = cmdline_of(sleeper, "", 0, cmdline, sizeof(cmdline));
	CHECK(!vd_spawn_guard_adopt("/usr/bin/sleep", cmdline, len, guard, why, sizeof(why)),
		"sleep adopted");
	CHECK(strstr(why, "no command of a VM definition, nor the program") != NULL, "why: %s", why);
	// the VMM's arguments glued onto another's last one are no suffix
	char glued[8192];
	size_t vlen = cmdline_of(l->plan.vmm.argv, "", 0, cmdline, sizeof(cmdline));
	memcpy(glued, "sh\0-c\0x", 7); // "x" glued onto the VMM's argv[0]
	memcpy(glued + 7, cmdline, vlen);
	CHECK(!vd_spawn_guard_adopt("/usr/bin/dash", glued, 7 + vlen, guard, why, sizeof(why)),
		"an argument that ends with the VMM's program adopted");
	launch_destroy(l);
	guard_destroy(guard);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_the_plans_commands_are_allowed),
	TAP_CASE(test_anything_else_is_refused),
	TAP_CASE(test_changed_definitions_are_read_again),
	TAP_CASE(test_a_real_spawner_refuses),
	TAP_CASE(test_adopt_only_what_a_definition_runs),
};

int main(void) {
	setup();
	int status = tap_run(cases, sizeof(cases) / sizeof(cases[0]));
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	(void)!system(cmd);
	return status;
}
