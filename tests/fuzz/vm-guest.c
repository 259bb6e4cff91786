/*
 * fuzz-proxy-vm-link's fake guest (tests/fuzz/vm-guest.h): its end of the
 * VM link, what it does by itself, and the check of what the proxy sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/link.h"
#include "protocols/transport.h"
#include "proxy/channel.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/vm-link.h"
#include "tests/fuzz/vm-guest.h"

/* The proxy connects upstream through this (-Wl,--wrap, tests/fuzz/meson.build). */
int __real_vd_server_connect_upstream(struct vd_server *server);
int __wrap_vd_server_connect_upstream(struct vd_server *server);

static struct vl_harness *current; // for the wrapped connect
static int listen_fd = -1; // FZ_V_DIAL
static struct vd_addr listen_addr;
uint8_t vl_pattern[CONTENTS_FRAME];

/* ---- the guest's channels ---- */

struct vl_channel *vl_channel_find(struct vl_harness *v, uint32_t id) {
	for (size_t i = 0; i < v->nchannels; i++) {
		if (v->channels[i].id == id) {
			return &v->channels[i];
		}
	}
	return NULL;
}

struct vl_channel *vl_channel_add(struct vl_harness *v, uint32_t id) {
	if (v->nchannels == VL_CHANNELS) {
		return NULL;
	}
	struct vl_channel *c = &v->channels[v->nchannels++];
	*c = (struct vl_channel){.id = id, .slot = -1, .next_pool = 1, .next_pipe = 1};
	if (id > v->last_channel) {
		v->last_channel = id;
	}
	return c;
}

struct fz_session *vl_channel_session(struct vl_harness *v, struct vl_channel *c) {
	if (c == NULL || c->slot < 0) {
		return NULL;
	}
	struct fz_session *s = &v->h.sessions[c->slot];
	/* the proxy's session, as wl-build.c reads it (its map, for mirrored events) */
	struct vd_channel *channel = v->link != NULL ? vd_channel_find(v->link, c->id) : NULL;
	s->session = channel != NULL ? channel->session : NULL;
	s->alive = s->session != NULL;
	return s;
}

/* The k-th open channel (with a session if asked); U32: by its number. */
struct vl_channel *vl_channel_choose(struct vl_harness *v, const struct fz_value *value,
		bool with_session) {
	if (value->cls == FZ_U32 || value->cls == FZ_U64) {
		return vl_channel_find(v, (uint32_t)value->v);
	}
	struct vl_channel *open[VL_CHANNELS];
	size_t n = 0;
	for (size_t i = 0; i < v->nchannels; i++) {
		struct vl_channel *c = &v->channels[i];
		if (!c->guest_closed && !c->host_closed && (!with_session || c->slot >= 0)) {
			open[n++] = c;
		}
	}
	return n > 0 ? open[fz_value_number(value) % n] : NULL;
}

static int free_slot(struct vl_harness *v) {
	bool used[FZ_SESSIONS] = {false};
	for (size_t i = 0; i < v->nchannels; i++) {
		if (v->channels[i].slot >= 0) {
			used[v->channels[i].slot] = true;
		}
	}
	for (int i = 0; i < FZ_SESSIONS; i++) {
		if (!used[i]) {
			return i;
		}
	}
	return -1;
}

/* Every channel of the link session ended (a handshake, a new link). */
void vl_channels_forget(struct vl_harness *v) {
	for (size_t i = 0; i < v->nchannels; i++) {
		int slot = v->channels[i].slot;
		if (slot >= 0) {
			v->h.sessions[slot].alive = false;
			v->h.sessions[slot].session = NULL;
		}
	}
	v->nchannels = 0;
	v->last_channel = 0;
}

/* A channel whose session is gone gives its slot back. */
static void channels_reap(struct vl_harness *v) {
	for (size_t i = 0; i < v->nchannels; i++) {
		struct vl_channel *c = &v->channels[i];
		if (c->slot < 0) {
			continue;
		}
		bool gone = c->host_closed || (c->guest_closed && (v->link == NULL ||
			vd_channel_find(v->link, c->id) == NULL));
		if (gone) {
			v->h.sessions[c->slot].alive = false;
			v->h.sessions[c->slot].session = NULL;
			c->slot = -1;
		}
	}
}

/* The proxy's compositor connection for the channel it is opening. */
int __wrap_vd_server_connect_upstream(struct vd_server *server) {
	struct vl_harness *v = current;
	if (v == NULL || v->link == NULL || wl_list_empty(&v->link->channels)) {
		return __real_vd_server_connect_upstream(server);
	}
	struct vd_channel *opening = wl_container_of(v->link->channels.prev, opening, link_node);
	struct vl_channel *c = vl_channel_find(v, opening->id);
	if (c == NULL) {
		/* opened by a frame the harness did not build: its client is unknown */
		c = vl_channel_add(v, opening->id);
		if (c != NULL) {
			c->wl_dirty = true;
		}
	}
	int slot = c != NULL && c->slot < 0 ? free_slot(v) : -1;
	int sp[2];
	if (slot < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) != 0) {
		errno = ECONNREFUSED;
		return -1;
	}
	struct fz_session *s = &v->h.sessions[slot];
	fz_session_clear(s);
	s->upstream = sp[1];
	s->traced = false;
	c->slot = slot;
	return sp[0];
}

/* ---- the link ---- */

/*
 * Queues a message. Values from the input may break a rule of the codec (a
 * pool number 0, a window out of range): such a message is not sent, as the
 * guest's encoder would not send it either (link-gen.c's frames break rules).
 */
void vl_link_put(struct vl_harness *v, struct vd_link_msg *msg) {
	char err[256];
	if (v->fd >= 0 && !vd_link_encode(&vd_link_wayland, msg, vd_link_wayland.max_frame, &v->out,
			err, sizeof(err))) {
		fz_note("not sent: %s", err);
	}
}

bool vl_link_flush(struct vl_harness *v) {
	bool sent = false;
	while (v->fd >= 0 && vd_link_buf_pending(&v->out) > 0) {
		ssize_t n = send(v->fd, v->out.data + v->out.pos, vd_link_buf_pending(&v->out),
			MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN) {
				v->out.len = v->out.pos = 0;
			}
			break;
		}
		v->h.loop_ready = true;
		vd_link_buf_consume(&v->out, (size_t)n);
		sent = true;
	}
	if (vd_link_buf_pending(&v->out) == 0) {
		v->out.len = v->out.pos = 0;
	}
	return sent;
}

void vl_send_hello(struct vl_harness *v, uint64_t peer) {
	struct vd_link_msg msg = {.type = VD_LINK_HELLO};
	msg.body.hello = (struct vd_link_hello){.magic = VD_LINK_MAGIC, .set = vd_link_wayland.id,
		.min_version = VD_LINK_VERSION, .max_version = VD_LINK_VERSION,
		.max_frame = vd_link_wayland.max_frame, .caps = VD_LINK_WAYLAND_CAPS_ALL,
		.nonce = v->nonce, .peer_nonce = peer, .software = "fuzz-guest"};
	if (v->fd >= 0 && vd_link_buf_put_sync(&v->out)) {
		vl_link_put(v, &msg);
	}
	v->echoed = peer;
}

void vl_send_limits(struct vl_harness *v, uint32_t window) {
	if (v->session_window == 0) {
		v->session_window = window;
	} else {
		v->dirty = true; // WL_LIMITS twice: the proxy ends the link
	}
	struct vd_link_msg msg = {.type = VD_LINK_WL_LIMITS};
	msg.body.wl_limits = (struct vd_link_wl_limits){.window = window,
		.pipe_window = v->pipe_window};
	vl_link_put(v, &msg);
}

void vl_link_close(struct vl_harness *v) {
	if (v->fd >= 0) {
		close(v->fd);
		v->fd = -1;
		v->h.loop_ready = true;
	}
	vd_link_reader_finish(&v->reader);
	v->out.len = v->out.pos = 0;
	vl_channels_forget(v);
}

/* A connected link to the proxy: at once, or by its dial (FZ_V_DIAL). */
static void link_connect(struct vl_harness *v) {
	if (v->links >= MAX_LINKS || v->link == NULL || v->link->conn != NULL) {
		return;
	}
	v->links++;
	int fd = -1;
	if ((v->h.extra & FZ_V_DIAL) && listen_fd >= 0 && v->links == 1) {
		/* the first dial runs from the link's timer a millisecond after it was made */
		for (int i = 0; i < 20 && fd < 0; i++) {
			wl_event_loop_dispatch(v->h.loop, 1);
			fd = vd_transport_accept(listen_fd);
		}
		v->h.loop_ready = true;
		if (fd < 0) {
			return;
		}
		wl_event_loop_dispatch(v->h.loop, 0); // the dial completes
	} else {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) != 0) {
			return;
		}
		fuzz_vm_link_attach(v->link, sp[0]);
		fd = sp[1];
	}
	v->fd = fd;
	v->h.loop_ready = true;
	vd_link_reader_init(&v->reader, vd_link_wayland.max_frame);
	v->echoed = 0;
	v->dirty = false;
	v->paused = false;
	v->session_window = 0;
	v->hello_seen = false;
}

void vl_link_start(struct vl_harness *v) {
	bool few = v->h.extra & FZ_V_FEW;
	v->limits = (struct vd_vm_link_limits){
		.max_channels = few ? 2 : 6,
		.max_pools = few ? 2 : 16,
		.pool_mirror = few ? 256u << 10 : 64u << 20,
		.vm_mirror = few ? 512u << 10 : 128u << 20,
		.timeout_ms = (v->h.extra & FZ_V_SHORT_TIMEOUT) ? 3 : VD_VM_LINK_TIMEOUT_MS,
	};
	bool small = v->h.extra & FZ_V_SMALL_WINDOW;
	v->window = small ? 4096 : 256u * 1024u;
	v->pipe_window = small ? 4096 : 64u * 1024u;
	v->nonce = GUEST_NONCE;
	v->fd = -1;
	v->links = 0;
	v->opens = 0;
	v->nchannels = 0;
	v->last_channel = 0;
	v->last_ping = 0;
	struct vd_addr addr;
	char err[128];
	if (!((v->h.extra & FZ_V_DIAL) && listen_fd >= 0)) {
		vd_addr_parse("unix:/nonexistent/vmdesk-fuzz/guest.sock", false, &addr, err,
			sizeof(err));
	} else {
		addr = listen_addr;
	}
	for (int fd; (v->h.extra & FZ_V_DIAL) && (fd = vd_transport_accept(listen_fd)) >= 0;) {
		close(fd); // a dial of an earlier input's link, too late
	}
	v->link = vd_vm_link_create(&v->h.server, &addr, &v->limits);
	current = v;
	if (v->link == NULL) {
		abort();
	}
	link_connect(v);
}

/* ---- what the proxy sends on the link ---- */

static void handle_hello(struct vl_harness *v, const struct vd_link_hello *hello) {
	if (hello->peer_nonce != v->nonce) {
		/* the proxy starts a session with us (first contact, or it resynchronised) */
		vl_channels_forget(v);
		v->dirty = false;
		if (v->hello_seen) {
			v->session_window = 0; // a resynchronised session waits for WL_LIMITS again
		}
	}
	v->hello_seen = true;
	if (hello->peer_nonce != v->nonce || v->echoed != hello->nonce) {
		vl_send_hello(v, hello->nonce);
		v->dirty = false;
		if (!(v->h.extra & FZ_V_NO_LIMITS)) {
			vl_send_limits(v, v->window);
		}
	}
}

static void ack_data(struct vl_harness *v, struct vl_channel *c, uint32_t bytes) {
	if (v->h.extra & FZ_V_NO_ACK || bytes == 0) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_WL_ACK, .id = c->id};
	msg.body.wl_ack.bytes = bytes;
	vl_link_put(v, &msg);
	c->host_unacked -= bytes < c->host_unacked ? bytes : c->host_unacked;
}

static struct vl_pipe *pipe_find(struct vl_channel *c, uint32_t id) {
	for (size_t i = 0; i < c->npipes; i++) {
		if (c->pipes[i].id == id) {
			return &c->pipes[i];
		}
	}
	return NULL;
}

struct vl_pipe *vl_pipe_add(struct vl_channel *c, uint32_t id, uint8_t end, bool host) {
	if (c->npipes == VL_PIPES) {
		memmove(&c->pipes[0], &c->pipes[1], (VL_PIPES - 1) * sizeof(c->pipes[0]));
		c->npipes--;
	}
	struct vl_pipe *p = &c->pipes[c->npipes++];
	*p = (struct vl_pipe){.id = id, .end = end, .host = host};
	return p;
}

/* An fd the guest's client gets with its next event (an object it stands for). */
static void give_fd(struct vl_channel *c, struct fz_session *s, int fd) {
	if (s == NULL || c->wl_dirty || fd < 0) {
		if (fd >= 0) {
			close(fd);
		}
		return;
	}
	fz_buf_push_fd(&s->events, fd);
}

static void channel_frame(struct vl_harness *v, const struct vd_link_msg *msg) {
	const char *type = vd_link_type_name(&vd_link_wayland, msg->type);
	bool strict = !v->dirty;
	if (msg->id == 0) {
		fz_violation(NULL, "the proxy's VM link sent %s on channel 0 (the link itself)", type);
		return;
	}
	struct vl_channel *c = vl_channel_find(v, msg->id);
	if (c == NULL) {
		if (strict) {
			fz_violation(NULL, "the proxy's VM link sent %s for channel %u, which the guest "
				"did not open (last %u)", type, msg->id, v->last_channel);
		}
		return;
	}
	if (c->host_closed) {
		if (strict) {
			fz_violation(NULL, "the proxy's VM link sent %s for channel %u after its WL_CLOSE",
				type, msg->id);
		}
		return;
	}
	struct fz_session *s = c->slot >= 0 ? &v->h.sessions[c->slot] : NULL;
	switch (msg->type) {
	case VD_LINK_WL_DATA: {
		uint32_t len = msg->body.wl_data.data_len;
		if (strict && (uint64_t)c->host_unacked + len > v->session_window) {
			fz_violation(NULL, "the proxy's VM link sent %s on channel %u: %llu bytes "
				"unacknowledged, the guest's window is %u", type, msg->id,
				(unsigned long long)c->host_unacked + len, v->session_window);
		}
		c->host_unacked += len;
		if (s != NULL && !c->wl_dirty) {
			fz_buf_put(&s->events, msg->body.wl_data.data, len);
		}
		ack_data(v, c, len);
		return;
	}
	case VD_LINK_WL_ACK:
		if (strict && c->acked + msg->body.wl_ack.bytes > c->sent) {
			fz_violation(NULL, "the proxy's VM link sent %s on channel %u: %llu bytes "
				"acknowledged, %llu sent", type, msg->id,
				(unsigned long long)(c->acked + msg->body.wl_ack.bytes),
				(unsigned long long)c->sent);
		}
		c->acked += msg->body.wl_ack.bytes;
		return;
	case VD_LINK_WL_CLOSE:
		c->host_closed = true;
		return;
	case VD_LINK_WL_FILE:
		give_fd(c, s, fz_memfd(msg->body.wl_file.contents, msg->body.wl_file.contents_len,
			msg->body.wl_file.contents_len));
		return;
	case VD_LINK_WL_PIPE: {
		uint32_t id = msg->body.wl_pipe.pipe;
		if (strict && (!(id & VD_LINK_WL_HOST_PIPE) || pipe_find(c, id) != NULL)) {
			fz_violation(NULL, "the proxy's VM link sent %s on channel %u: pipe %u is not a "
				"new one of the host's", type, msg->id, id);
		}
		vl_pipe_add(c, id, msg->body.wl_pipe.end, true);
		int p[2];
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
			/* the client's end: the kind of the host's */
			bool write_end = msg->body.wl_pipe.end == VD_LINK_PIPE_END_WRITE;
			close(write_end ? p[0] : p[1]);
			give_fd(c, s, write_end ? p[1] : p[0]);
		}
		return;
	}
	case VD_LINK_WL_PIPE_DATA: {
		struct vl_pipe *p = pipe_find(c, msg->body.wl_pipe_data.pipe);
		uint32_t len = msg->body.wl_pipe_data.data_len;
		/* the host sends what it reads: of its read ends, or of the guest's write ends */
		bool host_reads = p != NULL && (p->host ? p->end == VD_LINK_PIPE_END_READ :
			p->end == VD_LINK_PIPE_END_WRITE);
		if (strict && !host_reads) {
			fz_violation(NULL, "the proxy's VM link sent %s on channel %u for pipe %u, which "
				"the host does not read", type, msg->id, msg->body.wl_pipe_data.pipe);
		}
		if (p == NULL) {
			return;
		}
		if (strict && (uint64_t)p->unacked + len > v->pipe_window) {
			fz_violation(NULL, "the proxy's VM link sent %s on channel %u: %llu bytes "
				"unacknowledged, the pipe window is %u", type, msg->id,
				(unsigned long long)p->unacked + len, v->pipe_window);
		}
		p->unacked += len;
		if (!(v->h.extra & FZ_V_NO_ACK)) {
			struct vd_link_msg ack = {.type = VD_LINK_WL_PIPE_ACK, .id = c->id};
			ack.body.wl_pipe_ack = (struct vd_link_wl_pipe_ack){.pipe = p->id, .bytes = len};
			vl_link_put(v, &ack);
			p->unacked = 0;
		}
		return;
	}
	case VD_LINK_WL_PIPE_ACK:
	case VD_LINK_WL_PIPE_CLOSE:
		return;
	default:
		fz_violation(NULL, "the proxy's VM link sent %s on channel %u", type, msg->id);
		return;
	}
}

static void host_frame(struct vl_harness *v, const struct vd_link_header *header,
		const uint8_t *payload) {
	struct vd_link_msg msg;
	char err[512];
	if (!vd_link_decode(&vd_link_wayland, VD_LINK_ROLE_HOST, header, payload, &msg, err,
			sizeof(err))) {
		fz_violation(NULL, "the proxy's VM link sent a frame that does not decode: %s", err);
		return;
	}
	switch (msg.type) {
	case VD_LINK_HELLO:
	case VD_LINK_ERROR:
	case VD_LINK_WL_LIMITS:
	case VD_LINK_WL_PING:
		if (msg.id != 0) {
			fz_violation(NULL, "the proxy's VM link sent %s for channel %u",
				vd_link_type_name(&vd_link_wayland, msg.type), msg.id);
		}
		if (msg.type == VD_LINK_HELLO) {
			handle_hello(v, &msg.body.hello);
		} else if (msg.type == VD_LINK_WL_PING) {
			v->last_ping = msg.body.wl_ping.seq;
			if (!(v->h.extra & FZ_V_NO_PONG)) {
				struct vd_link_msg pong = {.type = VD_LINK_WL_PONG};
				pong.body.wl_pong.seq = msg.body.wl_ping.seq;
				vl_link_put(v, &pong);
			}
		}
		break;
	default:
		channel_frame(v, &msg);
		break;
	}
	vd_link_msg_finish(&msg);
}

/* Reads what the proxy sent on the link; true if anything came. */
static bool link_read(struct vl_harness *v) {
	bool any = false;
	while (v->fd >= 0 && !v->paused) {
		size_t space;
		uint8_t *p = vd_link_reader_space(&v->reader, &space);
		if (p == NULL) {
			abort();
		}
		ssize_t n = recv(v->fd, p, space, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			vl_link_close(v); // the proxy ended the link
			return true;
		}
		if (n < 0) {
			break;
		}
		v->h.loop_ready = true;
		any = true;
		vd_link_reader_commit(&v->reader, (size_t)n);
		for (;;) {
			struct vd_link_header header;
			const uint8_t *payload;
			char err[512];
			enum vd_link_next next = vd_link_reader_next(&v->reader, &header, &payload, err,
				sizeof(err));
			if (next == VD_LINK_NEXT_NONE) {
				break;
			}
			if (next == VD_LINK_NEXT_ERROR) {
				fz_violation(NULL, "the proxy's VM link sent a broken frame: %s", err);
				vd_link_reader_hunt(&v->reader);
				continue;
			}
			host_frame(v, &header, payload);
			if (v->fd < 0) {
				return true;
			}
		}
		if ((size_t)n < space) {
			break;
		}
	}
	return any;
}

/* ---- running the proxy ---- */

bool vl_pump_once(struct vl_harness *v) {
	struct fz_harness *h = &v->h;
	bool progress = vl_link_flush(v);
	for (int i = 0; i < FZ_SESSIONS; i++) {
		progress = fz_compositor_flush(&h->sessions[i]) || progress;
	}
	fz_hostd_flush(h);
	fz_loop_dispatch(h);
	struct pollfd pfd[FZ_SESSIONS + 3];
	nfds_t n = 0;
	for (int i = 0; i < FZ_SESSIONS; i++) {
		pfd[n++] = (struct pollfd){.fd = h->sessions[i].upstream, .events = POLLIN};
	}
	pfd[n++] = (struct pollfd){.fd = v->paused ? -1 : v->fd, .events = POLLIN};
	pfd[n++] = (struct pollfd){.fd = h->hostd_fd, .events = POLLIN};
	pfd[n++] = (struct pollfd){.fd = wl_event_loop_get_fd(h->loop), .events = POLLIN};
	if (poll(pfd, n, 0) < 0) {
		for (nfds_t i = 0; i < n; i++) {
			pfd[i].revents = POLLIN;
		}
	}
	if (pfd[FZ_SESSIONS + 2].revents != 0) {
		h->loop_ready = true;
	}
	if (pfd[FZ_SESSIONS].revents != 0) {
		progress = link_read(v) || progress;
	}
	for (int i = 0; i < FZ_SESSIONS; i++) {
		struct fz_session *s = &h->sessions[i];
		progress = fz_client_read(s) || progress;
		progress = fz_compositor_read(s, pfd[i].revents != 0) || progress;
		progress = fz_compositor_flush(s) || progress;
	}
	if (pfd[FZ_SESSIONS + 1].revents != 0) {
		progress = fz_hostd_read(h) || progress;
	}
	progress = vl_link_flush(v) || progress;
	return progress;
}

void vl_pump(struct vl_harness *v) {
	for (int i = 0; i < PUMP_ROUNDS && vl_pump_once(v); i++) {
	}
	channels_reap(v);
	if (v->fd < 0 && v->link != NULL && v->link->conn == NULL) {
		link_connect(v); // the link failed: a new one, as the proxy would dial again
		for (int i = 0; i < PUMP_ROUNDS && vl_pump_once(v); i++) {
		}
	}
}

/* ---- the guest's messages ---- */

void vl_send_data(struct vl_harness *v, struct vl_channel *c, const uint8_t *data,
		size_t len) {
	while (len > 0) {
		size_t n = len < VD_LINK_WL_MAX_DATA ? len : VD_LINK_WL_MAX_DATA;
		struct vd_link_msg msg = {.type = VD_LINK_WL_DATA, .id = c->id};
		msg.body.wl_data = (struct vd_link_wl_data){.data = data, .data_len = (uint32_t)n};
		vl_link_put(v, &msg);
		c->sent += n;
		data += n;
		len -= n;
	}
}

struct vl_pool *vl_pool_find(struct vl_channel *c, uint32_t number) {
	for (size_t i = 0; i < c->npools; i++) {
		if (c->pools[i].number == number) {
			return &c->pools[i];
		}
	}
	return NULL;
}

static void remove_listener(void) {
	unlink(listen_addr.path);
	*strrchr(listen_addr.path, '/') = '\0';
	rmdir(listen_addr.path);
}

void vl_guest_init(void) {
	for (size_t i = 0; i < sizeof(vl_pattern); i++) {
		vl_pattern[i] = (uint8_t)(i * 7 + (i >> 8));
	}
	/* FZ_V_DIAL: a unix: address the guest listens on, as vmdesk-guest-wayland does */
	static char dir[] = "/tmp/vmdesk-fuzz-vm-link.XXXXXX";
	char spec[160], err[256];
	if (listen_fd >= 0 || mkdtemp(dir) == NULL) {
		return;
	}
	snprintf(spec, sizeof(spec), "unix:%s/guest.sock", dir);
	if (!vd_addr_parse(spec, false, &listen_addr, err, sizeof(err))) {
		return;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", listen_addr.path);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 8) == 0) {
		listen_fd = fd;
		atexit(remove_listener);
	} else if (fd >= 0) {
		close(fd);
	}
}

void vl_link_stop(struct vl_harness *v) {
	vd_vm_link_destroy(v->link); // its channels' sessions first
	v->link = NULL;
	vl_link_close(v);
	vd_link_buf_finish(&v->out);
	v->out = (struct vd_link_buf){0};
	for (int i = 0; i < FZ_SESSIONS; i++) {
		fz_session_finish(&v->h.sessions[i]);
	}
	current = NULL;
}
