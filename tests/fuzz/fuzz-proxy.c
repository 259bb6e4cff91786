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
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
	size_t size2, uint8_t *out, size_t max_out, unsigned int seed);

extern const char vd_default_policy[];

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

static struct vd_policy *policies[2]; // default, and fullscreen allowed
static int oracle = 1;
static bool verbose; // FUZZ_PROXY_VERBOSE=1: every message on both sides, to stderr

/* One line per message when verbose: who, which object, which opcode, and its size. */
static void note_wire(const char *what, int session, const uint8_t *data, size_t len) {
	if (!verbose) {
		return;
	}
	for (size_t pos = 0; len - pos >= VD_WIRE_HEADER_SIZE;) {
		struct vd_wire_header header;
		vd_wire_header_read(data + pos, &header);
		fprintf(stderr, "fuzz-proxy: [%d] %s %u.%u (%u bytes)", session, what, header.object,
			header.opcode, header.size);
		for (size_t i = VD_WIRE_HEADER_SIZE; i + 4 <= header.size && pos + i + 4 <= len &&
				i < 32; i += 4) {
			uint32_t word;
			memcpy(&word, data + pos + i, sizeof(word));
			fprintf(stderr, " %08x", word);
		}
		fprintf(stderr, "\n");
		if (header.size < VD_WIRE_HEADER_SIZE || header.size > len - pos) {
			break;
		}
		pos += header.size;
	}
}

/* ---- buffers ---- */

void fz_buf_put(struct fz_buf *buf, const void *data, size_t len) {
	if (len == 0) {
		return; // data and buf->data may be NULL
	}
	if (len > buf->cap - buf->len) {
		size_t cap = buf->cap ? buf->cap : 4096;
		while (cap - buf->len < len) {
			cap *= 2;
		}
		uint8_t *p = realloc(buf->data, cap);
		if (p == NULL) {
			abort();
		}
		buf->data = p;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
}

void fz_buf_consume(struct fz_buf *buf, size_t len) {
	if (len == 0) {
		return; // data may still be NULL
	}
	memmove(buf->data, buf->data + len, buf->len - len);
	buf->len -= len;
}

static void buf_push_fd(struct fz_buf *buf, int fd) {
	if (buf->nfds == sizeof(buf->fds) / sizeof(buf->fds[0])) {
		close(fd);
		return;
	}
	buf->fds[buf->nfds++] = fd;
}

static int buf_pop_fd(struct fz_buf *buf) {
	if (buf->nfds == 0) {
		return -1;
	}
	int fd = buf->fds[0];
	memmove(&buf->fds[0], &buf->fds[1], --buf->nfds * sizeof(int));
	return fd;
}

static void buf_clear(struct fz_buf *buf) {
	for (size_t i = 0; i < buf->nfds; i++) {
		close(buf->fds[i]);
	}
	buf->nfds = 0;
	buf->len = 0;
}

static void buf_finish(struct fz_buf *buf) {
	buf_clear(buf);
	free(buf->data);
	*buf = (struct fz_buf){0};
}

/* ---- oracle ---- */

void fz_violation(struct fz_session *s, const char *fmt, ...) {
	if (!oracle) {
		return;
	}
	va_list args;
	va_start(args, fmt);
	fprintf(stderr, "fuzz-proxy: the proxy passed on something its peer cannot take: ");
	vfprintf(stderr, fmt, args);
	fprintf(stderr, "\n");
	va_end(args);
	abort();
}

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
		int fd = buf_pop_fd(&ep->in);
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
		buf_push_fd(&s->events, dup(conn->out_fds[conn->out_fd_start + fd_count].fd));
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
	buf_finish(&ep->in);
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

/* ---- the compositor's side ---- */

/* Writes what the compositor has queued; true if some went. */
static bool compositor_flush(struct fz_session *s) {
	struct fz_buf *out = &s->to_compositor;
	bool sent = false;
	while (s->upstream >= 0 && out->len > 0) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 28)];
			struct cmsghdr align;
		} control;
		struct iovec iov = {.iov_base = out->data, .iov_len = out->len};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		size_t nfds = out->nfds < 28 ? out->nfds : 28;
		if (nfds > 0) {
			m.msg_control = control.buf;
			m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), out->fds, sizeof(int) * nfds);
		}
		ssize_t n = sendmsg(s->upstream, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN) {
				buf_clear(out);
			}
			return sent;
		}
		s->h->loop_ready = true; // the proxy has something to read
		for (size_t i = 0; i < nfds; i++) {
			close(buf_pop_fd(out));
		}
		fz_buf_consume(out, (size_t)n);
		sent = true;
	}
	return sent;
}

/*
 * The compositor's model follows what it says itself, however the message
 * was made (raw bytes too): a delete_id frees that ID in its map, as
 * libwayland-server's does, whatever the proxy did to the object.
 */
static void compositor_note_sent(struct fz_session *s, const uint8_t *data, size_t len) {
	for (size_t pos = 0; len - pos >= VD_WIRE_HEADER_SIZE;) {
		struct vd_wire_header header;
		vd_wire_header_read(data + pos, &header);
		if (header.size < VD_WIRE_HEADER_SIZE || header.size % 4 != 0 ||
				header.size > len - pos) {
			return;
		}
		if (header.object == VD_DISPLAY_ID &&
				header.opcode == VD_WL_DISPLAY_EVENT_DELETE_ID && header.size == 12) {
			uint32_t id = vd_wire_get_u32(data + pos, VD_WIRE_HEADER_SIZE);
			if (id == VD_DISPLAY_ID || fz_model_get(&s->comp_model, id) == NULL) {
				s->compositor_lied = true;
			} else if (id < FZ_SERVER_ID) {
				fz_model_delete(&s->comp_model, id);
			}
		}
		pos += header.size;
	}
}

static void compositor_send(struct fz_session *s, const void *data, size_t len, const int *fds,
		size_t nfds) {
	note_wire("compositor sends", (int)(s - s->h->sessions), data, len);
	compositor_note_sent(s, data, len);
	for (size_t i = 0; i < nfds; i++) {
		buf_push_fd(&s->to_compositor, fds[i]);
	}
	fz_buf_put(&s->to_compositor, data, len);
}

/* An event of the compositor's own: fmt letters u, i, s, a (data, len), h, n. */
static uint32_t compositor_event(struct fz_session *s, uint32_t object, uint16_t opcode,
		const char *fmt, ...) {
	uint8_t buf[VD_WIRE_MAX_MESSAGE_SIZE];
	struct vd_wire_writer w;
	int fds[4];
	size_t nfds = 0;
	uint32_t created = 0;
	vd_wire_writer_init(&w, buf, object, opcode);
	va_list args;
	va_start(args, fmt);
	for (const char *f = fmt; *f; f++) {
		switch (*f) {
		case 'u':
		case 'i':
			vd_wire_writer_put_u32(&w, va_arg(args, uint32_t));
			break;
		case 's':
			vd_wire_writer_put_string(&w, va_arg(args, const char *));
			break;
		case 'a': {
			const void *data = va_arg(args, const void *);
			vd_wire_writer_put_array(&w, data, va_arg(args, uint32_t));
			break;
		}
		case 'h':
			fds[nfds++] = va_arg(args, int);
			break;
		case 'n': {
			const struct vd_interface *iface = va_arg(args, const struct vd_interface *);
			created = fz_model_alloc(&s->comp_model, true);
			fz_model_add(&s->comp_model, created, iface, 1);
			vd_wire_writer_put_u32(&w, created);
			break;
		}
		}
	}
	va_end(args);
	if (vd_wire_writer_finish(&w)) {
		compositor_send(s, buf, w.size, fds, nfds);
	} else {
		for (size_t i = 0; i < nfds; i++) {
			close(fds[i]);
		}
	}
	return created;
}

struct fz_global_def {
	const char *interface;
	uint32_t version; // 0: the tables'
	uint8_t off_bit; // FZ_G_* bit that leaves it out, 0: always there
};

enum fz_globals_off {
	FZ_G_DECORATION = 1 << 0,
	FZ_G_VIEWPORTER = 1 << 1,
	FZ_G_SUBCOMPOSITOR = 1 << 2,
	FZ_G_SHM = 1 << 3,
	FZ_G_KDE = 1 << 4,
	FZ_G_PRIMARY = 1 << 5,
	FZ_G_DATA = 1 << 6,
	FZ_G_SEAT = 1 << 7,
};

static const struct fz_global_def globals[] = {
	{"wl_compositor", 0, 0}, {"wl_subcompositor", 0, FZ_G_SUBCOMPOSITOR},
	{"wl_shm", 0, FZ_G_SHM}, {"wl_seat", 0, FZ_G_SEAT}, {"wl_output", 0, 0},
	{"wl_data_device_manager", 0, FZ_G_DATA}, {"xdg_wm_base", 0, 0},
	{"zxdg_decoration_manager_v1", 0, FZ_G_DECORATION},
	{"org_kde_kwin_server_decoration_manager", 0, FZ_G_KDE},
	{"wp_viewporter", 0, FZ_G_VIEWPORTER}, {"wp_presentation", 0, 0},
	{"zxdg_output_manager_v1", 0, 0}, {"zwp_relative_pointer_manager_v1", 0, 0},
	{"zwp_pointer_constraints_v1", 0, 0}, {"zwp_pointer_gestures_v1", 0, 0},
	{"zwp_primary_selection_device_manager_v1", 0, FZ_G_PRIMARY},
	{"zwp_text_input_manager_v3", 0, 0}, {"zwp_idle_inhibit_manager_v1", 0, 0},
	{"xdg_activation_v1", 0, 0}, {"zwp_linux_dmabuf_v1", 0, 0},
	{"wp_fractional_scale_manager_v1", 0, 0}, {"wp_single_pixel_buffer_manager_v1", 0, 0},
	{"wp_content_type_manager_v1", 0, 0}, {"zwlr_layer_shell_v1", 4, 0},
	{"zwlr_data_control_manager_v1", 2, 0},
};
#define GLOBAL_COUNT (sizeof(globals) / sizeof(globals[0]))
#define SECOND_SEAT_NAME 100

static uint32_t global_version(struct fz_harness *h, const struct fz_global_def *g) {
	if (h->flags & FZ_H_OLD) {
		return 1;
	}
	const struct vd_interface *iface = vd_interface_find(g->interface);
	return g->version != 0 ? g->version : iface != NULL ? iface->version : 1;
}

static void send_globals(struct fz_session *s, uint32_t registry) {
	struct fz_harness *h = s->h;
	for (size_t i = 0; i < GLOBAL_COUNT; i++) {
		if (globals[i].off_bit & h->globals_off) {
			continue;
		}
		compositor_event(s, registry, VD_WL_REGISTRY_EVENT_GLOBAL, "usu", (uint32_t)i + 1,
			globals[i].interface, global_version(h, &globals[i]));
	}
	if (h->flags & FZ_H_TWO_SEATS) {
		compositor_event(s, registry, VD_WL_REGISTRY_EVENT_GLOBAL, "usu",
			(uint32_t)SECOND_SEAT_NAME, "wl_seat", vd_iface_wl_seat.version);
	}
}

/* What a compositor sends at once when a global is bound. */
static void bound(struct fz_session *s, uint32_t id, const struct vd_interface *iface,
		uint32_t version) {
	if (iface == &vd_iface_wl_seat) {
		uint32_t caps = s->h->caps & 7;
		compositor_event(s, id, VD_WL_SEAT_EVENT_CAPABILITIES, "u", caps ? caps : 7u);
		if (version >= 2) {
			compositor_event(s, id, VD_WL_SEAT_EVENT_NAME, "s", "seat0");
		}
	} else if (iface == &vd_iface_wl_shm) {
		compositor_event(s, id, VD_WL_SHM_EVENT_FORMAT, "u", VD_WL_SHM_FORMAT_ARGB8888);
		compositor_event(s, id, VD_WL_SHM_EVENT_FORMAT, "u", VD_WL_SHM_FORMAT_XRGB8888);
		compositor_event(s, id, VD_WL_SHM_EVENT_FORMAT, "u", VD_WL_SHM_FORMAT_RGB565);
	} else if (iface == &vd_iface_wl_output) {
		compositor_event(s, id, VD_WL_OUTPUT_EVENT_GEOMETRY, "iiiiissi", 0, 0, 600, 340, 0,
			"vmdesk", "fuzz", 0);
		compositor_event(s, id, VD_WL_OUTPUT_EVENT_MODE, "uiii", 3u, 1920, 1080, 60000);
		if (version >= 2) {
			compositor_event(s, id, VD_WL_OUTPUT_EVENT_SCALE, "i", 1 + (s->h->caps >> 6));
			compositor_event(s, id, VD_WL_OUTPUT_EVENT_DONE, "");
		}
	}
}

static void fire_frames(struct fz_session *s, uint32_t surface) {
	for (size_t i = 0; i < s->comp_model.count; i++) {
		struct fz_object *o = &s->comp_model.list[i];
		if (o->alive && o->frame_pending && o->surface == surface) {
			uint32_t id = o->id;
			o->frame_pending = false;
			o->alive = false;
			compositor_event(s, id, VD_WL_CALLBACK_EVENT_DONE, "u", ++s->comp_serial);
			compositor_event(s, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID, "u", id);
			fz_model_free_id(&s->comp_model, id);
		}
	}
}

/* The first configure of a window, after its first commit. */
static void configure_roles(struct fz_session *s, uint32_t surface) {
	static const uint32_t sizes[8][2] = {
		{0, 0}, {640, 480}, {300, 200}, {1, 1}, {4100, 600}, {16384, 16384}, {100, 30000},
		{800, 600},
	};
	const uint32_t *size = sizes[(s->h->caps >> 3) & 7];
	for (size_t i = 0; i < s->comp_model.count; i++) {
		struct fz_object *o = &s->comp_model.list[i];
		if (!o->alive || o->interface != &vd_iface_xdg_surface || o->surface != surface ||
				o->configured || o->role == FZ_ROLE_NONE) {
			continue;
		}
		uint32_t xdg = o->id, role_object = o->role_object;
		enum fz_role role = o->role;
		o->configured = true;
		if (role == FZ_ROLE_TOPLEVEL) {
			uint32_t states[] = {VD_XDG_TOPLEVEL_STATE_ACTIVATED};
			compositor_event(s, role_object, VD_XDG_TOPLEVEL_EVENT_CONFIGURE, "iia",
				size[0], size[1], states, (uint32_t)sizeof(states));
		} else {
			compositor_event(s, role_object, VD_XDG_POPUP_EVENT_CONFIGURE, "iiii", 10, 10,
				100, 50);
		}
		compositor_event(s, xdg, VD_XDG_SURFACE_EVENT_CONFIGURE, "u", ++s->comp_serial);
	}
}

static void auto_reply(struct fz_session *s, const struct fz_object *sender,
		const struct vd_wire_message *msg) {
	const struct vd_interface *iface = sender->interface;
	uint16_t op = msg->header.opcode;
	uint32_t id = sender->id;
	if (iface == &vd_iface_wl_display && op == VD_WL_DISPLAY_REQUEST_SYNC) {
		uint32_t callback = msg->args[0].id;
		compositor_event(s, callback, VD_WL_CALLBACK_EVENT_DONE, "u", ++s->comp_serial);
		compositor_event(s, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID, "u", callback);
		fz_model_free_id(&s->comp_model, callback);
	} else if (iface == &vd_iface_wl_display && op == VD_WL_DISPLAY_REQUEST_GET_REGISTRY) {
		send_globals(s, msg->args[0].id);
	} else if (iface == &vd_iface_wl_registry && op == VD_WL_REGISTRY_REQUEST_BIND) {
		const struct vd_interface *bound_iface = vd_interface_find(msg->args[1].new_interface);
		if (bound_iface != NULL) {
			bound(s, msg->args[1].id, bound_iface, msg->args[1].new_version);
		}
	} else if (iface == &vd_iface_wl_seat && op == VD_WL_SEAT_REQUEST_GET_KEYBOARD) {
		static const char keymap[] = "xkb_keymap { };";
		int fd = fz_memfd(keymap, sizeof(keymap), sizeof(keymap));
		if (fd >= 0) {
			compositor_event(s, msg->args[0].id, VD_WL_KEYBOARD_EVENT_KEYMAP, "uhu", 1u, fd,
				(uint32_t)sizeof(keymap));
		}
		if (sender->version >= 4) {
			compositor_event(s, msg->args[0].id, VD_WL_KEYBOARD_EVENT_REPEAT_INFO, "ii", 25,
				600);
		}
	} else if (iface == &vd_iface_xdg_wm_base && op == VD_XDG_WM_BASE_REQUEST_GET_XDG_SURFACE) {
		struct fz_object *xdg = fz_model_get(&s->comp_model, msg->args[0].id);
		if (xdg != NULL) {
			xdg->surface = msg->args[1].id;
		}
	} else if (iface == &vd_iface_xdg_surface && (op == VD_XDG_SURFACE_REQUEST_GET_TOPLEVEL ||
			op == VD_XDG_SURFACE_REQUEST_GET_POPUP)) {
		struct fz_object *xdg = fz_model_get(&s->comp_model, id);
		if (xdg != NULL) {
			xdg->role = op == VD_XDG_SURFACE_REQUEST_GET_TOPLEVEL ? FZ_ROLE_TOPLEVEL :
				FZ_ROLE_POPUP;
			xdg->role_object = msg->args[0].id;
		}
	} else if (iface == &vd_iface_wl_surface && op == VD_WL_SURFACE_REQUEST_FRAME) {
		struct fz_object *cb = fz_model_get(&s->comp_model, msg->args[0].id);
		if (cb != NULL) {
			cb->surface = id;
			cb->frame_pending = true;
		}
	} else if (iface == &vd_iface_wl_surface && op == VD_WL_SURFACE_REQUEST_COMMIT) {
		configure_roles(s, id);
		fire_frames(s, id);
	}
}

/* One request the proxy sent the compositor. */
static void handle_request(struct fz_session *s, const uint8_t *data, size_t size) {
	note_wire("compositor gets", (int)(s - s->h->sessions), data, size);
	struct vd_wire_header header;
	vd_wire_header_read(data, &header);
	struct fz_object *sender = fz_model_get(&s->comp_model, header.object);
	if (sender == NULL) {
		fz_violation(s, "request to unknown object %u (opcode %u)", header.object,
			header.opcode);
		return;
	}
	const struct vd_interface *iface = sender->interface;
	if (sender->deleted) {
		return; // sent before the proxy read the compositor's delete_id
	}
	if (!sender->alive) {
		fz_violation(s, "request %s@%u.%u after the object was destroyed", iface->name,
			header.object, header.opcode);
	}
	if (header.opcode >= iface->request_count) {
		fz_violation(s, "%s@%u: no request %u", iface->name, header.object, header.opcode);
		return;
	}
	const struct vd_message *desc = &iface->requests[header.opcode];
	if (desc->since > sender->version) {
		fz_violation(s, "%s.%s needs version %u, object has %u", iface->name, desc->name,
			desc->since, sender->version);
	}
	struct vd_wire_message msg;
	char err[256];
	if (!vd_wire_parse(desc, data, &msg, err, sizeof(err))) {
		fz_violation(s, "malformed request: %s", err);
		return;
	}
	for (uint32_t i = 0; i < msg.fd_count; i++) {
		int fd = buf_pop_fd(&s->requests);
		if (fd < 0) {
			fz_violation(s, "%s.%s without its fd", iface->name, desc->name);
		} else {
			close(fd);
			s->h->loop_ready = true; // the proxy may hold the other end
		}
	}
	uint32_t version = sender->version;
	for (uint32_t i = 0; i < msg.arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		const struct vd_wire_arg *arg = &msg.args[i];
		if (spec->type == VD_ARG_OBJECT && arg->id != 0) {
			struct fz_object *o = fz_model_get(&s->comp_model, arg->id);
			if (o != NULL && o->deleted) {
				continue; // as above
			}
			if (o == NULL || !o->alive) {
				fz_violation(s, "%s.%s names %s object %u", iface->name, desc->name,
					o == NULL ? "unknown" : "destroyed", arg->id);
			} else if (spec->interface != NULL && o->interface != spec->interface) {
				fz_violation(s, "%s.%s: object %u is a %s", iface->name, desc->name,
					arg->id, o->interface->name);
			}
		} else if (spec->type == VD_ARG_OBJECT && !spec->nullable) {
			fz_violation(s, "%s.%s: null object", iface->name, desc->name);
		} else if (spec->type == VD_ARG_NEW_ID) {
			const struct vd_interface *child = spec->interface;
			uint32_t child_version = version;
			if (child == NULL) {
				child = vd_interface_find(arg->new_interface);
				child_version = arg->new_version;
			}
			struct fz_object *old = fz_model_get(&s->comp_model, arg->id);
			bool taken = old != NULL && !old->freed && !s->compositor_lied;
			if (arg->id == 0 || arg->id >= FZ_SERVER_ID || taken || child == NULL) {
				fz_violation(s, "%s.%s: bad new id %u", iface->name, desc->name, arg->id);
				continue;
			}
			fz_model_add(&s->comp_model, arg->id, child, child_version);
		}
	}
	sender = fz_model_get(&s->comp_model, header.object); // the list may have moved
	struct fz_object copy = *sender;
	if (!(s->h->flags & FZ_H_MANUAL)) {
		auto_reply(s, &copy, &msg);
	}
	if (desc->destructor) {
		fz_model_kill(&s->comp_model, header.object);
		if (header.object < FZ_SERVER_ID && !(s->h->flags & FZ_H_MANUAL)) {
			compositor_event(s, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID, "u",
				header.object);
			fz_model_free_id(&s->comp_model, header.object);
		}
	}
}

/* Reads what the proxy sent the compositor (if readable: its socket may have
 * some) and answers every whole request. */
static bool compositor_read(struct fz_session *s, bool readable) {
	bool any = false;
	while (readable && s->upstream >= 0 && !s->compositor_paused) {
		/* static: 64 KiB on the stack cost ASan 16 KiB of shadow to poison
		 * and unpoison on every call */
		static uint8_t buf[65536];
		union {
			char buf[CMSG_SPACE(sizeof(int) * 253)];
			struct cmsghdr align;
		} control;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			.msg_controllen = sizeof(control.buf)};
		ssize_t n = recvmsg(s->upstream, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n >= 0) {
			s->h->loop_ready = true; // room for the proxy's writes, or its peer gone
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); n >= 0 && c != NULL;
				c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < count; i++) {
					int fd;
					memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
					buf_push_fd(&s->requests, fd);
				}
			}
		}
		if (n <= 0) {
			break;
		}
		fz_buf_put(&s->requests, buf, (size_t)n);
		any = true;
		if ((size_t)n < sizeof(buf)) {
			break; // all there was (or up to a message with fds: the next round reads on)
		}
	}
	size_t pos = 0;
	while (s->requests.len - pos >= VD_WIRE_HEADER_SIZE) {
		struct vd_wire_header header;
		vd_wire_header_read(s->requests.data + pos, &header);
		if (header.size < VD_WIRE_HEADER_SIZE || header.size % 4 != 0) {
			fz_violation(s, "request of size %u", header.size);
			pos = s->requests.len;
			break;
		}
		if (s->requests.len - pos < header.size) {
			break;
		}
		handle_request(s, s->requests.data + pos, header.size);
		pos += header.size;
	}
	fz_buf_consume(&s->requests, pos);
	return any;
}

/* ---- the client's side ---- */

static void trace_chunk(struct fz_session *s, bool request, const void *data, size_t len,
		size_t nfds) {
	if (!s->traced) {
		return;
	}
	struct fz_harness *h = s->h;
	uint8_t head[5] = {request, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
		(uint8_t)nfds};
	fz_buf_put(&h->trace_requests, head, sizeof(head));
	fz_buf_put(&h->trace_requests, data, len);
}

static void keep_send_fd(struct fz_session *s, int fd) {
	if (s->nsend == sizeof(s->send_fds) / sizeof(s->send_fds[0])) {
		close(s->send_fds[0]);
		memmove(&s->send_fds[0], &s->send_fds[1], --s->nsend * sizeof(int));
	}
	s->send_fds[s->nsend++] = fd;
}

/* One event the proxy sent the client. */
static void handle_event(struct fz_session *s, const uint8_t *data, size_t size) {
	note_wire("client gets", (int)(s - s->h->sessions), data, size);
	struct fz_model *m = &s->client_model;
	struct vd_wire_header header;
	vd_wire_header_read(data, &header);
	struct fz_object *target = fz_model_get(m, header.object);
	if (target == NULL) {
		fz_violation(s, "event to unknown object %u (opcode %u)", header.object,
			header.opcode);
		return;
	}
	const struct vd_interface *iface = target->interface;
	if (header.opcode >= iface->event_count) {
		fz_violation(s, "%s@%u: no event %u", iface->name, header.object, header.opcode);
		return;
	}
	const struct vd_message *desc = &iface->events[header.opcode];
	if (desc->since > target->version) {
		fz_violation(s, "%s.%s needs version %u, object has %u", iface->name, desc->name,
			desc->since, target->version);
	}
	struct vd_wire_message msg;
	char err[256];
	if (!vd_wire_parse(desc, data, &msg, err, sizeof(err))) {
		fz_violation(s, "malformed event: %s", err);
		return;
	}
	trace_chunk(s, false, data, size, msg.fd_count);
	uint32_t version = target->version;
	for (uint32_t i = 0; i < msg.arg_count; i++) {
		const struct vd_arg *spec = &desc->args[i];
		const struct vd_wire_arg *arg = &msg.args[i];
		switch (spec->type) {
		case VD_ARG_OBJECT:
			if (arg->id != 0 && fz_model_get(m, arg->id) == NULL) {
				fz_violation(s, "%s.%s names unknown object %u", iface->name, desc->name,
					arg->id);
			} else if (arg->id == 0 && !spec->nullable) {
				fz_violation(s, "%s.%s: null object", iface->name, desc->name);
			}
			break;
		case VD_ARG_NEW_ID: {
			struct fz_object *old = fz_model_get(m, arg->id);
			if (arg->id < FZ_SERVER_ID || (old != NULL && old->alive)) {
				fz_violation(s, "%s.%s: bad new id %u", iface->name, desc->name, arg->id);
				break;
			}
			fz_model_add(m, arg->id, spec->interface, version);
			break;
		}
		case VD_ARG_FD: {
			int fd = buf_pop_fd(&s->events);
			s->h->loop_ready = true; // kept or closed: the proxy may hold the other end
			if (fd < 0) {
				fz_violation(s, "%s.%s without its fd", iface->name, desc->name);
			} else if ((iface == &vd_iface_wl_data_source &&
					header.opcode == VD_WL_DATA_SOURCE_EVENT_SEND) ||
					(iface == &vd_iface_zwp_primary_selection_source_v1 &&
					header.opcode == VD_ZWP_PRIMARY_SELECTION_SOURCE_V1_EVENT_SEND)) {
				keep_send_fd(s, fd);
			} else {
				close(fd);
			}
			break;
		}
		default:
			break;
		}
	}
	if (msg.arg_count > 0 && desc->args[0].type == VD_ARG_UINT) {
		fz_model_note_serial(m, msg.args[0].u);
	}
	if (iface == &vd_iface_wl_display && header.opcode == VD_WL_DISPLAY_EVENT_DELETE_ID) {
		fz_model_free_id(m, msg.args[0].u);
	} else if (iface == &vd_iface_wl_registry && header.opcode == VD_WL_REGISTRY_EVENT_GLOBAL &&
			m->global_count < FZ_GLOBALS) {
		struct fz_global *g = &m->globals[m->global_count++];
		g->name = msg.args[0].u;
		snprintf(g->interface, sizeof(g->interface), "%s", msg.args[1].str.data);
		g->version = msg.args[2].u;
		g->removed = false;
	}
	if (desc->destructor) {
		if (header.object >= FZ_SERVER_ID) {
			fz_model_free_id(m, header.object);
		} else {
			fz_model_kill(m, header.object);
		}
	}
}

static bool client_read(struct fz_session *s) {
	size_t pos = 0;
	while (s->events.len - pos >= VD_WIRE_HEADER_SIZE) {
		struct vd_wire_header header;
		vd_wire_header_read(s->events.data + pos, &header);
		if (header.size < VD_WIRE_HEADER_SIZE || header.size % 4 != 0) {
			fz_violation(s, "event of size %u", header.size);
			pos = s->events.len;
			break;
		}
		if (s->events.len - pos < header.size) {
			break;
		}
		handle_event(s, s->events.data + pos, header.size);
		pos += header.size;
	}
	fz_buf_consume(&s->events, pos);
	bool any = pos > 0;
	/* the client drains the pipes of its receives */
	if (s->npipes > 0) {
		s->h->loop_ready = true;
	}
	for (size_t i = 0; i < s->npipes; i++) {
		char buf[4096];
		while (read(s->pipes[i], buf, sizeof(buf)) > 0) {
		}
	}
	return any;
}

static void client_deliver(struct fz_session *s, const void *data, size_t len, const int *fds,
		size_t nfds) {
	if (s->client == NULL || s->client->in.len + len > ENDPOINT_IN_MAX) {
		for (size_t i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return;
	}
	note_wire("client sends", (int)(s - s->h->sessions), data, len);
	trace_chunk(s, true, data, len, nfds);
	for (size_t i = 0; i < nfds; i++) {
		buf_push_fd(&s->client->in, fds[i]);
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
	/* a new client in that slot: whatever the old one left goes */
	h->loop_ready = true;
	if (s->upstream >= 0) {
		close(s->upstream);
		s->upstream = -1;
	}
	buf_clear(&s->events);
	buf_clear(&s->requests);
	buf_clear(&s->to_compositor);
	for (size_t i = 0; i < s->nsend; i++) {
		close(s->send_fds[i]);
	}
	for (size_t i = 0; i < s->npipes; i++) {
		close(s->pipes[i]);
	}
	s->nsend = s->npipes = 0;
	fz_model_reset(&s->client_model);
	fz_model_reset(&s->comp_model);
	s->client_paused = s->compositor_paused = false;
	s->comp_serial = 1000;
	s->compositor_lied = false;
	s->last_fd_size = 0;
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
	fz_model_add(&s->client_model, VD_DISPLAY_ID, &vd_iface_wl_display, 1);
	fz_model_add(&s->comp_model, VD_DISPLAY_ID, &vd_iface_wl_display, 1);
	s->session = vd_session_create_with(&h->server, &ep->base, sp[0], NULL);
	if (s->session == NULL) {
		s->alive = false; // the endpoint is destroyed already
		return NULL;
	}
	return s;
}

static void session_end(struct fz_session *s) {
	s->h->loop_ready = true;
	if (s->alive) {
		vd_session_destroy(s->session); // destroys the endpoint: alive = false
	}
	if (s->upstream >= 0) {
		close(s->upstream);
		s->upstream = -1;
	}
	buf_finish(&s->events);
	buf_finish(&s->requests);
	buf_finish(&s->to_compositor);
	for (size_t i = 0; i < s->nsend; i++) {
		close(s->send_fds[i]);
	}
	for (size_t i = 0; i < s->npipes; i++) {
		close(s->pipes[i]);
	}
	s->nsend = s->npipes = 0;
	fz_model_reset(&s->client_model);
	fz_model_reset(&s->comp_model);
}

/* ---- the global clipboard's link ---- */

static void hostd_flush(struct fz_harness *h) {
	while (h->hostd_fd >= 0 && h->hostd_out.len > 0) {
		ssize_t n = send(h->hostd_fd, h->hostd_out.data, h->hostd_out.len,
			MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN) {
				h->hostd_out.len = 0;
			}
			return;
		}
		h->loop_ready = true;
		fz_buf_consume(&h->hostd_out, (size_t)n);
	}
}

static void hostd_put(struct fz_harness *h, const struct vd_link_buf *buf) {
	fz_buf_put(&h->hostd_out, buf->data, buf->len);
}

/* Reads what the proxy sent: every frame must decode (the proxy's encoder checks). */
static bool hostd_read(struct fz_harness *h) {
	bool any = false;
	while (h->hostd_fd >= 0) {
		size_t space;
		uint8_t *p = vd_link_reader_space(&h->hostd_reader, &space);
		if (p == NULL) {
			abort();
		}
		ssize_t n = recv(h->hostd_fd, p, space, MSG_DONTWAIT);
		if (n >= 0) {
			h->loop_ready = true;
		}
		if (n <= 0) {
			break;
		}
		any = true;
		bool drained = (size_t)n < space;
		vd_link_reader_commit(&h->hostd_reader, (size_t)n);
		for (;;) {
			struct vd_link_header header;
			const uint8_t *payload;
			char err[512];
			enum vd_link_next next = vd_link_reader_next(&h->hostd_reader, &header, &payload,
				err, sizeof(err));
			if (next == VD_LINK_NEXT_NONE) {
				break;
			}
			if (next == VD_LINK_NEXT_ERROR) {
				fz_violation(NULL, "the proxy's clipboard link sent a broken frame: %s", err);
				vd_link_reader_hunt(&h->hostd_reader);
				continue;
			}
			struct vd_link_msg msg;
			if (!vd_link_decode(&vd_link_host, VD_LINK_ROLE_CLIENT, &header, payload, &msg,
					err, sizeof(err))) {
				fz_violation(NULL, "the proxy's clipboard link sent: %s", err);
				continue;
			}
			vd_link_msg_finish(&msg);
		}
		if (drained) {
			break;
		}
	}
	return any;
}

static void hostd_start(struct fz_harness *h) {
	h->hostd_fd = -1;
	if (h->flags & FZ_H_NO_HOSTD) {
		return;
	}
	h->hostd = hostd_link_create(&h->server, "/nonexistent/vmdesk-fuzz/clipboard.sock");
	int sp[2];
	if (h->hostd == NULL ||
			socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) != 0) {
		return;
	}
	h->hostd_fd = sp[1];
	vd_link_reader_init(&h->hostd_reader, vd_link_host.max_frame);
	fuzz_hostd_link_attach(h->hostd, sp[0]);
	struct vd_link_buf buf = {0};
	if (lg_hello(&vd_link_host, VD_LINK_ROLE_SERVER, VD_LINK_CAP_CLIPBOARD, 7, &buf)) {
		hostd_put(h, &buf);
	}
	vd_link_buf_finish(&buf);
}

static void hostd_stop(struct fz_harness *h) {
	hostd_link_destroy(h->hostd);
	h->hostd = NULL;
	if (h->hostd_fd >= 0) {
		close(h->hostd_fd);
		vd_link_reader_finish(&h->hostd_reader);
		h->hostd_fd = -1;
	}
	buf_finish(&h->hostd_out);
	h->hostd_nids = 0;
}

/* ---- running the proxy ---- */

/*
 * The proxy's loop runs. Its epoll_wait is a syscall, and most rounds have
 * nothing for it: it is made only when the loop may have work, i.e. when
 * the last round's poll saw its fd ready or the harness did something to
 * one of the proxy's fds since (wrote, read, closed: each place sets
 * h->loop_ready). Otherwise only its idle sources run, as
 * wl_event_loop_dispatch would with no fd ready. A timer that falls due
 * meanwhile shows in the next poll, so it runs a round later at most.
 */
static void loop_dispatch(struct fz_harness *h) {
	if (h->loop_ready) {
		h->loop_ready = false;
		wl_event_loop_dispatch(h->loop, 0);
	} else {
		wl_event_loop_dispatch_idle(h->loop);
	}
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
		progress = compositor_flush(s) || progress;
	}
	hostd_flush(h);
	loop_dispatch(h);
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
		progress = client_read(s) || progress;
		progress = compositor_read(s, pfd[i].revents != 0) || progress;
		progress = compositor_flush(s) || progress;
	}
	if (pfd[2].revents != 0) {
		progress = hostd_read(h) || progress;
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
	static struct fz_msg msg;
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	uint32_t targets[64];
	size_t ntargets = 0;
	if (rec->kind & FZ_F_BROADCAST) {
		const struct vd_interface *iface = fz_event_interface(s, &r);
		for (size_t i = 0; i < s->comp_model.count && ntargets < 64; i++) {
			const struct fz_object *o = &s->comp_model.list[i];
			if (o->alive && o->interface == iface) {
				targets[ntargets++] = o->id;
			}
		}
	} else {
		targets[ntargets++] = 0;
	}
	for (size_t i = 0; i < ntargets; i++) {
		fz_reader_init(&r, rec->payload, rec->len);
		if (!fz_build_event(s, rec->kind, &r, targets[i], &msg)) {
			continue;
		}
		if (msg.destructor && msg.interface != NULL) {
			fz_model_kill(&s->comp_model, msg.target);
		}
		compositor_send(s, msg.data, msg.size > FZ_MSG_MAX ? FZ_MSG_MAX : msg.size, msg.fds,
			msg.nfds);
		if (msg.destructor && msg.target < FZ_SERVER_ID && !(h->flags & FZ_H_MANUAL) &&
				msg.interface != NULL) {
			compositor_event(s, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID, "u", msg.target);
			fz_model_free_id(&s->comp_model, msg.target);
		}
	}
}

static void do_raw(struct fz_harness *h, const struct fz_record *rec, bool client) {
	struct fz_session *s = session_get(h, rec->kind);
	if (s == NULL) {
		return;
	}
	if (client) {
		client_deliver(s, rec->payload, rec->len, NULL, 0);
	} else {
		compositor_send(s, rec->payload, rec->len, NULL, 0);
	}
}

static void do_hostd(struct fz_harness *h, const struct fz_record *rec) {
	if (h->hostd_fd < 0) {
		return;
	}
	struct fz_reader r;
	fz_reader_init(&r, rec->payload, rec->len);
	struct vd_link_buf buf = {0};
	struct lg_ids ids = {h->hostd_ids, h->hostd_nids};
	uint16_t type;
	if (lg_build(&vd_link_host, VD_LINK_ROLE_SERVER, &r, &ids, &buf, &type)) {
		hostd_put(h, &buf);
		if (buf.len >= VD_LINK_HEADER_SIZE && h->hostd_nids < 8) {
			/* requests the proxy answers: their ids, for later frames */
			const uint8_t *head = buf.data;
			if (buf.len >= VD_LINK_SYNC_SIZE + VD_LINK_HEADER_SIZE && vd_link_is_sync(head)) {
				head += VD_LINK_SYNC_SIZE;
			}
			struct vd_link_header header;
			vd_link_header_read(head, &header);
			h->hostd_ids[h->hostd_nids++] = header.id;
		}
	}
	vd_link_buf_finish(&buf);
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
			compositor_flush(s);
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
			hostd_flush(h);
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
	vd_log_init("fuzz-proxy", VD_SILENT);
	const char *env = getenv("FUZZ_PROXY_ORACLE");
	oracle = env == NULL || strcmp(env, "0") != 0;
	env = getenv("FUZZ_PROXY_VERBOSE");
	verbose = env != NULL && strcmp(env, "0") != 0;
	char err[256];
	policies[0] = vd_policy_parse(vd_default_policy, strlen(vd_default_policy),
		"default.policy", err, sizeof(err));
	size_t len = strlen(vd_default_policy);
	char *text = malloc(len + 64);
	if (text == NULL || policies[0] == NULL) {
		abort();
	}
	memcpy(text, vd_default_policy, len + 1);
	char *deny = strstr(text, "\nset fullscreen deny");
	if (deny != NULL) {
		memcpy(deny, "\nset fullscreen allow", strlen("\nset fullscreen allow"));
	}
	policies[1] = vd_policy_parse(text, strlen(text), "fullscreen.policy", err, sizeof(err));
	free(text);
	if (policies[1] == NULL) {
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (policies[0] == NULL) {
		LLVMFuzzerInitialize(NULL, NULL);
	}
	static struct fz_harness h;
	struct fz_reader input;
	fz_reader_init(&input, data, size);
	h.flags = fz_take_u8(&input);
	h.caps = fz_take_u8(&input);
	h.globals_off = fz_take_u8(&input);
	(void)fz_take_u8(&input);
	h.sessions_made = 0;
	h.oracle = oracle;
	h.loop_ready = true;
	h.loop = wl_event_loop_create();
	h.server = (struct vd_server){0};
	h.server.vm = "fuzz";
	h.server.color = (struct vd_color){0x73, 0xd2, 0x16};
	h.server.frames = !(h.flags & FZ_H_NO_FRAMES);
	h.server.trace = h.flags & FZ_H_TRACE;
	h.server.policy = policies[(h.flags & FZ_H_FULLSCREEN) ? 1 : 0];
	h.server.limits = (h.flags & FZ_H_SMALL_LIMITS) ?
		(struct vd_limits){.max_objects = 64, .max_queue = 16384, .max_fds = 8} :
		(struct vd_limits){.max_objects = 1000, .max_queue = 1 << 20, .max_fds = 64};
	if (h.loop == NULL || !vd_server_init(&h.server, h.loop)) {
		abort();
	}
	for (int i = 0; i < 2; i++) {
		struct fz_session *s = &h.sessions[i];
		s->h = &h;
		s->upstream = -1;
		s->alive = false;
		if (s->client_model.cap == 0) {
			fz_model_init(&s->client_model);
			fz_model_init(&s->comp_model);
		}
	}
	hostd_start(&h);
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
			do_hostd(&h, &rec);
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
	hostd_stop(&h);
	vd_server_finish(&h.server);
	wl_event_loop_destroy(h.loop);
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
		fz_put_tag(w, FZ_U8, 0);
		fz_put_u8(w, (uint8_t)fz_below(rng, (uint32_t)vd_interface_count));
		fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, 3));
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 24));
		for (uint32_t i = fz_below(rng, 7); i > 0; i--) {
			fz_random_value(rng, w);
		}
		fz_record_end(w, start);
	} else if (r < 85) {
		/* events: to the client's objects (mirror), or to all keyboards and pointers */
		static const struct vd_interface *const common[] = {
			&vd_iface_wl_keyboard, &vd_iface_wl_pointer, &vd_iface_xdg_toplevel,
			&vd_iface_xdg_surface, &vd_iface_xdg_popup, &vd_iface_wl_buffer,
			&vd_iface_wl_callback, &vd_iface_wl_seat, &vd_iface_wl_registry,
			&vd_iface_xdg_wm_base, &vd_iface_wl_touch, &vd_iface_wl_surface,
		};
		const struct vd_interface *iface = fz_below(rng, 4) == 0 ?
			vd_interfaces[fz_below(rng, (uint32_t)vd_interface_count)] :
			common[fz_below(rng, sizeof(common) / sizeof(common[0]))];
		uint8_t mode = (uint8_t)(iface == &vd_iface_wl_keyboard || iface == &vd_iface_wl_pointer ?
			FZ_F_BROADCAST : fz_below(rng, 3) ? FZ_F_MIRROR : 0);
		size_t start = fz_record_begin(w, FZ_K_EVENT | flags | mode);
		fz_put_tag(w, FZ_U8, 0);
		fz_put_u8(w, (uint8_t)iface->index);
		fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, 3));
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 10));
		for (uint32_t i = fz_below(rng, 6); i > 0; i--) {
			fz_random_value(rng, w);
		}
		fz_record_end(w, start);
	} else if (r < 93) {
		size_t start = fz_record_begin(w, FZ_K_HOSTD);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 5));
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 4));
		fz_put_tag(w, FZ_SMALL, fz_below(rng, 8) == 0 ? (uint8_t)fz_below(rng, 32) : 0);
		for (uint32_t i = fz_below(rng, 6); i > 0; i--) {
			fz_random_value(rng, w);
		}
		fz_record_end(w, start);
	} else {
		size_t start = fz_record_begin(w, FZ_K_CONTROL | flags);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, FZ_C_COUNT));
		fz_random_value(rng, w);
		fz_record_end(w, start);
	}
}

static const struct fz_target proxy_target = {
	.header_size = FZ_HEADER_SIZE,
	.kind_mask = FZ_KIND_MASK,
	.tagged = proxy_tagged,
	.generate = proxy_generate,
};

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
	return fz_mutate(&proxy_target, data, size, max_size, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
		size_t size2, uint8_t *out, size_t max_out, unsigned int seed) {
	return fz_crossover(&proxy_target, data1, size1, data2, size2, out, max_out, seed);
}
