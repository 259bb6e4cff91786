/*
 * fuzz-proxy: vmdesk-proxy's whole message path under the fuzzer, driven at
 * the level of messages (tests/fuzz/proxy-harness.h says how). Sessions,
 * dispatch, every hook (registry, shm, surfaces, xdg-shell, frames, crops,
 * viewports, popups, decorations, input, focus, clipboards) and the link to
 * the global clipboard run as in vmdesk-proxy; the client's end is an
 * endpoint in memory, the compositor's a socketpair. What the client sent
 * and got then goes through a tracker (proxy/wl/tracker.h), the guest
 * bridge's parser, as one connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/log.h"
#include "proxy/clipboard.h"
#include "proxy/hostd-link.h"
#include "proxy/policy.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/wl/tracker.h"
#include "tests/fuzz/link-gen.h"
#include "tests/fuzz/proxy-harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * Clients an input may start (a new one when the last died). Most inputs
 * make a client die within a few records, and each new one costs two
 * registries of globals (the client's and the proxy's own) before it does
 * anything new: session setup is most of the proxy's messages. 4 would
 * save about 22% of the time over a campaign's corpus, but reaches 42 of
 * its 9,572 edges no more (0.4%): kept at 6, coverage first.
 */
#define MAX_SESSIONS_MADE 6
#define PUMP_ROUNDS 32
#define ENDPOINT_IN_MAX (1u << 20)
#define SINK_MAX (8u << 20)

/* ---- the client's end: an endpoint in memory ---- */

struct fz_endpoint {
	struct vd_endpoint base;
	struct fz_session *owner;
	struct fz_buf in; // what the client wrote, with its fds
	size_t in_pos;
	bool hangup;
	uint32_t watched;
};

static struct fz_endpoint *endpoint_from(struct vd_endpoint *endpoint) {
	struct fz_endpoint *ep = wl_container_of(endpoint, ep, base);
	return ep;
}

static enum vd_io_result endpoint_read(struct vd_endpoint *endpoint, size_t max) {
	struct fz_endpoint *ep = endpoint_from(endpoint);
	struct vd_connection *conn = &endpoint->conn;
	while (ep->in.nfds > 0) {
		int fd = fz_buf_pop_fd(&ep->in);
		if (!vd_connection_push_fd(conn, fd)) {
			close(fd);
			return VD_IO_TOO_MANY_FDS;
		}
	}
	size_t space;
	uint8_t *tail = vd_connection_in_tail(conn, &space);
	size_t n = ep->in.len - ep->in_pos;
	n = n < space ? n : space;
	n = n < max ? n : max;
	if (n == 0) {
		return ep->hangup ? VD_IO_CLOSED : VD_IO_AGAIN;
	}
	memcpy(tail, ep->in.data + ep->in_pos, n);
	ep->in_pos += n;
	vd_connection_in_commit(conn, n);
	conn->drained = ep->in_pos == ep->in.len;
	if (conn->drained) {
		ep->in.len = ep->in_pos = 0;
	}
	return VD_IO_OK;
}

static enum vd_io_result endpoint_flush(struct vd_endpoint *endpoint) {
	struct fz_endpoint *ep = endpoint_from(endpoint);
	struct fz_session *s = ep->owner;
	struct vd_connection *conn = &endpoint->conn;
	if (s->client_paused) {
		return vd_connection_out_size(conn) > 0 ? VD_IO_AGAIN : VD_IO_OK;
	}
	size_t n = vd_connection_out_size(conn);
	if (s->events.len + n > SINK_MAX) {
		n = SINK_MAX - s->events.len;
	}
	if (n == 0) {
		return vd_connection_out_size(conn) > 0 ? VD_IO_AGAIN : VD_IO_OK; // out may be NULL
	}
	size_t fd_count = 0;
	while (fd_count < conn->out_fd_count &&
			conn->out_fds[conn->out_fd_start + fd_count].offset < conn->out_start + n) {
		fz_buf_push_fd(&s->events, dup(conn->out_fds[conn->out_fd_start + fd_count].fd));
		fd_count++;
	}
	fz_buf_put(&s->events, conn->out + conn->out_start, n);
	vd_connection_out_sent(conn, n, fd_count);
	return vd_connection_out_size(conn) > 0 ? VD_IO_AGAIN : VD_IO_OK;
}

static bool endpoint_watch(struct vd_endpoint *endpoint, uint32_t mask) {
	endpoint_from(endpoint)->watched = mask;
	return true;
}

static void endpoint_destroy(struct vd_endpoint *endpoint) {
	struct fz_endpoint *ep = endpoint_from(endpoint);
	struct fz_session *s = ep->owner;
	fz_buf_finish(&ep->in);
	s->client = NULL;
	s->alive = false;
	s->session = NULL;
	free(ep);
}

static const struct vd_endpoint_impl endpoint_impl = {
	.name = "fuzz",
	.read = endpoint_read,
	.flush = endpoint_flush,
	.watch = endpoint_watch,
	.destroy = endpoint_destroy,
};


static void client_deliver(struct fz_session *s, const void *data, size_t len, const int *fds,
		size_t nfds) {
	if (s->client == NULL || s->client->in.len + len > ENDPOINT_IN_MAX) {
		for (size_t i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return;
	}
	fz_note_wire("client sends", (int)(s - s->h->sessions), data, len);
	fz_trace_chunk(s, true, data, len, nfds);
	for (size_t i = 0; i < nfds; i++) {
		fz_buf_push_fd(&s->client->in, fds[i]);
	}
	fz_buf_put(&s->client->in, data, len);
}

/* ---- sessions ---- */

static struct fz_session *session_get(struct fz_harness *h, uint8_t kind) {
	struct fz_session *s = &h->sessions[(kind & FZ_F_SESSION) ? 1 : 0];
	if (s->alive) {
		return s;
	}
	if (h->sessions_made >= MAX_SESSIONS_MADE) {
		return NULL;
	}
	fz_session_clear(s); // a new client in that slot: whatever the old one left goes
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) != 0) {
		return NULL;
	}
	struct fz_endpoint *ep = calloc(1, sizeof(*ep));
	if (ep == NULL) {
		abort();
	}
	vd_endpoint_init(&ep->base, &endpoint_impl);
	snprintf(ep->base.label, sizeof(ep->base.label), "fuzz=%u", h->sessions_made);
	ep->owner = s;
	s->client = ep;
	s->alive = true;
	s->upstream = sp[1];
	s->traced = h->sessions_made == 0;
	h->sessions_made++;
	s->session = vd_session_create_with(&h->server, &ep->base, sp[0], NULL);
	if (s->session == NULL) {
		s->alive = false; // the endpoint is destroyed already
		return NULL;
	}
	return s;
}

static void session_end(struct fz_session *s) {
	if (s->alive) {
		vd_session_destroy(s->session); // destroys the endpoint: alive = false
	}
	fz_session_finish(s);
}

static bool pump_once(struct fz_harness *h) {
	bool progress = false;
	for (int i = 0; i < 2; i++) {
		struct fz_session *s = &h->sessions[i];
		if (s->client != NULL) {
			struct fz_endpoint *ep = s->client;
			bool pending = ep->in.len > ep->in_pos || ep->in.nfds > 0 || ep->hangup;
			if ((ep->watched & WL_EVENT_READABLE) && pending) {
				vd_endpoint_notify(&ep->base, WL_EVENT_READABLE); // may end the session
				progress = true;
			}
		}
		if (s->client != NULL && (s->client->watched & WL_EVENT_WRITABLE) &&
				!s->client_paused) {
			vd_endpoint_notify(&s->client->base, WL_EVENT_WRITABLE);
			progress = true;
		}
		progress = fz_compositor_flush(s) || progress;
	}
	fz_hostd_flush(h);
	fz_loop_dispatch(h);
	/* one poll for the sockets the proxy writes to, rather than a recv on
	 * each of them every round (most rounds find nothing), and for the
	 * proxy's loop: whether the next round needs its epoll_wait */
	struct pollfd pfd[4];
	nfds_t n = 0;
	for (int i = 0; i < 2; i++) {
		pfd[n++] = (struct pollfd){.fd = h->sessions[i].upstream, .events = POLLIN};
	}
	pfd[n++] = (struct pollfd){.fd = h->hostd_fd, .events = POLLIN}; // -1: ignored
	pfd[n++] = (struct pollfd){.fd = wl_event_loop_get_fd(h->loop), .events = POLLIN};
	if (poll(pfd, n, 0) < 0) {
		for (nfds_t i = 0; i < n; i++) {
			pfd[i].revents = POLLIN;
		}
	}
	if (pfd[3].revents != 0) {
		h->loop_ready = true;
	}
	for (int i = 0; i < 2; i++) {
		struct fz_session *s = &h->sessions[i];
		progress = fz_client_read(s) || progress;
		progress = fz_compositor_read(s, pfd[i].revents != 0) || progress;
		progress = fz_compositor_flush(s) || progress;
	}
	if (pfd[2].revents != 0) {
		progress = fz_hostd_read(h) || progress;
	}
	return progress;
}

static void pump(struct fz_harness *h) {
	for (int i = 0; i < PUMP_ROUNDS && pump_once(h); i++) {
	}
}

/* ---- records ---- */

static void do_request(struct fz_harness *h, const struct fz_record *rec) {
	struct fz_session *s = session_get(h, rec->kind);
	if (s == NULL) {
		return;
	}
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	static struct fz_msg msg;
	if (!fz_build_request(s, rec->kind, &r, &msg)) {
		return;
	}
	if (msg.destructor) {
		if (msg.target >= FZ_SERVER_ID) {
			fz_model_free_id(&s->client_model, msg.target);
		} else {
			fz_model_kill(&s->client_model, msg.target);
		}
	}
	client_deliver(s, msg.data, msg.size > FZ_MSG_MAX ? FZ_MSG_MAX : msg.size, msg.fds,
		msg.nfds);
}

static void do_event(struct fz_harness *h, const struct fz_record *rec) {
	struct fz_session *s = session_get(h, rec->kind);
	if (s == NULL) {
		return;
	}
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	fz_send_event_record(s, rec->kind, &r, h->flags & FZ_H_MANUAL);
}

static void do_raw(struct fz_harness *h, const struct fz_record *rec, bool client) {
	struct fz_session *s = session_get(h, rec->kind);
	if (s == NULL) {
		return;
	}
	if (client) {
		client_deliver(s, rec->payload, rec->len, NULL, 0);
	} else {
		fz_compositor_send(s, rec->payload, rec->len, NULL, 0);
	}
}


static void do_control(struct fz_harness *h, const struct fz_record *rec) {
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	struct fz_value op, arg, arg2;
	fz_take_value(&r, &op);
	fz_take_value(&r, &arg);
	fz_take_value(&r, &arg2);
	struct fz_session *s = &h->sessions[(rec->kind & FZ_F_SESSION) ? 1 : 0];
	h->loop_ready = true; // pipes written or closed, hangups: the proxy sees them
	switch (fz_value_number(&op) % FZ_C_COUNT) {
	case FZ_C_CLIENT_HANGUP:
		if (s->client != NULL) {
			s->client->hangup = true;
		}
		break;
	case FZ_C_COMPOSITOR_HANGUP:
		if (s->upstream >= 0) {
			fz_compositor_flush(s);
			close(s->upstream);
			s->upstream = -1;
		}
		break;
	case FZ_C_CLIENT_READING:
		s->client_paused = fz_value_number(&arg) == 0;
		break;
	case FZ_C_COMPOSITOR_READING:
		s->compositor_paused = fz_value_number(&arg) == 0;
		break;
	case FZ_C_SEND_DATA:
		if (s->nsend > 0) {
			static uint8_t pattern[1 << 16];
			const void *data = pattern;
			size_t len = (size_t)fz_value_number(&arg);
			if (arg.cls == FZ_BYTES) {
				data = arg.bytes;
			} else {
				len = len < sizeof(pattern) ? len : sizeof(pattern);
				memset(pattern, 'v', len);
			}
			(void)!write(s->send_fds[0], data, len);
			if (!(arg2.cls == FZ_SMALL && arg2.p == 1)) {
				close(s->send_fds[0]);
				memmove(&s->send_fds[0], &s->send_fds[1], --s->nsend * sizeof(int));
			}
		}
		break;
	case FZ_C_CLOSE_SEND:
		if (s->nsend > 0) {
			close(s->send_fds[0]);
			memmove(&s->send_fds[0], &s->send_fds[1], --s->nsend * sizeof(int));
		}
		break;
	case FZ_C_HOSTD_HANGUP:
		if (h->hostd_fd >= 0) {
			fz_hostd_flush(h);
			shutdown(h->hostd_fd, SHUT_RDWR);
		}
		break;
	case FZ_C_WAIT: {
		uint64_t ms = fz_value_number(&arg) % 3;
		wl_event_loop_dispatch(h->loop, (int)ms);
		break;
	}
	case FZ_C_HOSTD_RAW:
		if (h->hostd_fd >= 0 && arg.cls == FZ_BYTES) {
			fz_buf_put(&h->hostd_out, arg.bytes, arg.len);
		}
		break;
	}
}

/* ---- the tracker: what the client sent and got, as one connection ---- */

static bool feed(struct vd_connection *conn, const uint8_t *data, size_t len, size_t nfds,
		int spare_fd) {
	size_t space;
	uint8_t *tail = vd_connection_in_tail(conn, &space);
	if (len > space) {
		return false;
	}
	memcpy(tail, data, len);
	vd_connection_in_commit(conn, len);
	for (size_t i = 0; i < nfds; i++) {
		int fd = dup(spare_fd);
		if (fd < 0 || !vd_connection_push_fd(conn, fd)) {
			if (fd >= 0) {
				close(fd);
			}
			return false;
		}
	}
	return true;
}

static bool track(struct vd_tracker *tracker, struct vd_connection *in, bool requests) {
	struct vd_tracked out;
	for (;;) {
		enum vd_track_result result = requests ? vd_tracker_request(tracker, in, &out) :
			vd_tracker_event(tracker, in, &out);
		if (result == VD_TRACK_MORE) {
			return true;
		}
		for (uint32_t i = 0; i < out.msg.fd_count; i++) {
			if (out.fds[i] >= 0) {
				close(out.fds[i]);
			}
		}
		if (result == VD_TRACK_ERROR) {
			return false;
		}
		vd_tracker_done(tracker, in, &out);
	}
}

static void run_tracker(struct fz_harness *h) {
	struct fz_buf *trace = &h->trace_requests;
	struct vd_tracker tracker;
	struct vd_connection requests, events;
	if (trace->len == 0 || !vd_tracker_init(&tracker, NULL, 1000)) {
		return;
	}
	int spare = fz_memfd(NULL, 0, 4096);
	if (spare < 0 || !vd_connection_init(&requests, 64, 1 << 16)) {
		if (spare >= 0) {
			close(spare);
		}
		vd_tracker_finish(&tracker);
		return;
	}
	if (!vd_connection_init(&events, 64, 1 << 16)) {
		vd_connection_finish(&requests);
		close(spare);
		vd_tracker_finish(&tracker);
		return;
	}
	size_t pos = 0;
	bool alive = true;
	while (alive && trace->len - pos >= 5) {
		const uint8_t *head = trace->data + pos;
		bool request = head[0];
		size_t len = (size_t)head[1] | (size_t)head[2] << 8 | (size_t)head[3] << 16;
		size_t nfds = head[4];
		pos += 5;
		struct vd_connection *in = request ? &requests : &events;
		alive = feed(in, trace->data + pos, len, nfds, spare) && track(&tracker, in, request);
		pos += len;
	}
	vd_connection_finish(&requests);
	vd_connection_finish(&events);
	vd_tracker_finish(&tracker);
	close(spare);
}

/* ---- the entry points ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	(void)argc;
	(void)argv;
	fz_harness_global_init("fuzz-proxy");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	fz_harness_global_init("fuzz-proxy");
	static struct fz_harness h;
	struct fz_reader input;
	fz_reader_init(&input, data, size);
	fz_harness_begin(&h, &input);
	session_get(&h, 0);
	pump(&h);
	struct fz_record rec;
	while (fz_next_record(&input, &rec)) {
		switch ((rec.kind & FZ_KIND_MASK) % FZ_K_COUNT) {
		case FZ_K_REQUEST:
			do_request(&h, &rec);
			break;
		case FZ_K_EVENT:
			do_event(&h, &rec);
			break;
		case FZ_K_RAW_CLIENT:
			do_raw(&h, &rec, true);
			break;
		case FZ_K_RAW_COMPOSITOR:
			do_raw(&h, &rec, false);
			break;
		case FZ_K_HOSTD:
			fz_hostd_frame(&h, &rec);
			break;
		case FZ_K_CONTROL:
			do_control(&h, &rec);
			break;
		}
		if (!(rec.kind & FZ_F_BATCH)) {
			pump(&h);
		}
	}
	pump(&h);
	for (int i = 0; i < 2; i++) {
		session_end(&h.sessions[i]);
	}
	fz_harness_end(&h);
	run_tracker(&h);
	h.trace_requests.len = 0;
	return 0;
}

/* ---- the mutator ---- */

static bool proxy_tagged(uint8_t kind) {
	kind %= FZ_K_COUNT;
	return kind != FZ_K_RAW_CLIENT && kind != FZ_K_RAW_COMPOSITOR;
}

/* A new record: mostly requests and events a real peer would send. */
static void proxy_generate(struct fz_rng *rng, struct fz_writer *w) {
	uint32_t r = fz_below(rng, 100);
	uint8_t flags = (uint8_t)(fz_below(rng, 6) == 0 ? FZ_F_SESSION : 0);
	if (r < 50) {
		size_t start = fz_record_begin(w, FZ_K_REQUEST | flags);
		fz_generate_request(rng, w);
		fz_record_end(w, start);
	} else if (r < 85) {
		/* events: to the client's objects (mirror), or to all keyboards and pointers */
		static const struct vd_interface *const common[] = {
			&vd_iface_wl_keyboard, &vd_iface_wl_pointer, &vd_iface_xdg_toplevel,
			&vd_iface_xdg_surface, &vd_iface_xdg_popup, &vd_iface_wl_buffer,
			&vd_iface_wl_callback, &vd_iface_wl_seat, &vd_iface_wl_registry,
			&vd_iface_xdg_wm_base, &vd_iface_wl_touch, &vd_iface_wl_surface,
		};
		const struct vd_interface *iface = fz_pick_interface(rng, common,
			sizeof(common) / sizeof(common[0]));
		uint8_t mode = (uint8_t)(iface == &vd_iface_wl_keyboard || iface == &vd_iface_wl_pointer ?
			FZ_F_BROADCAST : fz_below(rng, 3) ? FZ_F_MIRROR : 0);
		size_t start = fz_record_begin(w, FZ_K_EVENT | flags | mode);
		fz_generate_event(rng, w, iface);
		fz_record_end(w, start);
	} else if (r < 93) {
		size_t start = fz_record_begin(w, FZ_K_HOSTD);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 5));
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 4));
		fz_put_tag(w, FZ_SMALL, fz_below(rng, 8) == 0 ? (uint8_t)fz_below(rng, 32) : 0);
		fz_random_values(rng, w, 6);
		fz_record_end(w, start);
	} else {
		size_t start = fz_record_begin(w, FZ_K_CONTROL | flags);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, FZ_C_COUNT));
		fz_random_value(rng, w);
		fz_record_end(w, start);
	}
}

const struct fz_target fz_this_target = {
	.header_size = FZ_HEADER_SIZE,
	.kind_mask = FZ_KIND_MASK,
	.tagged = proxy_tagged,
	.generate = proxy_generate,
};
