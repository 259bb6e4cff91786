#define LOG_TAG "guestd"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "decoration/glib-log.h"
#include "guest/apps.h"
#include "guest/notify.h"
#include "guest/runs.h"
#include "guest/sandbox-guestd.h"
#include "guest/scanner.h"
#include "guest/tray.h"
#include "protocols/link-conn.h"
#include "protocols/clock.h"
#include "protocols/dbus.h"
#include "protocols/log.h"
#include "protocols/number.h"
#include "protocols/sandbox.h"
#include "protocols/transport.h"

/*
 * vmdesk-guestd: the agent inside a VM. One event loop; the modules are the
 * host links (here), the programs it runs (runs.c), the application list
 * (scanner.c in a thread, apps.c, icons.c) and, on the session bus, the
 * notification server (notify.c) and the tray's watcher (tray.c).
 */

#define MAX_MODULES 2

#define MAX_HOSTS 8
/* Notification images are scaled in the guest to fit this. */
#define NOTIFY_IMAGE_SIZE 128
/* A virtio-serial port that could not be kept open is opened again this much later. */
#define PORT_RETRY_MS 1000
#define HOST_MAX_QUEUE (16u * 1024u * 1024u)
/* Feed app entries while the link's queue is below this. */
#define APPS_SEND_QUEUE (1024u * 1024u)

struct guestd;

struct host {
	struct guestd *g;
	struct wl_list link; // guestd.hosts
	struct vd_link_conn *conn;
	char label[32];
	/* the app snapshot being sent */
	struct vd_guest_apps *sending;
	size_t send_pos;
	bool resend; // a newer snapshot is waiting
	/* the modules whose host_up ran for this link: host_down runs for these, whatever
	 * state the link is in by then */
	bool modules_up;
	uint32_t module_caps;
	bool port; // on the serial port (guestd.port_host)
};

struct guestd {
	struct wl_event_loop *loop;
	bool quit;
	bool failed; // the spawner is gone
	struct vd_addr addr; // --listen
	struct vd_listener listener;
	struct wl_event_source *listen_source;
	/* serial:DEVICE: one host, on the port, kept open; reopened after a failure */
	struct wl_event_source *port_retry;
	struct wl_list hosts; // host.link
	size_t nhosts;
	uint32_t next_host;
	struct vd_guest_runs *runs;
	struct vd_scanner *scanner; // NULL: --no-apps
	struct vd_guest_apps *apps;
	uint32_t generation;
	/* idleness */
	uint32_t idle_seconds;
	uint64_t idle_since;
	bool idle;
	struct wl_event_source *idle_timer;
	/* modules on the host links (guest/module.h) */
	struct vd_guest_module modules[MAX_MODULES];
	size_t nmodules;
	struct vd_guest_notify *notify;
	struct vd_guest_tray *tray;
};

/* ---- idleness ---- */

static void send_idle(struct host *host) {
	if (!(vd_link_conn_caps(host->conn) & VD_LINK_CAP_IDLE)) {
		return;
	}
	struct guestd *g = host->g;
	struct vd_link_msg msg = {.type = VD_LINK_IDLE};
	msg.body.idle.idle = g->idle;
	msg.body.idle.seconds = g->idle ? (uint32_t)((vd_now_ms() - g->idle_since) / 1000) : 0;
	vd_link_conn_send(host->conn, &msg);
}

static void broadcast_idle(struct guestd *g) {
	struct host *host;
	wl_list_for_each(host, &g->hosts, link) {
		if (vd_link_conn_ready(host->conn)) {
			send_idle(host);
		}
	}
}

static int handle_idle_timer(void *data) {
	struct guestd *g = data;
	if (vd_guest_runs_count(g->runs) == 0 && !g->idle) {
		g->idle = true;
		vd_log(VD_INFO, "idle: no program running for %u s", g->idle_seconds);
		broadcast_idle(g);
	}
	return 0;
}

static void handle_runs_changed(void *data, size_t running) {
	struct guestd *g = data;
	if (running > 0) {
		wl_event_source_timer_update(g->idle_timer, 0);
		if (g->idle) {
			g->idle = false;
			broadcast_idle(g);
		}
	} else {
		g->idle_since = vd_now_ms();
		wl_event_source_timer_update(g->idle_timer,
			g->idle_seconds > 0 ? (int)g->idle_seconds * 1000 : 1);
	}
}

/* ---- application lists ---- */

static void apps_start(struct host *host) {
	struct guestd *g = host->g;
	if (!(vd_link_conn_caps(host->conn) & VD_LINK_CAP_APPS) || g->apps == NULL) {
		return;
	}
	if (host->sending != NULL) {
		host->resend = true; // finish the current snapshot first
		return;
	}
	host->sending = vd_guest_apps_ref(g->apps);
	host->send_pos = 0;
	struct vd_link_msg msg = {.type = VD_LINK_APPS_BEGIN};
	msg.body.apps_begin = (struct vd_link_apps_begin){.generation = g->generation,
		.count = (uint32_t)g->apps->count};
	vd_link_conn_send(host->conn, &msg);
}

/* Feeds app entries while the queue is short, so big lists never sit in memory twice. */
static void apps_pump(struct host *host) {
	while (host->sending != NULL && !vd_link_conn_closing(host->conn) &&
			vd_link_conn_queued(host->conn) < APPS_SEND_QUEUE) {
		struct vd_guest_apps *apps = host->sending;
		if (host->send_pos == apps->count) {
			struct vd_link_msg end = {.type = VD_LINK_APPS_END};
			end.body.apps_end.generation = host->g->generation;
			vd_link_conn_send(host->conn, &end);
			vd_guest_apps_unref(apps);
			host->sending = NULL;
			if (host->resend) {
				host->resend = false;
				apps_start(host);
			}
			continue;
		}
		const struct vd_guest_app *a = &apps->items[host->send_pos++];
		struct vd_link_msg msg = {.type = VD_LINK_APP};
		msg.body.app = (struct vd_link_app){.id = a->id, .name = a->name,
			.generic_name = a->generic_name, .comment = a->comment,
			.categories = a->categories, .icon_name = a->icon_name, .wm_class = a->wm_class};
		if (a->rgba != NULL) {
			msg.body.app.icon = a->rgba;
			msg.body.app.icon_len = (uint32_t)a->rgba_len;
			msg.body.app.icon_width = a->icon_width;
			msg.body.app.icon_height = a->icon_height;
		}
		vd_link_conn_send(host->conn, &msg);
	}
}

static void handle_apps(void *data, struct vd_guest_apps *apps) {
	struct guestd *g = data;
	vd_guest_apps_unref(g->apps);
	g->apps = vd_guest_apps_ref(apps);
	g->generation++;
	struct host *host;
	wl_list_for_each(host, &g->hosts, link) {
		if (vd_link_conn_ready(host->conn)) {
			apps_start(host);
			apps_pump(host);
		}
	}
}

/* ---- host links ---- */

/*
 * The modules forget the link. Not tied to the link's state: when closed()
 * runs, the link is no longer ready, and a module that kept the link would
 * send on a freed one.
 */
static void modules_down(struct host *host) {
	if (!host->modules_up) {
		return;
	}
	host->modules_up = false;
	for (size_t i = 0; i < host->g->nmodules; i++) {
		const struct vd_guest_module *m = &host->g->modules[i];
		if ((host->module_caps & m->caps) == m->caps) {
			m->host_down(m->data, host->conn);
		}
	}
}

static void handle_ready(struct vd_link_conn *conn) {
	struct host *host = vd_link_conn_data(conn);
	uint32_t caps = vd_link_conn_caps(conn);
	vd_log(VD_INFO, "%s: host %s, protocol %u, capabilities:%s%s%s%s%s%s", host->label,
		vd_link_conn_peer_software(conn), VD_LINK_VERSION, caps & VD_LINK_CAP_RUN ? " run" : "",
		caps & VD_LINK_CAP_APPS ? " apps" : "", caps & VD_LINK_CAP_IDLE ? " idle" : "",
		caps & VD_LINK_CAP_NOTIFY ? " notify" : "", caps & VD_LINK_CAP_TRAY ? " tray" : "",
		caps == 0 ? " none" : "");
	send_idle(host);
	apps_start(host);
	apps_pump(host);
	modules_down(host); // a new handshake on the same link: the modules start again
	for (size_t i = 0; i < host->g->nmodules; i++) {
		const struct vd_guest_module *m = &host->g->modules[i];
		if ((caps & m->caps) == m->caps) {
			m->host_up(m->data, conn);
		}
	}
	host->modules_up = true;
	host->module_caps = caps;
}

static void run_app(struct host *host, const struct vd_link_msg *msg) {
	struct guestd *g = host->g;
	const char *id = msg->body.run_app.app_id;
	const struct vd_guest_app *app = g->apps ? vd_guest_apps_find(g->apps, id) : NULL;
	struct vd_link_msg err = {.type = VD_LINK_ERROR, .id = msg->id};
	char text[512];
	if (app == NULL) {
		snprintf(text, sizeof(text), "no application %s", id);
		err.body.error = (struct vd_link_error){VD_LINK_ERROR_CODE_NOT_FOUND, text};
		vd_link_conn_send(host->conn, &err);
		return;
	}
	char **argv = vd_desktop_exec_split(app->exec);
	if (argv == NULL) {
		snprintf(text, sizeof(text), "%s: bad Exec line", id);
		err.body.error = (struct vd_link_error){VD_LINK_ERROR_CODE_EXEC, text};
		vd_link_conn_send(host->conn, &err);
		return;
	}
	vd_guest_runs_start(g->runs, host->conn, msg->id, argv, NULL, 0, msg->body.run_app.flags);
	vd_strv_free(argv);
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct host *host = vd_link_conn_data(conn);
	switch (msg->type) {
	case VD_LINK_RUN: {
		const struct vd_link_run *run = &msg->body.run;
		char *argv[257];
		for (uint32_t i = 0; i < run->argv_count; i++) {
			argv[i] = (char *)run->argv[i];
		}
		argv[run->argv_count] = NULL;
		vd_guest_runs_start(host->g->runs, conn, msg->id, argv, run->env, run->env_count,
			run->flags);
		return;
	}
	case VD_LINK_RUN_APP:
		run_app(host, msg);
		return;
	case VD_LINK_RUN_ACK:
	case VD_LINK_RUN_INPUT:
	case VD_LINK_SIGNAL:
		vd_guest_runs_handle(host->g->runs, conn, msg);
		return;
	case VD_LINK_ERROR:
		vd_log(VD_WARN, "%s: host reports error %u: %s", host->label, msg->body.error.code,
			msg->body.error.message);
		return;
	default:
		break;
	}
	/* the codec let it through, so its capability is in use: its module takes it */
	const struct vd_link_message *desc = vd_link_set_find(&vd_link_guest, msg->type);
	for (size_t i = 0; desc != NULL && desc->cap != 0 && i < host->g->nmodules; i++) {
		const struct vd_guest_module *m = &host->g->modules[i];
		if (m->caps & desc->cap) {
			m->message(m->data, conn, msg);
			return;
		}
	}
}

static void handle_drained(struct vd_link_conn *conn) {
	struct host *host = vd_link_conn_data(conn);
	vd_guest_runs_resume(host->g->runs, conn);
	apps_pump(host);
}

/* What belonged to the host's session: its waited-for programs, the list being sent. */
static void host_forget_session(struct host *host) {
	vd_guest_runs_detach(host->g->runs, host->conn);
	vd_guest_apps_unref(host->sending);
	host->sending = NULL;
	host->send_pos = 0;
	host->resend = false;
}

/* Serial carrier: a new host session on the port (hostd restarted); ready() follows. */
static void handle_reset(struct vd_link_conn *conn) {
	struct host *host = vd_link_conn_data(conn);
	vd_log(VD_INFO, "%s: the host started over", host->label);
	host_forget_session(host);
}

static void host_free(struct host *host) {
	modules_down(host);
	vd_guest_runs_detach(host->g->runs, host->conn);
	vd_link_conn_destroy(host->conn);
	vd_guest_apps_unref(host->sending);
	wl_list_remove(&host->link);
	host->g->nhosts--;
	free(host);
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct host *host = vd_link_conn_data(conn);
	struct guestd *g = host->g;
	bool port = host->port;
	vd_log(reason != NULL && strncmp(reason, "protocol error", 14) == 0 ? VD_WARN : VD_INFO,
		"%s: disconnected (%s)", host->label, reason ? reason : "end of stream");
	host_free(host);
	if (port) {
		/* the port stays ours: open it again for the next host */
		wl_event_source_timer_update(g->port_retry, PORT_RETRY_MS);
	}
}

static const struct vd_link_conn_impl host_impl = {
	.ready = handle_ready,
	.message = handle_message,
	.drained = handle_drained,
	.reset = handle_reset,
	.closed = handle_closed,
};

/* A host link on fd (taken); port: the serial port, whose carrier outlives its hosts. */
static bool host_add(struct guestd *g, int fd, bool port) {
	struct host *host = calloc(1, sizeof(*host));
	if (host == NULL) {
		close(fd);
		return false;
	}
	host->g = g;
	host->port = port;
	snprintf(host->label, sizeof(host->label), "host#%u", ++g->next_host);
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-guestd %s", VD_VERSION);
	uint32_t caps = VD_LINK_CAP_RUN | VD_LINK_CAP_IDLE;
	if (g->scanner != NULL) {
		caps |= VD_LINK_CAP_APPS;
	}
	for (size_t i = 0; i < g->nmodules; i++) {
		caps |= g->modules[i].caps;
	}
	/* on a port, the host comes when it comes: no HELLO timeout */
	struct vd_link_conn_config config = {.set = &vd_link_guest, .role = VD_LINK_ROLE_GUEST,
		.caps = caps, .software = software, .max_queue = HOST_MAX_QUEUE,
		.carrier = port ? VD_LINK_CARRIER_SERIAL : VD_LINK_CARRIER_STREAM,
		.hello_timeout_ms = port ? 0 : 30000};
	host->conn = vd_link_conn_create(g->loop, fd, &config, &host_impl, host);
	if (host->conn == NULL) {
		free(host);
		return false;
	}
	wl_list_insert(&g->hosts, &host->link);
	g->nhosts++;
	return true;
}

static bool port_open(struct guestd *g, char *err, size_t err_size) {
	int fd = vd_transport_open_serial(&g->addr, err, err_size);
	if (fd < 0) {
		return false;
	}
	if (!host_add(g, fd, true)) {
		snprintf(err, err_size, "cannot use %s as the host's link (not a port?)",
			g->addr.path);
		return false;
	}
	return true;
}

static int handle_port_retry(void *data) {
	struct guestd *g = data;
	char err[512];
	if (!port_open(g, err, sizeof(err))) {
		vd_log(VD_WARN, "%s; trying again", err);
		wl_event_source_timer_update(g->port_retry, PORT_RETRY_MS);
	}
	return 0;
}

static int handle_accept(int fd, uint32_t mask, void *data) {
	struct guestd *g = data;
	for (;;) {
		int cfd = vd_transport_accept(fd);
		if (cfd < 0) {
			return 0;
		}
		if (g->nhosts >= MAX_HOSTS) {
			vd_log(VD_WARN, "refusing a connection: %d hosts connected", MAX_HOSTS);
			close(cfd);
			continue;
		}
		if (!host_add(g, cfd, false)) {
			return 0;
		}
		vd_log(VD_INFO, "host#%u: connected", g->next_host);
	}
}

/* ---- main ---- */

static int handle_quit(int signo, void *data) {
	struct guestd *g = data;
	vd_log(VD_INFO, "signal %d: exiting", signo);
	g->quit = true;
	return 0;
}

static void handle_spawner_lost(void *data) {
	struct guestd *g = data;
	g->quit = true; // no program can start: a restart (systemd) brings a new spawner
	g->failed = true;
}

static void usage(FILE *f) {
	fprintf(f,
		"Usage: vmdesk-guestd --listen ADDRESS [options]\n"
		"The vmdesk agent inside a VM: runs programs for the host and exports the\n"
		"VM's applications to the host menu.\n\n"
		"  --listen ADDRESS     vsock:PORT, unix:PATH or serial:DEVICE (a virtio-serial\n"
		"                       port such as /dev/virtio-ports/vmdesk.agent)\n"
		"  --idle-seconds N     report idleness after N s without programs (default 300)\n"
		"  --icon-size N        largest exported icon edge, 16..256 (default 128)\n"
		"  --no-apps            do not export applications\n"
		"  --bus ADDRESS        the session bus (default $DBUS_SESSION_BUS_ADDRESS,\n"
		"                       else $XDG_RUNTIME_DIR/bus)\n"
		"  --notifications MODE serve org.freedesktop.Notifications: auto (when no other\n"
		"                       server holds it; default), replace, off\n"
		"  --tray MODE          serve org.kde.StatusNotifierWatcher: auto, replace, off\n"
		"  --log-level LEVEL    error, warn, info or debug (default info)\n"
		"  --seccomp MODE       system call filter after startup: enforce (default),\n"
		"                       log (allow and log what it would kill) or off\n"
		"  --help, --version\n");
}

int main(int argc, char *argv[]) {
	vd_log_init("vmdesk-guestd", VD_INFO);
	vd_glib_log_init();
	static const struct option options[] = {
		{"listen", required_argument, NULL, 'l'},
		{"idle-seconds", required_argument, NULL, 'i'},
		{"icon-size", required_argument, NULL, 's'},
		{"no-apps", no_argument, NULL, 'n'},
		{"bus", required_argument, NULL, 'b'},
		{"notifications", required_argument, NULL, 'N'},
		{"tray", required_argument, NULL, 'T'},
		{"log-level", required_argument, NULL, 'L'},
		{"seccomp", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *listen_str = NULL, *bus_address = NULL;
	enum vd_guest_service_mode notify_mode = VD_GUEST_SERVICE_AUTO;
	enum vd_guest_service_mode tray_mode = VD_GUEST_SERVICE_AUTO;
	long long idle_seconds = 300, icon_size = 128;
	bool export_apps = true;
	enum vd_seccomp_mode seccomp = VD_SECCOMP_ENFORCE;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_str = optarg;
			break;
		case 'i':
			if (!vd_parse_number(optarg, 0, 86400 * 365, &idle_seconds)) {
				fprintf(stderr, "vmdesk-guestd: bad --idle-seconds %s\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (!vd_parse_number(optarg, 16, VD_LINK_MAX_ICON_SIZE, &icon_size)) {
				fprintf(stderr, "vmdesk-guestd: --icon-size must be 16..%u\n",
					VD_LINK_MAX_ICON_SIZE);
				return 2;
			}
			break;
		case 'n':
			export_apps = false;
			break;
		case 'b':
			bus_address = optarg;
			break;
		case 'N':
			if (!vd_guest_service_mode_parse(optarg, &notify_mode)) {
				fprintf(stderr, "vmdesk-guestd: --notifications is auto, replace or off\n");
				return 2;
			}
			break;
		case 'T':
			if (!vd_guest_service_mode_parse(optarg, &tray_mode)) {
				fprintf(stderr, "vmdesk-guestd: --tray is auto, replace or off\n");
				return 2;
			}
			break;
		case 'L': {
			enum vd_log_level level;
			if (!vd_log_parse_level(optarg, &level)) {
				fprintf(stderr, "vmdesk-guestd: bad --log-level %s\n", optarg);
				return 2;
			}
			vd_log_set_level(level);
			break;
		}
		case 'S':
			if (!vd_seccomp_parse_mode(optarg, &seccomp)) {
				fprintf(stderr, "vmdesk-guestd: --seccomp wants enforce, log or off, not "
					"'%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vmdesk-guestd %s\n", VD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (listen_str == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	struct guestd g = {.idle_seconds = (uint32_t)idle_seconds};
	char err[512];
	if (!vd_addr_parse(listen_str, true, &g.addr, err, sizeof(err))) {
		fprintf(stderr, "vmdesk-guestd: %s\n", err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	wl_list_init(&g.hosts);
	vd_listener_init(&g.listener);
	g.loop = wl_event_loop_create();
	if (g.loop == NULL) {
		return 1;
	}
	int status = 1;
	/* first, before threads and connections: the spawner that runs programs for us */
	g.runs = vd_guest_runs_create(g.loop, handle_runs_changed, handle_spawner_lost, &g);
	struct wl_event_source *signals[3] = {
		wl_event_loop_add_signal(g.loop, SIGTERM, handle_quit, &g),
		wl_event_loop_add_signal(g.loop, SIGINT, handle_quit, &g),
		wl_event_loop_add_signal(g.loop, SIGHUP, handle_quit, &g),
	};
	g.idle_timer = wl_event_loop_add_timer(g.loop, handle_idle_timer, &g);
	g.port_retry = wl_event_loop_add_timer(g.loop, handle_port_retry, &g);
	if (g.runs == NULL || g.idle_timer == NULL || g.port_retry == NULL) {
		goto out;
	}
	if (export_apps) {
		g.scanner = vd_scanner_create(g.loop, (int)icon_size, handle_apps, &g);
	}
	char bus_buf[4200];
	if (bus_address == NULL) {
		bus_address = vd_dbus_session_address(bus_buf, sizeof(bus_buf));
	}
	if (bus_address == NULL && (notify_mode != VD_GUEST_SERVICE_OFF ||
			tray_mode != VD_GUEST_SERVICE_OFF)) {
		vd_log(VD_INFO, "no session bus: no notifications and no tray");
	}
	if (bus_address != NULL && notify_mode != VD_GUEST_SERVICE_OFF) {
		g.notify = vd_guest_notify_create(g.loop, bus_address, notify_mode, NOTIFY_IMAGE_SIZE);
		if (g.notify != NULL) {
			g.modules[g.nmodules++] = vd_guest_notify_module(g.notify);
		}
	}
	if (bus_address != NULL && tray_mode != VD_GUEST_SERVICE_OFF) {
		g.tray = vd_guest_tray_create(g.loop, bus_address, tray_mode);
		if (g.tray != NULL) {
			g.modules[g.nmodules++] = vd_guest_tray_module(g.tray);
		}
	}
	if (g.addr.kind == VD_ADDR_SERIAL) {
		if (!port_open(&g, err, sizeof(err))) {
			vd_log(VD_ERROR, "%s", err);
			goto out;
		}
	} else {
		if (!vd_transport_listen(&g.addr, &g.listener, err, sizeof(err))) {
			vd_log(VD_ERROR, "%s", err);
			goto out;
		}
		g.listen_source = wl_event_loop_add_fd(g.loop, g.listener.fd, WL_EVENT_READABLE,
			handle_accept, &g);
		if (g.listen_source == NULL) {
			goto out;
		}
	}
	/* startup is done: from here on only what sandbox-guestd.c allows */
	if (!vd_sandbox_enter(guestd_sandbox_policy(g.addr.kind == VD_ADDR_SERIAL,
			vd_guest_runs_spawner_pid(g.runs)), seccomp)) {
		goto out;
	}
	handle_runs_changed(&g, 0); // idle from now on, until a program starts
	vd_log(VD_INFO, "listening on %s", listen_str);
	while (!g.quit) {
		if (wl_event_loop_dispatch(g.loop, -1) < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "event loop");
			goto out;
		}
	}
	status = g.failed ? 1 : 0;
out:;
	struct host *host, *tmp;
	wl_list_for_each_safe(host, tmp, &g.hosts, link) {
		host_free(host);
	}
	vd_guest_notify_destroy(g.notify);
	vd_guest_tray_destroy(g.tray);
	vd_scanner_destroy(g.scanner);
	vd_guest_apps_unref(g.apps);
	vd_guest_runs_destroy(g.runs);
	if (g.listen_source != NULL) {
		wl_event_source_remove(g.listen_source);
	}
	vd_listener_finish(&g.listener);
	if (g.idle_timer != NULL) {
		wl_event_source_remove(g.idle_timer);
	}
	if (g.port_retry != NULL) {
		wl_event_source_remove(g.port_retry);
	}
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (signals[i] != NULL) {
			wl_event_source_remove(signals[i]);
		}
	}
	wl_event_loop_destroy(g.loop);
	return status;
}
