#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/dbus.h"
#include "tests/unit/tap.h"

/*
 * The session bus helper (protocols/dbus.c) against a real dbus-daemon of
 * its own: the calls it makes for its users are freed whether their reply
 * comes or not (LeakSanitizer, in the ASan build, checks the second).
 */

static char dir[64];
static pid_t daemon_pid = -1;
static char address[256];

/* A dbus-daemon on a socket in a directory of its own; false (skip) if there is none. */
static bool start_daemon(void) {
	snprintf(dir, sizeof(dir), "/tmp/vd-test-dbus.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return false;
	}
	char config[128];
	snprintf(config, sizeof(config), "%s/bus.conf", dir);
	FILE *f = fopen(config, "we");
	if (f == NULL) {
		return false;
	}
	fprintf(f, "<busconfig><type>session</type><listen>unix:path=%s/bus</listen>"
		"<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
		"<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n", dir);
	fclose(f);
	snprintf(address, sizeof(address), "unix:path=%s/bus", dir);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		char arg[160];
		snprintf(arg, sizeof(arg), "--config-file=%s", config);
		execlp("dbus-daemon", "dbus-daemon", arg, "--nofork", (char *)NULL);
		_exit(127);
	}
	char socket_path[128];
	snprintf(socket_path, sizeof(socket_path), "%s/bus", dir);
	for (int i = 0; i < 500 && access(socket_path, F_OK) != 0; i++) {
		int status;
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			return false; // no dbus-daemon
		}
		usleep(10000);
	}
	return access(socket_path, F_OK) == 0;
}

static void stop_daemon(void) {
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/bus", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bus.conf", dir);
	unlink(path);
	rmdir(dir);
}

static bool ready;

static void handle_ready(struct vd_dbus *bus, void *data) {
	(void)bus;
	(void)data;
	ready = true;
}

static const struct vd_dbus_impl impl = {
	.ready = handle_ready,
};

static int name_result = -2;

static void handle_name(int code, void *data) {
	(void)data;
	name_result = code;
}

/* Runs loop until *flag or about 5 s. */
static void run_until(struct wl_event_loop *loop, const bool *flag, const int *code) {
	for (int i = 0; i < 500 && !(flag != NULL && *flag) && !(code != NULL && *code != -2);
			i++) {
		wl_event_loop_dispatch(loop, 10);
	}
}

/* A connection to the test's bus, once Hello is answered; NULL (said) if not. */
static struct vd_dbus *connect_ready(struct wl_event_loop *loop) {
	char err[256];
	ready = false;
	struct vd_dbus *bus = vd_dbus_connect(loop, address, &impl, NULL, err, sizeof(err));
	if (bus == NULL) {
		printf("# connect: %s\n", err);
		return NULL;
	}
	run_until(loop, &ready, NULL);
	if (!ready) {
		printf("# no answer to Hello\n");
		vd_dbus_destroy(bus);
		return NULL;
	}
	return bus;
}

/* RequestName answered: the helper's data for it is freed after the answer. */
static bool test_request_name_answered(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct vd_dbus *bus = connect_ready(loop);
	CHECK(bus != NULL, "no connection to the test's bus");
	name_result = -2;
	CHECK(vd_dbus_request_name(bus, "org.example.VdTest", 0, handle_name, NULL) != NULL,
		"RequestName not sent");
	run_until(loop, NULL, &name_result);
	CHECK(name_result == 1, "RequestName: %d, not PRIMARY_OWNER (1)", name_result);
	vd_dbus_destroy(bus);
	wl_event_loop_destroy(loop);
	return true;
}

/* RequestName cancelled before its answer (an item removed, the bus
 * destroyed at exit): its data is freed with the call. */
static bool test_request_name_cancelled(void) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct vd_dbus *bus = connect_ready(loop);
	CHECK(bus != NULL, "no connection to the test's bus");
	name_result = -2;
	struct vd_dbus_call *call = vd_dbus_request_name(bus, "org.example.VdTest2", 0,
		handle_name, NULL);
	CHECK(call != NULL, "RequestName not sent");
	vd_dbus_call_cancel(call);
	CHECK(vd_dbus_request_name(bus, "org.example.VdTest3", 0, handle_name, NULL) != NULL,
		"RequestName not sent");
	vd_dbus_destroy(bus); // cancels the second
	wl_event_loop_destroy(loop);
	CHECK(name_result == -2, "a cancelled call was answered: %d", name_result);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(test_request_name_answered),
	TAP_CASE(test_request_name_cancelled),
};

int main(void) {
	if (!start_daemon()) {
		stop_daemon();
		printf("1..0 # SKIP no dbus-daemon\n");
		return 0;
	}
	int rc = tap_run(cases, sizeof(cases) / sizeof(cases[0]));
	stop_daemon();
	return rc;
}
