#define LOG_TAG "cli"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "host/clipboard/clip-cli.h"
#include "protocols/agent-conn.h"
#include "protocols/agent-wire.h"
#include "protocols/log.h"
#include "protocols/transport.h"

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
		"With --wait the program's output and exit status come back; vmdesk's own\n"
		"failures exit 125 (126: cannot execute, 127: not found), bad usage 2.\n");
}

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
	case VD_AGENT_E_NOT_FOUND:
		return EXIT_NOT_FOUND;
	case VD_AGENT_E_EXEC:
		return EXIT_CANNOT_EXEC;
	default:
		return EXIT_FAILURE_VMDESK;
	}
}

/* Sends one request and handles the answer. Returns the exit status. */
static int transact(const char *socket_path, const struct vd_agent_msg *req, bool wait) {
	struct vd_addr addr = {.kind = VD_ADDR_UNIX};
	if (strlen(socket_path) >= sizeof(addr.path)) {
		fprintf(stderr, "%s: socket path too long\n", prog);
		return EXIT_USAGE;
	}
	snprintf(addr.path, sizeof(addr.path), "%s", socket_path);
	char err[256];
	int fd = vd_transport_connect(&addr, 5000, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "%s: cannot reach vmdesk-hostd at %s: %s (is it running?)\n", prog,
			socket_path, err);
		return EXIT_FAILURE_VMDESK;
	}
	struct vd_agent_conn conn;
	vd_agent_conn_init(&conn, fd, 0);
	if (!vd_agent_conn_send(&conn, req)) {
		fprintf(stderr, "%s: request too large (limit %u bytes)\n", prog, VD_AGENT_MAX_PAYLOAD);
		vd_agent_conn_finish(&conn);
		return EXIT_USAGE;
	}
	if (!vd_agent_conn_flush_blocking(&conn)) {
		fprintf(stderr, "%s: cannot send to vmdesk-hostd: %s\n", prog, strerror(errno));
		vd_agent_conn_finish(&conn);
		return EXIT_FAILURE_VMDESK;
	}
	/* While waiting, forward interrupts to the program in the VM. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	int sfd = -1;
	if (wait) {
		sigprocmask(SIG_BLOCK, &mask, NULL);
		sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	}
	int status = -1;
	while (status < 0) {
		struct pollfd pfds[2] = {
			{.fd = conn.fd, .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
		};
		if (poll(pfds, sfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			status = EXIT_FAILURE_VMDESK;
			break;
		}
		if (sfd >= 0 && (pfds[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				struct vd_agent_msg sig = {.type = VD_AGENT_CTL_SIGNAL, .signo = si.ssi_signo};
				vd_agent_conn_send(&conn, &sig);
			}
			vd_agent_conn_flush_blocking(&conn);
		}
		if (!(pfds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			continue;
		}
		if (vd_agent_conn_read(&conn, err, sizeof(err)) != VD_CONN_OK) {
			fprintf(stderr, "%s: %s\n", prog, err);
			status = EXIT_FAILURE_VMDESK;
			break;
		}
		struct vd_agent_frame frame;
		enum vd_conn_status cs;
		while (status < 0 && vd_agent_conn_next(&conn, &frame, &cs, err, sizeof(err))) {
			struct vd_agent_msg msg;
			if (!vd_agent_decode(frame.header.type, frame.header.id, frame.payload,
					frame.header.length, &msg, err, sizeof(err))) {
				fprintf(stderr, "%s: bad answer from vmdesk-hostd: %s\n", prog, err);
				status = EXIT_FAILURE_VMDESK;
				break;
			}
			switch (msg.type) {
			case VD_AGENT_RUN_STARTED:
				if (!wait) {
					status = 0;
				}
				break;
			case VD_AGENT_RUN_OUTPUT:
				write_all(msg.stream == VD_AGENT_STDOUT ? STDOUT_FILENO : STDERR_FILENO,
					msg.data, msg.data_len);
				break;
			case VD_AGENT_RUN_EXIT:
				status = msg.exit_kind == VD_AGENT_EXITED ? (int)msg.exit_value :
					128 + (int)msg.exit_value;
				break;
			case VD_AGENT_CTL_TEXT:
				fputs(msg.text, stdout);
				status = 0;
				break;
			case VD_AGENT_ERROR:
				fprintf(stderr, "%s: %s\n", prog, msg.message);
				status = error_status(msg.code);
				break;
			default:
				break;
			}
			vd_agent_msg_finish(&msg);
		}
		if (status < 0 && cs != VD_CONN_OK) {
			fprintf(stderr, "%s: vmdesk-hostd closed the connection%s%s\n", prog,
				cs == VD_CONN_ERROR ? ": " : "", cs == VD_CONN_ERROR ? err : "");
			status = EXIT_FAILURE_VMDESK;
		}
	}
	fflush(stdout);
	if (sfd >= 0) {
		close(sfd);
	}
	vd_agent_conn_finish(&conn);
	return status;
}

static bool check_vm(const char *vm) {
	if (!vd_agent_vm_name_valid(vm, strlen(vm))) {
		fprintf(stderr, "%s: invalid VM name \"%s\"\n", prog, vm);
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
	bool wait = false;
	const char *app = NULL;
	char *env[VD_AGENT_MAX_ENV + 1] = {0};
	uint32_t envc = 0;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--wait") == 0 || strcmp(a, "-w") == 0) {
			wait = true;
		} else if (strcmp(a, "--app") == 0 && i + 1 < argc) {
			app = argv[++i];
		} else if (strcmp(a, "--env") == 0 && i + 1 < argc) {
			char *kv = argv[++i];
			char *eq = strchr(kv, '=');
			if (eq == NULL || !vd_agent_env_allowed(kv, (size_t)(eq - kv)) ||
					envc >= VD_AGENT_MAX_ENV) {
				fprintf(stderr, "%s: --env %s: only locale, TZ and terminal size variables "
					"may be set\n", prog, kv);
				return EXIT_USAGE;
			}
			env[envc++] = kv;
		} else if (a[0] == '-') {
			fprintf(stderr, "%s: unknown run option %s\n", prog, a);
			return EXIT_USAGE;
		} else {
			break;
		}
	}
	struct vd_agent_msg msg = {.vm = (char *)vm, .flags = wait ? VD_AGENT_RUN_WAIT : 0};
	if (app != NULL) {
		if (i < argc) {
			fprintf(stderr, "%s: --app takes no program\n", prog);
			return EXIT_USAGE;
		}
		if (!vd_agent_desktop_id_valid(app, strlen(app))) {
			fprintf(stderr, "%s: invalid desktop ID \"%s\"\n", prog, app);
			return EXIT_USAGE;
		}
		msg.type = VD_AGENT_CTL_RUN_APP;
		msg.app_id = (char *)app;
	} else {
		if (i >= argc) {
			fprintf(stderr, "%s: run: no program given\n", prog);
			return EXIT_USAGE;
		}
		if (argc - i > VD_AGENT_MAX_ARGS) {
			fprintf(stderr, "%s: more than %d arguments\n", prog, VD_AGENT_MAX_ARGS);
			return EXIT_USAGE;
		}
		for (int k = i; k < argc; k++) {
			if (strlen(argv[k]) > VD_AGENT_MAX_ARG) {
				fprintf(stderr, "%s: argument over %d bytes\n", prog, VD_AGENT_MAX_ARG);
				return EXIT_USAGE;
			}
		}
		if (argv[i][0] == '\0') {
			fprintf(stderr, "%s: empty program name\n", prog);
			return EXIT_USAGE;
		}
		msg.type = VD_AGENT_CTL_RUN;
		msg.argv = argv + i;
		msg.argc = (uint32_t)(argc - i);
		msg.env = env;
		msg.envc = envc;
	}
	return transact(socket_path, &msg, wait);
}

int main(int argc, char *argv[]) {
	vd_log_init("vmdesk", VD_WARN);
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
	struct vd_agent_msg msg = {0};
	if (strcmp(cmd, "list") == 0 && i == argc) {
		msg.type = VD_AGENT_CTL_LIST;
	} else if ((strcmp(cmd, "apps") == 0 || strcmp(cmd, "status") == 0) && i + 1 == argc) {
		if (!check_vm(argv[i])) {
			return EXIT_USAGE;
		}
		msg.type = strcmp(cmd, "apps") == 0 ? VD_AGENT_CTL_APPS : VD_AGENT_CTL_STATUS;
		msg.vm = argv[i];
	} else {
		usage(stderr);
		return EXIT_USAGE;
	}
	return transact(socket_path, &msg, false);
}
