#define LOG_TAG "cli"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "host/cli-link.h"
#include "host/clipboard/clip-cli.h"
#include "protocols/link.h"
#include "protocols/log.h"
#include "protocols/names.h"
#include "protocols/path.h"
#include "protocols/number.h"

/* Exit statuses of vmdesk itself (a waited-for program's own status otherwise). */
#define EXIT_FAILED 1 // start, stop, console: it did not work
#define EXIT_USAGE 2
#define EXIT_FAILURE_VMDESK 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

static const char *prog = "vmdesk";

static void usage(FILE *f) {
	fprintf(f,
		"Usage: vmdesk [--socket PATH] COMMAND ...\n"
		"  vmdesk run VM [--wait] [--env NAME=VALUE]... [--] PROGRAM [ARGS...]\n"
		"                 run a program in the VM (detached unless --wait)\n"
		"  vmdesk run VM [--wait] --app DESKTOP_ID\n"
		"                 start one of the VM's applications\n"
		"                 (a stopped VM that vmdesk starts is started first)\n"
		"  vmdesk apps VM       list the VM's applications\n"
		"  vmdesk list          the VMs: name, state, pid, uptime, windows, agent channel,\n"
		"                       color, agent address\n"
		"  vmdesk status VM     show a VM's state and agent channel\n"
		"  vmdesk start VM [--dry-run] [--no-wait] [--timeout SECONDS]\n"
		"                       start the VM and wait for its agent; --dry-run prints the\n"
		"                       VMM command lines and starts nothing\n"
		"  vmdesk stop VM [--force]\n"
		"                       power the VM off (ACPI); --force kills it\n"
		"  vmdesk console VM    the VM's serial console (detach: Ctrl-])\n"
		"  vmdesk image build NAME [--packages P,...] [--size SIZE] ...\n"
		"                       build a guest image (vmdesk image --help)\n"
		"  vmdesk clip copy|paste|show|clear [DOMAIN]\n"
		"                       the global clipboard (vmdesk clip --help)\n"
		"vm-run, vm-start, vm-stop and vm-shell VM ... are vmdesk run, start, stop and\n"
		"console VM ...\n"
		"With --wait the program reads vmdesk's standard input and its output and exit\n"
		"status come back; vmdesk's own failures exit 125 (126: cannot execute, 127: not\n"
		"found), bad usage 2; start, stop and console exit 1 when they fail.\n");
}

enum request_kind {
	REQUEST_PLAIN, // list, status, apps: one text answer
	REQUEST_RUN,
	REQUEST_LAUNCH, // start, stop: progress lines, then the outcome
	REQUEST_CONSOLE,
};

struct request {
	struct vd_cli_link cli;
	struct vd_link_msg msg;
	enum request_kind kind;
	const char *vm;
	bool wait;
	bool stdin_pass; // the program reads our stdin
	bool started;
	/* standard input, passed on within the run's window */
	struct wl_event_source *stdin_source; // NULL: not pollable (a file), or not reading
	struct wl_event_source *stdin_idle; // reading a file: no events, so from idle
	bool stdin_pollable;
	bool stdin_done;
	uint64_t in_flight; // sent, not acknowledged
	struct wl_event_source *signals[3];
	/* console */
	bool attached;
	bool raw; // the terminal is in raw mode: restore saved_tty
	struct termios saved_tty;
	bool detached; // by Ctrl-] or the end of input
};

/* Ctrl-]: detaches from a console, as with telnet and virsh console. */
#define DETACH_KEY 0x1d

static bool write_all(int fd, const uint8_t *data, size_t len) {
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

static int error_status(uint32_t code) {
	switch (code) {
	case VD_LINK_ERROR_CODE_NOT_FOUND:
		return EXIT_NOT_FOUND;
	case VD_LINK_ERROR_CODE_EXEC:
		return EXIT_CANNOT_EXEC;
	default:
		return EXIT_FAILURE_VMDESK;
	}
}

/* ---- standard input ---- */

static void stdin_schedule(struct request *req);

static void stdin_stop(struct request *req) {
	req->stdin_done = true;
	if (req->stdin_source != NULL) {
		wl_event_source_remove(req->stdin_source);
		req->stdin_source = NULL;
	}
}

/* Reads one chunk and sends it, if the window has room. */
static void stdin_pump(struct request *req) {
	if (req->stdin_done || req->cli.conn == NULL || vd_link_conn_closing(req->cli.conn)) {
		return;
	}
	if (req->in_flight + VD_LINK_MAX_CHUNK > VD_LINK_RUN_WINDOW) {
		if (req->stdin_source != NULL) {
			wl_event_source_fd_update(req->stdin_source, 0); // until RUN_INPUT_ACK
		}
		return;
	}
	static uint8_t buf[VD_LINK_MAX_CHUNK];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_CTL_INPUT};
	if (req->kind == REQUEST_CONSOLE) {
		uint8_t *key = n > 0 ? memchr(buf, DETACH_KEY, (size_t)n) : NULL;
		if (n <= 0 || key != NULL) {
			/* the end of input or the detach key: what came before it still goes */
			if (key != NULL && key > buf) {
				msg.body.ctl_input.data = buf;
				msg.body.ctl_input.data_len = (uint32_t)(key - buf);
				vd_link_conn_send(req->cli.conn, &msg);
			}
			stdin_stop(req);
			req->detached = true;
			vd_link_conn_close(req->cli.conn);
			vd_cli_link_finish(&req->cli, 0);
			return;
		}
	}
	if (n <= 0) {
		msg.body.ctl_input.eof = 1; // end of input (or an error reading it)
		stdin_stop(req);
	} else {
		msg.body.ctl_input.data = buf;
		msg.body.ctl_input.data_len = (uint32_t)n;
		req->in_flight += (uint64_t)n;
	}
	vd_link_conn_send(req->cli.conn, &msg);
	if (!req->stdin_done && !req->stdin_pollable) {
		stdin_schedule(req);
	}
}

static int handle_stdin(int fd, uint32_t mask, void *data) {
	stdin_pump(data);
	return 0;
}

static void handle_stdin_idle(void *data) {
	struct request *req = data;
	req->stdin_idle = NULL; // the loop removes it
	stdin_pump(req);
}

/* A file (or /dev/null) cannot be watched: it is always readable, read it from idle. */
static void stdin_schedule(struct request *req) {
	if (req->stdin_pollable) {
		if (req->stdin_source != NULL) {
			wl_event_source_fd_update(req->stdin_source, WL_EVENT_READABLE);
		}
	} else if (req->stdin_idle == NULL && !req->stdin_done &&
			req->in_flight + VD_LINK_MAX_CHUNK <= VD_LINK_RUN_WINDOW) {
		req->stdin_idle = wl_event_loop_add_idle(req->cli.loop, handle_stdin_idle, req);
	}
}

static void stdin_start(struct request *req) {
	req->stdin_source = wl_event_loop_add_fd(req->cli.loop, STDIN_FILENO, WL_EVENT_READABLE,
		handle_stdin, req);
	req->stdin_pollable = req->stdin_source != NULL;
	stdin_schedule(req);
}

/* ---- the console's terminal ---- */

static void tty_raw(struct request *req) {
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &req->saved_tty) < 0) {
		return;
	}
	struct termios raw = req->saved_tty;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
		req->raw = true;
	}
}

static void tty_restore(struct request *req) {
	if (req->raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &req->saved_tty);
		req->raw = false;
	}
}

/* ---- the link ---- */

static void handle_progress(struct request *req, const char *text) {
	switch (req->kind) {
	case REQUEST_LAUNCH:
		printf("%s\n", text);
		fflush(stdout);
		break;
	case REQUEST_RUN:
		/* a stopped VM is starting: say so on a terminal, keep pipes clean */
		if (isatty(STDERR_FILENO)) {
			fprintf(stderr, "%s: %s\n", prog, text);
		}
		break;
	case REQUEST_CONSOLE:
		if (!req->attached) {
			req->attached = true;
			tty_raw(req); // first: what comes after the line is the guest's
			fprintf(stderr, "Connected to VM %s (detach: Ctrl-])%s\n", req->vm,
				req->raw ? "\r" : "");
			stdin_start(req);
		}
		break;
	case REQUEST_PLAIN:
		break;
	}
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct request *req = vd_link_conn_data(conn);
	switch (msg->type) {
	case VD_LINK_CTL_PROGRESS:
		handle_progress(req, msg->body.ctl_progress.text);
		return;
	case VD_LINK_CTL_STARTED:
		req->started = true;
		if (!req->wait) {
			vd_cli_link_finish(&req->cli, 0);
		} else if (req->stdin_pass) {
			stdin_start(req);
		}
		return;
	case VD_LINK_CTL_OUTPUT:
		write_all(msg->body.ctl_output.stream == VD_LINK_STREAM_STDOUT ? STDOUT_FILENO :
			STDERR_FILENO, msg->body.ctl_output.data, msg->body.ctl_output.data_len);
		return;
	case VD_LINK_CTL_INPUT_ACK: {
		uint32_t n = msg->body.ctl_input_ack.bytes;
		req->in_flight -= n < req->in_flight ? n : req->in_flight;
		stdin_schedule(req);
		return;
	}
	case VD_LINK_CTL_EXIT:
		vd_cli_link_finish(&req->cli, msg->body.ctl_exit.kind == VD_LINK_EXIT_KIND_EXITED ?
			(int)msg->body.ctl_exit.value : 128 + (int)msg->body.ctl_exit.value);
		return;
	case VD_LINK_CTL_TEXT:
		fputs(msg->body.ctl_text.text, stdout);
		vd_cli_link_finish(&req->cli, 0);
		return;
	case VD_LINK_ERROR:
		tty_restore(req);
		if (req->kind == REQUEST_CONSOLE && req->attached) {
			fprintf(stderr, "\n%s: %s\n", prog, msg->body.error.message);
			vd_cli_link_finish(&req->cli, msg->body.error.code ==
				VD_LINK_ERROR_CODE_DISCONNECTED ? 0 : EXIT_FAILED);
			return;
		}
		fprintf(stderr, "%s: %s\n", prog, msg->body.error.message);
		vd_cli_link_finish(&req->cli, req->kind == REQUEST_LAUNCH ||
			req->kind == REQUEST_CONSOLE ? EXIT_FAILED : error_status(msg->body.error.code));
		return;
	default:
		return;
	}
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct request *req = vd_link_conn_data(conn);
	if (!req->cli.done && !req->detached) {
		tty_restore(req);
		fprintf(stderr, "%s: vmdesk-hostd closed the connection%s%s\n", prog,
			reason ? ": " : "", reason ? reason : "");
		vd_cli_link_finish(&req->cli, EXIT_FAILURE_VMDESK);
	}
}

static const struct vd_link_conn_impl request_impl = {
	.message = handle_message,
	.closed = handle_closed,
};

static void handle_connected(struct vd_cli_link *cli) {
	struct request *req = cli->data;
	vd_link_conn_send(cli->conn, &req->msg);
}

/* While waiting, interrupts go to the program in the VM. */
static int handle_signal(int signo, void *data) {
	struct request *req = data;
	if (req->kind == REQUEST_CONSOLE) {
		req->detached = true;
		vd_cli_link_finish(&req->cli, 128 + signo);
		return 0;
	}
	if (req->cli.conn != NULL && req->started) {
		struct vd_link_msg msg = {.type = VD_LINK_CTL_SIGNAL};
		msg.body.ctl_signal.signo = (uint32_t)signo;
		vd_link_conn_send(req->cli.conn, &msg);
	} else if (!req->started) {
		vd_cli_link_finish(&req->cli, 128 + signo);
	}
	return 0;
}

/* Sends one request and handles the answer. Returns the exit status. */
static int transact(const char *socket_path, struct request *req) {
	req->cli.loop = wl_event_loop_create();
	if (req->cli.loop == NULL) {
		return EXIT_FAILURE_VMDESK;
	}
	char what[PATH_MAX + 32];
	snprintf(what, sizeof(what), "vmdesk-hostd at %s", socket_path);
	req->cli.program = prog;
	req->cli.what = what;
	req->cli.connected = handle_connected;
	req->cli.impl = &request_impl;
	req->cli.data = req;
	if (req->wait || req->kind == REQUEST_CONSOLE) {
		static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
		for (size_t i = 0; i < 3; i++) {
			req->signals[i] = wl_event_loop_add_signal(req->cli.loop, sigs[i], handle_signal,
				req);
		}
	}
	int status = EXIT_FAILURE_VMDESK;
	if (vd_cli_link_start(&req->cli, socket_path, VD_LINK_CAP_CONTROL, EXIT_FAILURE_VMDESK)) {
		status = vd_cli_link_run(&req->cli);
	}
	tty_restore(req);
	if (req->detached && req->attached) {
		fprintf(stderr, "\nDetached from VM %s\n", req->vm);
	}
	fflush(stdout);
	stdin_stop(req);
	if (req->stdin_idle != NULL) {
		wl_event_source_remove(req->stdin_idle);
	}
	for (size_t i = 0; i < 3; i++) {
		if (req->signals[i] != NULL) {
			wl_event_source_remove(req->signals[i]);
		}
	}
	wl_event_loop_destroy(req->cli.loop);
	return status;
}

static bool check_vm(const char *vm) {
	if (!vd_vm_name_valid(vm, strlen(vm))) {
		fprintf(stderr, "%s: invalid VM name \"%s\" (VM names are [a-z][a-z0-9-]{0,31})\n",
			prog, vm);
		return false;
	}
	return true;
}

static int cmd_run(const char *socket_path, int argc, char **argv) {
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *vm = argv[0];
	if (!check_vm(vm)) {
		return EXIT_USAGE;
	}
	static struct request req;
	req.kind = REQUEST_RUN;
	const char *app = NULL;
	static struct vd_link_run_env env[32];
	uint32_t envc = 0;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--wait") == 0 || strcmp(a, "-w") == 0) {
			req.wait = true;
		} else if (strcmp(a, "--app") == 0 && i + 1 < argc) {
			app = argv[++i];
		} else if (strcmp(a, "--env") == 0 && i + 1 < argc) {
			char *kv = argv[++i];
			char *eq = strchr(kv, '=');
			if (eq == NULL || !vd_link_check_env_name(kv, (size_t)(eq - kv)) || envc >= 32) {
				fprintf(stderr, "%s: --env %s: only locale, TZ and terminal size variables "
					"may be set\n", prog, kv);
				return EXIT_USAGE;
			}
			*eq = '\0';
			env[envc++] = (struct vd_link_run_env){kv, eq + 1};
		} else if (a[0] == '-') {
			fprintf(stderr, "%s: unknown run option %s\n", prog, a);
			return EXIT_USAGE;
		} else {
			break;
		}
	}
	uint32_t flags = req.wait ? VD_LINK_RUN_FLAGS_WAIT | VD_LINK_RUN_FLAGS_STDIN : 0;
	req.stdin_pass = req.wait;
	if (app != NULL) {
		if (i < argc) {
			fprintf(stderr, "%s: --app takes no program\n", prog);
			return EXIT_USAGE;
		}
		if (!vd_desktop_id_valid(app, strlen(app))) {
			fprintf(stderr, "%s: invalid desktop ID \"%s\"\n", prog, app);
			return EXIT_USAGE;
		}
		req.msg.type = VD_LINK_CTL_RUN_APP;
		req.msg.body.ctl_run_app = (struct vd_link_ctl_run_app){.vm = vm, .flags = flags,
			.app_id = app};
	} else {
		if (i >= argc) {
			fprintf(stderr, "%s: run: no program given\n", prog);
			return EXIT_USAGE;
		}
		if (argc - i > 256) {
			fprintf(stderr, "%s: more than 256 arguments\n", prog);
			return EXIT_USAGE;
		}
		for (int k = i; k < argc; k++) {
			if (strlen(argv[k]) > 65535) {
				fprintf(stderr, "%s: argument over 65535 bytes\n", prog);
				return EXIT_USAGE;
			}
		}
		if (argv[i][0] == '\0') {
			fprintf(stderr, "%s: empty program name\n", prog);
			return EXIT_USAGE;
		}
		req.msg.type = VD_LINK_CTL_RUN;
		req.msg.body.ctl_run = (struct vd_link_ctl_run){.vm = vm, .flags = flags,
			.argv_count = (uint32_t)(argc - i), .argv = (const char **)(argv + i),
			.env_count = envc, .env = env};
	}
	char err[256];
	struct vd_link_buf probe = {0};
	if (!vd_link_encode(&vd_link_host, &req.msg, UINT32_MAX, &probe, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		vd_link_buf_finish(&probe);
		return EXIT_USAGE;
	}
	vd_link_buf_finish(&probe);
	return transact(socket_path, &req);
}

/* vmdesk start|stop VM [options] */
static int cmd_launch(const char *socket_path, bool start, int argc, char **argv) {
	static struct request req;
	req.kind = REQUEST_LAUNCH;
	const char *vm = NULL;
	uint32_t flags = 0;
	long long timeout = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (start && strcmp(a, "--dry-run") == 0) {
			flags |= VD_LINK_START_FLAGS_DRY_RUN;
		} else if (start && strcmp(a, "--no-wait") == 0) {
			flags |= VD_LINK_START_FLAGS_NO_WAIT;
		} else if (start && strcmp(a, "--timeout") == 0 && i + 1 < argc) {
			if (!vd_parse_number(argv[++i], 1, 86400, &timeout)) {
				fprintf(stderr, "%s: --timeout takes seconds (1..86400)\n", prog);
				return EXIT_USAGE;
			}
		} else if (!start && (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0)) {
			flags |= VD_LINK_STOP_FLAGS_FORCE;
		} else if (a[0] == '-' || vm != NULL) {
			fprintf(stderr, "%s: %s: unexpected %s\n", prog, start ? "start" : "stop", a);
			return EXIT_USAGE;
		} else {
			vm = a;
		}
	}
	if (vm == NULL) {
		fprintf(stderr, "%s: %s: which VM?\n", prog, start ? "start" : "stop");
		return EXIT_USAGE;
	}
	if (!check_vm(vm)) {
		return EXIT_USAGE;
	}
	req.vm = vm;
	if (start) {
		req.msg.type = VD_LINK_CTL_START;
		req.msg.body.ctl_start = (struct vd_link_ctl_start){.vm = vm, .flags = flags,
			.timeout_s = (uint32_t)timeout};
	} else {
		req.msg.type = VD_LINK_CTL_STOP;
		req.msg.body.ctl_stop = (struct vd_link_ctl_stop){.vm = vm, .flags = flags};
	}
	return transact(socket_path, &req);
}

static int cmd_console(const char *socket_path, int argc, char **argv) {
	if (argc != 1 || argv[0][0] == '-') {
		fprintf(stderr, "Usage: %s console VM (detach: Ctrl-])\n", prog);
		return EXIT_USAGE;
	}
	if (!check_vm(argv[0])) {
		return EXIT_USAGE;
	}
	static struct request req;
	req.kind = REQUEST_CONSOLE;
	req.vm = argv[0];
	req.stdin_pass = true;
	req.msg.type = VD_LINK_CTL_CONSOLE;
	req.msg.body.ctl_console.vm = argv[0];
	return transact(socket_path, &req);
}

/*
 * vmdesk image ...: runs the image builder, LIBEXECDIR/vmdesk/vmdesk-image,
 * or from a build tree the source's host/image/vmdesk-image with the build's
 * guest programs.
 */
static int cmd_image(int argc, char **argv) {
	char self[PATH_MAX], builder[PATH_MAX + 64], guest[PATH_MAX + 64];
	bool build_tree = vd_path_self_dir(self, sizeof(self)) &&
		strcmp(self, VD_BUILD_ROOT "/host") == 0;
	if (build_tree) {
		snprintf(builder, sizeof(builder), "%s/host/image/vmdesk-image", VD_SOURCE_ROOT);
		snprintf(guest, sizeof(guest), "%s/guest", VD_BUILD_ROOT);
	} else {
		snprintf(builder, sizeof(builder), "%s/vmdesk/vmdesk-image", VD_LIBEXECDIR);
	}
	char **args = calloc((size_t)argc + 4, sizeof(char *));
	if (args == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EXIT_FAILURE_VMDESK;
	}
	size_t k = 0;
	args[k++] = builder;
	bool has_guest = false;
	for (int i = 0; i < argc; i++) {
		has_guest |= strncmp(argv[i], "--guest-programs", 16) == 0;
		args[k++] = argv[i];
	}
	if (build_tree && argc > 0 && strcmp(argv[0], "build") == 0 && !has_guest) {
		args[k++] = "--guest-programs";
		args[k++] = guest;
	}
	args[k] = NULL;
	execv(builder, args);
	fprintf(stderr, "%s: cannot run the image builder %s: %s\n", prog, builder,
		strerror(errno));
	free(args);
	return errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
}

int main(int argc, char *argv[]) {
	vd_log_init("vmdesk", VD_WARN);
	signal(SIGPIPE, SIG_IGN);
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	char default_socket[PATH_MAX] = "";
	const char *run = getenv("XDG_RUNTIME_DIR");
	if (run != NULL && run[0] == '/') {
		snprintf(default_socket, sizeof(default_socket), "%s/vmdesk/hostd.sock", run);
	}
	const char *socket_path = getenv("VMDESK_SOCKET");
	if (socket_path == NULL || socket_path[0] == '\0') {
		socket_path = default_socket;
	}
	int i = 1;
	static const char *const aliases[] = {"vm-run", "vm-start", "vm-stop", "vm-shell"};
	for (size_t a = 0; a < sizeof(aliases) / sizeof(aliases[0]); a++) {
		if (strcmp(base, aliases[a]) == 0) {
			prog = aliases[a];
		}
	}
	bool alias = strcmp(prog, "vmdesk") != 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			socket_path = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("vmdesk %s\n", VD_VERSION);
			return 0;
		} else {
			break;
		}
	}
	if (!alias && i < argc && strcmp(argv[i], "clip") == 0) {
		/* the global clipboard has its own socket: "clip" becomes argv[0] */
		return vd_clip_cli_main(argc - i, argv + i);
	}
	if (!alias && i < argc && strcmp(argv[i], "image") == 0) {
		return cmd_image(argc - i - 1, argv + i + 1);
	}
	if (socket_path[0] == '\0') {
		fprintf(stderr, "%s: XDG_RUNTIME_DIR is not set; use --socket\n", prog);
		return EXIT_USAGE;
	}
	if (strcmp(prog, "vm-run") == 0) {
		return cmd_run(socket_path, argc - i, argv + i);
	} else if (strcmp(prog, "vm-start") == 0 || strcmp(prog, "vm-stop") == 0) {
		return cmd_launch(socket_path, prog[3] == 's' && prog[5] == 'a', argc - i, argv + i);
	} else if (strcmp(prog, "vm-shell") == 0) {
		return cmd_console(socket_path, argc - i, argv + i);
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[i++];
	if (strcmp(cmd, "run") == 0) {
		return cmd_run(socket_path, argc - i, argv + i);
	} else if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0) {
		return cmd_launch(socket_path, cmd[2] == 'a', argc - i, argv + i);
	} else if (strcmp(cmd, "console") == 0) {
		return cmd_console(socket_path, argc - i, argv + i);
	}
	static struct request req;
	if (strcmp(cmd, "list") == 0 && i == argc) {
		req.msg.type = VD_LINK_CTL_LIST;
	} else if ((strcmp(cmd, "apps") == 0 || strcmp(cmd, "status") == 0) && i + 1 == argc) {
		if (!check_vm(argv[i])) {
			return EXIT_USAGE;
		}
		if (strcmp(cmd, "apps") == 0) {
			req.msg.type = VD_LINK_CTL_APPS;
			req.msg.body.ctl_apps.vm = argv[i];
		} else {
			req.msg.type = VD_LINK_CTL_STATUS;
			req.msg.body.ctl_status.vm = argv[i];
		}
	} else {
		usage(stderr);
		return EXIT_USAGE;
	}
	return transact(socket_path, &req);
}
