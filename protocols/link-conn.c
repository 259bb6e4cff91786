#define LOG_TAG "link"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "protocols/link-conn-private.h"
#include "protocols/log.h"

/* What a faulted reference sends instead of its bytes. */
static const uint8_t zeros[64 * 1024];

/* Bytes queued to write: our own and the caller's. */
size_t link_conn_out_pending(const struct vd_link_conn *conn) {
	return vd_link_buf_pending(&conn->out) + conn->ref_bytes;
}

/* Forgets every queued byte (the peer will never read them). */
void link_conn_out_drop(struct vd_link_conn *conn) {
	conn->out_sent += vd_link_buf_pending(&conn->out);
	conn->out.pos = conn->out.len = 0;
	while (conn->ref_count > 0) {
		struct out_ref *ref = &conn->refs[conn->ref_start];
		conn->ref_start++;
		conn->ref_count--;
		ref->release(ref->release_data, ref->faulted);
	}
	conn->ref_start = 0;
	conn->ref_bytes = 0;
}

void link_conn_update_mask(struct vd_link_conn *conn) {
	if (conn->fd_source == NULL) {
		return;
	}
	uint32_t mask = 0;
	bool reading = conn->state == STATE_HANDSHAKE || conn->state == STATE_READY;
	if (reading && !conn->paused) {
		mask |= WL_EVENT_READABLE;
	}
	if ((conn->state != STATE_FAILED && conn->state != STATE_CLOSED) &&
			link_conn_out_pending(conn) > 0) {
		mask |= WL_EVENT_WRITABLE;
	}
	if (mask != conn->mask) {
		conn->mask = mask;
		wl_event_source_fd_update(conn->fd_source, mask);
	}
}

void link_conn_fail(struct vd_link_conn *conn, const char *reason) {
	if (conn->state == STATE_FAILED || conn->state == STATE_CLOSED) {
		return;
	}
	conn->state = STATE_FAILED;
	if (reason != NULL) {
		/* a longer reason is cut to fit */
		snprintf(conn->reason, sizeof(conn->reason), "%.*s", (int)sizeof(conn->reason) - 1,
			reason);
		conn->have_reason = true;
	}
	link_conn_update_mask(conn);
	link_conn_schedule_idle(conn);
}

/* The queue as iovecs, our own bytes and the caller's in order; returns how many. */
static int out_iov(struct vd_link_conn *conn, struct iovec *iov) {
	int n = 0;
	uint64_t at = conn->out_sent;
	const uint8_t *own = conn->out.data + conn->out.pos;
	size_t i = 0;
	for (; i < conn->ref_count && n + 2 <= MAX_IOV; i++) {
		struct out_ref *ref = &conn->refs[conn->ref_start + i];
		if (ref->at > at) {
			iov[n++] = (struct iovec){(void *)(own + (at - conn->out_sent)), ref->at - at};
			at = ref->at;
		}
		size_t left = ref->len - ref->done;
		if (ref->faulted) {
			iov[n++] = (struct iovec){(void *)zeros, left < sizeof(zeros) ? left : sizeof(zeros)};
			return n; // the rest after these zeros, next time
		}
		iov[n++] = (struct iovec){(void *)(ref->data + ref->done), left};
	}
	/* our own bytes up to the first reference left out (or all of them) */
	uint64_t end = i < conn->ref_count ? conn->refs[conn->ref_start + i].at : conn->out_total;
	if (n < MAX_IOV && at < end) {
		iov[n++] = (struct iovec){(void *)(own + (at - conn->out_sent)), end - at};
	}
	return n;
}

/* n bytes of the queue were written. */
static void out_consume(struct vd_link_conn *conn, size_t n) {
	while (n > 0) {
		struct out_ref *ref = conn->ref_count > 0 ? &conn->refs[conn->ref_start] : NULL;
		if (ref == NULL || ref->at > conn->out_sent) {
			uint64_t own = ref != NULL ? ref->at - conn->out_sent :
				conn->out_total - conn->out_sent;
			size_t k = own < n ? (size_t)own : n;
			vd_link_buf_consume(&conn->out, k);
			conn->out_sent += k;
			n -= k;
			continue;
		}
		size_t k = ref->len - ref->done < n ? ref->len - ref->done : n;
		ref->done += k;
		conn->ref_bytes -= k;
		n -= k;
		if (ref->done == ref->len) {
			conn->ref_start++;
			conn->ref_count--;
			if (conn->ref_count == 0) {
				conn->ref_start = 0;
			}
			ref->release(ref->release_data, ref->faulted);
		}
	}
}

/* Writes what it can. False on a write error (the link then fails). */
static bool flush(struct vd_link_conn *conn) {
	while (link_conn_out_pending(conn) > 0) {
		ssize_t w;
		if (conn->ref_count > 0) {
			struct iovec iov[MAX_IOV];
			int n = out_iov(conn, iov);
			if (conn->is_socket) {
				struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
				w = sendmsg(conn->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
			} else {
				w = writev(conn->fd, iov, n);
			}
		} else {
			const uint8_t *p = conn->out.data + conn->out.pos;
			size_t n = vd_link_buf_pending(&conn->out);
			w = conn->is_socket ? send(conn->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) :
				write(conn->fd, p, n);
		}
		if (w < 0 && errno == ENOTSOCK && conn->is_socket) {
			conn->is_socket = false;
			continue;
		}
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		}
		if (w < 0 && errno == EFAULT && conn->ref_count > 0) {
			/*
			 * Our own bytes never fault: the caller's memory at the head did
			 * (its file shrank). The frame is sent whole, with zeros.
			 */
			struct out_ref *ref = &conn->refs[conn->ref_start];
			if (ref->at == conn->out_sent && !ref->faulted) {
				ref->faulted = true;
				continue;
			}
		}
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET) && !conn->write_closed &&
				conn->state != STATE_FAILED) {
			/* The peer closed: what it sent before (an ERROR saying why) is still to
			 * be read, and its end of stream ends the link. */
			conn->write_closed = true;
			link_conn_out_drop(conn);
			link_conn_update_mask(conn);
			return true;
		}
		if (w < 0) {
			char reason[128];
			snprintf(reason, sizeof(reason), "write: %s", strerror(errno));
			link_conn_fail(conn, reason);
			return false;
		}
		if (conn->ref_count > 0) {
			out_consume(conn, (size_t)w);
		} else {
			vd_link_buf_consume(&conn->out, (size_t)w);
			conn->out_sent += (size_t)w;
		}
	}
	return true;
}

static void finish_close(struct vd_link_conn *conn) {
	conn->state = STATE_CLOSED;
	if (conn->fd_source != NULL) {
		wl_event_source_remove(conn->fd_source);
		conn->fd_source = NULL;
	}
	if (conn->timer != NULL) {
		wl_event_source_timer_update(conn->timer, 0);
	}
	/* the owner may destroy us in there: nothing after this call */
	conn->impl->closed(conn, conn->have_reason ? conn->reason : NULL);
}

static void handle_idle(void *data) {
	struct vd_link_conn *conn = data;
	conn->idle = NULL; // the loop removes the source after this call
	if (conn->state == STATE_FAILED) {
		flush(conn); // best effort: an ERROR frame queued by vd_link_conn_fail
		finish_close(conn);
		return;
	}
	if (conn->state == STATE_CLOSED) {
		return;
	}
	if (!flush(conn)) {
		return; // failed: idle again
	}
	size_t pending = link_conn_out_pending(conn);
	if (pending == 0 && conn->state == STATE_CLOSING) {
		finish_close(conn);
		return;
	}
	link_conn_update_mask(conn);
	if (pending == 0 && conn->impl->drained != NULL) {
		conn->impl->drained(conn);
	}
}

void link_conn_schedule_idle(struct vd_link_conn *conn) {
	if (conn->idle == NULL && conn->state != STATE_CLOSED) {
		conn->idle = wl_event_loop_add_idle(conn->loop, handle_idle, conn);
	}
}

static bool queue(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	char err[256];
	uint32_t limit = conn->peer_max_frame;
	size_t before = conn->out.len;
	if (!vd_link_encode(conn->config.set, msg, limit, &conn->out, err, sizeof(err))) {
		vd_log(VD_ERROR, "cannot send %s: %s",
			vd_link_type_name(conn->config.set, msg->type), err);
		return false;
	}
	conn->out_total += conn->out.len - before;
	link_conn_schedule_idle(conn);
	return true;
}

void link_conn_send_hello(struct vd_link_conn *conn) {
	struct vd_link_msg msg = {.type = VD_LINK_HELLO};
	msg.body.hello = (struct vd_link_hello){
		.magic = VD_LINK_MAGIC,
		.set = conn->config.set->id,
		.min_version = VD_LINK_VERSION,
		.max_version = VD_LINK_VERSION,
		.max_frame = conn->config.max_frame,
		.caps = conn->config.caps,
		.nonce = conn->nonce,
		.peer_nonce = conn->peer_nonce,
		.software = conn->software,
	};
	if (vd_link_buf_put_sync(&conn->out)) {
		conn->out_total += VD_LINK_SYNC_SIZE;
	}
	queue(conn, &msg);
}

bool vd_link_conn_send(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	if ((conn->state != STATE_HANDSHAKE && conn->state != STATE_READY) || conn->write_closed) {
		return false;
	}
	if (link_conn_out_pending(conn) > conn->config.max_queue) {
		char reason[128];
		snprintf(reason, sizeof(reason), "the peer does not read (%zu bytes queued)",
			link_conn_out_pending(conn));
		link_conn_fail(conn, reason);
		return false;
	}
	return queue(conn, msg);
}

bool vd_link_conn_send_ref(struct vd_link_conn *conn, const struct vd_link_msg *msg,
		vd_link_release_func release, void *release_data) {
	if ((conn->state != STATE_HANDSHAKE && conn->state != STATE_READY) || conn->write_closed) {
		return false;
	}
	if (link_conn_out_pending(conn) > conn->config.max_queue) {
		char reason[128];
		snprintf(reason, sizeof(reason), "the peer does not read (%zu bytes queued)",
			link_conn_out_pending(conn));
		link_conn_fail(conn, reason);
		return false;
	}
	const struct vd_link_message *desc = vd_link_set_find(conn->config.set, msg->type);
	if (desc == NULL || !desc->bulk) {
		vd_log(VD_ERROR, "cannot send %s by reference",
			vd_link_type_name(conn->config.set, msg->type));
		return false;
	}
	if (conn->ref_start + conn->ref_count == conn->ref_cap) {
		if (conn->ref_start > 0) {
			memmove(conn->refs, conn->refs + conn->ref_start,
				conn->ref_count * sizeof(*conn->refs));
			conn->ref_start = 0;
		} else {
			size_t cap = conn->ref_cap ? conn->ref_cap * 2 : 16;
			struct out_ref *refs = realloc(conn->refs, cap * sizeof(*refs));
			if (refs == NULL) {
				return false;
			}
			conn->refs = refs;
			conn->ref_cap = cap;
		}
	}
	char err[256];
	size_t before = conn->out.len;
	if (!vd_link_encode_head(conn->config.set, msg, conn->peer_max_frame, &conn->out, err,
			sizeof(err))) {
		vd_log(VD_ERROR, "cannot send %s: %s", desc->name, err);
		return false;
	}
	conn->out_total += conn->out.len - before;
	/* the data field is the last: its pointer and length are the body's last members */
	const struct vd_link_field *data = &desc->fields[desc->nfields - 1];
	const uint8_t *bytes;
	uint32_t len;
	memcpy(&bytes, (const uint8_t *)&msg->body + data->offset, sizeof(bytes));
	memcpy(&len, (const uint8_t *)&msg->body + data->count_offset, sizeof(len));
	conn->refs[conn->ref_start + conn->ref_count++] = (struct out_ref){
		.at = conn->out_total, .data = bytes, .len = len, .release = release,
		.release_data = release_data,
	};
	conn->ref_bytes += len;
	link_conn_schedule_idle(conn);
	return true;
}

void vd_link_conn_fail(struct vd_link_conn *conn, uint32_t code, const char *fmt, ...) {
	if (conn->state == STATE_FAILED || conn->state == STATE_CLOSED) {
		return;
	}
	char text[1024];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	if (code != 0) {
		/* Our own words, but keep them one line of valid text. */
		char line[1024];
		size_t j = 0;
		for (size_t i = 0; text[i] != '\0' && j + 1 < sizeof(line); i++) {
			unsigned char c = (unsigned char)text[i];
			line[j++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		}
		line[j] = '\0';
		struct vd_link_msg msg = {.type = VD_LINK_ERROR};
		msg.body.error = (struct vd_link_error){.code = code, .message = line};
		if (!queue(conn, &msg)) {
			msg.body.error.message = "error";
			queue(conn, &msg);
		}
	}
	link_conn_fail(conn, text);
}

void vd_link_conn_close(struct vd_link_conn *conn) {
	if (conn->state != STATE_HANDSHAKE && conn->state != STATE_READY) {
		return;
	}
	conn->state = STATE_CLOSING;
	if (conn->timer != NULL) {
		wl_event_source_timer_update(conn->timer, CLOSE_TIMEOUT_MS);
	}
	link_conn_update_mask(conn);
	link_conn_schedule_idle(conn);
}

bool vd_link_conn_closing(const struct vd_link_conn *conn) {
	return conn->state != STATE_HANDSHAKE && conn->state != STATE_READY;
}


int link_conn_handle_fd(int fd, uint32_t mask, void *data) {
	struct vd_link_conn *conn = data;
	conn->busy++;
	if (mask & WL_EVENT_WRITABLE) {
		if (flush(conn)) {
			link_conn_update_mask(conn);
			if (link_conn_out_pending(conn) == 0) {
				link_conn_schedule_idle(conn); // drained(), or the end of closing
			}
		}
	}
	if (!conn->destroyed && (mask & (WL_EVENT_READABLE | WL_EVENT_HANGUP | WL_EVENT_ERROR)) &&
			(conn->state == STATE_HANDSHAKE || conn->state == STATE_READY)) {
		if (!(mask & WL_EVENT_READABLE) && conn->paused) {
			link_conn_fail(conn, "the peer hung up");
		} else {
			link_conn_handle_readable(conn);
		}
	}
	conn->busy--;
	if (conn->destroyed && conn->busy == 0) {
		conn->destroyed = false;
		vd_link_conn_destroy(conn);
	}
	return 0;
}

static int handle_timer(void *data) {
	struct vd_link_conn *conn = data;
	switch (conn->state) {
	case STATE_HANDSHAKE:
		if (conn->host_away) {
			link_conn_port_rearm(conn);
		} else if (conn->config.carrier == VD_LINK_CARRIER_SERIAL) {
			/* the peer may have missed it; one at a time, whatever the wait */
			if (link_conn_out_pending(conn) == 0) {
				link_conn_send_hello(conn);
			}
			wl_event_source_timer_update(conn->timer, HELLO_RESEND_MS);
		} else {
			link_conn_fail(conn, "no HELLO from the peer in time");
		}
		break;
	case STATE_CLOSING:
		link_conn_fail(conn, "the peer did not take the last messages in time");
		break;
	default:
		break;
	}
	return 0;
}

struct vd_link_conn *vd_link_conn_create(struct wl_event_loop *loop, int fd,
		const struct vd_link_conn_config *config, const struct vd_link_conn_impl *impl,
		void *data) {
	struct vd_link_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		close(fd);
		return NULL;
	}
	conn->loop = loop;
	conn->fd = fd;
	conn->is_socket = true;
	conn->config = *config;
	if (conn->config.max_queue == 0) {
		conn->config.max_queue = VD_LINK_DEFAULT_MAX_QUEUE;
	}
	if (conn->config.max_frame == 0 || conn->config.max_frame > config->set->max_frame) {
		conn->config.max_frame = config->set->max_frame;
	}
	if (conn->config.max_frame < VD_LINK_MIN_FRAME) {
		conn->config.max_frame = VD_LINK_MIN_FRAME;
	}
	snprintf(conn->software, sizeof(conn->software), "%s",
		config->software != NULL ? config->software : "vmdesk");
	conn->config.software = conn->software;
	conn->impl = impl;
	conn->data = data;
	conn->peer_max_frame = config->set->max_frame;
	conn->port_epoll = -1;
	for (size_t i = 0; i < config->set->count; i++) {
		const struct vd_link_message *desc = &config->set->messages[i];
		size_t head = VD_LINK_HEADER_SIZE;
		for (size_t f = 0; desc->bulk && f < desc->nfields; f++) {
			head += desc->fields[f].kind == VD_LINK_FIELD_U8 ? 1 :
				desc->fields[f].kind == VD_LINK_FIELD_U16 ? 2 :
				desc->fields[f].kind == VD_LINK_FIELD_U64 ? 8 : 4;
		}
		if (desc->bulk && head > conn->bulk.head_max) {
			conn->bulk.head_max = head;
		}
	}
	struct stat st;
	if (config->carrier == VD_LINK_CARRIER_SERIAL && fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		conn->port = true;
		conn->is_socket = false;
	}
	vd_link_reader_init(&conn->reader, conn->config.max_frame);
	if (getrandom(&conn->nonce, sizeof(conn->nonce), GRND_NONBLOCK) != sizeof(conn->nonce)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		conn->nonce = (uint64_t)ts.tv_nsec << 20 ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
	}
	conn->nonce |= 1; // never 0
	conn->state = STATE_HANDSHAKE;
	conn->fd_source = wl_event_loop_add_fd(loop, fd, 0, link_conn_handle_fd, conn);
	conn->timer = wl_event_loop_add_timer(loop, handle_timer, conn);
	if (conn->fd_source == NULL || conn->timer == NULL) {
		vd_link_conn_destroy(conn);
		return NULL;
	}
	if (config->carrier == VD_LINK_CARRIER_SERIAL) {
		wl_event_source_timer_update(conn->timer, HELLO_RESEND_MS);
	} else if (config->hello_timeout_ms > 0) {
		wl_event_source_timer_update(conn->timer, config->hello_timeout_ms);
	}
	link_conn_send_hello(conn);
	link_conn_update_mask(conn);
	return conn;
}

void vd_link_conn_destroy(struct vd_link_conn *conn) {
	if (conn == NULL) {
		return;
	}
	if (conn->busy > 0) {
		/* inside handle_fd: it frees us when it returns */
		conn->destroyed = true;
		conn->state = STATE_CLOSED;
		return;
	}
	if (conn->fd_source != NULL) {
		wl_event_source_remove(conn->fd_source);
	}
	if (conn->idle != NULL) {
		wl_event_source_remove(conn->idle);
	}
	if (conn->timer != NULL) {
		wl_event_source_remove(conn->timer);
	}
	link_conn_port_wait_finish(conn);
	if (conn->fd >= 0) {
		close(conn->fd);
	}
	link_conn_out_drop(conn); // the caller's bytes are released
	free(conn->refs);
	vd_link_reader_finish(&conn->reader);
	vd_link_buf_finish(&conn->out);
	free(conn);
}

void *vd_link_conn_data(const struct vd_link_conn *conn) {
	return conn->data;
}

bool vd_link_conn_ready(const struct vd_link_conn *conn) {
	return conn->state == STATE_READY;
}

uint32_t vd_link_conn_caps(const struct vd_link_conn *conn) {
	return conn->caps;
}

const char *vd_link_conn_peer_software(const struct vd_link_conn *conn) {
	return conn->peer_software;
}

size_t vd_link_conn_queued(const struct vd_link_conn *conn) {
	return link_conn_out_pending(conn);
}

uint32_t vd_link_conn_peer_max_frame(const struct vd_link_conn *conn) {
	return conn->peer_max_frame;
}

void vd_link_conn_pause(struct vd_link_conn *conn, bool paused) {
	conn->partial_since_ms = 0; // a frame we did not read is not stalled
	conn->paused = paused;
	link_conn_update_mask(conn);
}

int vd_link_conn_fd(const struct vd_link_conn *conn) {
	return conn->fd;
}
