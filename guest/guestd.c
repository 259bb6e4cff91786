#define LOG_TAG "guestd"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/apps.h"
#include "protocols/agent-conn.h"
#include "protocols/agent-wire.h"
#include "protocols/log.h"
#include "protocols/transport.h"

extern char **environ;

#define MAX_HOSTS 8
#define MAX_RUNS 128
#define OUTPUT_PAUSE_QUEUE (512u * 1024u) // stop reading program output above this
#define APPS_SEND_QUEUE (1024u * 1024u) // feed app entries while the queue is below this
#define HOST_MAX_QUEUE (16u * 1024u * 1024u)
#define RESCAN_DELAY_MS 300

struct host {
	struct vd_agent_conn conn;
	bool hello_done;
	uint32_t caps;
	/* app snapshot being sent */
	struct vd_guest_apps *sending;
	size_t send_pos;
	bool resend; // a newer snapshot is waiting
	char label[32];
};

struct run {
	struct run *next;
	struct host *host; // NULL when nobody waits for it
	uint32_t id;
	pid_t pid;
	pid_t pgid;
	bool wait;
	int out[2]; // stdout, stderr pipes (-1 when closed)
	bool exited;
	int status;
	uint32_t unacked; // output bytes sent and not yet acknowledged (RUN_WINDOW)
};

static struct {
	int listen_fd;
	int signal_fd;
	int inotify_fd;
	struct host *hosts[MAX_HOSTS];
	int nhosts;
	struct run *runs;
	int nruns;
	struct vd_guest_apps *apps;
	uint32_t generation;
	int icon_size;
	bool export_apps;
	uint64_t rescan_at;
	uint32_t idle_seconds;
	uint64_t idle_since;
	bool reported_idle;
	uint32_t next_host;
	bool quit;
} g = {.listen_fd = -1, .signal_fd = -1, .inotify_fd = -1};

static void host_destroy(struct host *host, const char *why);

static void host_send(struct host *host, const struct vd_agent_msg *msg) {
	if (!vd_agent_conn_send(&host->conn, msg)) {
		vd_log(VD_WARN, "%s: cannot queue %s (host not reading?)", host->label,
			vd_agent_type_name(msg->type));
	}
}

static void send_error(struct host *host, uint32_t id, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void send_error(struct host *host, uint32_t id, uint32_t code, const char *fmt, ...) {
	char text[VD_AGENT_MAX_ERROR];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	/* Messages are ours, but keep them valid text. */
	for (char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			*p = '?';
		}
	}
	struct vd_agent_msg msg = {.type = VD_AGENT_ERROR, .id = id, .code = code, .message = text};
	host_send(host, &msg);
}

/* ---- idle ---- */

static void send_idle(struct host *host) {
	if (!(host->caps & VD_AGENT_CAP_IDLE)) {
		return;
	}
	uint64_t now = vd_now_ms();
	struct vd_agent_msg msg = {.type = VD_AGENT_IDLE, .idle = g.reported_idle,
		.idle_seconds = g.reported_idle ? (uint32_t)((now - g.idle_since) / 1000) : 0};
	host_send(host, &msg);
}

static void broadcast_idle(void) {
	for (int i = 0; i < g.nhosts; i++) {
		if (g.hosts[i]->hello_done) {
			send_idle(g.hosts[i]);
		}
	}
}

static void idle_check(void) {
	uint64_t now = vd_now_ms();
	if (g.nruns > 0) {
		if (g.reported_idle) {
			g.reported_idle = false;
			broadcast_idle();
		}
		return;
	}
	if (!g.reported_idle && now >= g.idle_since + (uint64_t)g.idle_seconds * 1000) {
		g.reported_idle = true;
		vd_log(VD_INFO, "idle: no program running for %u s", g.idle_seconds);
		broadcast_idle();
	}
}

/* ---- running programs ---- */

struct spawn_report {
	int kind; // 1: pid, 2: errno of exec
	int value;
};

static void child_setup(int report_fd, bool to_pipes, int out_w, int err_w) {
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++) {
		signal(sig, SIG_DFL);
	}
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
	}
	if (to_pipes) {
		dup2(out_w, STDOUT_FILENO);
		dup2(err_w, STDERR_FILENO);
	}
	const char *home = getenv("HOME");
	if (home == NULL || chdir(home) < 0) {
		if (chdir("/") < 0) {
			/* nothing better to do */
		}
	}
	(void)report_fd;
}

static void report(int fd, int kind, int value) {
	struct spawn_report r = {kind, value};
	ssize_t n = write(fd, &r, sizeof(r));
	(void)n;
}

/*
 * Starts argv. With wait, the program is our child in its own session and
 * process group with its output in pipes; without, it is double-forked
 * (setsid in between) and, as we are a subreaper, comes back to us to be
 * reaped. Returns the pid, or -1 with *err_no set.
 */
static pid_t spawn(char **argv, char **env_over, bool wait, int out[2], int *err_no) {
	int rep[2], po[2] = {-1, -1}, pe[2] = {-1, -1};
	if (pipe2(rep, O_CLOEXEC) < 0) {
		*err_no = errno;
		return -1;
	}
	if (wait && (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)) {
		*err_no = errno;
		close(rep[0]);
		close(rep[1]);
		for (int i = 0; i < 2; i++) {
			if (po[i] >= 0) {
				close(po[i]);
			}
		}
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*err_no = errno;
		close(rep[0]);
		close(rep[1]);
		if (wait) {
			close(po[0]);
			close(po[1]);
			close(pe[0]);
			close(pe[1]);
		}
		return -1;
	}
	if (pid == 0) {
		child_setup(rep[1], wait, po[1], pe[1]);
		setsid();
		for (size_t i = 0; env_over != NULL && env_over[i] != NULL; i++) {
			putenv(env_over[i]);
		}
		if (!wait) {
			pid_t grandchild = fork();
			if (grandchild < 0) {
				report(rep[1], 2, errno);
				_exit(1);
			}
			if (grandchild > 0) {
				report(rep[1], 1, grandchild);
				_exit(0);
			}
		}
		execvp(argv[0], argv);
		report(rep[1], 2, errno);
		_exit(127);
	}
	close(rep[1]);
	if (wait) {
		close(po[1]);
		close(pe[1]);
	}
	pid_t target = pid;
	int exec_errno = 0;
	struct spawn_report r;
	for (;;) {
		ssize_t n = read(rep[0], &r, sizeof(r));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n != (ssize_t)sizeof(r)) {
			break;
		}
		if (r.kind == 1) {
			target = r.value;
		} else if (r.kind == 2) {
			exec_errno = r.value;
		}
	}
	close(rep[0]);
	if (!wait) {
		waitpid(pid, NULL, 0); // the middle process
	}
	if (exec_errno != 0) {
		if (wait) {
			waitpid(pid, NULL, 0);
			close(po[0]);
			close(pe[0]);
		}
		*err_no = exec_errno;
		return -1;
	}
	if (wait) {
		fcntl(po[0], F_SETFL, O_NONBLOCK);
		fcntl(pe[0], F_SETFL, O_NONBLOCK);
		out[0] = po[0];
		out[1] = pe[0];
	} else {
		out[0] = out[1] = -1;
	}
	return target;
}

static void run_start(struct host *host, uint32_t id, char **argv, char **env, bool wait) {
	if (g.nruns >= MAX_RUNS) {
		send_error(host, id, VD_AGENT_E_LIMIT, "too many programs running (%d)", MAX_RUNS);
		return;
	}
	int out[2], err_no = 0;
	pid_t pid = spawn(argv, env, wait, out, &err_no);
	if (pid < 0) {
		vd_log(VD_INFO, "%s: cannot run %s: %s", host->label, argv[0], strerror(err_no));
		send_error(host, id, err_no == ENOENT ? VD_AGENT_E_NOT_FOUND : VD_AGENT_E_EXEC,
			"%s: %s", argv[0], strerror(err_no));
		return;
	}
	struct run *run = calloc(1, sizeof(*run));
	if (run == NULL) {
		abort();
	}
	run->host = wait ? host : NULL;
	run->id = id;
	run->pid = pid;
	run->pgid = wait ? pid : getpgid(pid);
	if (run->pgid <= 0) {
		run->pgid = pid;
	}
	run->wait = wait;
	run->out[0] = out[0];
	run->out[1] = out[1];
	run->next = g.runs;
	g.runs = run;
	g.nruns++;
	vd_log(VD_INFO, "%s: started %s (pid %d%s)", host->label, argv[0], pid,
		wait ? ", waiting" : ", detached");
	struct vd_agent_msg msg = {.type = VD_AGENT_RUN_STARTED, .id = id, .pid = (uint32_t)pid};
	host_send(host, &msg);
	idle_check();
}

static void run_destroy(struct run *run) {
	for (struct run **p = &g.runs; *p; p = &(*p)->next) {
		if (*p == run) {
			*p = run->next;
			break;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (run->out[i] >= 0) {
			close(run->out[i]);
		}
	}
	free(run);
	if (--g.nruns == 0) {
		g.idle_since = vd_now_ms();
	}
}

/* Finishes a run once it has exited and its output is drained. */
static void run_maybe_done(struct run *run) {
	if (!run->exited || run->out[0] >= 0 || run->out[1] >= 0) {
		return;
	}
	if (run->host != NULL) {
		struct vd_agent_msg msg = {.type = VD_AGENT_RUN_EXIT, .id = run->id};
		if (WIFSIGNALED(run->status)) {
			msg.exit_kind = VD_AGENT_SIGNALED;
			msg.exit_value = (uint32_t)WTERMSIG(run->status);
		} else {
			msg.exit_kind = VD_AGENT_EXITED;
			msg.exit_value = (uint32_t)WEXITSTATUS(run->status);
		}
		host_send(run->host, &msg);
	}
	run_destroy(run);
}

static void run_read(struct run *run, int which) {
	uint8_t buf[VD_AGENT_MAX_OUTPUT];
	ssize_t n = read(run->out[which], buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	if (n <= 0) {
		close(run->out[which]);
		run->out[which] = -1;
		run_maybe_done(run);
		return;
	}
	if (run->host != NULL) {
		struct vd_agent_msg msg = {.type = VD_AGENT_RUN_OUTPUT, .id = run->id,
			.stream = which == 0 ? VD_AGENT_STDOUT : VD_AGENT_STDERR, .data = buf,
			.data_len = (uint32_t)n};
		host_send(run->host, &msg);
		run->unacked += (uint32_t)n;
	}
}

static void reap_children(void) {
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			break;
		}
		for (struct run *run = g.runs; run; run = run->next) {
			if (run->pid == pid) {
				run->exited = true;
				run->status = status;
				vd_log(VD_DEBUG, "pid %d ended (status 0x%x)", pid, status);
				run_maybe_done(run);
				break;
			}
		}
	}
}

/* ---- apps ---- */

static void host_apps_start(struct host *host) {
	if (!(host->caps & VD_AGENT_CAP_APPS) || g.apps == NULL) {
		return;
	}
	if (host->sending != NULL) {
		host->resend = true; // finish the current snapshot first
		return;
	}
	host->sending = vd_guest_apps_ref(g.apps);
	host->send_pos = 0;
	struct vd_agent_msg msg = {.type = VD_AGENT_APPS_BEGIN, .generation = g.generation,
		.count = (uint32_t)g.apps->count};
	host_send(host, &msg);
}

/* Feeds app entries while the queue is short, so big lists never sit in memory twice. */
static void host_apps_pump(struct host *host) {
	while (host->sending != NULL && vd_agent_conn_queued(&host->conn) < APPS_SEND_QUEUE) {
		struct vd_guest_apps *apps = host->sending;
		if (host->send_pos == apps->count) {
			struct vd_agent_msg end = {.type = VD_AGENT_APPS_END, .generation = g.generation};
			host_send(host, &end);
			vd_guest_apps_unref(apps);
			host->sending = NULL;
			if (host->resend) {
				host->resend = false;
				host_apps_start(host);
			}
			continue;
		}
		const struct vd_guest_app *a = &apps->items[host->send_pos++];
		struct vd_agent_msg msg = {.type = VD_AGENT_APP};
		msg.app.id = a->id;
		msg.app.name = a->name;
		msg.app.generic_name = a->generic_name;
		msg.app.comment = a->comment;
		msg.app.categories = a->categories;
		msg.app.icon_name = a->icon_name;
		msg.app.wm_class = a->wm_class;
		if (a->png != NULL) {
			msg.app.icon.png = a->png;
			msg.app.icon.len = (uint32_t)a->png_len;
			msg.app.icon.width = a->icon_width;
			msg.app.icon.height = a->icon_height;
		}
		host_send(host, &msg);
	}
}

static void watch_dirs(void) {
	if (g.inotify_fd < 0) {
		return;
	}
	size_t ndirs;
	char **dirs = vd_guest_data_dirs(&ndirs);
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
		IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF;
	for (size_t i = 0; i < ndirs; i++) {
		char path[4096];
		inotify_add_watch(g.inotify_fd, dirs[i], IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
		snprintf(path, sizeof(path), "%s/applications", dirs[i]);
		if (inotify_add_watch(g.inotify_fd, path, mask | IN_ONLYDIR) >= 0) {
			/* one level of vendor subdirectories (e.g. applications/kde4) */
			struct stat st;
			DIR *d = opendir(path);
			struct dirent *de;
			while (d != NULL && (de = readdir(d)) != NULL) {
				char sub[4096 + 260];
				if (de->d_name[0] == '.') {
					continue;
				}
				snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
				if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
					inotify_add_watch(g.inotify_fd, sub, mask | IN_ONLYDIR);
				}
			}
			if (d != NULL) {
				closedir(d);
			}
		}
	}
	vd_guest_data_dirs_free(dirs, ndirs);
}

static void rescan(void) {
	uint64_t start = vd_now_ms();
	struct vd_guest_apps *apps = vd_guest_apps_scan(g.icon_size);
	if (apps == NULL) {
		return;
	}
	vd_log(VD_INFO, "found %zu applications (%llu ms)", apps->count,
		(unsigned long long)(vd_now_ms() - start));
	if (g.apps != NULL && vd_guest_apps_equal(g.apps, apps)) {
		vd_guest_apps_unref(apps);
		return;
	}
	vd_guest_apps_unref(g.apps);
	g.apps = apps;
	g.generation++;
	watch_dirs();
	for (int i = 0; i < g.nhosts; i++) {
		if (g.hosts[i]->hello_done) {
			host_apps_start(g.hosts[i]);
		}
	}
}

/* ---- host connections ---- */

static void handle_hello(struct host *host, const struct vd_agent_msg *msg) {
	if (msg->max_version < VD_AGENT_VERSION || msg->min_version > VD_AGENT_VERSION) {
		send_error(host, 0, VD_AGENT_E_UNSUPPORTED, "no common protocol version");
		host_destroy(host, "no common protocol version");
		return;
	}
	host->caps = msg->caps & VD_AGENT_CAPS_KNOWN;
	if (!g.export_apps) {
		host->caps &= ~(uint32_t)VD_AGENT_CAP_APPS;
	}
	host->hello_done = true;
	char caps[64];
	vd_agent_caps_format(host->caps, caps, sizeof(caps));
	vd_log(VD_INFO, "%s: host %s, protocol %d, capabilities: %s", host->label,
		msg->software, VD_AGENT_VERSION, caps);
	send_idle(host);
	host_apps_start(host);
}

static struct run *find_run(struct host *host, uint32_t id) {
	for (struct run *run = g.runs; run; run = run->next) {
		if (run->host == host && run->id == id) {
			return run;
		}
	}
	return NULL;
}

/* Returns false if the host was destroyed. */
static bool handle_message(struct host *host, const struct vd_agent_msg *msg) {
	if (!host->hello_done) {
		if (msg->type != VD_AGENT_HELLO) {
			host_destroy(host, "message before HELLO");
			return false;
		}
		handle_hello(host, msg);
		return true;
	}
	switch (msg->type) {
	case VD_AGENT_RUN:
		if (!(host->caps & VD_AGENT_CAP_RUN)) {
			break;
		}
		run_start(host, msg->id, msg->argv, msg->env, msg->flags & VD_AGENT_RUN_WAIT);
		return true;
	case VD_AGENT_RUN_APP: {
		if (!(host->caps & VD_AGENT_CAP_RUN)) {
			break;
		}
		const struct vd_guest_app *app = g.apps ? vd_guest_apps_find(g.apps, msg->app_id) : NULL;
		if (app == NULL) {
			send_error(host, msg->id, VD_AGENT_E_NOT_FOUND, "no application %s", msg->app_id);
			return true;
		}
		char **argv = vd_desktop_exec_split(app->exec);
		if (argv == NULL) {
			send_error(host, msg->id, VD_AGENT_E_EXEC, "%s: bad Exec line", msg->app_id);
			return true;
		}
		run_start(host, msg->id, argv, msg->env, msg->flags & VD_AGENT_RUN_WAIT);
		vd_strv_free(argv);
		return true;
	}
	case VD_AGENT_RUN_ACK: {
		struct run *run = find_run(host, msg->id);
		if (run != NULL) {
			run->unacked -= msg->acked < run->unacked ? msg->acked : run->unacked;
		}
		return true;
	}
	case VD_AGENT_SIGNAL: {
		struct run *run = find_run(host, msg->id);
		if (run != NULL && !run->exited) {
			vd_log(VD_INFO, "%s: signal %u to pid %d", host->label, msg->signo, run->pid);
			kill(-run->pgid, (int)msg->signo);
		}
		return true;
	}
	case VD_AGENT_ERROR:
		vd_log(VD_WARN, "%s: host reports error %u: %s", host->label, msg->code, msg->message);
		return true;
	default:
		break;
	}
	send_error(host, msg->id, VD_AGENT_E_PROTOCOL, "unexpected %s",
		vd_agent_type_name(msg->type));
	host_destroy(host, "unexpected message type");
	return false;
}

static void host_destroy(struct host *host, const char *why) {
	vd_log(VD_INFO, "%s: disconnected (%s)", host->label, why);
	for (struct run *run = g.runs; run; run = run->next) {
		if (run->host == host) {
			run->host = NULL;
			if (!run->exited) {
				kill(-run->pgid, SIGHUP); // nobody reads its output any more
			}
		}
	}
	vd_agent_conn_flush(&host->conn);
	vd_agent_conn_finish(&host->conn);
	vd_guest_apps_unref(host->sending);
	for (int i = 0; i < g.nhosts; i++) {
		if (g.hosts[i] == host) {
			g.hosts[i] = g.hosts[--g.nhosts];
			break;
		}
	}
	free(host);
}

static void host_readable(struct host *host) {
	char err[256];
	if (vd_agent_conn_read(&host->conn, err, sizeof(err)) != VD_CONN_OK) {
		host_destroy(host, err);
		return;
	}
	struct vd_agent_frame frame;
	enum vd_conn_status status;
	while (vd_agent_conn_next(&host->conn, &frame, &status, err, sizeof(err))) {
		struct vd_agent_msg msg;
		if (!vd_agent_decode(frame.header.type, frame.header.id, frame.payload,
				frame.header.length, &msg, err, sizeof(err))) {
			vd_log(VD_WARN, "%s: protocol error: %s", host->label, err);
			send_error(host, frame.header.id, VD_AGENT_E_PROTOCOL, "%s", err);
			host_destroy(host, "protocol error");
			return;
		}
		bool alive = handle_message(host, &msg);
		vd_agent_msg_finish(&msg);
		if (!alive) {
			return;
		}
	}
	if (status == VD_CONN_ERROR) {
		vd_log(VD_WARN, "%s: protocol error: %s", host->label, err);
		host_destroy(host, err);
	} else if (status == VD_CONN_EOF) {
		host_destroy(host, "end of stream");
	}
}

static void accept_host(void) {
	int fd = vd_transport_accept(g.listen_fd);
	if (fd < 0) {
		return;
	}
	if (g.nhosts >= MAX_HOSTS) {
		vd_log(VD_WARN, "refusing a connection: %d hosts connected", MAX_HOSTS);
		close(fd);
		return;
	}
	struct host *host = calloc(1, sizeof(*host));
	if (host == NULL) {
		abort();
	}
	vd_agent_conn_init(&host->conn, fd, HOST_MAX_QUEUE);
	snprintf(host->label, sizeof(host->label), "host#%u", ++g.next_host);
	g.hosts[g.nhosts++] = host;
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-guestd %s", VD_VERSION);
	struct vd_agent_msg hello = {.type = VD_AGENT_HELLO, .min_version = VD_AGENT_VERSION,
		.max_version = VD_AGENT_VERSION, .software = software,
		.caps = g.export_apps ? VD_AGENT_CAPS_KNOWN :
			VD_AGENT_CAPS_KNOWN & ~(uint32_t)VD_AGENT_CAP_APPS};
	host_send(host, &hello);
	vd_log(VD_INFO, "%s: connected", host->label);
}

/* ---- main loop ---- */

enum slot_kind { SLOT_LISTEN, SLOT_SIGNAL, SLOT_INOTIFY, SLOT_HOST, SLOT_RUN };

struct slot {
	enum slot_kind kind;
	void *ptr;
	int which;
};

static void handle_signals(void) {
	struct signalfd_siginfo si;
	while (read(g.signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap_children();
		} else {
			vd_log(VD_INFO, "signal %u: exiting", si.ssi_signo);
			g.quit = true;
		}
	}
}

static void handle_inotify(void) {
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(g.inotify_fd, buf, sizeof(buf)) > 0) {
		/* any change: rescan shortly, once */
	}
	if (g.rescan_at == 0) {
		g.rescan_at = vd_now_ms() + RESCAN_DELAY_MS;
	}
}

static int loop_timeout(void) {
	uint64_t now = vd_now_ms();
	uint64_t next = UINT64_MAX;
	if (g.rescan_at != 0) {
		next = g.rescan_at;
	}
	if (g.nruns == 0 && !g.reported_idle) {
		uint64_t at = g.idle_since + (uint64_t)g.idle_seconds * 1000;
		next = at < next ? at : next;
	}
	if (next == UINT64_MAX) {
		return -1;
	}
	return next <= now ? 0 : (int)(next - now > INT_MAX ? INT_MAX : next - now);
}

static void run_loop(void) {
	struct pollfd pfds[4 + MAX_HOSTS + 2 * MAX_RUNS];
	struct slot slots[4 + MAX_HOSTS + 2 * MAX_RUNS];
	while (!g.quit) {
		int n = 0;
		pfds[n] = (struct pollfd){.fd = g.listen_fd, .events = POLLIN};
		slots[n++] = (struct slot){SLOT_LISTEN, NULL, 0};
		pfds[n] = (struct pollfd){.fd = g.signal_fd, .events = POLLIN};
		slots[n++] = (struct slot){SLOT_SIGNAL, NULL, 0};
		if (g.inotify_fd >= 0) {
			pfds[n] = (struct pollfd){.fd = g.inotify_fd, .events = POLLIN};
			slots[n++] = (struct slot){SLOT_INOTIFY, NULL, 0};
		}
		for (int i = 0; i < g.nhosts; i++) {
			struct host *host = g.hosts[i];
			host_apps_pump(host);
			short events = POLLIN;
			if (vd_agent_conn_queued(&host->conn) > 0) {
				events |= POLLOUT;
			}
			pfds[n] = (struct pollfd){.fd = host->conn.fd, .events = events};
			slots[n++] = (struct slot){SLOT_HOST, host, 0};
		}
		for (struct run *run = g.runs; run; run = run->next) {
			if (run->host != NULL &&
					(vd_agent_conn_queued(&run->host->conn) > OUTPUT_PAUSE_QUEUE ||
					run->unacked + VD_AGENT_MAX_OUTPUT > VD_AGENT_RUN_WINDOW)) {
				continue; // back-pressure: let the host (and its reader) catch up first
			}
			for (int w = 0; w < 2; w++) {
				if (run->out[w] >= 0) {
					pfds[n] = (struct pollfd){.fd = run->out[w], .events = POLLIN};
					slots[n++] = (struct slot){SLOT_RUN, run, w};
				}
			}
		}
		int ready = poll(pfds, (nfds_t)n, loop_timeout());
		if (ready < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "poll");
			break;
		}
		/* Objects may go away while handling; handle hosts by lookup. */
		for (int i = 0; i < n && ready > 0; i++) {
			if (pfds[i].revents == 0) {
				continue;
			}
			switch (slots[i].kind) {
			case SLOT_LISTEN:
				accept_host();
				break;
			case SLOT_SIGNAL:
				handle_signals();
				break;
			case SLOT_INOTIFY:
				handle_inotify();
				break;
			case SLOT_HOST: {
				struct host *host = slots[i].ptr;
				bool alive = false;
				for (int k = 0; k < g.nhosts; k++) {
					alive |= g.hosts[k] == host;
				}
				if (!alive) {
					break;
				}
				if (pfds[i].revents & POLLOUT) {
					if (!vd_agent_conn_flush(&host->conn)) {
						host_destroy(host, "write error");
						break;
					}
				}
				if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
					host_readable(host);
				}
				break;
			}
			case SLOT_RUN: {
				struct run *run = slots[i].ptr;
				bool alive = false;
				for (struct run *r = g.runs; r; r = r->next) {
					alive |= r == run;
				}
				if (alive && run->out[slots[i].which] == pfds[i].fd) {
					run_read(run, slots[i].which);
				}
				break;
			}
			}
		}
		for (int i = 0; i < g.nhosts; i++) {
			struct host *host = g.hosts[i];
			if (vd_agent_conn_queued(&host->conn) > HOST_MAX_QUEUE) {
				vd_log(VD_WARN, "%s: host is not reading; dropping it", host->label);
				host_destroy(host, "host not reading");
				i--;
			} else if (!vd_agent_conn_flush(&host->conn)) {
				host_destroy(host, "write error");
				i--;
			}
		}
		if (g.rescan_at != 0 && vd_now_ms() >= g.rescan_at) {
			g.rescan_at = 0;
			rescan();
		}
		idle_check();
	}
}

static void usage(FILE *f) {
	fprintf(f,
		"Usage: vmdesk-guestd --listen ADDRESS [options]\n"
		"The vmdesk agent inside a VM: runs programs for the host and exports the\n"
		"VM's applications to the host menu.\n\n"
		"  --listen ADDRESS     vsock:PORT or unix:PATH\n"
		"  --idle-seconds N     report idleness after N s without programs (default 300)\n"
		"  --icon-size N        largest exported icon edge, 16..256 (default 128)\n"
		"  --no-apps            do not export applications\n"
		"  --log-level LEVEL    error, warn, info or debug (default info)\n"
		"  --help, --version\n");
}

int main(int argc, char *argv[]) {
	vd_log_init("vmdesk-guestd", VD_INFO);
	static const struct option options[] = {
		{"listen", required_argument, NULL, 'l'},
		{"idle-seconds", required_argument, NULL, 'i'},
		{"icon-size", required_argument, NULL, 's'},
		{"no-apps", no_argument, NULL, 'n'},
		{"log-level", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *listen_str = NULL;
	g.idle_seconds = 300;
	g.icon_size = 128;
	g.export_apps = true;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'l':
			listen_str = optarg;
			break;
		case 'i': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end != '\0' || end == optarg || v > 86400 * 365) {
				fprintf(stderr, "vmdesk-guestd: bad --idle-seconds %s\n", optarg);
				return 2;
			}
			g.idle_seconds = (uint32_t)v;
			break;
		}
		case 's': {
			long v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 16 || v > VD_AGENT_MAX_ICON_DIM) {
				fprintf(stderr, "vmdesk-guestd: --icon-size must be 16..%d\n",
					VD_AGENT_MAX_ICON_DIM);
				return 2;
			}
			g.icon_size = (int)v;
			break;
		}
		case 'n':
			g.export_apps = false;
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
	struct vd_addr addr;
	char err[256];
	if (!vd_addr_parse(listen_str, true, &addr, err, sizeof(err))) {
		fprintf(stderr, "vmdesk-guestd: %s\n", err);
		return 2;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	g.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (g.signal_fd < 0) {
		vd_log_errno(VD_ERROR, "signalfd");
		return 1;
	}
	/* Orphans of the programs we start come back to us: detached runs stay tracked. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		vd_log_errno(VD_WARN, "PR_SET_CHILD_SUBREAPER");
	}
	g.listen_fd = vd_transport_listen(&addr, err, sizeof(err));
	if (g.listen_fd < 0) {
		vd_log(VD_ERROR, "%s", err);
		return 1;
	}
	g.idle_since = vd_now_ms();
	if (g.export_apps) {
		g.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (g.inotify_fd < 0) {
			vd_log_errno(VD_WARN, "inotify: app list updates disabled");
		}
		rescan();
		watch_dirs();
	}
	vd_log(VD_INFO, "listening on %s", listen_str);
	run_loop();
	while (g.nhosts > 0) {
		host_destroy(g.hosts[0], "shutting down");
	}
	while (g.runs != NULL) {
		run_destroy(g.runs);
	}
	vd_guest_apps_unref(g.apps);
	close(g.listen_fd);
	if (addr.kind == VD_ADDR_UNIX) {
		unlink(addr.path);
	}
	close(g.signal_fd);
	if (g.inotify_fd >= 0) {
		close(g.inotify_fd);
	}
	return 0;
}
