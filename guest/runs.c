#define LOG_TAG "runs"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/runs.h"
#include "protocols/log.h"

#define MAX_RUNS 128
/* Stop reading program output while more than this waits for the host link. */
#define OUTPUT_PAUSE_QUEUE (512u * 1024u)

struct run {
	struct vd_guest_runs *runs;
	struct wl_list link; // vd_guest_runs.list
	struct vd_link_conn *conn; // NULL when nobody waits for it
	uint32_t id;
	pid_t pid;
	pid_t pgid;
	bool wait;
	int out[2]; // stdout, stderr pipes (-1 when closed)
	struct wl_event_source *out_source[2];
	bool exited;
	int status;
	uint32_t unacked; // output sent and not acknowledged (the window)
	/* input: RUN_INPUT bytes waiting for the program's stdin pipe */
	int in; // -1: closed (or none)
	struct wl_event_source *in_source;
	uint8_t *in_buf;
	size_t in_len, in_pos;
	bool in_eof;
};

struct vd_guest_runs {
	struct wl_event_loop *loop;
	struct wl_list list; // run.link
	size_t count;
	void (*changed)(void *data, size_t running);
	void *data;
};

static void send_error(struct vd_link_conn *conn, uint32_t id, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void send_error(struct vd_link_conn *conn, uint32_t id, uint32_t code, const char *fmt,
		...) {
	char text[1024];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	/* our own words, but keep them valid text */
	for (char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			*p = '?';
		}
	}
	struct vd_link_msg msg = {.type = VD_LINK_ERROR, .id = id};
	msg.body.error = (struct vd_link_error){.code = code, .message = text};
	vd_link_conn_send(conn, &msg);
}

/* ---- spawning ---- */

struct spawn_report {
	int kind; // 1: pid, 2: errno of exec
	int value;
};

static void report(int fd, int kind, int value) {
	struct spawn_report r = {kind, value};
	ssize_t n = write(fd, &r, sizeof(r));
	(void)n;
}

static void close_pair(int p[2]) {
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
	}
}

/*
 * Starts argv. With wait, the program is our child in its own session and
 * process group with its output (and, with stdin_pipe, its input) in pipes;
 * without, it is double-forked (setsid in between) and, as we are a
 * subreaper, comes back to us to be reaped. Returns the pid, or -1 with
 * *err_no set.
 */
static pid_t spawn(char *const *argv, const struct vd_link_run_env *env, uint32_t envc,
		bool wait, bool stdin_pipe, int out[2], int *in, int *err_no) {
	int rep[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1};
	if (pipe2(rep, O_CLOEXEC) < 0 || (wait && (pipe2(po, O_CLOEXEC) < 0 ||
			pipe2(pe, O_CLOEXEC) < 0 || (stdin_pipe && pipe2(pi, O_CLOEXEC) < 0)))) {
		*err_no = errno;
		close_pair(rep);
		close_pair(po);
		close_pair(pe);
		close_pair(pi);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*err_no = errno;
		close_pair(rep);
		close_pair(po);
		close_pair(pe);
		close_pair(pi);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < NSIG; sig++) {
			signal(sig, SIG_DFL);
		}
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (pi[0] >= 0) {
			dup2(pi[0], STDIN_FILENO);
		} else if (null >= 0) {
			dup2(null, STDIN_FILENO);
		}
		if (wait) {
			dup2(po[1], STDOUT_FILENO);
			dup2(pe[1], STDERR_FILENO);
		}
		const char *home = getenv("HOME");
		if (home == NULL || chdir(home) < 0) {
			if (chdir("/") < 0) {
				/* nothing better to do */
			}
		}
		setsid();
		for (uint32_t i = 0; i < envc; i++) {
			setenv(env[i].name, env[i].value, 1);
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
		if (pi[0] >= 0) {
			close(pi[0]);
		}
	}
	pid_t target = pid;
	int exec_errno = 0;
	struct spawn_report r;
	/* the pipe closes at exec: this returns as soon as the program runs */
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
		waitpid(pid, NULL, 0); // the middle process, gone already or about to be
	}
	if (exec_errno != 0) {
		if (wait) {
			waitpid(pid, NULL, 0);
			close(po[0]);
			close(pe[0]);
			if (pi[1] >= 0) {
				close(pi[1]);
			}
		}
		*err_no = exec_errno;
		return -1;
	}
	out[0] = out[1] = -1;
	*in = -1;
	if (wait) {
		fcntl(po[0], F_SETFL, O_NONBLOCK);
		fcntl(pe[0], F_SETFL, O_NONBLOCK);
		out[0] = po[0];
		out[1] = pe[0];
		if (pi[1] >= 0) {
			fcntl(pi[1], F_SETFL, O_NONBLOCK);
			*in = pi[1];
		}
	}
	return target;
}

/* ---- runs ---- */

static void input_close(struct run *run) {
	if (run->in_source != NULL) {
		wl_event_source_remove(run->in_source);
		run->in_source = NULL;
	}
	if (run->in >= 0) {
		close(run->in);
		run->in = -1;
	}
	/* input the program will never read: acknowledge it, so the host does not wait */
	size_t left = run->in_len - run->in_pos;
	if (left > 0 && run->conn != NULL) {
		struct vd_link_msg msg = {.type = VD_LINK_RUN_INPUT_ACK, .id = run->id};
		msg.body.run_input_ack.bytes = (uint32_t)left;
		vd_link_conn_send(run->conn, &msg);
	}
	free(run->in_buf);
	run->in_buf = NULL;
	run->in_len = run->in_pos = 0;
}

static void run_destroy(struct run *run) {
	struct vd_guest_runs *runs = run->runs;
	wl_list_remove(&run->link);
	for (int i = 0; i < 2; i++) {
		if (run->out_source[i] != NULL) {
			wl_event_source_remove(run->out_source[i]);
		}
		if (run->out[i] >= 0) {
			close(run->out[i]);
		}
	}
	input_close(run);
	free(run);
	runs->count--;
	runs->changed(runs->data, runs->count);
}

/* Finishes a run once it has exited and its output is drained. */
static void run_maybe_done(struct run *run) {
	if (!run->exited || run->out[0] >= 0 || run->out[1] >= 0) {
		return;
	}
	if (run->conn != NULL) {
		struct vd_link_msg msg = {.type = VD_LINK_RUN_EXIT, .id = run->id};
		if (WIFSIGNALED(run->status)) {
			msg.body.run_exit.kind = VD_LINK_EXIT_KIND_SIGNALED;
			msg.body.run_exit.value = (uint32_t)WTERMSIG(run->status);
		} else {
			msg.body.run_exit.kind = VD_LINK_EXIT_KIND_EXITED;
			msg.body.run_exit.value = (uint32_t)WEXITSTATUS(run->status);
		}
		vd_link_conn_send(run->conn, &msg);
	}
	run_destroy(run);
}

/* Whether the run may read more output now (its window and its link have room). */
static bool output_allowed(const struct run *run) {
	return run->conn == NULL || (run->unacked + VD_LINK_MAX_CHUNK <= VD_LINK_RUN_WINDOW &&
		vd_link_conn_queued(run->conn) <= OUTPUT_PAUSE_QUEUE);
}

static void output_update(struct run *run) {
	uint32_t mask = output_allowed(run) ? WL_EVENT_READABLE : 0;
	for (int i = 0; i < 2; i++) {
		if (run->out_source[i] != NULL) {
			wl_event_source_fd_update(run->out_source[i], mask);
		}
	}
}

static int handle_output(int fd, uint32_t mask, void *data) {
	struct run *run = data;
	int which = fd == run->out[0] ? 0 : 1;
	static uint8_t buf[VD_LINK_MAX_CHUNK];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return 0;
	}
	if (n <= 0) {
		wl_event_source_remove(run->out_source[which]);
		run->out_source[which] = NULL;
		close(run->out[which]);
		run->out[which] = -1;
		run_maybe_done(run);
		return 0;
	}
	if (run->conn != NULL) {
		struct vd_link_msg msg = {.type = VD_LINK_RUN_OUTPUT, .id = run->id};
		msg.body.run_output = (struct vd_link_run_output){.stream = which == 0 ?
			VD_LINK_STREAM_STDOUT : VD_LINK_STREAM_STDERR, .data = buf,
			.data_len = (uint32_t)n};
		vd_link_conn_send(run->conn, &msg);
		run->unacked += (uint32_t)n;
		output_update(run); // back-pressure: the host (and its reader) catch up first
	}
	return 0;
}

static int handle_input(int fd, uint32_t mask, void *data) {
	struct run *run = data;
	while (run->in_pos < run->in_len) {
		ssize_t n = write(run->in, run->in_buf + run->in_pos, run->in_len - run->in_pos);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return 0;
		}
		if (n < 0) {
			input_close(run); // the program closed its stdin (EPIPE)
			return 0;
		}
		run->in_pos += (size_t)n;
		if (run->conn != NULL) {
			struct vd_link_msg msg = {.type = VD_LINK_RUN_INPUT_ACK, .id = run->id};
			msg.body.run_input_ack.bytes = (uint32_t)n;
			vd_link_conn_send(run->conn, &msg);
		}
	}
	run->in_len = run->in_pos = 0;
	wl_event_source_fd_update(run->in_source, 0);
	if (run->in_eof) {
		input_close(run);
	}
	return 0;
}

static void input_add(struct run *run, const struct vd_link_run_input *input) {
	if (run->in < 0) {
		/* no pipe (or the program closed it): the data is dropped, but acknowledged */
		if (input->data_len > 0 && run->conn != NULL) {
			struct vd_link_msg msg = {.type = VD_LINK_RUN_INPUT_ACK, .id = run->id};
			msg.body.run_input_ack.bytes = input->data_len;
			vd_link_conn_send(run->conn, &msg);
		}
		return;
	}
	size_t pending = run->in_len - run->in_pos;
	if (pending + input->data_len > VD_LINK_RUN_WINDOW) {
		vd_link_conn_fail(run->conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: input of request %u beyond its %u-byte window", run->id,
			VD_LINK_RUN_WINDOW);
		return;
	}
	if (input->data_len > 0) {
		if (run->in_pos > 0) {
			memmove(run->in_buf, run->in_buf + run->in_pos, pending);
			run->in_len = pending;
			run->in_pos = 0;
		}
		uint8_t *buf = realloc(run->in_buf, run->in_len + input->data_len);
		if (buf == NULL) {
			vd_link_conn_fail(run->conn, VD_LINK_ERROR_CODE_INTERNAL, "out of memory");
			return;
		}
		run->in_buf = buf;
		memcpy(run->in_buf + run->in_len, input->data, input->data_len);
		run->in_len += input->data_len;
	}
	run->in_eof |= input->eof != 0;
	if (run->in_len > run->in_pos) {
		wl_event_source_fd_update(run->in_source, WL_EVENT_WRITABLE);
	} else if (run->in_eof) {
		input_close(run);
	}
}

void vd_guest_runs_start(struct vd_guest_runs *runs, struct vd_link_conn *conn, uint32_t id,
		char *const *argv, const struct vd_link_run_env *env, uint32_t envc, uint32_t flags) {
	if (runs->count >= MAX_RUNS) {
		send_error(conn, id, VD_LINK_ERROR_CODE_LIMIT, "too many programs running (%d)",
			MAX_RUNS);
		return;
	}
	bool wait = flags & VD_LINK_RUN_FLAGS_WAIT;
	bool stdin_pipe = wait && (flags & VD_LINK_RUN_FLAGS_STDIN);
	int out[2], in, err_no = 0;
	pid_t pid = spawn(argv, env, envc, wait, stdin_pipe, out, &in, &err_no);
	if (pid < 0) {
		vd_log(VD_INFO, "cannot run %s: %s", argv[0], strerror(err_no));
		send_error(conn, id, err_no == ENOENT ? VD_LINK_ERROR_CODE_NOT_FOUND :
			VD_LINK_ERROR_CODE_EXEC, "%s: %s", argv[0], strerror(err_no));
		return;
	}
	struct run *run = calloc(1, sizeof(*run));
	if (run == NULL) {
		abort();
	}
	run->runs = runs;
	run->conn = wait ? conn : NULL;
	run->id = id;
	run->pid = pid;
	run->pgid = wait ? pid : getpgid(pid);
	if (run->pgid <= 0) {
		run->pgid = pid;
	}
	run->wait = wait;
	run->in = in;
	for (int i = 0; i < 2; i++) {
		run->out[i] = out[i];
		if (out[i] >= 0) {
			run->out_source[i] = wl_event_loop_add_fd(runs->loop, out[i], WL_EVENT_READABLE,
				handle_output, run);
		}
	}
	if (in >= 0) {
		run->in_source = wl_event_loop_add_fd(runs->loop, in, 0, handle_input, run);
	}
	wl_list_insert(&runs->list, &run->link);
	runs->count++;
	vd_log(VD_INFO, "started %s (pid %d%s)", argv[0], pid, wait ? ", waiting" : ", detached");
	struct vd_link_msg msg = {.type = VD_LINK_RUN_STARTED, .id = id};
	msg.body.run_started.pid = (uint32_t)pid;
	vd_link_conn_send(conn, &msg);
	runs->changed(runs->data, runs->count);
}

static struct run *find_run(struct vd_guest_runs *runs, struct vd_link_conn *conn, uint32_t id) {
	struct run *run;
	wl_list_for_each(run, &runs->list, link) {
		if (run->conn == conn && run->id == id) {
			return run;
		}
	}
	return NULL;
}

void vd_guest_runs_handle(struct vd_guest_runs *runs, struct vd_link_conn *conn,
		const struct vd_link_msg *msg) {
	struct run *run = find_run(runs, conn, msg->id);
	if (run == NULL) {
		return; // it ended meanwhile
	}
	switch (msg->type) {
	case VD_LINK_RUN_ACK: {
		uint32_t n = msg->body.run_ack.bytes;
		run->unacked -= n < run->unacked ? n : run->unacked;
		output_update(run);
		break;
	}
	case VD_LINK_RUN_INPUT:
		input_add(run, &msg->body.run_input);
		break;
	case VD_LINK_SIGNAL:
		if (!run->exited) {
			vd_log(VD_INFO, "signal %u to pid %d", msg->body.signal.signo, run->pid);
			kill(-run->pgid, (int)msg->body.signal.signo);
		}
		break;
	default:
		break;
	}
}

void vd_guest_runs_resume(struct vd_guest_runs *runs, struct vd_link_conn *conn) {
	struct run *run;
	wl_list_for_each(run, &runs->list, link) {
		if (run->conn == conn) {
			output_update(run);
		}
	}
}

void vd_guest_runs_detach(struct vd_guest_runs *runs, struct vd_link_conn *conn) {
	struct run *run;
	wl_list_for_each(run, &runs->list, link) {
		if (run->conn == conn) {
			run->conn = NULL;
			input_close(run);
			output_update(run); // drain what it writes, for nobody
			if (!run->exited) {
				kill(-run->pgid, SIGHUP); // nobody reads its output any more
			}
		}
	}
}

void vd_guest_runs_reap(struct vd_guest_runs *runs) {
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			break;
		}
		struct run *run, *tmp;
		wl_list_for_each_safe(run, tmp, &runs->list, link) {
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

struct vd_guest_runs *vd_guest_runs_create(struct wl_event_loop *loop,
		void (*changed)(void *data, size_t running), void *data) {
	struct vd_guest_runs *runs = calloc(1, sizeof(*runs));
	if (runs == NULL) {
		return NULL;
	}
	runs->loop = loop;
	runs->changed = changed;
	runs->data = data;
	wl_list_init(&runs->list);
	return runs;
}

void vd_guest_runs_destroy(struct vd_guest_runs *runs) {
	if (runs == NULL) {
		return;
	}
	struct run *run, *tmp;
	wl_list_for_each_safe(run, tmp, &runs->list, link) {
		run->conn = NULL;
		run_destroy(run);
	}
	free(runs);
}

size_t vd_guest_runs_count(const struct vd_guest_runs *runs) {
	return runs->count;
}
