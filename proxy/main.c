#define LOG_TAG "main"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "decoration/color.h"
#include "decoration/glib-log.h"
#include "decoration/render.h"
#include "decoration/title.h"
#include "protocols/log.h"
#include "protocols/names.h"
#include "protocols/number.h"
#include "protocols/transport.h"
#include "proxy/hostd-link.h"
#include "proxy/policy.h"
#include "proxy/sandbox-proxy.h"
#include "proxy/server.h"
#include "proxy/vm-link.h"

#define EXIT_USAGE 2
#define SD_LISTEN_FDS_START 3

extern const char vd_default_policy[]; // proxy/default.policy, built in

static const char usage[] =
	"Usage: vmdesk-proxy --vm NAME [options] --socket PATH\n"
	"       vmdesk-proxy --vm NAME [options] --guest ADDRESS [--socket PATH]\n"
	"       vmdesk-proxy --vm NAME [options] -- COMMAND [ARGS...]\n"
	"\n"
	"A Wayland protocol firewall for the clients of one VM: every message is\n"
	"checked, object IDs are translated, and only the globals the VM's policy\n"
	"allows are visible.\n"
	"\n"
	"  --vm NAME          name of the VM: [a-z][a-z0-9-]{0,31}, not 'host'\n"
	"  --color COLOR      the VM's color: a Qubes label, a CSS/X11 name, #rgb,\n"
	"                     #rrggbb or rgb(r,g,b) (default: gray)\n"
	"  --policy FILE      protocol policy (default: the built-in default policy)\n"
	"  --display DISPLAY  the compositor: a name under $XDG_RUNTIME_DIR or an\n"
	"                     absolute path (default: $WAYLAND_DISPLAY)\n"
	"  --socket PATH      listen on this Unix socket; without it, a socket\n"
	"                     handed over by systemd (LISTEN_FDS) is served\n"
	"  -- COMMAND ARGS    run COMMAND on a private socket; exit with its status\n"
	"  --guest ADDRESS    the VM's Wayland bridge (vmdesk-guest-wayland):\n"
	"                     vsock:CID:PORT, hvsock:PATH:PORT or unix:PATH\n"
	"  --max-channels N   the VM's clients over the link at once (default 256)\n"
	"  --max-pool-mirror BYTES  bytes of one shm pool mirrored (default 256 MiB)\n"
	"  --max-mirror BYTES bytes of all the VM's pools mirrored (default 512 MiB)\n"
	"  --guest-timeout MS a guest that answers no ping for this long is cut off\n"
	"                     (default 15000)\n"
	"  --hostd PATH       the global clipboard's socket, or 'none' (default:\n"
	"                     $XDG_RUNTIME_DIR/vmdesk/clipboard.sock)\n"
	"  --max-objects N    live objects per client (default 50000)\n"
	"  --max-queue BYTES  bytes queued toward a peer before reading from the\n"
	"                     other side pauses (default 262144)\n"
	"  --max-fds N        file descriptors in flight per client (default 256)\n"
	"  --log-level LEVEL  error, warn, info or debug (default info)\n"
	VD_SECCOMP_USAGE
	"  --trace            print every message (also VMDESK_TRACE=1)\n"
	"  --no-frames        draw no frames (benchmarks and debugging only: the\n"
	"                     VM's windows are then not marked)\n"
	"  -h, --help         show this help\n"
	"  -V, --version      show the version\n";

struct options {
	const char *vm;
	const char *color;
	const char *policy;
	const char *display;
	const char *socket;
	const char *hostd;
	const char *guest;
	struct vd_addr guest_addr;
	struct vd_vm_link_limits link_limits;
	char **command;
	struct vd_limits limits;
	enum vd_log_level log_level;
	bool trace;
	bool no_frames;
	enum vd_seccomp_mode seccomp;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	fputs("vmdesk-proxy: ", stderr);
	vfprintf(stderr, fmt, args);
	fputs("\nTry 'vmdesk-proxy --help' for more information.\n", stderr);
	va_end(args);
	return EXIT_USAGE;
}

enum {
	OPT_VM = 256,
	OPT_COLOR,
	OPT_POLICY,
	OPT_DISPLAY,
	OPT_SOCKET,
	OPT_HOSTD,
	OPT_MAX_OBJECTS,
	OPT_MAX_QUEUE,
	OPT_MAX_FDS,
	OPT_LOG_LEVEL,
	OPT_TRACE,
	OPT_NO_FRAMES,
	OPT_GUEST,
	OPT_MAX_CHANNELS,
	OPT_MAX_POOL_MIRROR,
	OPT_MAX_MIRROR,
	OPT_GUEST_TIMEOUT,
	OPT_SECCOMP,
};

/* Returns -1 to go on, or an exit status. */
static int parse_options(int argc, char *argv[], struct options *opts) {
	static const struct option long_options[] = {
		{ "vm", required_argument, NULL, OPT_VM },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "display", required_argument, NULL, OPT_DISPLAY },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "hostd", required_argument, NULL, OPT_HOSTD },
		{ "max-objects", required_argument, NULL, OPT_MAX_OBJECTS },
		{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
		{ "max-fds", required_argument, NULL, OPT_MAX_FDS },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "no-frames", no_argument, NULL, OPT_NO_FRAMES },
		{ "guest", required_argument, NULL, OPT_GUEST },
		{ "max-channels", required_argument, NULL, OPT_MAX_CHANNELS },
		{ "max-pool-mirror", required_argument, NULL, OPT_MAX_POOL_MIRROR },
		{ "max-mirror", required_argument, NULL, OPT_MAX_MIRROR },
		{ "guest-timeout", required_argument, NULL, OPT_GUEST_TIMEOUT },
		{ "seccomp", required_argument, NULL, OPT_SECCOMP },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	long long n;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:hV", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_VM:
			opts->vm = optarg;
			break;
		case OPT_COLOR:
			opts->color = optarg;
			break;
		case OPT_POLICY:
			opts->policy = optarg;
			break;
		case OPT_DISPLAY:
			opts->display = optarg;
			break;
		case OPT_SOCKET:
			opts->socket = optarg;
			break;
		case OPT_HOSTD:
			opts->hostd = optarg;
			break;
		case OPT_MAX_OBJECTS:
			if (!vd_parse_number(optarg, 16, 10000000, &n)) {
				return usage_error("--max-objects wants a number from 16 to "
					"10000000, not '%s'", optarg);
			}
			opts->limits.max_objects = (uint32_t)n;
			break;
		case OPT_MAX_QUEUE:
			if (!vd_parse_number(optarg, 65536, 1ll << 30, &n)) {
				return usage_error("--max-queue wants bytes from 65536 to "
					"1073741824, not '%s'", optarg);
			}
			opts->limits.max_queue = (size_t)n;
			break;
		case OPT_MAX_FDS:
			if (!vd_parse_number(optarg, 28, 4096, &n)) {
				return usage_error("--max-fds wants a number from 28 to 4096, "
					"not '%s'", optarg);
			}
			opts->limits.max_fds = (size_t)n;
			break;
		case OPT_LOG_LEVEL:
			if (!vd_log_parse_level(optarg, &opts->log_level)) {
				return usage_error("unknown log level '%s' (error, warn, info, "
					"debug)", optarg);
			}
			break;
		case OPT_TRACE:
			opts->trace = true;
			break;
		case OPT_NO_FRAMES:
			opts->no_frames = true;
			break;
		case OPT_GUEST: {
			char err[256];
			if (!vd_addr_parse(optarg, false, &opts->guest_addr, err, sizeof(err))) {
				return usage_error("invalid --guest: %s", err);
			}
			opts->guest = optarg;
			break;
		}
		case OPT_MAX_CHANNELS:
			if (!vd_parse_number(optarg, 1, 65536, &n)) {
				return usage_error("--max-channels wants a number from 1 to 65536, not '%s'",
					optarg);
			}
			opts->link_limits.max_channels = (uint32_t)n;
			break;
		case OPT_MAX_POOL_MIRROR:
			if (!vd_parse_number(optarg, 1 << 20, 1ll << 31, &n)) {
				return usage_error("--max-pool-mirror wants bytes from 1048576 to "
					"2147483648, not '%s'", optarg);
			}
			opts->link_limits.pool_mirror = (uint64_t)n;
			break;
		case OPT_MAX_MIRROR:
			if (!vd_parse_number(optarg, 1 << 20, 1ll << 40, &n)) {
				return usage_error("--max-mirror wants bytes from 1048576 to "
					"1099511627776, not '%s'", optarg);
			}
			opts->link_limits.vm_mirror = (uint64_t)n;
			break;
		case OPT_GUEST_TIMEOUT:
			if (!vd_parse_number(optarg, 300, 3600000, &n)) {
				return usage_error("--guest-timeout wants milliseconds from 300 to 3600000, "
					"not '%s'", optarg);
			}
			opts->link_limits.timeout_ms = (uint32_t)n;
			break;
		case OPT_SECCOMP:
			if (!vd_seccomp_parse_mode(optarg, &opts->seccomp)) {
				return usage_error("--seccomp wants enforce, log or off, not '%s'",
					optarg);
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("vmdesk-proxy %s\n", VD_VERSION);
			return EXIT_SUCCESS;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0) {
			return usage_error("unexpected argument '%s' (a command goes after '--')",
				argv[optind]);
		}
		opts->command = &argv[optind];
	} else if (optind > 0 && strcmp(argv[optind - 1], "--") == 0) {
		return usage_error("'--' must be followed by a command");
	}
	if (opts->vm == NULL) {
		return usage_error("--vm NAME is required");
	}
	if (!vd_vm_name_valid(opts->vm, strlen(opts->vm))) {
		return usage_error("invalid VM name '%s': a lower-case letter, then lower-case "
			"letters, digits or '-', at most 32 characters in all, not 'host'", opts->vm);
	}
	if (opts->socket != NULL && strlen(opts->socket) >= 108) {
		return usage_error("socket path '%s' is too long (a Unix socket path has at "
			"most 107 bytes)", opts->socket);
	}
	if (opts->command != NULL && opts->socket != NULL) {
		return usage_error("--socket and a command are exclusive: the command gets "
			"a private socket");
	}
	if (opts->command != NULL && opts->guest != NULL) {
		return usage_error("--guest and a command are exclusive");
	}
	return -1;
}

/* Socket activation: the listening socket at fd 3, if it is for us. */
static int listen_fd_from_env(void) {
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	if (pid == NULL || fds == NULL) {
		return -1;
	}
	long long n;
	if (!vd_parse_number(pid, 1, INT_MAX, &n) || (pid_t)n != getpid()) {
		return -1;
	}
	if (!vd_parse_number(fds, 1, 1, &n)) {
		vd_log(VD_ERROR, "LISTEN_FDS=%s: exactly one socket is supported", fds);
		return -2;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return SD_LISTEN_FDS_START;
}

struct run_state {
	struct wl_event_loop *loop;
	bool running;
	pid_t child;
	int child_status;
	int signals;
};

static int handle_signal(int signal, void *data) {
	struct run_state *state = data;
	if (state->child > 0 && state->signals++ == 0) {
		vd_log(VD_INFO, "got signal %d: passing it to the command", signal);
		kill(state->child, signal);
		return 0;
	}
	if (state->child > 0) {
		vd_log(VD_INFO, "got signal %d again: killing the command", signal);
		kill(state->child, SIGKILL);
		return 0;
	}
	vd_log(VD_INFO, "got signal %d: exiting", signal);
	state->running = false;
	return 0;
}

static int handle_sigchld(int signal, void *data) {
	struct run_state *state = data;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == state->child) {
			state->child = 0;
			state->child_status = WIFEXITED(status) ? WEXITSTATUS(status) :
				WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
			state->running = false;
		}
	}
	return 0;
}

static pid_t spawn_command(char **command, const char *socket_path) {
	/* after fork only async-signal-safe calls: pango may run a thread */
	setenv("WAYLAND_DISPLAY", socket_path, 1);
	char msg[256];
	int len = snprintf(msg, sizeof(msg), "vmdesk-proxy: cannot run '%s' (not found or not "
		"executable)\n", command[0]);
	if (len < 0 || (size_t)len >= sizeof(msg)) {
		len = (int)strlen(msg);
	}
	pid_t pid = fork();
	if (pid < 0) {
		vd_log_errno(VD_ERROR, "cannot fork");
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(command[0], command);
		(void)!write(STDERR_FILENO, msg, (size_t)len);
		_exit(127);
	}
	return pid;
}

static struct vd_policy *load_policy(const char *path) {
	char err[512];
	struct vd_policy *policy = path != NULL ?
		vd_policy_load_file(path, err, sizeof(err)) :
		vd_policy_parse(vd_default_policy, strlen(vd_default_policy), "default.policy",
			err, sizeof(err));
	if (policy == NULL) {
		fprintf(stderr, "vmdesk-proxy: %s\n", err);
	} else if (policy->global_count == 0) {
		vd_log(VD_WARN, "%s allows no interface: the VM's clients see no global at all",
			path != NULL ? path : "the policy");
	}
	return policy;
}

static bool make_private_socket(const char *vm, char *dir, size_t dir_size, char *path,
		size_t path_size) {
	const char *base = getenv("XDG_RUNTIME_DIR");
	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	snprintf(dir, dir_size, "%s/vmdesk-%s-XXXXXX", base, vm);
	if (mkdtemp(dir) == NULL) {
		vd_log_errno(VD_ERROR, "cannot create a private directory in %s", base);
		return false;
	}
	int n = snprintf(path, path_size, "%s/wayland-0", dir);
	return n > 0 && (size_t)n < path_size;
}

/* Checks the options that need more than parsing; -1 to go on, or an exit status. */
static int configure(const struct options *opts, struct vd_server *server, int *listen_fd) {
	char err[512];
	if (!vd_color_parse(opts->color, &server->color, err, sizeof(err))) {
		return usage_error("invalid --color: %s", err);
	}
	const char *display = opts->display ? opts->display : getenv("WAYLAND_DISPLAY");
	if (!vd_server_resolve_display(display, server->upstream_path,
			sizeof(server->upstream_path), err, sizeof(err))) {
		return usage_error("%s", err);
	}
	*listen_fd = opts->socket == NULL && opts->command == NULL ? listen_fd_from_env() : -1;
	if (*listen_fd == -2) {
		return EXIT_USAGE;
	}
	if (opts->socket == NULL && opts->command == NULL && opts->guest == NULL &&
			*listen_fd < 0) {
		return usage_error("no socket to serve: give --socket PATH, --guest ADDRESS, a "
			"command after '--', or start me with systemd socket activation");
	}
	struct stat st;
	if (stat(server->upstream_path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		vd_log(VD_WARN, "no compositor socket at %s (yet): clients will be refused until "
			"one is there", server->upstream_path);
	}
	server->vm = opts->vm;
	server->limits = opts->limits;
	server->trace = opts->trace;
	server->frames = !opts->no_frames;
	if (!server->frames) {
		vd_log(VD_WARN, "vm=%s: --no-frames: this VM's windows get no frame", opts->vm);
	}
	server->policy = load_policy(opts->policy);
	return server->policy != NULL ? -1 : EXIT_USAGE;
}

/* Listens, runs the command if any, and serves until told to stop. */
static int serve(const struct options *opts, struct vd_server *server, int listen_fd) {
	int status = EXIT_FAILURE;
	struct run_state state = { .running = true };
	char private_dir[PATH_MAX] = "";
	char socket_path[PATH_MAX];
	struct vd_hostd_link *hostd_link = NULL;
	state.loop = wl_event_loop_create();
	if (state.loop == NULL) {
		vd_log(VD_ERROR, "cannot create the event loop");
		return EXIT_FAILURE;
	}
	struct wl_event_source *signals[] = {
		wl_event_loop_add_signal(state.loop, SIGTERM, handle_signal, &state),
		wl_event_loop_add_signal(state.loop, SIGINT, handle_signal, &state),
		wl_event_loop_add_signal(state.loop, SIGCHLD, handle_sigchld, &state),
	};
	signal(SIGPIPE, SIG_IGN);

	struct vd_vm_link *vm_link = NULL;
	bool listening = vd_server_init(server, state.loop);
	if (!listening) {
		vd_log(VD_ERROR, "out of memory");
	} else if (opts->command != NULL) {
		listening = make_private_socket(opts->vm, private_dir, sizeof(private_dir),
				socket_path, sizeof(socket_path)) &&
			vd_server_listen(server, socket_path);
	} else if (listen_fd >= 0) {
		listening = vd_server_adopt(server, listen_fd);
	} else if (opts->socket != NULL) {
		listening = vd_server_listen(server, opts->socket);
	}
	if (!listening) {
		goto out;
	}
	if (opts->guest != NULL) {
		/* every mirrored pool of the guest's holds an fd until it is sealed */
		struct rlimit limit;
		if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
			limit.rlim_cur = limit.rlim_max;
			setrlimit(RLIMIT_NOFILE, &limit);
		}
		vm_link = vd_vm_link_create(server, &opts->guest_addr, &opts->link_limits);
		if (vm_link == NULL) {
			vd_log(VD_ERROR, "out of memory");
			goto out;
		}
	}
	if (server->listen_fd >= 0) {
		vd_log(VD_INFO, "vm=%s: serving %s for the compositor at %s", opts->vm,
			server->socket_path ? server->socket_path : "an activated socket",
			server->upstream_path);
	}
	if (opts->command != NULL) {
		state.child = spawn_command(opts->command, socket_path);
		if (state.child < 0) {
			goto out;
		}
	}
	/* the global clipboard (vmdesk-hostd): connects when it is there */
	char hostd_path[PATH_MAX];
	if (opts->hostd != NULL && strcmp(opts->hostd, "none") != 0) {
		hostd_link = hostd_link_create(server, opts->hostd);
	} else if (opts->hostd == NULL && hostd_link_default_path(hostd_path, sizeof(hostd_path))) {
		hostd_link = hostd_link_create(server, hostd_path);
	}
	/* load fonts now, not when the first window maps */
	vd_frame_render_init();
	/* startup is done: from here on only what sandbox-proxy.c allows */
	if (opts->seccomp == VD_SECCOMP_ENFORCE) {
		proxy_sandbox_confine_files(server->socket_path,
			private_dir[0] != '\0' ? private_dir : NULL);
	}
	if (!vd_sandbox_enter(proxy_sandbox_policy(state.child), opts->seccomp)) {
		if (state.child > 0) {
			kill(state.child, SIGTERM);
			waitpid(state.child, NULL, 0);
		}
		goto out;
	}

	while (state.running) {
		if (wl_event_loop_dispatch(state.loop, -1) < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "event loop failed");
			break;
		}
	}
	status = opts->command != NULL ? state.child_status : EXIT_SUCCESS;
	if (state.child > 0) {
		/* the loop ended before the command did */
		kill(state.child, SIGTERM);
		waitpid(state.child, NULL, 0);
		status = EXIT_FAILURE;
	}

out:
	vd_vm_link_destroy(vm_link);
	vd_server_finish(server);
	hostd_link_destroy(hostd_link);
	if (private_dir[0] != '\0') {
		rmdir(private_dir);
	}
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (signals[i] != NULL) {
			wl_event_source_remove(signals[i]);
		}
	}
	wl_event_loop_destroy(state.loop);
	return status;
}

int main(int argc, char *argv[]) {
	struct options opts = {
		.color = "gray",
		.limits = { .max_objects = 50000, .max_queue = 256u << 10, .max_fds = 256 },
		.link_limits = { .max_channels = VD_VM_LINK_MAX_CHANNELS,
			.max_pools = VD_VM_LINK_MAX_POOLS, .pool_mirror = VD_VM_LINK_POOL_MIRROR,
			.vm_mirror = VD_VM_LINK_VM_MIRROR, .timeout_ms = VD_VM_LINK_TIMEOUT_MS },
		.log_level = VD_INFO,
	};
	int status = parse_options(argc, argv, &opts);
	if (status >= 0) {
		return status;
	}
	const char *trace_env = getenv("VMDESK_TRACE");
	if (trace_env != NULL && strcmp(trace_env, "0") != 0 && trace_env[0] != '\0') {
		opts.trace = true;
	}
	vd_log_init("vmdesk-proxy", opts.log_level);
	vd_glib_log_init();

	struct vd_server server = {0};
	int listen_fd;
	status = configure(&opts, &server, &listen_fd);
	if (status < 0) {
		status = serve(&opts, &server, listen_fd);
	}
	vd_policy_destroy(server.policy);
	vd_frame_render_finish();
	return status;
}
