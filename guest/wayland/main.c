#define LOG_TAG "main"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/wayland/bridge.h"
#include "guest/wayland/sandbox-guest-wayland.h"
#include "guest/wayland/shm.h"
#include "protocols/log.h"
#include "protocols/number.h"
#include "protocols/sandbox.h"

#define EXIT_USAGE 2
#define SD_LISTEN_FDS_START 3

static const char usage[] =
	"Usage: vmdesk-guest-wayland [--listen ADDRESS] [--display NAME|PATH] [options]\n"
	"\n"
	"The Wayland socket of a VM's session: every client is carried over one link\n"
	"to vmdesk-proxy on the host, which shows its windows in the VM's frame.\n"
	"\n"
	"  --listen ADDRESS   where the host's vmdesk-proxy reaches us: vsock:PORT,\n"
	"                     unix:PATH or serial:DEVICE (a virtio-serial port such as\n"
	"                     /dev/virtio-ports/vmdesk.wayland) (default: the\n"
	"                     environment's VMDESK_WAYLAND_LISTEN if not empty, as the\n"
	"                     systemd unit has it, else vsock:5001)\n"
	"  --display NAME     the Wayland socket to serve: a name under\n"
	"                     $XDG_RUNTIME_DIR or an absolute path (default wayland-0);\n"
	"                     a socket handed over by systemd (LISTEN_FDS) wins\n"
	"  --wait-link MS     how long a client that connects while there is no link\n"
	"                     waits for one before it is told so and closed\n"
	"                     (default 30000)\n"
	"  --max-clients N    clients at once (default 256)\n"
	"  --log-level LEVEL  error, warn, info or debug (default info)\n"
	VD_SECCOMP_USAGE
	"  -h, --help         show this help\n"
	"  -V, --version      show the version\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	fputs("vmdesk-guest-wayland: ", stderr);
	vfprintf(stderr, fmt, args);
	fputs("\nTry 'vmdesk-guest-wayland --help' for more information.\n", stderr);
	va_end(args);
	return EXIT_USAGE;
}

struct options {
	const char *listen;
	const char *display;
	long long wait_ms;
	long long max_clients;
	enum vd_log_level log_level;
	enum vd_seccomp_mode seccomp;
};

static int parse_options(int argc, char *argv[], struct options *opts, struct bridge *bridge) {
	enum { OPT_LISTEN = 256, OPT_DISPLAY, OPT_WAIT, OPT_MAX_CLIENTS, OPT_LOG_LEVEL,
		OPT_SECCOMP };
	static const struct option options[] = {
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"display", required_argument, NULL, OPT_DISPLAY},
		{"wait-link", required_argument, NULL, OPT_WAIT},
		{"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
		{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
		{"seccomp", required_argument, NULL, OPT_SECCOMP},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":hV", options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			opts->listen = optarg;
			break;
		case OPT_DISPLAY:
			opts->display = optarg;
			break;
		case OPT_WAIT:
			if (!vd_parse_number(optarg, 0, 3600000, &opts->wait_ms)) {
				return usage_error("--wait-link wants milliseconds from 0 to 3600000, "
					"not '%s'", optarg);
			}
			break;
		case OPT_MAX_CLIENTS:
			if (!vd_parse_number(optarg, 1, 65536, &opts->max_clients)) {
				return usage_error("--max-clients wants a number from 1 to 65536, not '%s'",
					optarg);
			}
			break;
		case OPT_LOG_LEVEL:
			if (!vd_log_parse_level(optarg, &opts->log_level)) {
				return usage_error("unknown log level '%s' (error, warn, info, debug)",
					optarg);
			}
			break;
		case OPT_SECCOMP:
			if (!vd_seccomp_parse_mode(optarg, &opts->seccomp)) {
				return usage_error("--seccomp wants enforce, log or off, not '%s'", optarg);
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("vmdesk-guest-wayland %s\n", VD_VERSION);
			return EXIT_SUCCESS;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		return usage_error("unexpected argument '%s'", argv[optind]);
	}
	char err[256];
	if (!vd_addr_parse(opts->listen, true, &bridge->link_addr, err, sizeof(err))) {
		return usage_error("invalid --listen: %s", err);
	}
	const char *display = opts->display;
	int n;
	if (display[0] == '/') {
		n = snprintf(bridge->display_path, sizeof(bridge->display_path), "%s", display);
	} else {
		const char *runtime = getenv("XDG_RUNTIME_DIR");
		if ((runtime == NULL || runtime[0] == '\0') && getenv("LISTEN_FDS") != NULL) {
			runtime = "/nonexistent"; // an activated socket wins: the path is not used
		}
		if (runtime == NULL || runtime[0] == '\0') {
			return usage_error("--display %s is relative but XDG_RUNTIME_DIR is not set",
				display);
		}
		if (strchr(display, '/') != NULL) {
			return usage_error("--display %s: a name, or an absolute path", display);
		}
		n = snprintf(bridge->display_path, sizeof(bridge->display_path), "%s/%s", runtime,
			display);
	}
	if (n < 0 || (size_t)n >= sizeof(bridge->display_path)) {
		return usage_error("--display %s: the path is too long for a Unix socket", display);
	}
	bridge->wait_ms = (uint32_t)opts->wait_ms;
	bridge->max_clients = (uint32_t)opts->max_clients;
	return -1;
}

/* Socket activation: the Wayland socket at fd 3, if it is for us. */
static int listen_fd_from_env(void) {
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	long long n;
	if (pid == NULL || fds == NULL || !vd_parse_number(pid, 1, INT_MAX, &n) ||
			(pid_t)n != getpid()) {
		return -1;
	}
	if (!vd_parse_number(fds, 1, 1, &n)) {
		vd_log(VD_ERROR, "LISTEN_FDS=%s: exactly one socket (the Wayland socket) is "
			"supported", fds);
		return -2;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	int accepting = 0;
	socklen_t len = sizeof(accepting);
	if (getsockopt(SD_LISTEN_FDS_START, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 ||
			!accepting) {
		vd_log(VD_ERROR, "fd %d from socket activation is not a listening socket",
			SD_LISTEN_FDS_START);
		return -2;
	}
	int flags = fcntl(SD_LISTEN_FDS_START, F_GETFD);
	fcntl(SD_LISTEN_FDS_START, F_SETFD, flags | FD_CLOEXEC);
	flags = fcntl(SD_LISTEN_FDS_START, F_GETFL);
	fcntl(SD_LISTEN_FDS_START, F_SETFL, flags | O_NONBLOCK);
	return SD_LISTEN_FDS_START;
}

static int handle_display(int fd, uint32_t mask, void *data) {
	struct bridge *bridge = data;
	for (;;) {
		int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (client < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				vd_log_errno(VD_ERROR, "accept on the Wayland socket failed");
			}
			return 0;
		}
		client_create(bridge, client);
	}
}

static int handle_quit(int signo, void *data) {
	struct bridge *bridge = data;
	vd_log(VD_INFO, "signal %d: exiting", signo);
	bridge->quit = true;
	return 0;
}

static int serve(struct bridge *bridge, enum vd_seccomp_mode seccomp) {
	char err[512];
	int status = EXIT_FAILURE;
	struct wl_event_source *signals[2] = {
		wl_event_loop_add_signal(bridge->loop, SIGTERM, handle_quit, bridge),
		wl_event_loop_add_signal(bridge->loop, SIGINT, handle_quit, bridge),
	};
	vd_listener_init(&bridge->display);
	vd_listener_init(&bridge->link_listener);
	int activated = listen_fd_from_env();
	if (activated == -2) {
		goto out;
	}
	if (activated >= 0) {
		bridge->display.fd = activated;
	} else if (!vd_listen_unix(&bridge->display, bridge->display_path, err, sizeof(err))) {
		vd_log(VD_ERROR, "%s", err);
		goto out;
	}
	bridge->display_source = wl_event_loop_add_fd(bridge->loop, bridge->display.fd,
		WL_EVENT_READABLE, handle_display, bridge);
	if (bridge->display_source == NULL || !hostlink_start(bridge, err, sizeof(err))) {
		vd_log(VD_ERROR, "%s", bridge->display_source == NULL ? "out of memory" : err);
		goto out;
	}
	/* startup is done: from here on only what sandbox-guest-wayland.c allows */
	if (!vd_sandbox_enter(guest_wayland_sandbox_policy(bridge->link_addr.kind ==
			VD_ADDR_SERIAL), seccomp)) {
		goto out;
	}
	vd_log(VD_INFO, "serving %s; the host reaches us at %s", activated >= 0 ?
		"an activated Wayland socket" : bridge->display_path, bridge->link_text);
	while (!bridge->quit) {
		if (wl_event_loop_dispatch(bridge->loop, -1) < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "event loop failed");
			goto out;
		}
	}
	status = bridge->failed ? EXIT_FAILURE : EXIT_SUCCESS;

out:;
	struct client *client, *tmp;
	wl_list_for_each_safe(client, tmp, &bridge->clients, link) {
		client_destroy(client);
	}
	hostlink_finish(bridge);
	if (bridge->display_source != NULL) {
		wl_event_source_remove(bridge->display_source);
	}
	vd_listener_finish(&bridge->display);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (signals[i] != NULL) {
			wl_event_source_remove(signals[i]);
		}
	}
	return status;
}

int main(int argc, char *argv[]) {
	char default_listen[32];
	snprintf(default_listen, sizeof(default_listen), "vsock:%d", VD_BRIDGE_DEFAULT_PORT);
	/* a vmdesk image's guest setup says which carrier the host chose (or nothing) */
	const char *env_listen = getenv("VMDESK_WAYLAND_LISTEN");
	struct options opts = {.listen = env_listen != NULL && env_listen[0] != '\0' ?
		env_listen : default_listen, .display = "wayland-0", .wait_ms = 30000,
		.max_clients = 256, .log_level = VD_INFO};
	struct bridge bridge = {0};
	int status = parse_options(argc, argv, &opts, &bridge);
	if (status >= 0) {
		return status;
	}
	vd_log_init("vmdesk-guest-wayland", opts.log_level);
	signal(SIGPIPE, SIG_IGN);
	/* each client's pools hold fds until they are destroyed */
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
	if (!job_guard_init()) {
		vd_log_errno(VD_ERROR, "cannot install the SIGBUS handler");
		return EXIT_FAILURE;
	}
	wl_list_init(&bridge.clients);
	bridge.loop = wl_event_loop_create();
	bridge.hooks = client_hooks_create();
	if (bridge.loop == NULL || bridge.hooks == NULL) {
		vd_log(VD_ERROR, "out of memory");
		return EXIT_FAILURE;
	}
	status = serve(&bridge, opts.seccomp);
	vd_hook_registry_destroy(bridge.hooks);
	wl_event_loop_destroy(bridge.loop);
	return status;
}
