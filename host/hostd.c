#define LOG_TAG "hostd"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "decoration/glib-log.h"
#include "host/channel.h"
#include "host/child.h"
#include "host/clipboard/clipboard.h"
#include "host/control.h"
#include "host/launcher.h"
#include "host/menu-writer.h"
#include "host/menu.h"
#include "host/notify.h"
#include "host/sandbox-hostd.h"
#include "host/spawn-guard.h"
#include "host/tray.h"
#include "host/vms.h"
#include "host/vmstate.h"
#include "protocols/log.h"
#include "protocols/path.h"
#include "protocols/number.h"
#include "protocols/sandbox.h"

/*
 * vmdesk-hostd: one event loop and its modules, each with its own state:
 * the VMs' agent channels (vms.c, channel.c), CLI control (control.c), menu
 * export (menu.c), the global clipboard (clipboard/), the launcher of the
 * VMs it starts itself (launcher.c), and on the session bus the VMs'
 * notifications (notify.c) and tray items (tray.c), which ride on the
 * channels. main() wires them.
 */

struct hostd {
	struct wl_event_loop *loop;
	struct vd_children *children; // its spawner starts every program hostd runs
	bool quit;
	bool leaving; // a first SIGTERM: the launcher powers the VMs off
	struct vd_launcher *launcher; // NULL until set up
	struct vd_menu_writer *menu; // NULL: --no-menu, or no XDG directories
	struct vd_vms *vms;
	struct vd_control *control;
	struct vd_gclip *gclip; // NULL: --no-clipboard, or it could not start
	struct vd_host_notify *notify; // NULL: --no-notifications, or no session bus
	struct vd_host_tray *tray; // NULL: --no-tray, or no session bus
};

static void handle_launcher_done(void *data) {
	struct hostd *hostd = data;
	vd_log(VD_INFO, "every VM is stopped: exiting");
	hostd->quit = true;
}

static int handle_quit(int signo, void *data) {
	struct hostd *hostd = data;
	bool force = hostd->leaving;
	vd_log(VD_INFO, "signal %d: exiting%s", signo, force ? " now (VMs are killed)" : "");
	hostd->leaving = true;
	if (hostd->launcher == NULL ||
			!vd_launcher_shutdown(hostd->launcher, force, handle_launcher_done, hostd)) {
		hostd->quit = true;
	} else if (!force) {
		vd_log(VD_INFO, "powering the VMs off first (a second signal kills them)");
	}
	return 0;
}

static void handle_channel_changed(void *data, struct vd_channel *channel) {
	struct hostd *hostd = data;
	if (hostd->launcher != NULL) {
		vd_launcher_channel_changed(hostd->launcher, channel);
	}
}

static void handle_vms_reloaded(void *data) {
	struct hostd *hostd = data;
	if (hostd->launcher != NULL) {
		vd_launcher_vms_reloaded(hostd->launcher);
	}
}

static void handle_vm_windows(void *data, const char *name, uint32_t count) {
	struct hostd *hostd = data;
	if (hostd->launcher != NULL) {
		vd_launcher_windows(hostd->launcher, name, count);
	}
}

static int handle_reload(int signo, void *data) {
	struct hostd *hostd = data;
	vd_log(VD_INFO, "SIGHUP: reloading the VM definitions");
	vd_vms_reload(hostd->vms);
	return 0;
}

static bool vm_exists(void *data, const char *name) {
	struct hostd *hostd = data;
	return vd_vms_find(hostd->vms, name) != NULL;
}

static void usage(FILE *f) {
	fprintf(f,
		"Usage: vmdesk-hostd [options]\n"
		"The vmdesk host daemon: keeps a channel to each VM's agent, serves the vmdesk\n"
		"command, puts the VMs' applications in the host menu and holds the global\n"
		"clipboard. SIGHUP reloads the VM definitions.\n\n"
		"  --socket PATH            control socket (default $XDG_RUNTIME_DIR/vmdesk/hostd.sock)\n"
		"  --config-dir DIR         VM definitions (default $XDG_CONFIG_HOME/vmdesk/vms)\n"
		"  --system-config-dir DIR  system VM definitions (default /etc/vmdesk/vms; \"\" for none)\n"
		"  --connect-timeout-ms N   connect + handshake time limit (default 5000)\n"
		"  --retry-max-ms N         longest pause between connection attempts (default 30000)\n"
		"  --request-timeout-ms N   time for the agent to start a program (default 30000)\n"
		"  --display NAME           the host compositor for the global clipboard (default\n"
		"                           $WAYLAND_DISPLAY, else the first wayland-N that appears;\n"
		"                           \"none\": the host takes no part)\n"
		"  --images-dir DIR         guest images (default $VMDESK_IMAGES_DIR, else\n"
		"                           $XDG_DATA_HOME/vmdesk/images)\n"
		"  --on-exit stop|keep      when hostd stops, power the VMs it started off (stop,\n"
		"                           the default) or leave them running (keep)\n"
		"  --start-timeout S        how long a start waits for the agent (default 300)\n"
		"  --stop-timeout S         how long a clean power-off may take (default 60)\n"
		"  --proxy PATH|none        the VMs' vmdesk-proxy (default: next to vmdesk-hostd)\n"
		"  --vmm-path NAME=PATH     another binary for qemu, crosvm, cloud-hypervisor,\n"
		"                           ch-remote or virtiofsd (repeatable)\n"
		"  --host-devices LIST      assume /dev/kvm, /dev/vhost-vsock usable: auto (look),\n"
		"                           none, or kvm and/or vhost-vsock, comma-separated\n"
		"  --no-menu                do not write host menu entries\n"
		"  --no-clipboard           do not run the global clipboard (see vmdesk clip)\n"
		"  --no-notifications       do not show the VMs' notifications\n"
		"  --notify-burst N         notifications a VM may send at once (default 10)\n"
		"  --notify-interval-ms N   then one per N ms (default 2000)\n"
		"  --no-tray                do not show the VMs' tray items\n"
		"  --tray-icons MODE        border (default) or tint: how tray icons wear the VM's color\n"
		"  --cli PATH               the vmdesk command written in menu entries\n"
		"  --log-level LEVEL        error, warn, info or debug (default info)\n"
		"  --seccomp MODE           system call filter after startup: enforce (default),\n"
		"                           log (allow and log what it would kill) or off\n"
		"  --help, --version\n");
}

/* vmdesk-proxy next to this binary (installed), or in the build tree's proxy/, or PATH. */
static const char *default_proxy(char *buf, size_t size) {
	char dir[PATH_MAX];
	if (vd_path_self_dir(dir, sizeof(dir))) {
		int len = snprintf(buf, size, "%s/vmdesk-proxy", dir);
		if (len > 0 && (size_t)len < size && access(buf, X_OK) == 0) {
			return buf;
		}
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/../proxy/vmdesk-proxy", dir);
		if (access(path, X_OK) == 0 && size >= PATH_MAX && realpath(path, buf) != NULL) {
			return buf;
		}
	}
	return "vmdesk-proxy";
}

/* Parses --host-devices. */
static bool parse_devices(const char *str, bool *probe, bool *kvm, bool *vhost) {
	*probe = strcmp(str, "auto") == 0;
	*kvm = *vhost = false;
	if (*probe || strcmp(str, "none") == 0) {
		return true;
	}
	char copy[64];
	snprintf(copy, sizeof(copy), "%s", str);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "kvm") == 0) {
			*kvm = true;
		} else if (strcmp(tok, "vhost-vsock") == 0) {
			*vhost = true;
		} else {
			return false;
		}
	}
	return true;
}

/* $XDG_<what>_HOME/vmdesk/SUB, or HOME/fallback/vmdesk/SUB. */
static bool xdg_path(char *buf, size_t size, const char *var, const char *fallback,
		const char *sub) {
	const char *xdg = getenv(var), *home = getenv("HOME");
	int n;
	if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(buf, size, "%s/vmdesk%s", xdg, sub);
	} else if (home != NULL && home[0] == '/') {
		n = snprintf(buf, size, "%s/%s/vmdesk%s", home, fallback, sub);
	} else {
		return false;
	}
	return n > 0 && (size_t)n < size;
}

/* The vmdesk command next to this binary, for menu entries. */
static const char *default_cli(char *buf, size_t size) {
	char dir[PATH_MAX];
	if (!vd_path_self_dir(dir, sizeof(dir))) {
		return NULL;
	}
	int len = snprintf(buf, size, "%s/vmdesk", dir);
	return len > 0 && (size_t)len < size ? buf : NULL;
}

static bool runtime_path(char *buf, size_t size, const char *name) {
	const char *run = getenv("XDG_RUNTIME_DIR");
	if (run == NULL || run[0] != '/') {
		return false;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/vmdesk", run);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		return false;
	}
	int n = snprintf(buf, size, "%s/%s", dir, name);
	return n > 0 && (size_t)n < size;
}

struct options {
	const char *socket_path, *config_dir, *system_dir, *cli, *display;
	long long connect_timeout, retry_max, request_timeout;
	bool menu_enabled, clipboard_enabled, notify_enabled, tray_enabled;
	enum vd_icon_mode tray_mode;
	long long notify_burst, notify_interval;
	const char *images_dir, *proxy;
	long long start_timeout, stop_timeout;
	enum vd_launcher_exit on_exit;
	struct vd_launch_env env;
	bool probe; // look which host devices are usable (--host-devices auto)
	enum vd_seccomp_mode seccomp;
};

static const struct option options[] = {
	{"socket", required_argument, NULL, 's'},
	{"config-dir", required_argument, NULL, 'c'},
	{"system-config-dir", required_argument, NULL, 'C'},
	{"connect-timeout-ms", required_argument, NULL, 't'},
	{"retry-max-ms", required_argument, NULL, 'r'},
	{"request-timeout-ms", required_argument, NULL, 'q'},
	{"display", required_argument, NULL, 'd'},
	{"images-dir", required_argument, NULL, 'I'},
	{"on-exit", required_argument, NULL, 'E'},
	{"start-timeout", required_argument, NULL, 'S'},
	{"stop-timeout", required_argument, NULL, 'T'},
	{"proxy", required_argument, NULL, 'P'},
	{"vmm-path", required_argument, NULL, 'M'},
	{"host-devices", required_argument, NULL, 'D'},
	{"no-menu", no_argument, NULL, 'n'},
	{"no-clipboard", no_argument, NULL, 'N'},
	{"no-notifications", no_argument, NULL, 'O'},
	{"notify-burst", required_argument, NULL, 'B'},
	{"notify-interval-ms", required_argument, NULL, 'i'},
	{"no-tray", no_argument, NULL, 'R'},
	{"tray-icons", required_argument, NULL, 'm'},
	{"cli", required_argument, NULL, 'x'},
	{"log-level", required_argument, NULL, 'L'},
	{"seccomp", required_argument, NULL, 'F'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{0},
};

/* Fills o from the command line; -1 to go on, else the exit status. */
static int parse_options(int argc, char *argv[], struct options *o) {
	*o = (struct options){
		.system_dir = SYSCONFDIR_VMS,
		.connect_timeout = 5000,
		.retry_max = 30000,
		.request_timeout = 30000,
		.menu_enabled = true,
		.clipboard_enabled = true,
		.notify_enabled = true,
		.tray_enabled = true,
		.tray_mode = VD_ICON_BORDER,
		.notify_burst = VD_HOST_NOTIFY_BURST,
		.notify_interval = VD_HOST_NOTIFY_INTERVAL_MS,
		.start_timeout = 300,
		.stop_timeout = 60,
		.on_exit = VD_LAUNCHER_EXIT_STOP,
		.probe = true,
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'c':
			o->config_dir = optarg;
			break;
		case 'C':
			o->system_dir = optarg;
			break;
		case 't':
		case 'r':
		case 'q': {
			long long *target = opt == 't' ? &o->connect_timeout :
				opt == 'r' ? &o->retry_max : &o->request_timeout;
			if (!vd_parse_number(optarg, 1, 3600000, target)) {
				fprintf(stderr, "vmdesk-hostd: bad time %s (milliseconds, 1..3600000)\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'd':
			o->display = optarg;
			break;
		case 'I':
			o->images_dir = optarg;
			break;
		case 'E':
			if (strcmp(optarg, "stop") != 0 && strcmp(optarg, "keep") != 0) {
				fprintf(stderr, "vmdesk-hostd: --on-exit is stop or keep, not %s\n", optarg);
				return 2;
			}
			o->on_exit = optarg[0] == 'k' ? VD_LAUNCHER_EXIT_KEEP : VD_LAUNCHER_EXIT_STOP;
			break;
		case 'S':
		case 'T':
			if (!vd_parse_number(optarg, 1, 86400, opt == 'S' ? &o->start_timeout :
					&o->stop_timeout)) {
				fprintf(stderr, "vmdesk-hostd: bad time %s (seconds, 1..86400)\n", optarg);
				return 2;
			}
			break;
		case 'P':
			o->proxy = optarg;
			break;
		case 'M': {
			char *eq = strchr(optarg, '=');
			enum vd_launch_binary which;
			if (eq == NULL || eq[1] == '\0') {
				fprintf(stderr, "vmdesk-hostd: --vmm-path wants NAME=PATH\n");
				return 2;
			}
			*eq = '\0';
			if (!vd_launch_binary_parse(optarg, &which)) {
				fprintf(stderr, "vmdesk-hostd: --vmm-path: %s is not qemu, crosvm, "
					"cloud-hypervisor, ch-remote or virtiofsd\n", optarg);
				return 2;
			}
			o->env.binaries[which] = eq + 1;
			break;
		}
		case 'D':
			if (!parse_devices(optarg, &o->probe, &o->env.kvm, &o->env.vhost_vsock)) {
				fprintf(stderr, "vmdesk-hostd: --host-devices is auto, none, or kvm and/or "
					"vhost-vsock, not %s\n", optarg);
				return 2;
			}
			break;
		case 'n':
			o->menu_enabled = false;
			break;
		case 'N':
			o->clipboard_enabled = false;
			break;
		case 'O':
			o->notify_enabled = false;
			break;
		case 'R':
			o->tray_enabled = false;
			break;
		case 'm':
			if (strcmp(optarg, "border") == 0) {
				o->tray_mode = VD_ICON_BORDER;
			} else if (strcmp(optarg, "tint") == 0) {
				o->tray_mode = VD_ICON_TINT;
			} else {
				fprintf(stderr, "vmdesk-hostd: --tray-icons is border or tint\n");
				return 2;
			}
			break;
		case 'B':
			if (!vd_parse_number(optarg, 1, 1000, &o->notify_burst)) {
				fprintf(stderr, "vmdesk-hostd: bad --notify-burst %s (1..1000)\n", optarg);
				return 2;
			}
			break;
		case 'i':
			if (!vd_parse_number(optarg, 1, 3600000, &o->notify_interval)) {
				fprintf(stderr, "vmdesk-hostd: bad --notify-interval-ms %s (1..3600000)\n",
					optarg);
				return 2;
			}
			break;
		case 'x':
			o->cli = optarg;
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
		case 'F':
			if (!vd_seccomp_parse_mode(optarg, &o->seccomp)) {
				fprintf(stderr, "vmdesk-hostd: --seccomp wants enforce, log or off, not "
					"'%s'\n", optarg);
				return 2;
			}
			break;
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
	return -1;
}

/* Where hostd keeps things: the defaults of what the options left open. */
struct places {
	char socket[PATH_MAX];
	char user_dir[PATH_MAX]; // the user's VM definitions
	char cli[PATH_MAX];
	char images[PATH_MAX], state[PATH_MAX], run[PATH_MAX], proxy[PATH_MAX];
	bool have_state;
};

/* Settles o's paths (into p where they are made); false (said why) if one cannot be. */
static bool resolve_places(struct options *o, struct places *p) {
	if (o->socket_path == NULL) {
		if (!runtime_path(p->socket, sizeof(p->socket), "hostd.sock")) {
			fprintf(stderr, "vmdesk-hostd: XDG_RUNTIME_DIR is not set (or vmdesk/ cannot be "
				"made there); use --socket\n");
			return false;
		}
		o->socket_path = p->socket;
	}
	if (o->config_dir != NULL) {
		snprintf(p->user_dir, sizeof(p->user_dir), "%s", o->config_dir);
	} else if (!xdg_path(p->user_dir, sizeof(p->user_dir), "XDG_CONFIG_HOME", ".config",
			"/vms")) {
		fprintf(stderr, "vmdesk-hostd: neither XDG_CONFIG_HOME nor HOME is set\n");
		return false;
	}
	if (o->cli == NULL) {
		o->cli = default_cli(p->cli, sizeof(p->cli));
	}
	/* the launcher's places: images, logs, the VMs' run directories */
	if (o->images_dir == NULL) {
		const char *env_images = getenv("VMDESK_IMAGES_DIR");
		if (env_images != NULL && env_images[0] == '/') {
			o->images_dir = env_images;
		} else if (xdg_path(p->images, sizeof(p->images), "XDG_DATA_HOME", ".local/share",
				"/images")) {
			o->images_dir = p->images;
		}
	}
	o->env.images_dir = o->images_dir;
	o->env.run_dir = runtime_path(p->run, sizeof(p->run), "vms") ? p->run : NULL;
	p->have_state = xdg_path(p->state, sizeof(p->state), "XDG_STATE_HOME", ".local/state", "");
	if (o->proxy == NULL) {
		o->proxy = default_proxy(p->proxy, sizeof(p->proxy));
	}
	o->env.proxy = strcmp(o->proxy, "none") == 0 ? NULL : o->proxy;
	if (o->probe) {
		vd_vmm_probe_host(&o->env.kvm, &o->env.vhost_vsock);
	}
	return true;
}

/* The VM definitions' directories (2 at most), the system's first: the user's override. */
static size_t definition_dirs(const struct options *o, const struct places *p,
		const char **dirs) {
	size_t n = 0;
	if (o->system_dir != NULL && o->system_dir[0] != '\0') {
		dirs[n++] = o->system_dir;
	}
	dirs[n++] = p->user_dir;
	return n;
}

/* The bus modules that ride on the channels: notifications and tray items. */
static void start_bus_modules(struct hostd *hostd, const struct options *o,
		struct vd_channel_config *channel_config) {
	if (o->notify_enabled) {
		struct vd_host_notify_config notify_config = {
			.loop = hostd->loop,
			.burst = (uint32_t)o->notify_burst,
			.interval_ms = (uint32_t)o->notify_interval,
		};
		hostd->notify = vd_host_notify_create(&notify_config);
		if (hostd->notify != NULL) {
			channel_config->modules[channel_config->nmodules++] =
				vd_host_notify_module(hostd->notify);
		}
	}
	if (o->tray_enabled) {
		struct vd_host_tray_config tray_config = {.loop = hostd->loop, .mode = o->tray_mode};
		hostd->tray = vd_host_tray_create(&tray_config);
		if (hostd->tray != NULL) {
			channel_config->modules[channel_config->nmodules++] =
				vd_host_tray_module(hostd->tray);
		}
	}
}

static void start_clipboard(struct hostd *hostd, const struct options *o) {
	/* proxies and `vmdesk clip` reach it on $XDG_RUNTIME_DIR/vmdesk/clipboard.sock */
	struct vd_gclip_config config;
	gclip_config_defaults(&config);
	config.loop = hostd->loop;
	config.runtime_dir = getenv("XDG_RUNTIME_DIR");
	config.host_display = o->display != NULL && strcmp(o->display, "none") == 0 ? "" :
		o->display;
	config.vm_exists = vm_exists;
	config.vm_exists_data = hostd;
	config.vm_windows = handle_vm_windows;
	config.vm_windows_data = hostd;
	hostd->gclip = gclip_create(&config);
	if (hostd->gclip == NULL) {
		vd_log(VD_WARN, "the global clipboard is not available");
	}
}

/* Every module, the control socket first; false (logged) if hostd cannot serve. */
static bool hostd_start(struct hostd *hostd, const struct options *o, const struct places *p) {
	/* The socket first: a second hostd stops here, having touched nothing. */
	char err[512];
	hostd->control = vd_control_create(hostd->loop, o->socket_path, NULL, err, sizeof(err));
	if (hostd->control == NULL) {
		vd_log(VD_ERROR, "%s", err);
		return false;
	}
	if (o->menu_enabled) {
		/* the one process that writes the menu's files (host/menu-writer.h) */
		const char *dirs[2];
		struct vd_menu_writer_config menu_config = {
			.cli_path = o->cli,
			.config_dirs = dirs,
			.nconfig_dirs = definition_dirs(o, p, dirs),
			.seccomp = o->seccomp,
		};
		hostd->menu = vd_menu_writer_create(hostd->loop, hostd->children, &menu_config);
	}
	struct vd_channel_config channel_config = {
		.loop = hostd->loop,
		.menu = hostd->menu,
		.connect_timeout_ms = (int)o->connect_timeout,
		.retry_max_ms = (uint32_t)o->retry_max,
		.request_timeout_ms = (int)o->request_timeout,
		.changed = handle_channel_changed,
		.changed_data = hostd,
	};
	start_bus_modules(hostd, o, &channel_config);
	const char *dirs[2];
	size_t ndirs = definition_dirs(o, p, dirs);
	hostd->vms = vd_vms_create(&channel_config, dirs, ndirs);
	if (hostd->vms == NULL) {
		vd_log(VD_ERROR, "out of memory");
		return false;
	}
	vd_control_set_vms(hostd->control, hostd->vms);
	vd_vms_set_listener(hostd->vms, handle_vms_reloaded, hostd);
	if (o->env.run_dir != NULL && p->have_state) {
		struct vd_launcher_config launcher_config = {
			.loop = hostd->loop,
			.children = hostd->children,
			.vms = hostd->vms,
			.env = o->env,
			.state_dir = p->state,
			.on_exit = o->on_exit,
			.start_timeout_s = (int)o->start_timeout,
			.stop_timeout_s = (int)o->stop_timeout,
		};
		hostd->launcher = vd_launcher_create(&launcher_config);
		if (hostd->launcher == NULL) {
			vd_log(VD_ERROR, "out of memory");
			return false;
		}
		vd_control_set_launcher(hostd->control, hostd->launcher);
	} else {
		vd_log(VD_WARN, "no XDG_RUNTIME_DIR or state directory: vmdesk starts no VMs");
	}
	vd_log(VD_INFO, "listening on %s, %zu VMs", o->socket_path, vd_vms_count(hostd->vms));
	if (o->clipboard_enabled) {
		start_clipboard(hostd, o);
	}
	return true;
}

/*
 * Landlock (host/sandbox-hostd.c): hostd changes files only where it keeps
 * things (its sockets and the VMs' run directories, its state and logs, the
 * menu's directories) and reads only those and what it needs (the VM
 * definitions, images and clipboard policy, /proc, fonts). Makes the
 * directories it writes in first.
 */
static void confine_files(struct hostd *hostd, const struct options *o, const struct places *p) {
	struct hostd_sandbox_files files = {
		.socket_path = o->socket_path,
		.images_dir = o->images_dir,
		.fonts = hostd->notify != NULL || hostd->tray != NULL,
	};
	char runtime[PATH_MAX], err[512];
	const char *xdg_runtime = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	if (xdg_runtime != NULL && xdg_runtime[0] == '/' &&
			snprintf(runtime, sizeof(runtime), "%s/vmdesk", xdg_runtime) <
			(int)sizeof(runtime) && stat(runtime, &st) == 0 && S_ISDIR(st.st_mode)) {
		files.run_dir = runtime; // hostd.sock, clipboard.sock, vms/NAME/
	}
	if (p->have_state) {
		if (vd_vmstate_make_dir(p->state, err, sizeof(err))) {
			files.state_dir = p->state; // the VMs' logs
		} else {
			vd_log(VD_WARN, "state directory: %s", err);
		}
	}
	files.nconfig_dirs = definition_dirs(o, p, files.config_dirs);
	if (hostd->gclip != NULL) {
		files.policy_path = gclip_policy_path(hostd->gclip);
		files.xdg_runtime_dir = xdg_runtime != NULL && xdg_runtime[0] == '/' ? xdg_runtime : NULL;
	}
	hostd_sandbox_confine_files(&files);
}

/* Every module, in the reverse order (what was never made is NULL). */
static void hostd_finish(struct hostd *hostd) {
	gclip_destroy(hostd->gclip);
	vd_control_destroy(hostd->control); // before the channels: it detaches its runs
	/* the VMs' processes run on (--on-exit keep, or a second signal's kills under way) */
	struct vd_launcher *launcher = hostd->launcher;
	hostd->launcher = NULL;
	vd_launcher_destroy(launcher);
	vd_vms_destroy(hostd->vms); // the channels tell the modules below that they go
	vd_host_notify_destroy(hostd->notify);
	vd_host_tray_destroy(hostd->tray);
	vd_menu_writer_destroy(hostd->menu);
}

int main(int argc, char *argv[]) {
	vd_log_init("vmdesk-hostd", VD_INFO);
	vd_glib_log_init();
	struct options opts;
	int code = parse_options(argc, argv, &opts);
	if (code >= 0) {
		return code;
	}
	struct places places = {0};
	if (!resolve_places(&opts, &places)) {
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	struct hostd hostd = {0};
	hostd.loop = wl_event_loop_create();
	if (hostd.loop == NULL) {
		vd_log(VD_ERROR, "cannot create the event loop");
		return 1;
	}
	int status = 1;
	/*
	 * First, before connections and signal masks: what runs programs for
	 * hostd, and starts only those it works out itself (host/spawn-guard.h).
	 */
	static struct vd_spawn_guard guard;
	const char *dirs[2];
	size_t ndirs = definition_dirs(&opts, &places, dirs);
	char apps_dir[PATH_MAX];
	bool menu = opts.menu_enabled && vd_menu_apps_dir(apps_dir, sizeof(apps_dir));
	if (!vd_spawn_guard_init(&guard, &opts.env, dirs, ndirs, menu ? apps_dir : NULL)) {
		vd_log(VD_ERROR, "a VM definition directory's path is too long");
		wl_event_loop_destroy(hostd.loop);
		return 1;
	}
	hostd.children = vd_children_create(hostd.loop, &guard.hook);
	if (hostd.children == NULL) {
		vd_spawn_guard_finish(&guard);
		wl_event_loop_destroy(hostd.loop);
		return 1;
	}
	struct wl_event_source *signals[3] = {
		wl_event_loop_add_signal(hostd.loop, SIGTERM, handle_quit, &hostd),
		wl_event_loop_add_signal(hostd.loop, SIGINT, handle_quit, &hostd),
		wl_event_loop_add_signal(hostd.loop, SIGHUP, handle_reload, &hostd),
	};
	if (!hostd_start(&hostd, &opts, &places)) {
		goto out;
	}
	/* startup is done: from here on only what sandbox-hostd.c allows */
	if (opts.seccomp == VD_SECCOMP_ENFORCE) {
		confine_files(&hostd, &opts, &places);
	}
	pid_t menu_writer = hostd.menu != NULL ? vd_menu_writer_pid(hostd.menu) : 0;
	if (!vd_sandbox_enter(hostd_sandbox_policy(vd_children_spawner_pid(hostd.children),
			menu_writer), opts.seccomp)) {
		goto out;
	}
	while (!hostd.quit) {
		if (wl_event_loop_dispatch(hostd.loop, -1) < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "event loop");
			goto out;
		}
	}
	status = 0;
out:
	hostd_finish(&hostd);
	for (size_t i = 0; i < 3; i++) {
		if (signals[i] != NULL) {
			wl_event_source_remove(signals[i]);
		}
	}
	vd_children_destroy(hostd.children);
	vd_spawn_guard_finish(&guard);
	wl_event_loop_destroy(hostd.loop);
	return status;
}
