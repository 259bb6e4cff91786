#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/wire.h"
#include "proxy/session.h"
#include "tests/fuzz/proxy-harness.h"

/*
 * Messages of the fake peers, from the values of a record
 * (tests/fuzz/proxy-harness.h says what each value means).
 */

/* Strings a value can name (besides the interface names, which come first). */
static const char *const strings[] = {
	"", "text/plain", "text/plain;charset=utf-8", "UTF8_STRING", "TEXT", "STRING",
	"image/png", "text/uri-list", "application/x-vmdesk", " text/plain", "a",
	"org.example.App", "foot", "vmdesk.banking.foot", "[banking] Online Banking",
	"Online Banking - Transfer", "\x1b]0;evil\x07 title", ("\xe2\x80\xae" "evil"), "\xff\xfe\xfd",
	"line\nbreak", "vm=banking pid=1 disconnected (protocol error)", "seat0", "HDMI-A-1",
	"\xe4\xb8\xad\xe6\x96\x87\xe6\xa0\x87\xe9\xa2\x98", "wl_compositor", "zwlr_layer_shell_v1",
	"zwlr_data_control_manager_v1", "text/html", "x-special/gnome-copied-files",
	"TARGETS", "text/plain;charset=UTF-16",
};
#define STRING_COUNT (sizeof(strings) / sizeof(strings[0]))

static const int32_t specials[] = {
	0, 1, -1, INT32_MIN, INT32_MAX, 0x8000, 0xffff, 0x10000, 16384, 16385, 32767, 32768,
	4096, 4097, -4096, 2, 256, 0x7fffff00, 24, -24, 8, 7, 0x1000000, 3, 100, 10000, -100000,
	0x40000000, 5, 6, 9, 12,
};

static const char *dictionary(uint64_t v) {
	size_t n = vd_interface_count + STRING_COUNT;
	size_t i = (size_t)(v % n);
	return i < vd_interface_count ? vd_interfaces[i]->name : strings[i - vd_interface_count];
}

int fz_memfd(const void *data, size_t len, size_t size) {
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		return -1;
	}
	if (size > 0 && ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -1;
	}
	if (len > size) {
		len = size;
	}
	if (len > 0 && pwrite(fd, data, len, 0) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

void fz_msg_close_fds(struct fz_msg *msg) {
	for (size_t i = 0; i < msg->nfds; i++) {
		close(msg->fds[i]);
	}
	msg->nfds = 0;
}

/* ---- writing the message ---- */

static void put_u32(struct fz_msg *msg, uint32_t v) {
	if (msg->size + 4 <= FZ_MSG_MAX) {
		memcpy(msg->data + msg->size, &v, 4);
	}
	msg->size += 4;
}

static void put_blob(struct fz_msg *msg, const void *data, uint32_t len, uint32_t wire_len) {
	put_u32(msg, wire_len);
	uint32_t padded = (len + 3) & ~3u;
	if (msg->size + padded <= FZ_MSG_MAX) {
		memset(msg->data + msg->size, 0, padded);
		if (len > 0) {
			memcpy(msg->data + msg->size, data, len);
		}
	}
	msg->size += padded;
}

/* A string argument: the value's bytes (NUL added), a dictionary entry, or a broken one. */
static void put_string(struct fz_msg *msg, const struct fz_value *v, const char *fallback) {
	char buf[4100];
	const char *s = fallback;
	size_t len;
	if (v->cls == FZ_SPECIAL) {
		switch (v->p % 4) {
		case 0:
			put_u32(msg, 0); // null
			return;
		case 1: // no NUL at its end
			put_blob(msg, "abcd", 4, 4);
			return;
		case 2: // a NUL inside
			put_blob(msg, "ab\0cd", 6, 6);
			return;
		default: // a length past the message
			put_u32(msg, 0x7ffffff0);
			return;
		}
	}
	if (v->cls == FZ_BYTES) {
		len = v->len < sizeof(buf) - 1 ? v->len : sizeof(buf) - 1;
		memcpy(buf, v->bytes, len);
		buf[len] = '\0';
		put_blob(msg, buf, (uint32_t)len + 1, (uint32_t)len + 1);
		return;
	}
	if (v->cls == FZ_LEN) {
		len = v->v < sizeof(buf) - 1 ? (size_t)v->v : sizeof(buf) - 1;
		memset(buf, 'x', len);
		buf[len] = '\0';
		put_blob(msg, buf, (uint32_t)len + 1, (uint32_t)len + 1);
		return;
	}
	if (s == NULL || v->present) {
		s = dictionary(fz_value_number(v));
	}
	len = strlen(s);
	put_blob(msg, s, (uint32_t)len + 1, (uint32_t)len + 1);
}

static void put_array(struct fz_msg *msg, const struct fz_value *v) {
	uint8_t buf[256];
	switch (v->cls) {
	case FZ_BYTES:
		put_blob(msg, v->bytes, (uint32_t)v->len, (uint32_t)v->len);
		return;
	case FZ_LEN: {
		size_t len = v->v < 4000 ? (size_t)v->v : 4000;
		uint8_t *zeros = calloc(1, len + 1);
		if (zeros != NULL) {
			put_blob(msg, zeros, (uint32_t)len, (uint32_t)len);
			free(zeros);
		}
		return;
	}
	case FZ_U32: // a length that lies
		put_u32(msg, (uint32_t)v->v);
		return;
	default: {
		/* p words 1..p: xdg_toplevel states, keys */
		uint32_t n = (uint32_t)(v->v % 32);
		for (uint32_t i = 0; i < n && i < 64; i++) {
			uint32_t word = i + 1;
			memcpy(buf + 4 * i, &word, 4);
		}
		put_blob(msg, buf, 4 * n, 4 * n);
		return;
	}
	}
}

/* An fd argument: appended to msg->fds (or none). */
static void put_fd(struct fz_session *s, struct fz_msg *msg, const struct fz_value *v) {
	int fd = -1;
	size_t size = 0;
	if (msg->nfds >= sizeof(msg->fds) / sizeof(msg->fds[0])) {
		return;
	}
	switch (v->cls) {
	case FZ_SPECIAL:
		switch (v->p % 6) {
		case 0:
			return; // the fd is missing
		case 1:
		case 2: { // a pipe: the client keeps (and drains) the read end
			int p[2];
			if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
				return;
			}
			if (v->p % 6 == 1 && s->npipes < sizeof(s->pipes) / sizeof(s->pipes[0])) {
				s->pipes[s->npipes++] = p[0];
				fd = p[1];
			} else {
				close(p[1]);
				fd = p[0];
			}
			break;
		}
		case 3: {
			int sp[2];
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
				return;
			}
			close(sp[1]);
			fd = sp[0];
			break;
		}
		case 4:
			fd = open("/dev/null", O_RDWR | O_CLOEXEC);
			break;
		default:
			size = 65536;
			fd = fz_memfd(NULL, 0, size);
			break;
		}
		break;
	case FZ_BYTES:
		size = v->len;
		fd = fz_memfd(v->bytes, v->len, v->len);
		break;
	case FZ_U32:
	case FZ_U64:
		size = v->v < (256u << 20) ? (size_t)v->v : (256u << 20);
		fd = fz_memfd(NULL, 0, size);
		break;
	case FZ_LEN:
		size = (size_t)v->v;
		fd = fz_memfd(NULL, 0, size);
		break;
	default:
		size = (size_t)fz_value_number(v) * 4096;
		fd = fz_memfd(NULL, 0, size);
		break;
	}
	if (fd >= 0) {
		msg->fds[msg->nfds++] = fd;
		s->last_fd_size = size > INT32_MAX ? INT32_MAX : (int32_t)size;
	}
}

/* A number argument; prev: the one before (for strides). */
static uint32_t number(struct fz_session *s, const struct fz_value *v, enum vd_arg_type type,
		int32_t prev, bool client) {
	switch (v->cls) {
	case FZ_SMALL:
	case FZ_U8:
		return type == VD_ARG_FIXED ? (uint32_t)v->v << 8 : (uint32_t)v->v;
	case FZ_SEL:
		if (client) {
			return fz_model_serial(&s->client_model, (uint32_t)v->v);
		}
		return v->v == 0 ? ++s->comp_serial : s->comp_serial - (uint32_t)v->v;
	case FZ_SPECIAL:
		switch (v->p) {
		case 16:
			return (uint32_t)s->last_fd_size;
		case 17:
			return (uint32_t)prev * 4;
		case 18:
			return (uint32_t)s->last_fd_size + 1;
		case 19:
			return (uint32_t)prev;
		default:
			return (uint32_t)specials[v->p % (sizeof(specials) / sizeof(specials[0]))];
		}
	default:
		return (uint32_t)fz_value_number(v);
	}
}

/* ---- choosing objects ---- */

static const struct vd_interface *interface_of(const struct fz_value *v) {
	return vd_interfaces[fz_value_number(v) % vd_interface_count];
}

/* The client's object, as the compositor knows it (0 if it has no counterpart). */
static uint32_t mirror(struct fz_session *s, const struct fz_object *o) {
	if (o == NULL || !s->alive) {
		return 0;
	}
	struct vd_object *object = vd_object_map_get(&s->session->client_map, o->id);
	return object != NULL ? object->upstream_id : 0;
}

/* An object argument: an ID in the sender's space. */
static uint32_t choose_object(struct fz_session *s, const struct fz_value *v,
		const struct vd_arg *spec, bool client, bool mirrored) {
	if (v->cls == FZ_U32 || v->cls == FZ_U64 || v->cls == FZ_LEN) {
		return (uint32_t)v->v;
	}
	if (v->cls == FZ_SPECIAL) {
		return v->p == 0 ? 0 : VD_DISPLAY_ID + 1000 * v->p;
	}
	uint32_t k = (uint32_t)fz_value_number(v);
	struct fz_model *model = client || mirrored ? &s->client_model : &s->comp_model;
	struct fz_object *o = fz_model_select(model, spec->interface, k);
	if (o == NULL && !spec->nullable) {
		o = fz_model_select(model, NULL, k);
	}
	if (o == NULL) {
		return 0;
	}
	return client || !mirrored ? o->id : mirror(s, o);
}

/* The message's target: interface, object, opcode (3 values). */
static bool choose_target(struct fz_session *s, uint8_t kind, struct fz_reader *r, bool client,
		struct fz_msg *msg, uint32_t target, uint32_t *version) {
	struct fz_value vi, vo, vop;
	fz_take_value(r, &vi);
	fz_take_value(r, &vo);
	fz_take_value(r, &vop);
	bool exact = kind & FZ_F_EXACT;
	bool mirrored = !client && (kind & FZ_F_MIRROR);
	struct fz_model *own = client ? &s->client_model : &s->comp_model;
	const struct vd_interface *interface = interface_of(&vi);
	struct fz_object *o = NULL;
	if (target != 0) {
		o = fz_model_get(own, target);
	} else if (vo.cls == FZ_U32 || vo.cls == FZ_U64) {
		o = fz_model_get(own, (uint32_t)vo.v);
		target = (uint32_t)vo.v;
	} else if (mirrored) {
		struct fz_object *co = fz_model_select(&s->client_model, interface,
			(uint32_t)fz_value_number(&vo));
		target = mirror(s, co);
		o = target != 0 ? fz_model_get(own, target) : NULL;
		if (o == NULL) {
			return false;
		}
	} else {
		o = fz_model_select(own, interface, (uint32_t)fz_value_number(&vo));
		if (o == NULL) {
			o = fz_model_select(own, NULL, (uint32_t)fz_value_number(&vo));
		}
		if (o == NULL) {
			return false;
		}
		target = o->id;
	}
	msg->target = target;
	msg->interface = o != NULL ? o->interface : NULL;
	*version = o != NULL ? o->version : 1;
	const struct vd_interface *iface = msg->interface != NULL ? msg->interface : interface;
	uint16_t count = client ? iface->request_count : iface->event_count;
	const struct vd_message *messages = client ? iface->requests : iface->events;
	uint32_t op = (uint32_t)fz_value_number(&vop);
	if (vop.cls == FZ_U32 || exact) {
		msg->opcode = (uint16_t)op;
	} else {
		uint16_t valid[256];
		uint16_t n = 0;
		for (uint16_t i = 0; i < count && n < 256; i++) {
			if (messages[i].since <= *version) {
				valid[n++] = i;
			}
		}
		if (n == 0) {
			return false;
		}
		msg->opcode = valid[op % n];
	}
	msg->interface = iface;
	return true;
}

/* ---- requests and events ---- */

static const struct vd_message *message_of(const struct fz_msg *msg, bool client) {
	if (msg->interface == NULL) {
		return NULL;
	}
	uint16_t count = client ? msg->interface->request_count : msg->interface->event_count;
	if (msg->opcode >= count) {
		return NULL;
	}
	return client ? &msg->interface->requests[msg->opcode] :
		&msg->interface->events[msg->opcode];
}

static bool build(struct fz_session *s, uint8_t kind, struct fz_reader *r, uint32_t target,
		bool client, struct fz_msg *msg) {
	msg->size = 0;
	msg->nfds = 0;
	msg->destructor = false;
	uint32_t version;
	if (!choose_target(s, kind, r, client, msg, target, &version)) {
		return false;
	}
	bool mirrored = !client && (kind & FZ_F_MIRROR);
	const struct vd_message *desc = message_of(msg, client);
	put_u32(msg, msg->target);
	put_u32(msg, 0); // size and opcode, below
	if (desc == NULL) {
		/* an opcode the interface does not have: its bytes as they come */
		struct fz_value v;
		while (fz_take_value(r, &v) && msg->size < 256) {
			put_u32(msg, (uint32_t)fz_value_number(&v));
		}
	} else {
		msg->destructor = desc->destructor;
		int32_t prev = 0;
		const struct fz_global *bound = NULL;
		for (uint8_t i = 0; i < desc->arg_count; i++) {
			const struct vd_arg *spec = &desc->args[i];
			struct fz_value v;
			fz_take_value(r, &v);
			switch (spec->type) {
			case VD_ARG_INT:
			case VD_ARG_UINT:
			case VD_ARG_FIXED: {
				uint32_t n = number(s, &v, spec->type, prev, client);
				if (client && i == 0 && msg->interface == &vd_iface_wl_registry &&
						msg->opcode == VD_WL_REGISTRY_REQUEST_BIND &&
						v.cls != FZ_U32 && s->client_model.global_count > 0) {
					/* which global: by its place (SEL) or its interface */
					struct fz_model *m = &s->client_model;
					uint64_t k = fz_value_number(&v);
					bound = &m->globals[k % m->global_count];
					if (v.cls != FZ_SEL) {
						const char *want = vd_interfaces[k % vd_interface_count]->name;
						for (size_t g = 0; g < m->global_count; g++) {
							if (strcmp(m->globals[g].interface, want) == 0) {
								bound = &m->globals[g];
								break;
							}
						}
					}
					n = bound->name;
				}
				prev = (int32_t)n;
				put_u32(msg, n);
				break;
			}
			case VD_ARG_STRING:
				put_string(msg, &v, NULL);
				break;
			case VD_ARG_OBJECT:
				put_u32(msg, choose_object(s, &v, spec, client, mirrored));
				break;
			case VD_ARG_NEW_ID: {
				struct fz_model *m = client ? &s->client_model : &s->comp_model;
				const struct vd_interface *iface = spec->interface;
				uint32_t new_version = version;
				if (iface == NULL) {
					/* untyped (wl_registry.bind): interface, version, id */
					const char *name = bound != NULL ? bound->interface :
						dictionary(fz_value_number(&v));
					iface = vd_interface_find(name);
					new_version = bound != NULL ? bound->version : 1;
					if (v.cls == FZ_SMALL && v.p > 0 && v.p < new_version) {
						new_version = v.p;
					} else if (v.cls == FZ_SPECIAL) {
						new_version = v.p == 0 ? 0 : new_version + v.p;
					}
					uint32_t len = (uint32_t)strlen(name) + 1;
					put_blob(msg, name, len, len);
					put_u32(msg, new_version);
				}
				uint32_t id;
				if (v.cls == FZ_U32 || v.cls == FZ_U64) {
					id = (uint32_t)v.v;
				} else if (v.cls == FZ_SPECIAL && v.p == 1) {
					struct fz_object *o = fz_model_select(m, NULL, 0);
					id = o != NULL ? o->id : 1; // in use
				} else {
					id = fz_model_alloc(m, !client);
				}
				put_u32(msg, id);
				if (iface != NULL && id != 0 && fz_model_get(m, id) == NULL) {
					fz_model_add(m, id, iface, new_version);
				}
				break;
			}
			case VD_ARG_ARRAY:
				put_array(msg, &v);
				break;
			case VD_ARG_FD:
				put_fd(s, msg, &v);
				break;
			}
		}
	}
	if (msg->size > FZ_MSG_MAX) {
		fz_msg_close_fds(msg);
		return false;
	}
	uint32_t word = (uint32_t)(msg->size > 0xffff ? 0xfffc : msg->size) << 16 | msg->opcode;
	memcpy(msg->data + 4, &word, 4);
	return true;
}

bool fz_build_request(struct fz_session *s, uint8_t kind, struct fz_reader *r,
		struct fz_msg *msg) {
	return build(s, kind, r, 0, true, msg);
}

bool fz_build_event(struct fz_session *s, uint8_t kind, struct fz_reader *r, uint32_t target,
		struct fz_msg *msg) {
	return build(s, kind, r, target, false, msg);
}

const struct vd_interface *fz_event_interface(struct fz_session *s, struct fz_reader *r) {
	struct fz_reader copy = *r;
	struct fz_value v;
	fz_take_value(&copy, &v);
	return interface_of(&v);
}

/* ---- sending events ---- */

void fz_send_event_record(struct fz_session *s, uint8_t kind, const struct fz_reader *r,
		bool manual) {
	static struct fz_msg msg;
	uint32_t targets[64];
	size_t ntargets = 0;
	if (kind & FZ_F_BROADCAST) {
		struct fz_reader values = *r;
		const struct vd_interface *iface = fz_event_interface(s, &values);
		for (size_t i = 0; i < s->comp_model.count && ntargets < 64; i++) {
			const struct fz_object *o = &s->comp_model.list[i];
			if (o->alive && o->interface == iface) {
				targets[ntargets++] = o->id;
			}
		}
	} else {
		targets[ntargets++] = 0;
	}
	/* one event, one serial: each target's copy makes the same new serials */
	uint32_t serial = s->comp_serial, after = serial;
	for (size_t i = 0; i < ntargets; i++) {
		struct fz_reader values = *r;
		s->comp_serial = serial;
		bool built = fz_build_event(s, kind, &values, targets[i], &msg);
		after = s->comp_serial;
		if (!built) {
			continue;
		}
		if (msg.destructor && msg.interface != NULL) {
			fz_model_kill(&s->comp_model, msg.target);
		}
		fz_compositor_send(s, msg.data, msg.size > FZ_MSG_MAX ? FZ_MSG_MAX : msg.size, msg.fds,
			msg.nfds);
		if (msg.destructor && msg.target < FZ_SERVER_ID && !manual && msg.interface != NULL) {
			fz_compositor_event(s, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID, "u", msg.target);
			fz_model_free_id(&s->comp_model, msg.target);
		}
	}
	s->comp_serial = after;
}

/* ---- new records, for the mutators ---- */

void fz_generate_request(struct fz_rng *rng, struct fz_writer *w) {
	fz_put_tag(w, FZ_U8, 0);
	fz_put_u8(w, (uint8_t)fz_below(rng, (uint32_t)vd_interface_count));
	fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, 3));
	fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 24));
	fz_random_values(rng, w, 7);
}

void fz_generate_event(struct fz_rng *rng, struct fz_writer *w, const struct vd_interface *iface) {
	fz_put_tag(w, FZ_U8, 0);
	fz_put_u8(w, (uint8_t)iface->index);
	fz_put_tag(w, FZ_SEL, (uint8_t)fz_below(rng, 3));
	fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 10));
	fz_random_values(rng, w, 6);
}

const struct vd_interface *fz_pick_interface(struct fz_rng *rng,
		const struct vd_interface *const *common, size_t n) {
	return fz_below(rng, 4) == 0 ? vd_interfaces[fz_below(rng, (uint32_t)vd_interface_count)] :
		common[fz_below(rng, (uint32_t)n)];
}
