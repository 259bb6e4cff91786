#define LOG_TAG "cli"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/cli-link.h"
#include "host/clipboard/clip-cli.h"
#include "protocols/link.h"
#include "protocols/log.h"
#include "protocols/names.h"

/* Exit statuses of vmdesk itself (a waited-for program's own status otherwise). */
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
		"  vmdesk apps VM       list the VM's applications\n"
		"  vmdesk list          list the VMs and their agent channels\n"
		"  vmdesk status VM     show a VM's agent channel\n"
		"  vmdesk clip copy|paste|show|clear [DOMAIN]\n"
		"                       the global clipboard (vmdesk clip --help)\n"
		"vm-run VM ... is vmdesk run VM ...\n"
		"With --wait the program reads vmdesk's standard input and its output and exit\n"
		"status come back; vmdesk's own failures exit 125 (126: cannot execute, 127: not\n"
		"found), bad usage 2.\n");
}

struct request {
	struct vd_cli_link cli;
	struct vd_link_msg msg;
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
};

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

/* ---- the link ---- */

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct request *req = vd_link_conn_data(conn);
	switch (msg->type) {
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
		fprintf(stderr, "%s: %s\n", prog, msg->body.error.message);
		vd_cli_link_finish(&req->cli, error_status(msg->body.error.code));
		return;
	default:
		return;
	}
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct request *req = vd_link_conn_data(conn);
	if (!req->cli.done) {
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
	if (req->wait) {
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
	if (strcmp(base, "vm-run") == 0) {
		prog = "vm-run";
	}
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
	if (strcmp(prog, "vm-run") != 0 && i < argc && strcmp(argv[i], "clip") == 0) {
		/* the global clipboard has its own socket: "clip" becomes argv[0] */
		return vd_clip_cli_main(argc - i, argv + i);
	}
	if (socket_path[0] == '\0') {
		fprintf(stderr, "%s: XDG_RUNTIME_DIR is not set; use --socket\n", prog);
		return EXIT_USAGE;
	}
	if (strcmp(prog, "vm-run") == 0) {
		return cmd_run(socket_path, argc - i, argv + i);
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[i++];
	if (strcmp(cmd, "run") == 0) {
		return cmd_run(socket_path, argc - i, argv + i);
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
