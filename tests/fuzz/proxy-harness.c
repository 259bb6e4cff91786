/*
 * What fuzz-proxy and fuzz-proxy-vm-link share (tests/fuzz/proxy-harness.h):
 * the fake compositor, which answers as a real one and checks every request
 * the proxy passes on; the check of the events the proxy passes on to a
 * client; the fake vmdesk-hostd on the proxy's clipboard link; the proxy's
 * server as both set it up from an input's header.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/log.h"
#include "proxy/hostd-link.h"
#include "proxy/policy.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "tests/fuzz/link-gen.h"
#include "tests/fuzz/proxy-harness.h"

extern const char vd_default_policy[];

static const char *program = "fuzz-proxy";
static struct vd_policy *policies[2]; // default, and fullscreen allowed
static bool oracle = true;
static bool verbose; // FUZZ_PROXY_VERBOSE=1: every message on both sides, to stderr

void fz_note(const char *fmt, ...) {
	if (!verbose) {
		return;
	}
	va_list args;
	va_start(args, fmt);
	fprintf(stderr, "%s: ", program);
	vfprintf(stderr, fmt, args);
	fprintf(stderr, "\n");
	va_end(args);
}

/* One line per message when verbose: who, which object, which opcode, and its size. */
void fz_note_wire(const char *what, int session, const uint8_t *data, size_t len) {
	if (!verbose) {
		return;
	}
	for (size_t pos = 0; len - pos >= VD_WIRE_HEADER_SIZE;) {
		struct vd_wire_header header;
		vd_wire_header_read(data + pos, &header);
		fprintf(stderr, "%s: [%d] %s %u.%u (%u bytes)", program, session, what,
			header.object, header.opcode, header.size);
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

void fz_buf_push_fd(struct fz_buf *buf, int fd) {
	if (buf->nfds == sizeof(buf->fds) / sizeof(buf->fds[0])) {
		close(fd);
		return;
	}
	buf->fds[buf->nfds++] = fd;
}

int fz_buf_pop_fd(struct fz_buf *buf) {
	if (buf->nfds == 0) {
		return -1;
	}
	int fd = buf->fds[0];
	memmove(&buf->fds[0], &buf->fds[1], --buf->nfds * sizeof(int));
	return fd;
}

void fz_buf_clear(struct fz_buf *buf) {
	for (size_t i = 0; i < buf->nfds; i++) {
		close(buf->fds[i]);
	}
	buf->nfds = 0;
	buf->len = 0;
}

void fz_buf_finish(struct fz_buf *buf) {
	fz_buf_clear(buf);
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
	fprintf(stderr, "%s: the proxy passed on something its peer cannot take: ", program);
	vfprintf(stderr, fmt, args);
	fprintf(stderr, "\n");
	va_end(args);
	abort();
}

/* ---- the compositor's side ---- */

/* Writes what the compositor has queued; true if some went. */
bool fz_compositor_flush(struct fz_session *s) {
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
				fz_buf_clear(out);
			}
			return sent;
		}
		s->h->loop_ready = true; // the proxy has something to read
		for (size_t i = 0; i < nfds; i++) {
			close(fz_buf_pop_fd(out));
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

void fz_compositor_send(struct fz_session *s, const void *data, size_t len, const int *fds,
		size_t nfds) {
	fz_note_wire("compositor sends", (int)(s - s->h->sessions), data, len);
	compositor_note_sent(s, data, len);
	for (size_t i = 0; i < nfds; i++) {
		fz_buf_push_fd(&s->to_compositor, fds[i]);
	}
	fz_buf_put(&s->to_compositor, data, len);
}

/* An event of the compositor's own: fmt letters u, i, s, a (data, len), h, n. */
uint32_t fz_compositor_event(struct fz_session *s, uint32_t object, uint16_t opcode,
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
		fz_compositor_send(s, buf, w.size, fds, nfds);
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
		fz_compositor_event(s, registry, VD_WL_REGISTRY_EVENT_GLOBAL, "usu", (uint32_t)i + 1,
			globals[i].interface, global_version(h, &globals[i]));
	}
	if (h->flags & FZ_H_TWO_SEATS) {
		fz_compositor_event(s, registry, VD_WL_REGISTRY_EVENT_GLOBAL, "usu",
			(uint32_t)SECOND_SEAT_NAME, "wl_seat", vd_iface_wl_seat.version);
	}
}

/* What a compositor sends at once when a global is bound. */
static void bound(struct fz_session *s, uint32_t id, const struct vd_interface *iface,
		uint32_t version) {
	if (iface == &vd_iface_wl_seat) {
		uint32_t caps = s->h->caps & 7;
		fz_compositor_event(s, id, VD_WL_SEAT_EVENT_CAPABILITIES, "u", caps ? caps : 7u);
		if (version >= 2) {
			fz_compositor_event(s, id, VD_WL_SEAT_EVENT_NAME, "s", "seat0");
		}
	} else if (iface == &vd_iface_wl_shm) {
		fz_compositor_event(s, id, VD_WL_SHM_EVENT_FORMAT, "u", VD_WL_SHM_FORMAT_ARGB8888);
		fz_compositor_event(s, id, VD_WL_SHM_EVENT_FORMAT, "u", VD_WL_SHM_FORMAT_XRGB8888);
		fz_compositor_event(s, id, VD_WL_SHM_EVENT_FORMAT, "u", VD_WL_SHM_FORMAT_RGB565);
	} else if (iface == &vd_iface_wl_output) {
		fz_compositor_event(s, id, VD_WL_OUTPUT_EVENT_GEOMETRY, "iiiiissi", 0, 0, 600, 340, 0,
			"vmdesk", "fuzz", 0);
		fz_compositor_event(s, id, VD_WL_OUTPUT_EVENT_MODE, "uiii", 3u, 1920, 1080, 60000);
		if (version >= 2) {
			fz_compositor_event(s, id, VD_WL_OUTPUT_EVENT_SCALE, "i", 1 + (s->h->caps >> 6));
			fz_compositor_event(s, id, VD_WL_OUTPUT_EVENT_DONE, "");
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
			fz_compositor_event(s, id, VD_WL_CALLBACK_EVENT_DONE, "u", ++s->comp_serial);
			fz_compositor_event(s, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID, "u", id);
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
			fz_compositor_event(s, role_object, VD_XDG_TOPLEVEL_EVENT_CONFIGURE, "iia",
				size[0], size[1], states, (uint32_t)sizeof(states));
		} else {
			fz_compositor_event(s, role_object, VD_XDG_POPUP_EVENT_CONFIGURE, "iiii", 10, 10,
				100, 50);
		}
		fz_compositor_event(s, xdg, VD_XDG_SURFACE_EVENT_CONFIGURE, "u", ++s->comp_serial);
	}
}

static void auto_reply(struct fz_session *s, const struct fz_object *sender,
		const struct vd_wire_message *msg) {
	const struct vd_interface *iface = sender->interface;
	uint16_t op = msg->header.opcode;
	uint32_t id = sender->id;
	if (iface == &vd_iface_wl_display && op == VD_WL_DISPLAY_REQUEST_SYNC) {
		uint32_t callback = msg->args[0].id;
		fz_compositor_event(s, callback, VD_WL_CALLBACK_EVENT_DONE, "u", ++s->comp_serial);
		fz_compositor_event(s, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID, "u", callback);
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
			fz_compositor_event(s, msg->args[0].id, VD_WL_KEYBOARD_EVENT_KEYMAP, "uhu", 1u, fd,
				(uint32_t)sizeof(keymap));
		}
		if (sender->version >= 4) {
			fz_compositor_event(s, msg->args[0].id, VD_WL_KEYBOARD_EVENT_REPEAT_INFO, "ii", 25,
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
	fz_note_wire("compositor gets", (int)(s - s->h->sessions), data, size);
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
		int fd = fz_buf_pop_fd(&s->requests);
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
			fz_compositor_event(s, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID, "u",
				header.object);
			fz_model_free_id(&s->comp_model, header.object);
		}
	}
}

/* Reads what the proxy sent the compositor (if readable: its socket may have
 * some) and answers every whole request. */
bool fz_compositor_read(struct fz_session *s, bool readable) {
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
					fz_buf_push_fd(&s->requests, fd);
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

void fz_trace_chunk(struct fz_session *s, bool request, const void *data, size_t len,
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
	fz_note_wire("client gets", (int)(s - s->h->sessions), data, size);
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
	fz_trace_chunk(s, false, data, size, msg.fd_count);
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
			int fd = fz_buf_pop_fd(&s->events);
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

bool fz_client_read(struct fz_session *s) {
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

/* ---- the global clipboard's link ---- */

void fz_hostd_flush(struct fz_harness *h) {
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
bool fz_hostd_read(struct fz_harness *h) {
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

void fz_hostd_start(struct fz_harness *h) {
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

void fz_hostd_stop(struct fz_harness *h) {
	hostd_link_destroy(h->hostd);
	h->hostd = NULL;
	if (h->hostd_fd >= 0) {
		close(h->hostd_fd);
		vd_link_reader_finish(&h->hostd_reader);
		h->hostd_fd = -1;
	}
	fz_buf_finish(&h->hostd_out);
	h->hostd_nids = 0;
}

void fz_hostd_frame(struct fz_harness *h, const struct fz_record *rec) {
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
void fz_loop_dispatch(struct fz_harness *h) {
	if (h->loop_ready) {
		h->loop_ready = false;
		wl_event_loop_dispatch(h->loop, 0);
	} else {
		wl_event_loop_dispatch_idle(h->loop);
	}
}

/* ---- sessions ---- */

void fz_session_clear(struct fz_session *s) {
	s->h->loop_ready = true;
	if (s->upstream >= 0) {
		close(s->upstream);
		s->upstream = -1;
	}
	fz_buf_clear(&s->events);
	fz_buf_clear(&s->requests);
	fz_buf_clear(&s->to_compositor);
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
	fz_model_add(&s->client_model, VD_DISPLAY_ID, &vd_iface_wl_display, 1);
	fz_model_add(&s->comp_model, VD_DISPLAY_ID, &vd_iface_wl_display, 1);
}

void fz_session_finish(struct fz_session *s) {
	fz_session_clear(s);
	fz_buf_finish(&s->events);
	fz_buf_finish(&s->requests);
	fz_buf_finish(&s->to_compositor);
	fz_model_reset(&s->client_model);
	fz_model_reset(&s->comp_model);
}

/* ---- the proxy's server ---- */

void fz_harness_global_init(const char *name) {
	if (policies[0] != NULL) {
		return;
	}
	program = name;
	/* as vmdesk-proxy's main: a write to a peer that left is EPIPE, not the end */
	signal(SIGPIPE, SIG_IGN);
	/* FUZZ_VERBOSE=1: the proxy's log */
	vd_log_init(name, getenv("FUZZ_VERBOSE") != NULL ? VD_DEBUG : VD_SILENT);
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
}

void fz_harness_begin(struct fz_harness *h, struct fz_reader *input) {
	h->flags = fz_take_u8(input);
	h->caps = fz_take_u8(input);
	h->globals_off = fz_take_u8(input);
	h->extra = fz_take_u8(input);
	h->sessions_made = 0;
	h->oracle = oracle;
	h->loop_ready = true;
	h->loop = wl_event_loop_create();
	h->server = (struct vd_server){0};
	h->server.vm = "fuzz";
	h->server.color = (struct vd_color){0x73, 0xd2, 0x16};
	h->server.frames = !(h->flags & FZ_H_NO_FRAMES);
	h->server.trace = h->flags & FZ_H_TRACE;
	h->server.policy = policies[(h->flags & FZ_H_FULLSCREEN) ? 1 : 0];
	h->server.limits = (h->flags & FZ_H_SMALL_LIMITS) ?
		(struct vd_limits){.max_objects = 64, .max_queue = 16384, .max_fds = 8} :
		(struct vd_limits){.max_objects = 1000, .max_queue = 1 << 20, .max_fds = 64};
	if (h->loop == NULL || !vd_server_init(&h->server, h->loop)) {
		abort();
	}
	for (int i = 0; i < FZ_SESSIONS; i++) {
		struct fz_session *s = &h->sessions[i];
		s->h = h;
		s->upstream = -1;
		s->alive = false;
		s->session = NULL;
		s->client = NULL;
		if (s->client_model.cap == 0) {
			fz_model_init(&s->client_model);
			fz_model_init(&s->comp_model);
		}
	}
	fz_hostd_start(h);
}

void fz_harness_end(struct fz_harness *h) {
	fz_hostd_stop(h);
	vd_server_finish(&h->server);
	wl_event_loop_destroy(h->loop);
	h->loop = NULL;
}
