#define LOG_TAG "pipe"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/link-pipe.h"
#include "protocols/log.h"

struct vd_link_pipe {
	struct vd_link_pipes *pipes;
	struct wl_list link; // vd_link_pipes.pipes
	uint32_t id;
	int fd; // our end; -1 once closed
	bool to_link; // we read fd and send what comes; else we write what comes into fd
	struct wl_event_source *source; // fd, while watched
	struct vd_mux_source mux;
	bool dead; // done: freed from an idle callback
	struct wl_event_source *reap;
	/* to_link */
	uint32_t credit; // bytes we may still send
	bool close_pending; // end of file read: WL_PIPE_CLOSE goes after the data
	/* from link */
	uint8_t *buf;
	size_t start, end;
	uint32_t unacked;
	bool peer_done;
};

static struct vd_link_pipe *find(struct vd_link_pipes *pipes, uint32_t id) {
	struct vd_link_pipe *pipe;
	wl_list_for_each(pipe, &pipes->pipes, link) {
		if (pipe->id == id && !pipe->dead) {
			return pipe;
		}
	}
	return NULL;
}

static void pipe_free(struct vd_link_pipe *pipe) {
	vd_mux_remove(&pipe->mux);
	if (pipe->source != NULL) {
		wl_event_source_remove(pipe->source);
	}
	if (pipe->reap != NULL) {
		wl_event_source_remove(pipe->reap);
	}
	if (pipe->fd >= 0) {
		close(pipe->fd);
	}
	wl_list_remove(&pipe->link);
	pipe->pipes->count--;
	free(pipe->buf);
	free(pipe);
}

static void handle_reap(void *data) {
	struct vd_link_pipe *pipe = data;
	pipe->reap = NULL; // the loop removes it
	pipe_free(pipe);
}

/* Done: the fd is closed now, the rest freed soon (never inside a turn of the mux). */
static void pipe_done(struct vd_link_pipe *pipe) {
	if (pipe->dead) {
		return;
	}
	pipe->dead = true;
	vd_mux_remove(&pipe->mux);
	if (pipe->source != NULL) {
		wl_event_source_remove(pipe->source);
		pipe->source = NULL;
	}
	if (pipe->fd >= 0) {
		close(pipe->fd);
		pipe->fd = -1;
	}
	pipe->reap = wl_event_loop_add_idle(pipe->pipes->loop, handle_reap, pipe);
	if (pipe->reap == NULL) {
		pipe_free(pipe);
	}
}

static void send_now(struct vd_link_pipe *pipe, const struct vd_link_msg *msg) {
	struct vd_link_conn *conn = pipe->pipes->mux->conn;
	if (conn != NULL) {
		vd_link_conn_send(conn, msg);
	}
}

static int handle_fd(int fd, uint32_t mask, void *data);

static void watch(struct vd_link_pipe *pipe, uint32_t mask) {
	if (pipe->source == NULL && mask != 0) {
		pipe->source = wl_event_loop_add_fd(pipe->pipes->loop, pipe->fd, mask, handle_fd, pipe);
	} else if (pipe->source != NULL && mask != 0) {
		wl_event_source_fd_update(pipe->source, mask);
	} else if (pipe->source != NULL) {
		wl_event_source_remove(pipe->source);
		pipe->source = NULL;
	}
}

/* ---- to the link: we read the fd ---- */

static bool produce(struct vd_mux_source *source, struct vd_link_conn *conn, size_t budget) {
	struct vd_link_pipe *pipe = wl_container_of(source, pipe, mux);
	uint8_t buf[VD_LINK_WL_MAX_DATA];
	while (!pipe->dead && !pipe->close_pending && pipe->credit > 0 && budget > 0) {
		size_t want = pipe->credit < sizeof(buf) ? pipe->credit : sizeof(buf);
		ssize_t n = read(pipe->fd, buf, want);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			watch(pipe, WL_EVENT_READABLE);
			return false;
		}
		if (n <= 0) {
			pipe->close_pending = true; // end of file (or an error: the same to the reader)
			break;
		}
		struct vd_link_msg msg = {.type = VD_LINK_WL_PIPE_DATA, .id = pipe->pipes->channel};
		msg.body.wl_pipe_data = (struct vd_link_wl_pipe_data){.pipe = pipe->id, .data = buf,
			.data_len = (uint32_t)n};
		if (!vd_link_conn_send(conn, &msg)) {
			return false; // the link is going
		}
		pipe->credit -= (uint32_t)n;
		budget = (size_t)n < budget ? budget - (size_t)n : 0;
	}
	if (pipe->close_pending && !pipe->dead) {
		struct vd_link_msg msg = {.type = VD_LINK_WL_PIPE_CLOSE, .id = pipe->pipes->channel};
		msg.body.wl_pipe_close.pipe = pipe->id;
		vd_link_conn_send(conn, &msg);
		pipe_done(pipe);
		return false;
	}
	/* more when the peer acknowledges (credit) or after this turn (budget) */
	return pipe->credit > 0 && !pipe->dead;
}

/* ---- from the link: we write into the fd ---- */

static void send_ack(struct vd_link_pipe *pipe) {
	if (pipe->unacked == 0) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_WL_PIPE_ACK, .id = pipe->pipes->channel};
	msg.body.wl_pipe_ack = (struct vd_link_wl_pipe_ack){.pipe = pipe->id,
		.bytes = pipe->unacked};
	send_now(pipe, &msg);
	pipe->unacked = 0;
}

/* The reader went away: the peer stops sending. */
static void reader_gone(struct vd_link_pipe *pipe) {
	struct vd_link_msg msg = {.type = VD_LINK_WL_PIPE_CLOSE, .id = pipe->pipes->channel};
	msg.body.wl_pipe_close.pipe = pipe->id;
	if (!pipe->peer_done) {
		send_now(pipe, &msg);
	}
	pipe_done(pipe);
}

static void write_out(struct vd_link_pipe *pipe) {
	while (pipe->start < pipe->end) {
		ssize_t n = write(pipe->fd, pipe->buf + pipe->start, pipe->end - pipe->start);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			watch(pipe, WL_EVENT_WRITABLE);
			break;
		}
		if (n < 0) {
			reader_gone(pipe);
			return;
		}
		pipe->start += (size_t)n;
		pipe->unacked += (uint32_t)n;
	}
	if (pipe->start == pipe->end) {
		pipe->start = pipe->end = 0;
		watch(pipe, 0);
		if (pipe->peer_done) {
			pipe_done(pipe); // everything written: the reader sees the end
			return;
		}
	}
	if (pipe->unacked >= pipe->pipes->window / 4 || pipe->start == pipe->end) {
		send_ack(pipe);
	}
}

static int handle_fd(int fd, uint32_t mask, void *data) {
	struct vd_link_pipe *pipe = data;
	if (pipe->to_link) {
		watch(pipe, 0); // until the mux has taken what is there
		vd_mux_wake(&pipe->mux);
	} else if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR) && !(mask & WL_EVENT_WRITABLE)) {
		reader_gone(pipe);
	} else {
		write_out(pipe);
	}
	return 0;
}

/* ---- the set ---- */

void vd_link_pipes_init(struct vd_link_pipes *pipes, struct vd_mux *mux,
		struct wl_event_loop *loop, uint32_t channel, bool host, uint32_t window,
		uint32_t peer_window, size_t max_pipes) {
	*pipes = (struct vd_link_pipes){.mux = mux, .loop = loop, .channel = channel, .host = host,
		.window = window, .peer_window = peer_window, .max_pipes = max_pipes};
	wl_list_init(&pipes->pipes);
}

void vd_link_pipes_finish(struct vd_link_pipes *pipes) {
	struct vd_link_pipe *pipe, *tmp;
	wl_list_for_each_safe(pipe, tmp, &pipes->pipes, link) {
		pipe_free(pipe);
	}
}

static struct vd_link_pipe *pipe_create(struct vd_link_pipes *pipes, uint32_t id, int fd,
		bool to_link, char *err, size_t err_size) {
	int flags = fcntl(fd, F_GETFL);
	struct vd_link_pipe *pipe = flags >= 0 ? calloc(1, sizeof(*pipe)) : NULL;
	if (pipe == NULL || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		snprintf(err, err_size, "%s", flags < 0 ? "not a file descriptor" : "out of memory");
		free(pipe);
		close(fd);
		return NULL;
	}
	pipe->pipes = pipes;
	pipe->id = id;
	pipe->fd = fd;
	pipe->to_link = to_link;
	pipe->credit = pipes->peer_window;
	vd_mux_source_init(&pipe->mux, pipes->mux, produce);
	wl_list_insert(pipes->pipes.prev, &pipe->link);
	pipes->count++;
	if (to_link) {
		vd_mux_wake(&pipe->mux); // whatever is there already
	} else {
		pipe->buf = malloc(pipes->window);
		if (pipe->buf == NULL) {
			snprintf(err, err_size, "out of memory");
			pipe_free(pipe);
			return NULL;
		}
	}
	return pipe;
}

bool vd_link_pipes_add_local(struct vd_link_pipes *pipes, int fd, struct vd_link_msg *msg,
		char *err, size_t err_size) {
	if (pipes->count >= pipes->max_pipes) {
		snprintf(err, err_size, "more than %zu pipes open at once", pipes->max_pipes);
		close(fd);
		return false;
	}
	int flags = fcntl(fd, F_GETFL);
	bool read_end = flags >= 0 && (flags & O_ACCMODE) == O_RDONLY;
	uint32_t id = ++pipes->next_id | (pipes->host ? VD_LINK_WL_HOST_PIPE : 0);
	if (pipe_create(pipes, id, fd, read_end, err, err_size) == NULL) {
		return false;
	}
	*msg = (struct vd_link_msg){.type = VD_LINK_WL_PIPE, .id = pipes->channel};
	msg->body.wl_pipe = (struct vd_link_wl_pipe){.pipe = id,
		.end = read_end ? VD_LINK_PIPE_END_READ : VD_LINK_PIPE_END_WRITE};
	return true;
}

bool vd_link_pipes_add_remote(struct vd_link_pipes *pipes, const struct vd_link_wl_pipe *msg,
		int *fd, char *err, size_t err_size) {
	bool peer_is_host = !pipes->host;
	if (((msg->pipe & VD_LINK_WL_HOST_PIPE) != 0) != peer_is_host ||
			msg->pipe <= pipes->last_peer_id) {
		snprintf(err, err_size, "pipe number %u is not a new one of the %s's", msg->pipe,
			peer_is_host ? "host" : "guest");
		return false;
	}
	if (pipes->count >= pipes->max_pipes) {
		snprintf(err, err_size, "more than %zu pipes open at once", pipes->max_pipes);
		return false;
	}
	pipes->last_peer_id = msg->pipe;
	int ends[2];
	if (pipe2(ends, O_CLOEXEC) != 0) {
		snprintf(err, err_size, "cannot make a pipe: %s", strerror(errno));
		return false;
	}
	/* the peer writes into its fd: we read ours and send; the peer reads: we write */
	bool to_link = msg->end == VD_LINK_PIPE_END_WRITE;
	int ours = to_link ? ends[0] : ends[1];
	*fd = to_link ? ends[1] : ends[0];
	if (pipe_create(pipes, msg->pipe, ours, to_link, err, err_size) == NULL) {
		close(*fd);
		*fd = -1;
		return false;
	}
	return true;
}

/* A number that was used once and is closed now: what comes for it is late, not wrong. */
static bool was_used(struct vd_link_pipes *pipes, uint32_t id) {
	bool host_id = (id & VD_LINK_WL_HOST_PIPE) != 0;
	if (host_id == pipes->host) {
		return (id & ~VD_LINK_WL_HOST_PIPE) <= pipes->next_id;
	}
	return id <= pipes->last_peer_id;
}

bool vd_link_pipes_message(struct vd_link_pipes *pipes, const struct vd_link_msg *msg,
		char *err, size_t err_size) {
	uint32_t id = msg->type == VD_LINK_WL_PIPE_DATA ? msg->body.wl_pipe_data.pipe :
		msg->type == VD_LINK_WL_PIPE_ACK ? msg->body.wl_pipe_ack.pipe :
		msg->body.wl_pipe_close.pipe;
	struct vd_link_pipe *pipe = find(pipes, id);
	if (pipe == NULL) {
		if (was_used(pipes, id)) {
			return true; // crossed our close
		}
		snprintf(err, err_size, "pipe %u was never opened", id);
		return false;
	}
	switch (msg->type) {
	case VD_LINK_WL_PIPE_DATA: {
		const struct vd_link_wl_pipe_data *data = &msg->body.wl_pipe_data;
		if (pipe->to_link || pipe->peer_done) {
			snprintf(err, err_size, "data for pipe %u, which the %s does not write", id,
				pipes->host ? "guest" : "host");
			return false;
		}
		if (pipe->end - pipe->start + data->data_len > pipes->window) {
			snprintf(err, err_size, "pipe %u: %u bytes past the window of %u", id,
				data->data_len, pipes->window);
			return false;
		}
		if (pipe->end + data->data_len > pipes->window) {
			memmove(pipe->buf, pipe->buf + pipe->start, pipe->end - pipe->start);
			pipe->end -= pipe->start;
			pipe->start = 0;
		}
		memcpy(pipe->buf + pipe->end, data->data, data->data_len);
		pipe->end += data->data_len;
		write_out(pipe);
		return true;
	}
	case VD_LINK_WL_PIPE_ACK: {
		uint32_t bytes = msg->body.wl_pipe_ack.bytes;
		if (!pipe->to_link || (uint64_t)pipe->credit + bytes > pipes->peer_window) {
			snprintf(err, err_size, "pipe %u: acknowledgement of %u bytes never sent", id,
				bytes);
			return false;
		}
		pipe->credit += bytes;
		if (!pipe->close_pending) {
			vd_mux_wake(&pipe->mux);
		}
		return true;
	}
	default: // WL_PIPE_CLOSE
		if (pipe->to_link) {
			pipe_done(pipe); // the reader is gone: read no more
		} else {
			pipe->peer_done = true;
			if (pipe->start == pipe->end) {
				pipe_done(pipe);
			}
		}
		return true;
	}
}
