#define LOG_TAG "hostd"


#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/menu.h"
#include "host/vmconf.h"
#include "protocols/agent-conn.h"
#include "protocols/agent-wire.h"
#include "protocols/log.h"
#include "protocols/transport.h"
#include "host/hostd.h"

struct hostd h = {.listen_fd = -1, .signal_fd = -1};

/* ---- main loop ---- */

enum slot_kind { SLOT_LISTEN, SLOT_SIGNAL, SLOT_VM, SLOT_CLIENT };

struct slot {
	enum slot_kind kind;
	void *ptr;
};

static bool client_alive(struct client *client) {
	for (int i = 0; i < h.nclients; i++) {
		if (h.clients[i] == client) {
			return true;
		}
	}
	return false;
}

static void timers(void) {
	uint64_t now = vd_now_ms();
	for (size_t i = 0; i < h.nvms; i++) {
		struct vm *vm = &h.vms[i];
		if (vm->state == VM_WAITING && now >= vm->retry_at) {
			vm_dial(vm);
		} else if (vm->state == VM_DIALING && now >= vm->dial.deadline_ms) {
			vm_dial_step(vm);
		} else if (vm->state == VM_HELLO && now >= vm->hello_deadline) {
			vm_protocol_error(vm, "no HELLO from the guest in time");
		}
	}
	for (struct request *req = h.requests, *next; req; req = next) {
		next = req->next;
		if (!req->started && now >= req->deadline) {
			if (req->client != NULL) {
				client_error(req->client, VD_AGENT_E_TIMEOUT,
					"VM %s: no answer from the agent", req->vm->conf.name);
			}
			request_destroy(req);
		}
	}
}

static int loop_timeout(void) {
	uint64_t now = vd_now_ms(), next = UINT64_MAX;
	for (size_t i = 0; i < h.nvms; i++) {
		struct vm *vm = &h.vms[i];
		uint64_t at = UINT64_MAX;
		if (vm->state == VM_WAITING) {
			at = vm->retry_at;
		} else if (vm->state == VM_DIALING) {
			at = vm->dial.deadline_ms;
		} else if (vm->state == VM_HELLO) {
			at = vm->hello_deadline;
		}
		next = at < next ? at : next;
	}
	for (struct request *req = h.requests; req; req = req->next) {
		if (!req->started && req->deadline < next) {
			next = req->deadline;
		}
	}
	if (next == UINT64_MAX) {
		return -1;
	}
	return next <= now ? 0 : (int)(next - now > INT_MAX ? INT_MAX : next - now);
}

static void run_loop(void) {
	size_t max = 2 + h.nvms + MAX_CLIENTS + VD_GCLIP_MAX_FDS;
	struct pollfd *pfds = calloc(max, sizeof(*pfds));
	struct slot *slots = calloc(max, sizeof(*slots));
	if (pfds == NULL || slots == NULL) {
		abort();
	}
	while (!h.quit) {
		timers();
		size_t n = 0;
		pfds[n] = (struct pollfd){.fd = h.listen_fd, .events = POLLIN};
		slots[n++] = (struct slot){SLOT_LISTEN, NULL};
		pfds[n] = (struct pollfd){.fd = h.signal_fd, .events = POLLIN};
		slots[n++] = (struct slot){SLOT_SIGNAL, NULL};
		for (size_t i = 0; i < h.nvms; i++) {
			struct vm *vm = &h.vms[i];
			if (vm->state == VM_DIALING) {
				pfds[n] = (struct pollfd){.fd = vd_dial_fd(&vm->dial),
					.events = vd_dial_events(&vm->dial)};
			} else if (vm->state == VM_HELLO || vm->state == VM_READY) {
				short events = POLLIN;
				if (vd_agent_conn_queued(&vm->conn) > 0) {
					events |= POLLOUT;
				}
				pfds[n] = (struct pollfd){.fd = vm->conn.fd, .events = events};
			} else {
				continue;
			}
			slots[n++] = (struct slot){SLOT_VM, vm};
		}
		for (int i = 0; i < h.nclients; i++) {
			struct client *client = h.clients[i];
			short events = POLLIN;
			if (vd_agent_conn_queued(&client->conn) > 0) {
				events |= POLLOUT;
			}
			pfds[n] = (struct pollfd){.fd = client->conn.fd, .events = events};
			slots[n++] = (struct slot){SLOT_CLIENT, client};
		}
		/* the global clipboard's fds go last; it finds them by number */
		int clip_n = h.gclip != NULL ? gclip_pollfds(h.gclip, pfds + n, VD_GCLIP_MAX_FDS) : 0;
		int timeout = loop_timeout();
		int clip_timeout = h.gclip != NULL ? gclip_timeout_ms(h.gclip) : -1;
		if (clip_timeout >= 0 && (timeout < 0 || clip_timeout < timeout)) {
			timeout = clip_timeout;
		}
		int ready = poll(pfds, n + (size_t)clip_n, timeout);
		if (ready < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "poll");
			break;
		}
		if (h.gclip != NULL) {
			/* also after a timeout: its timers run here */
			gclip_dispatch(h.gclip, pfds + n, clip_n);
		}
		for (size_t i = 0; i < n && ready > 0; i++) {
			if (pfds[i].revents == 0) {
				continue;
			}
			switch (slots[i].kind) {
			case SLOT_LISTEN:
				accept_client();
				break;
			case SLOT_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(h.signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					vd_log(VD_INFO, "signal %u: exiting", si.ssi_signo);
					h.quit = true;
				}
				break;
			}
			case SLOT_VM: {
				struct vm *vm = slots[i].ptr;
				if (vm->state == VM_DIALING && pfds[i].fd == vd_dial_fd(&vm->dial)) {
					vm_dial_step(vm);
				} else if ((vm->state == VM_HELLO || vm->state == VM_READY) &&
						pfds[i].fd == vm->conn.fd) {
					if ((pfds[i].revents & POLLOUT) && !vd_agent_conn_flush(&vm->conn)) {
						vm_disconnect(vm, "write error");
						break;
					}
					if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
						vm_readable(vm);
					}
				}
				break;
			}
			case SLOT_CLIENT: {
				struct client *client = slots[i].ptr;
				if (!client_alive(client)) {
					break;
				}
				if ((pfds[i].revents & POLLOUT) && !vd_agent_conn_flush(&client->conn)) {
					client_destroy(client);
					break;
				}
				if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
					client_readable(client);
				}
				break;
			}
			}
		}
		/* Flow control of program output: acknowledge what the reader has taken. */
		for (struct request *req = h.requests; req; req = req->next) {
			if (req->pending_ack == 0 || req->vm->state != VM_READY || (req->client != NULL &&
					vd_agent_conn_queued(&req->client->conn) > CLIENT_ACK_QUEUE)) {
				continue;
			}
			while (req->pending_ack > 0) {
				uint32_t n = req->pending_ack > VD_AGENT_RUN_WINDOW ?
					VD_AGENT_RUN_WINDOW : (uint32_t)req->pending_ack;
				struct vd_agent_msg ack = {.type = VD_AGENT_RUN_ACK, .id = req->id, .acked = n};
				if (!vd_agent_conn_send(&req->vm->conn, &ack)) {
					break; // retried next round; a guest not reading is dropped below
				}
				req->pending_ack -= n;
			}
		}
		/* Flush what handling queued; drop peers that do not read. */
		for (size_t i = 0; i < h.nvms; i++) {
			struct vm *vm = &h.vms[i];
			if (vm->state == VM_HELLO || vm->state == VM_READY) {
				if (!vd_agent_conn_flush(&vm->conn)) {
					vm_disconnect(vm, "write error");
				}
			}
		}
		for (int i = 0; i < h.nclients; i++) {
			struct client *client = h.clients[i];
			if (!vd_agent_conn_flush(&client->conn) ||
					vd_agent_conn_queued(&client->conn) > CLIENT_MAX_QUEUE) {
				client_destroy(client);
				i--;
			}
		}
	}
	free(pfds);
	free(slots);
}

static void load_vms(const char *user_dir, const char *system_dir) {
	const char *dirs[2];
	size_t ndirs = 0;
	if (system_dir != NULL && system_dir[0] != '\0') {
		dirs[ndirs++] = system_dir;
	}
	dirs[ndirs++] = user_dir;
	struct vd_vmconf *confs;
	size_t count = vd_vmconf_load_dirs(dirs, ndirs, &confs);
	h.vms = calloc(count ? count : 1, sizeof(*h.vms));
	if (h.vms == NULL) {
		abort();
	}
	h.nvms = count;
	for (size_t i = 0; i < count; i++) {
		struct vm *vm = &h.vms[i];
		vm->conf = confs[i];
		vm->conn.fd = -1;
		vd_backoff_init(&vm->backoff, RETRY_MIN_MS, h.retry_max_ms);
		vm->snap_tokens = SNAPSHOT_BURST;
		vm->snap_tokens_at = vd_now_ms();
		if (vm->conf.error[0] != '\0') {
			vm->state = VM_CONFIG_ERROR;
		} else if (!vm->conf.has_agent) {
			vm->state = VM_NO_AGENT;
		} else {
			vm->state = VM_WAITING;
			vm->retry_at = 0; // now
		}
		vd_log(VD_INFO, "vm=%s agent %s (%s)", vm->conf.name,
			vm->conf.has_agent ? vm->conf.agent_str : "none", vm->conf.path);
	}
	free(confs);
}

static void usage(FILE *f) {
	fprintf(f,
		"Usage: vmdesk-hostd [options]\n"
		"The vmdesk host daemon: keeps a channel to each VM's agent, serves the vmdesk\n"
		"command and puts the VMs' applications in the host menu.\n\n"
		"  --socket PATH            control socket (default $XDG_RUNTIME_DIR/vmdesk/hostd.sock)\n"
		"  --config-dir DIR         VM definitions (default $XDG_CONFIG_HOME/vmdesk/vms)\n"
		"  --system-config-dir DIR  system VM definitions (default /etc/vmdesk/vms; \"\" for none)\n"
		"  --connect-timeout-ms N   connect + handshake time limit (default 5000)\n"
		"  --retry-max-ms N         longest pause between connection attempts (default 30000)\n"
		"  --request-timeout-ms N   time for the agent to start a program (default 30000)\n"
		"  --no-menu                do not write host menu entries\n"
		"  --no-clipboard           do not run the global clipboard (see vmdesk clip)\n"
		"  --cli PATH               the vmdesk command written in menu entries\n"
		"  --log-level LEVEL        error, warn, info or debug (default info)\n"
		"  --help, --version\n");
}

static bool parse_ms(const char *s, int *out) {
	char *end;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || end == s || v < 1 || v > 3600000) {
		return false;
	}
	*out = (int)v;
	return true;
}

int main(int argc, char *argv[]) {
	vd_log_init("vmdesk-hostd", VD_INFO);
	static const struct option options[] = {
		{"socket", required_argument, NULL, 's'},
		{"config-dir", required_argument, NULL, 'c'},
		{"system-config-dir", required_argument, NULL, 'C'},
		{"connect-timeout-ms", required_argument, NULL, 't'},
		{"retry-max-ms", required_argument, NULL, 'r'},
		{"request-timeout-ms", required_argument, NULL, 'q'},
		{"no-menu", no_argument, NULL, 'n'},
		{"no-clipboard", no_argument, NULL, 'N'},
		{"cli", required_argument, NULL, 'x'},
		{"log-level", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *socket_path = NULL, *config_dir = NULL, *cli = NULL;
	const char *system_dir = SYSCONFDIR_VMS;
	h.connect_timeout_ms = 5000;
	h.request_timeout_ms = 30000;
	int retry_max = 30000;
	h.menu_enabled = true;
	h.clipboard_enabled = true;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'c':
			config_dir = optarg;
			break;
		case 'C':
			system_dir = optarg;
			break;
		case 't':
		case 'r':
		case 'q': {
			int *target = opt == 't' ? &h.connect_timeout_ms :
				opt == 'r' ? &retry_max : &h.request_timeout_ms;
			if (!parse_ms(optarg, target)) {
				fprintf(stderr, "vmdesk-hostd: bad time %s (milliseconds)\n", optarg);
				return 2;
			}
			break;
		}
		case 'n':
			h.menu_enabled = false;
			break;
		case 'N':
			h.clipboard_enabled = false;
			break;
		case 'x':
			cli = optarg;
			break;
		case 'L': {
			enum vd_log_level level;
			if (!vd_log_parse_level(optarg, &level)) {
				fprintf(stderr, "vmdesk-hostd: bad --log-level %s\n", optarg);
				return 2;
			}
			vd_log_set_level(level);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vmdesk-hostd %s\n", VD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	h.retry_max_ms = (uint32_t)retry_max;

	char buf[PATH_MAX];
	if (socket_path == NULL) {
		const char *run = getenv("XDG_RUNTIME_DIR");
		if (run == NULL || run[0] != '/') {
			fprintf(stderr, "vmdesk-hostd: XDG_RUNTIME_DIR is not set; use --socket\n");
			return 2;
		}
		snprintf(buf, sizeof(buf), "%s/vmdesk", run);
		if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "vmdesk-hostd: mkdir %s: %s\n", buf, strerror(errno));
			return 1;
		}
		snprintf(h.socket_path, sizeof(h.socket_path), "%s/vmdesk/hostd.sock", run);
	} else {
		snprintf(h.socket_path, sizeof(h.socket_path), "%s", socket_path);
	}
	char user_dir[PATH_MAX];
	if (config_dir != NULL) {
		snprintf(user_dir, sizeof(user_dir), "%s", config_dir);
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		if (xdg != NULL && xdg[0] == '/') {
			snprintf(user_dir, sizeof(user_dir), "%s/vmdesk/vms", xdg);
		} else if (home != NULL) {
			snprintf(user_dir, sizeof(user_dir), "%s/.config/vmdesk/vms", home);
		} else {
			fprintf(stderr, "vmdesk-hostd: neither XDG_CONFIG_HOME nor HOME is set\n");
			return 2;
		}
	}
	char self[PATH_MAX], cli_buf[PATH_MAX];
	if (cli == NULL) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = '\0';
			char *slash = strrchr(self, '/');
			*slash = '\0';
			if (strlen(self) + 8 > sizeof(cli_buf)) {
				self[0] = '\0';
			}
			memcpy(cli_buf, self, strlen(self));
			memcpy(cli_buf + strlen(self), "/vmdesk", 8);
			cli = cli_buf;
		}
	}
	if (h.menu_enabled && !vd_menu_init(&h.menu, cli)) {
		vd_log(VD_WARN, "no XDG_DATA_HOME/HOME: menu integration disabled");
		h.menu_enabled = false;
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	h.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (h.signal_fd < 0) {
		vd_log_errno(VD_ERROR, "signalfd");
		return 1;
	}

	load_vms(user_dir, system_dir);
	if (h.menu_enabled) {
		char **names = calloc(h.nvms + 1, sizeof(char *));
		if (names == NULL) {
			abort();
		}
		for (size_t i = 0; i < h.nvms; i++) {
			names[i] = h.vms[i].conf.name;
		}
		vd_menu_prune(&h.menu, names, h.nvms);
		free(names);
	}

	struct vd_addr addr = {.kind = VD_ADDR_UNIX};
	snprintf(addr.path, sizeof(addr.path), "%s", h.socket_path);
	char err[256];
	umask(077);
	h.listen_fd = vd_transport_listen(&addr, err, sizeof(err));
	umask(022);
	if (h.listen_fd < 0) {
		vd_log(VD_ERROR, "%s", err);
		return 1;
	}
	vd_log(VD_INFO, "listening on %s, %zu VMs", h.socket_path, h.nvms);
	/* the global clipboard: proxies and `vmdesk clip` reach it on
	 * $XDG_RUNTIME_DIR/vmdesk/clipboard.sock */
	if (h.clipboard_enabled) {
		h.gclip = gclip_create(getenv("XDG_RUNTIME_DIR"));
		if (h.gclip == NULL) {
			vd_log(VD_WARN, "the global clipboard is not available");
		}
	}
	run_loop();
	gclip_destroy(h.gclip);
	h.gclip = NULL;

	while (h.nclients > 0) {
		client_destroy(h.clients[0]);
	}
	while (h.requests != NULL) {
		request_destroy(h.requests);
	}
	for (size_t i = 0; i < h.nvms; i++) {
		struct vm *vm = &h.vms[i];
		if (vm->state == VM_DIALING) {
			vd_dial_finish(&vm->dial);
		} else if (vm->state == VM_HELLO || vm->state == VM_READY) {
			vd_agent_conn_finish(&vm->conn);
		}
		vm_snapshot_clear(vm);
		strv_free(vm->app_ids, vm->napps);
		strv_free(vm->app_names, vm->napps);
	}
	free(h.vms);
	close(h.listen_fd);
	unlink(h.socket_path);
	close(h.signal_fd);
	return 0;
}
