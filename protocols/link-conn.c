#define LOG_TAG "link"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "protocols/clock.h"
#include "protocols/link-conn.h"
#include "protocols/log.h"

/* Bytes read per readable event, so that one busy peer cannot starve the others. */
#define READ_BUDGET (256u * 1024u)
#define CLOSE_TIMEOUT_MS 5000
#define HELLO_RESEND_MS 1000
/* A port without a host: how often to look, besides the edge that says so. */
#define PORT_CHECK_MS 2000
/*
 * Serial carriers: a frame still incomplete this long (plus 1 ms per 4 KiB
 * it announces), with a SYNC marker in what it holds, is the remnant of a
 * peer that restarted in its middle, swallowing the new session's SYNC and
 * HELLO: the reader hunts for SYNC.
 */
#define FRAME_STALL_MS 3000
/* iovecs per write when bytes of the caller's are queued (send_ref) */
#define MAX_IOV 64

/* Bytes of the caller's queued between our own (vd_link_conn_send_ref). */
struct out_ref {
	uint64_t at; // our own bytes queued before it, since the start
	const uint8_t *data;
	size_t len, done;
	bool faulted; // the memory went away: zeros are sent for the rest
	vd_link_release_func release;
	void *release_data;
};

/* What a faulted reference sends instead of its bytes. */
static const uint8_t zeros[64 * 1024];

enum conn_state {
	STATE_HANDSHAKE, // waiting for the peer's HELLO
	STATE_READY,
	STATE_CLOSING, // writing what is queued, then closed()
	STATE_FAILED, // closed() at the next idle
	STATE_CLOSED, // closed() was called
};

struct vd_link_conn {
	struct wl_event_loop *loop;
	int fd;
	bool is_socket;
	struct wl_event_source *fd_source;
	struct wl_event_source *idle; // flush, and closed() when closing is done
	struct wl_event_source *timer; // hello timeout, close timeout, HELLO resends
	uint32_t mask;

	struct vd_link_conn_config config;
	char software[65];
	const struct vd_link_conn_impl *impl;
	void *data;

	struct vd_link_reader reader;
	struct vd_link_buf out;
	uint64_t out_total, out_sent; // our own bytes queued and written, since the start
	struct out_ref *refs; // refs[ref_start, +ref_count)
	size_t ref_start, ref_count, ref_cap, ref_bytes;
	struct {
		bool active; // reading a bulk frame's data to target
		bool declined; // the owner wanted the head frame delivered as any frame
		struct vd_link_msg msg; // its head, data pointing at target
		uint8_t *target;
		size_t len, got;
		bool expect; // one just ended: the next frame may well be another
		size_t head_max; // bytes of a header and the largest bulk head of the set
	} bulk;
	uint64_t partial_since_ms; // serial carriers: when the incomplete frame began (0: none)
	bool port; // serial carrier on a port: EOF means no host now
	bool host_away; // a port without a host: waiting for one
	int port_epoll; // the port, edge-triggered, while waiting (-1: none)
	struct wl_event_source *port_source;
	enum conn_state state;
	char reason[512];
	bool have_reason;
	bool paused;
	bool write_closed; // the peer stopped reading for good (EPIPE): read what it said

	uint32_t caps;
	uint32_t peer_max_frame;
	char peer_software[65];
	uint64_t nonce, peer_nonce;

	int busy; // inside a handler
	bool destroyed; // vd_link_conn_destroy was called while busy
};

static void schedule_idle(struct vd_link_conn *conn);

/* Bytes queued to write: our own and the caller's. */
static size_t out_pending(const struct vd_link_conn *conn) {
	return vd_link_buf_pending(&conn->out) + conn->ref_bytes;
}

/* Forgets every queued byte (the peer will never read them). */
static void out_drop(struct vd_link_conn *conn) {
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

static void update_mask(struct vd_link_conn *conn) {
	if (conn->fd_source == NULL) {
		return;
	}
	uint32_t mask = 0;
	bool reading = conn->state == STATE_HANDSHAKE || conn->state == STATE_READY;
	if (reading && !conn->paused) {
		mask |= WL_EVENT_READABLE;
	}
	if ((conn->state != STATE_FAILED && conn->state != STATE_CLOSED) &&
			out_pending(conn) > 0) {
		mask |= WL_EVENT_WRITABLE;
	}
	if (mask != conn->mask) {
		conn->mask = mask;
		wl_event_source_fd_update(conn->fd_source, mask);
	}
}

/* Marks the link failed: closed() runs from the next idle callback. */
static void fail(struct vd_link_conn *conn, const char *reason) {
	if (conn->state == STATE_FAILED || conn->state == STATE_CLOSED) {
		return;
	}
	conn->state = STATE_FAILED;
	if (reason != NULL) {
		snprintf(conn->reason, sizeof(conn->reason), "%s", reason);
		conn->have_reason = true;
	}
	update_mask(conn);
	schedule_idle(conn);
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
	while (out_pending(conn) > 0) {
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
			out_drop(conn);
			update_mask(conn);
			return true;
		}
		if (w < 0) {
			char reason[128];
			snprintf(reason, sizeof(reason), "write: %s", strerror(errno));
			fail(conn, reason);
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
	size_t pending = out_pending(conn);
	if (pending == 0 && conn->state == STATE_CLOSING) {
		finish_close(conn);
		return;
	}
	update_mask(conn);
	if (pending == 0 && conn->impl->drained != NULL) {
		conn->impl->drained(conn);
	}
}

static void schedule_idle(struct vd_link_conn *conn) {
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
	schedule_idle(conn);
	return true;
}

static void send_hello(struct vd_link_conn *conn) {
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
	if (out_pending(conn) > conn->config.max_queue) {
		char reason[128];
		snprintf(reason, sizeof(reason), "the peer does not read (%zu bytes queued)",
			out_pending(conn));
		fail(conn, reason);
		return false;
	}
	return queue(conn, msg);
}

bool vd_link_conn_send_ref(struct vd_link_conn *conn, const struct vd_link_msg *msg,
		vd_link_release_func release, void *release_data) {
	if ((conn->state != STATE_HANDSHAKE && conn->state != STATE_READY) || conn->write_closed) {
		return false;
	}
	if (out_pending(conn) > conn->config.max_queue) {
		char reason[128];
		snprintf(reason, sizeof(reason), "the peer does not read (%zu bytes queued)",
			out_pending(conn));
		fail(conn, reason);
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
	schedule_idle(conn);
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
	fail(conn, text);
}

void vd_link_conn_close(struct vd_link_conn *conn) {
	if (conn->state != STATE_HANDSHAKE && conn->state != STATE_READY) {
		return;
	}
	conn->state = STATE_CLOSING;
	if (conn->timer != NULL) {
		wl_event_source_timer_update(conn->timer, CLOSE_TIMEOUT_MS);
	}
	update_mask(conn);
	schedule_idle(conn);
}

bool vd_link_conn_closing(const struct vd_link_conn *conn) {
	return conn->state != STATE_HANDSHAKE && conn->state != STATE_READY;
}

/* ---- incoming ---- */

static void protocol_error(struct vd_link_conn *conn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void protocol_error(struct vd_link_conn *conn, const char *fmt, ...) {
	char text[600];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: %s", text);
}

static void handle_hello(struct vd_link_conn *conn, const struct vd_link_hello *hello) {
	const struct vd_link_set *set = conn->config.set;
	if (hello->set != set->id) {
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_UNSUPPORTED,
			"the peer speaks another link (set %u, not the %s set)", hello->set, set->name);
		return;
	}
	if (hello->min_version > VD_LINK_VERSION || hello->max_version < VD_LINK_VERSION ||
			hello->min_version > hello->max_version) {
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_UNSUPPORTED,
			"no common link version (the peer speaks %u..%u, we %u)", hello->min_version,
			hello->max_version, VD_LINK_VERSION);
		return;
	}
	bool serial = conn->config.carrier == VD_LINK_CARRIER_SERIAL;
	if (!serial && conn->state == STATE_READY) {
		protocol_error(conn, "a second HELLO");
		return;
	}
	if (serial) {
		bool new_peer = hello->nonce != conn->peer_nonce;
		if (new_peer && conn->state == STATE_READY) {
			conn->state = STATE_HANDSHAKE;
			if (conn->impl->reset != NULL) {
				conn->impl->reset(conn);
				if (conn->state != STATE_HANDSHAKE) {
					return;
				}
			}
		}
		conn->peer_nonce = hello->nonce;
		if (new_peer || hello->peer_nonce != conn->nonce) {
			send_hello(conn); // the peer needs to see its session echoed
		}
		if (hello->peer_nonce != conn->nonce || conn->state == STATE_READY) {
			return;
		}
	} else {
		conn->peer_nonce = hello->nonce;
	}
	conn->caps = hello->caps & conn->config.caps;
	conn->peer_max_frame = hello->max_frame < conn->config.set->max_frame ?
		hello->max_frame : conn->config.set->max_frame;
	snprintf(conn->peer_software, sizeof(conn->peer_software), "%s", hello->software);
	conn->state = STATE_READY;
	wl_event_source_timer_update(conn->timer, 0);
	if (conn->impl->ready != NULL) {
		conn->impl->ready(conn);
	}
}

/*
 * Serial carriers: the byte stream lost its frame boundary (a peer restarted
 * in the middle of a frame, or sent garbage). Skip to the next SYNC marker
 * and shake hands again; what was in flight is lost (reset()).
 */
static void resync(struct vd_link_conn *conn, const char *why) {
	vd_log(VD_WARN, "link out of step, resynchronising: %s", why);
	vd_link_reader_hunt(&conn->reader);
	conn->peer_nonce = 0; // whoever answers is a new session
	if (conn->state == STATE_READY) {
		conn->state = STATE_HANDSHAKE;
		if (conn->impl->reset != NULL) {
			conn->impl->reset(conn);
			if (conn->state != STATE_HANDSHAKE) {
				return;
			}
		}
	}
	send_hello(conn);
	wl_event_source_timer_update(conn->timer, HELLO_RESEND_MS);
}

/* Handles one frame; false when the link should read no further now. */
static bool handle_frame(struct vd_link_conn *conn, const struct vd_link_header *header,
		const uint8_t *payload) {
	const struct vd_link_set *set = conn->config.set;
	int peer_role = conn->config.role ^ 1;
	struct vd_link_msg msg;
	char err[512];
	bool serial = conn->config.carrier == VD_LINK_CARRIER_SERIAL;
	if (!vd_link_decode(set, peer_role, header, payload, &msg, err, sizeof(err))) {
		if (serial && conn->state == STATE_HANDSHAKE) {
			return true; // a remnant of an old session
		}
		if (serial) {
			resync(conn, err);
			return !conn->destroyed && !vd_link_conn_closing(conn);
		}
		if (conn->state == STATE_READY && header->type != VD_LINK_HELLO &&
				conn->impl->refused != NULL && conn->impl->refused(conn, header, err)) {
			return !vd_link_conn_closing(conn);
		}
		protocol_error(conn, "%s", err);
		return false;
	}
	if (msg.type == VD_LINK_HELLO) {
		handle_hello(conn, &msg.body.hello);
	} else if (conn->state != STATE_READY) {
		if (!serial) {
			protocol_error(conn, "%s before HELLO", vd_link_type_name(set, msg.type));
		}
	} else {
		const struct vd_link_message *desc = vd_link_set_find(set, msg.type);
		if ((desc->cap & conn->caps) != desc->cap) {
			protocol_error(conn, "%s without its capability", desc->name);
		} else {
			conn->impl->message(conn, &msg);
		}
	}
	vd_link_msg_finish(&msg);
	return !conn->destroyed && !vd_link_conn_closing(conn);
}

/* ---- ports: a serial carrier on a character device ---- */

static int handle_fd(int fd, uint32_t mask, void *data);
static int handle_port_wait(int fd, uint32_t mask, void *data);

/* Stops waiting for a host (or never started). */
static void port_wait_finish(struct vd_link_conn *conn) {
	if (conn->port_source != NULL) {
		wl_event_source_remove(conn->port_source);
		conn->port_source = NULL;
	}
	if (conn->port_epoll >= 0) {
		close(conn->port_epoll);
		conn->port_epoll = -1;
	}
}

/*
 * No host on the port (EOF, or EIO): what was in flight is lost on both
 * sides (link.md, "Serial carriers"). The port stays open (closing it would
 * drop what a host sends next, and another open fails); it is watched
 * edge-triggered for POLLOUT, which comes back with a host, and looked at
 * every PORT_CHECK_MS besides: never level-triggered, since POLLHUP does
 * not clear without a host.
 */
static void port_host_away(struct vd_link_conn *conn) {
	if (!conn->host_away) {
		vd_log(VD_INFO, "no host on the port: waiting for one");
	}
	conn->host_away = true;
	conn->bulk.active = false;
	conn->bulk.declined = false;
	out_drop(conn);
	vd_link_reader_finish(&conn->reader);
	vd_link_reader_init(&conn->reader, conn->config.max_frame);
	conn->peer_nonce = 0;
	if (conn->fd_source != NULL) {
		wl_event_source_remove(conn->fd_source);
		conn->fd_source = NULL;
		conn->mask = 0;
	}
	if (conn->port_epoll < 0) {
		conn->port_epoll = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLOUT | EPOLLET};
		if (conn->port_epoll >= 0 &&
				epoll_ctl(conn->port_epoll, EPOLL_CTL_ADD, conn->fd, &ev) == 0) {
			conn->port_source = wl_event_loop_add_fd(conn->loop, conn->port_epoll,
				WL_EVENT_READABLE, handle_port_wait, conn);
		}
	}
	wl_event_source_timer_update(conn->timer, PORT_CHECK_MS);
	if (conn->state == STATE_READY) {
		conn->state = STATE_HANDSHAKE;
		if (conn->impl->reset != NULL) {
			conn->impl->reset(conn);
		}
	}
}

/* Whether a host is there now; if so, the link starts over with it. */
static void port_check(struct vd_link_conn *conn) {
	if (conn->port_epoll >= 0) {
		struct epoll_event ev;
		while (epoll_wait(conn->port_epoll, &ev, 1, 0) > 0) {
			// consumed: the next edge wakes us again
		}
	}
	struct pollfd pfd = {.fd = conn->fd, .events = POLLOUT};
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT) || (pfd.revents & POLLHUP)) {
		wl_event_source_timer_update(conn->timer, PORT_CHECK_MS);
		return;
	}
	vd_log(VD_INFO, "a host is on the port");
	port_wait_finish(conn);
	conn->host_away = false;
	conn->fd_source = wl_event_loop_add_fd(conn->loop, conn->fd, 0, handle_fd, conn);
	if (conn->fd_source == NULL) {
		fail(conn, "out of memory");
		return;
	}
	send_hello(conn);
	wl_event_source_timer_update(conn->timer, HELLO_RESEND_MS);
	update_mask(conn);
}

static int handle_port_wait(int fd, uint32_t mask, void *data) {
	port_check(data);
	return 0;
}

/* ---- reading ---- */

/* Delivers a bulk frame whose data has all arrived; false when reading should stop. */
static bool bulk_deliver(struct vd_link_conn *conn) {
	conn->partial_since_ms = 0;
	conn->bulk.active = false;
	conn->bulk.declined = false;
	conn->bulk.expect = true;
	conn->impl->message(conn, &conn->bulk.msg);
	return !conn->destroyed && !vd_link_conn_closing(conn);
}

/*
 * The frame at the head is of a bulk type and its data is not all here: the
 * owner may take it (bulk_target). Returns true if it did, with what was
 * read of the data already copied there.
 */
static bool bulk_begin(struct vd_link_conn *conn) {
	struct vd_link_header header;
	const uint8_t *payload;
	size_t avail, head_size;
	char err[256];
	if (conn->impl->bulk_target == NULL || conn->state != STATE_READY || conn->bulk.declined ||
			vd_link_reader_head(&conn->reader, &header, &payload, &avail, err,
				sizeof(err)) != VD_LINK_NEXT_FRAME || avail == header.length) {
		return false;
	}
	struct vd_link_msg *msg = &conn->bulk.msg;
	if (vd_link_decode_head(conn->config.set, conn->config.role ^ 1, &header, payload, avail,
			msg, &head_size, err, sizeof(err)) != VD_LINK_HEAD_OK) {
		return false; // read whole, and refused (or handled) as any frame
	}
	const struct vd_link_message *desc = vd_link_set_find(conn->config.set, msg->type);
	if ((desc->cap & conn->caps) != desc->cap) {
		return false;
	}
	uint8_t *target = conn->impl->bulk_target(conn, msg);
	if (target == NULL || conn->destroyed || vd_link_conn_closing(conn)) {
		conn->bulk.declined = true;
		return false;
	}
	const struct vd_link_field *data = &desc->fields[desc->nfields - 1];
	uint32_t len;
	memcpy(&len, (const uint8_t *)&msg->body + data->count_offset, sizeof(len));
	memcpy((uint8_t *)&msg->body + data->offset, &target, sizeof(target));
	size_t got = avail - head_size;
	memcpy(target, payload + head_size, got);
	vd_link_reader_skip(&conn->reader, VD_LINK_HEADER_SIZE + avail);
	conn->bulk.active = true;
	conn->bulk.target = target;
	conn->bulk.len = len;
	conn->bulk.got = got;
	return true;
}

/*
 * How much to read now: while a bulk frame's head is incomplete, only up to
 * its end, so that the data can still go straight to its place.
 */
static size_t read_limit(struct vd_link_conn *conn, size_t space) {
	struct vd_link_header header;
	const uint8_t *payload;
	size_t avail;
	char err[8];
	if (conn->impl->bulk_target == NULL || conn->state != STATE_READY ||
			conn->bulk.declined) {
		return space;
	}
	if (conn->bulk.expect && vd_link_reader_pending(&conn->reader) == 0) {
		/* after a bulk frame, read a head alone: its data may go straight to its place */
		conn->bulk.expect = false;
		return space < conn->bulk.head_max ? space : conn->bulk.head_max;
	}
	if (vd_link_reader_head(&conn->reader, &header, &payload, &avail, err,
			sizeof(err)) != VD_LINK_NEXT_FRAME) {
		return space; // no header yet: the reader asks for a chunk
	}
	const struct vd_link_message *desc = vd_link_set_find(conn->config.set, header.type);
	if (desc == NULL || !desc->bulk || avail >= 64 || avail == header.length) {
		return space;
	}
	size_t want = 64 - avail;
	return space < want ? space : want;
}

/* Handles every whole frame the reader holds; false when reading should stop. */
static bool handle_frames(struct vd_link_conn *conn) {
	for (;;) {
		if (bulk_begin(conn)) {
			return true;
		}
		if (conn->destroyed || vd_link_conn_closing(conn)) {
			return false;
		}
		struct vd_link_header header;
		const uint8_t *payload;
		char err[256];
		enum vd_link_next next = vd_link_reader_next(&conn->reader, &header, &payload,
			err, sizeof(err));
		if (next == VD_LINK_NEXT_NONE) {
			return true;
		}
		if (next == VD_LINK_NEXT_ERROR) {
			if (conn->config.carrier == VD_LINK_CARRIER_SERIAL) {
				resync(conn, err);
				if (conn->destroyed || vd_link_conn_closing(conn)) {
					return false;
				}
				continue;
			}
			protocol_error(conn, "%s", err);
			return false;
		}
		conn->bulk.declined = false; // the next frame is another one
		conn->partial_since_ms = 0;
		if (!handle_frame(conn, &header, payload)) {
			return false;
		}
	}
}

/*
 * Serial carriers: a frame that stays incomplete while bytes keep coming
 * (link.md, "Handshake"): a peer restarted in its middle, and what follows
 * is the new session's, whose SYNC and HELLO the frame swallows. Without
 * this the new session would wait until enough HELLOs completed the frame.
 */
static void check_stall(struct vd_link_conn *conn) {
	size_t pending = vd_link_reader_pending(&conn->reader);
	if (conn->config.carrier != VD_LINK_CARRIER_SERIAL || conn->reader.hunting ||
			(pending == 0 && !conn->bulk.active)) {
		conn->partial_since_ms = 0;
		return;
	}
	uint64_t now = vd_now_ms();
	if (conn->partial_since_ms == 0) {
		conn->partial_since_ms = now;
		return;
	}
	size_t length = conn->bulk.len;
	/* what the frame holds so far: a new session shows itself by a SYNC marker */
	const uint8_t *got = conn->bulk.target;
	size_t got_len = conn->bulk.got;
	struct vd_link_header header;
	const uint8_t *payload;
	size_t avail;
	char err[8];
	if (!conn->bulk.active) {
		if (vd_link_reader_head(&conn->reader, &header, &payload, &avail, err,
				sizeof(err)) != VD_LINK_NEXT_FRAME) {
			return;
		}
		length = header.length;
		got = payload;
		got_len = avail;
	}
	uint64_t limit = FRAME_STALL_MS + (length >> 12);
	if (now - conn->partial_since_ms < limit || got == NULL ||
			memmem(got, got_len, vd_link_sync, VD_LINK_SYNC_SIZE) == NULL) {
		return;
	}
	char why[128];
	snprintf(why, sizeof(why), "a frame of %zu bytes incomplete after %llu ms", length,
		(unsigned long long)(now - conn->partial_since_ms));
	conn->partial_since_ms = 0;
	conn->bulk.active = false; // the rest is not its data: the hunt reads it
	conn->bulk.declined = false;
	resync(conn, why);
}

/* Reads what is there (within the budget) and handles every whole frame. */
static void handle_readable(struct vd_link_conn *conn) {
	size_t budget = READ_BUDGET;
	bool eof = false;
	int error = 0;
	while (budget > 0 && !eof) {
		uint8_t *p;
		size_t space;
		if (conn->bulk.active) {
			p = conn->bulk.target + conn->bulk.got;
			space = conn->bulk.len - conn->bulk.got;
		} else {
			p = vd_link_reader_space(&conn->reader, &space);
			if (p == NULL) {
				fail(conn, "out of memory");
				return;
			}
			space = read_limit(conn, space);
		}
		size_t want = space < budget ? space : budget;
		ssize_t n = read(conn->fd, p, want);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		}
		if (n < 0 && !(conn->port && errno == EIO)) {
			char reason[128];
			snprintf(reason, sizeof(reason), "read: %s", strerror(errno));
			fail(conn, reason);
			return;
		}
		if (n <= 0) {
			eof = true;
			error = n < 0 ? errno : 0;
			break;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		if (conn->bulk.active) {
			conn->bulk.got += (size_t)n;
			if (conn->bulk.got == conn->bulk.len && !bulk_deliver(conn)) {
				return;
			}
		} else {
			vd_link_reader_commit(&conn->reader, (size_t)n);
			/* frames as they come, so that the buffer never holds more than one */
			if (!handle_frames(conn)) {
				return;
			}
		}
		if ((size_t)n < want) {
			break; // a short read: nothing more now (the loop says when there is)
		}
	}
	if (!eof && conn->state != STATE_FAILED && conn->state != STATE_CLOSED) {
		check_stall(conn);
		if (conn->reader.hunting && !conn->destroyed && !vd_link_conn_closing(conn) &&
				!handle_frames(conn)) {
			return; // what the frame swallowed holds the new HELLO
		}
	}
	if (eof) {
		if (conn->port) {
			(void)error;
			port_host_away(conn);
		} else if (conn->config.carrier == VD_LINK_CARRIER_SERIAL) {
			fail(conn, "the carrier closed");
		} else if (vd_link_reader_pending(&conn->reader) > 0 || conn->bulk.active) {
			char reason[128];
			snprintf(reason, sizeof(reason), "truncated frame (%zu bytes) at end of stream",
				vd_link_reader_pending(&conn->reader) + conn->bulk.got);
			fail(conn, reason);
		} else {
			fail(conn, NULL);
		}
	}
}

static int handle_fd(int fd, uint32_t mask, void *data) {
	struct vd_link_conn *conn = data;
	conn->busy++;
	if (mask & WL_EVENT_WRITABLE) {
		if (flush(conn)) {
			update_mask(conn);
			if (out_pending(conn) == 0) {
				schedule_idle(conn); // drained(), or the end of closing
			}
		}
	}
	if (!conn->destroyed && (mask & (WL_EVENT_READABLE | WL_EVENT_HANGUP | WL_EVENT_ERROR)) &&
			(conn->state == STATE_HANDSHAKE || conn->state == STATE_READY)) {
		if (!(mask & WL_EVENT_READABLE) && conn->paused) {
			fail(conn, "the peer hung up");
		} else {
			handle_readable(conn);
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
			port_check(conn);
		} else if (conn->config.carrier == VD_LINK_CARRIER_SERIAL) {
			/* the peer may have missed it; one at a time, whatever the wait */
			if (out_pending(conn) == 0) {
				send_hello(conn);
			}
			wl_event_source_timer_update(conn->timer, HELLO_RESEND_MS);
		} else {
			fail(conn, "no HELLO from the peer in time");
		}
		break;
	case STATE_CLOSING:
		fail(conn, "the peer did not take the last messages in time");
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
	conn->fd_source = wl_event_loop_add_fd(loop, fd, 0, handle_fd, conn);
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
	send_hello(conn);
	update_mask(conn);
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
	port_wait_finish(conn);
	if (conn->fd >= 0) {
		close(conn->fd);
	}
	out_drop(conn); // the caller's bytes are released
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
	return out_pending(conn);
}

uint32_t vd_link_conn_peer_max_frame(const struct vd_link_conn *conn) {
	return conn->peer_max_frame;
}

void vd_link_conn_pause(struct vd_link_conn *conn, bool paused) {
	conn->partial_since_ms = 0; // a frame we did not read is not stalled
	conn->paused = paused;
	update_mask(conn);
}

int vd_link_conn_fd(const struct vd_link_conn *conn) {
	return conn->fd;
}
