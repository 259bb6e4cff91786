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
#include "protocols/spawner.h"

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
	struct vd_spawner *spawner; // forked at startup: starts, signals and reaps our programs
	void (*changed)(void *data, size_t running);
	void (*lost)(void *data);
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

static void close_pair(int p[2]) {
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
	}
}

/*
 * Starts argv through the spawner (protocols/spawner.h: the agent itself
 * never forks or execs once it is filtered), from $HOME in a session of its
 * own, with the session's environment and env over it. With wait, the
 * program is the spawner's child in its own process group with its output
 * (and, with stdin_pipe, its input) in pipes; without, it is double-forked
 * and, the spawner being a subreaper, still reaped and reported. Its
 * output then goes where the agent's goes. Returns the pid, or -1 with
 * *err_no set.
 */
static pid_t spawn(struct vd_guest_runs *runs, char *const *argv,
		const struct vd_link_run_env *env, uint32_t envc, bool wait, bool stdin_pipe,
		int out[2], int *in, pid_t *pgid, int *err_no) {
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1};
	char *vars[VD_SPAWNER_MAX_ENV];
	uint32_t nvars = 0;
	pid_t pid = -1;
	if (envc > VD_SPAWNER_MAX_ENV) {
		*err_no = E2BIG;
		return -1;
	}
	if (wait && (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
			(stdin_pipe && pipe2(pi, O_CLOEXEC) < 0))) {
		*err_no = errno;
		goto out;
	}
	for (; nvars < envc; nvars++) {
		size_t len = strlen(env[nvars].name) + strlen(env[nvars].value) + 2;
		vars[nvars] = malloc(len);
		if (vars[nvars] == NULL) {
			*err_no = ENOMEM;
			goto out;
		}
		snprintf(vars[nvars], len, "%s=%s", env[nvars].name, env[nvars].value);
	}
	struct vd_spawn req = {.argv = argv, .env = (const char *const *)vars, .env_count = envc,
		.flags = VD_SPAWN_SEARCH_PATH | VD_SPAWN_CHDIR_HOME | (wait ? 0 : VD_SPAWN_DETACH),
		.fds = {pi[0], wait ? po[1] : VD_SPAWN_INHERIT, wait ? pe[1] : VD_SPAWN_INHERIT}};
	struct vd_spawn_result result;
	if (runs->spawner == NULL || !vd_spawner_spawn(runs->spawner, &req, &result, err_no)) {
		if (runs->spawner == NULL) {
			*err_no = EAGAIN;
		}
		goto out;
	}
	pid = result.pid;
	*pgid = result.pgid;

out:
	for (uint32_t i = 0; i < nvars; i++) {
		free(vars[i]);
	}
	// the spawner has the program's ends; ours stay only on success
	if (pi[0] >= 0) {
		close(pi[0]);
	}
	if (po[1] >= 0) {
		close(po[1]);
	}
	if (pe[1] >= 0) {
		close(pe[1]);
	}
	out[0] = out[1] = -1;
	*in = -1;
	if (pid < 0) {
		close_pair(po);
		close_pair(pe);
		close_pair(pi);
		return -1;
	}
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
	return pid;
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
	pid_t pgid = -1;
	pid_t pid = spawn(runs, argv, env, envc, wait, stdin_pipe, out, &in, &pgid, &err_no);
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
	run->pgid = pgid > 0 ? pgid : pid;
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

/* signo to the run's process group, through the spawner (its parent). */
static void signal_group(struct run *run, int signo) {
	int err_no = 0;
	if (run->runs->spawner != NULL &&
			!vd_spawner_signal(run->runs->spawner, run->pid, signo, true, &err_no) &&
			err_no != ESRCH) {
		vd_log(VD_WARN, "cannot signal pid %d: %s", run->pid, strerror(err_no));
	}
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
			signal_group(run, (int)msg->body.signal.signo);
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
				signal_group(run, SIGHUP); // nobody reads its output any more
			}
		}
	}
}

/* The spawner reaped one of our programs. */
static void handle_exited(pid_t pid, int status, void *data) {
	struct vd_guest_runs *runs = data;
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

static void handle_lost(void *data) {
	struct vd_guest_runs *runs = data;
	runs->lost(runs->data);
}

struct vd_guest_runs *vd_guest_runs_create(struct wl_event_loop *loop,
		void (*changed)(void *data, size_t running), void (*lost)(void *data), void *data) {
	struct vd_guest_runs *runs = calloc(1, sizeof(*runs));
	if (runs == NULL) {
		return NULL;
	}
	runs->loop = loop;
	runs->changed = changed;
	runs->lost = lost;
	runs->data = data;
	wl_list_init(&runs->list);
	runs->spawner = vd_spawner_create(loop, handle_exited, handle_lost, runs, NULL);
	if (runs->spawner == NULL) {
		free(runs);
		return NULL;
	}
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
	vd_spawner_destroy(runs->spawner);
	free(runs);
}

size_t vd_guest_runs_count(const struct vd_guest_runs *runs) {
	return runs->count;
}

pid_t vd_guest_runs_spawner_pid(const struct vd_guest_runs *runs) {
	return vd_spawner_pid(runs->spawner);
}
