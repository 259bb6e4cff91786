#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "proxy/wl/vd-wl.h"
#include "tests/unit/memory-endpoint.h"
#include "tests/unit/tap.h"

/*
 * The Wayland library alone (proxy/wl/), as a pass-through bridge uses it:
 * a client's canned message stream, with fds, read through a socket
 * endpoint and followed by a tracker with hooks and addons; events toward
 * the client through a plain connection; a transport of the test's own
 * plugged in as an endpoint; what is destroyed during a dispatch is freed
 * after it. Nothing of vmdesk-proxy is linked.
 */

/* Canned messages */

struct stream {
	uint8_t data[16384];
	size_t len;
};

/* fmt: u (uint32_t), i (int32_t), s (string), N (untyped new_id: interface,
 * version, id); fds are not in the byte stream. */
static void put(struct stream *s, uint32_t object, uint16_t opcode, const char *fmt, ...) {
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, s->data + s->len, object, opcode);
	va_list args;
	va_start(args, fmt);
	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p == 's') {
			vd_wire_writer_put_string(&w, va_arg(args, const char *));
		} else if (*p == 'N') {
			vd_wire_writer_put_string(&w, va_arg(args, const char *));
			vd_wire_writer_put_u32(&w, va_arg(args, uint32_t));
			vd_wire_writer_put_u32(&w, va_arg(args, uint32_t));
		} else {
			vd_wire_writer_put_u32(&w, va_arg(args, uint32_t));
		}
	}
	va_end(args);
	vd_wire_writer_finish(&w);
	s->len += w.size;
}

static int memfd_of_size(off_t size) {
	int fd = memfd_create("test-wl", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, size) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static off_t fd_size(int fd) {
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_size : -1;
}

static bool send_with_fds(int sock, const struct stream *s, const int *fds, size_t fd_count) {
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)s->data, .iov_len = s->len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd_count > 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * fd_count);
	}
	return sendmsg(sock, &msg, 0) == (ssize_t)s->len;
}

/* Puts bytes and fds into a connection's input, as a transport does. */
static bool feed(struct vd_connection *conn, const struct stream *s, const int *fds,
		size_t fd_count) {
	size_t space;
	uint8_t *tail = vd_connection_in_tail(conn, &space);
	if (space < s->len) {
		return false;
	}
	memcpy(tail, s->data, s->len);
	vd_connection_in_commit(conn, s->len);
	for (size_t i = 0; i < fd_count; i++) {
		if (!vd_connection_push_fd(conn, fds[i])) {
			return false;
		}
	}
	return true;
}

/* Hooks of a bridge: pools and their fds, attached buffers, commits */

struct bridge {
	struct vd_tracker tracker;
	struct vd_hook_registry *hooks;
	int commits;
	uint32_t committed_buffer; // the buffer attached at the last commit
	int32_t committed_width;
	off_t pool_fd_size; // what create_pool's fd measured
	int pool_addons_destroyed;
	int keymaps;
	off_t keymap_fd_size;
	int surface_hook_order; // 1 then 2: two hooks on one opcode
};

struct pool_info {
	struct vd_object_addon addon;
	int64_t size;
	int *destroyed;
};

static void pool_info_destroy(struct vd_object_addon *addon) {
	struct pool_info *info = wl_container_of(addon, info, addon);
	(*info->destroyed)++;
	free(info);
}

static const struct vd_object_addon_impl pool_info_impl = {
	.name = "test pool",
	.destroy = pool_info_destroy,
};

struct buffer_info {
	struct vd_object_addon addon;
	int32_t width;
};

static void buffer_info_destroy(struct vd_object_addon *addon) {
	struct buffer_info *info = wl_container_of(addon, info, addon);
	free(info);
}

static const struct vd_object_addon_impl buffer_info_impl = {
	.name = "test buffer",
	.destroy = buffer_info_destroy,
};

static struct bridge *bridge_of(struct vd_hook_ctx *ctx) {
	return ctx->tracker->data;
}

static bool handle_create_pool_done(struct vd_hook_ctx *ctx) {
	struct bridge *bridge = bridge_of(ctx);
	struct pool_info *info = calloc(1, sizeof(*info));
	if (info == NULL) {
		return false;
	}
	bridge->pool_fd_size = fd_size(ctx->fds[0]);
	info->size = ctx->msg->args[2].i;
	info->destroyed = &bridge->pool_addons_destroyed;
	vd_object_addon_init(&info->addon, ctx->new_objects[0], &pool_info_impl);
	return true;
}

static bool handle_create_buffer_done(struct vd_hook_ctx *ctx) {
	struct buffer_info *info = calloc(1, sizeof(*info));
	if (info == NULL) {
		return false;
	}
	info->width = ctx->msg->args[2].i;
	vd_object_addon_init(&info->addon, ctx->new_objects[0], &buffer_info_impl);
	return true;
}

static bool handle_attach(struct vd_hook_ctx *ctx) {
	/* kept in the surface object's data slot: IDs are preserved */
	ctx->object->data = (void *)(uintptr_t)ctx->msg->args[0].id;
	return true;
}

static bool handle_commit_first(struct vd_hook_ctx *ctx) {
	bridge_of(ctx)->surface_hook_order = 1;
	return true;
}

static bool handle_commit(struct vd_hook_ctx *ctx) {
	struct bridge *bridge = bridge_of(ctx);
	if (bridge->surface_hook_order == 1) {
		bridge->surface_hook_order = 2;
	}
	uint32_t id = (uint32_t)(uintptr_t)ctx->object->data;
	struct vd_object *buffer = vd_tracker_get(ctx->tracker, id);
	struct vd_object_addon *addon =
		buffer != NULL ? vd_object_addon_find(buffer, &buffer_info_impl) : NULL;
	bridge->commits++;
	bridge->committed_buffer = id;
	if (addon != NULL) {
		struct buffer_info *info = wl_container_of(addon, info, addon);
		bridge->committed_width = info->width;
	}
	return true;
}

static bool handle_keymap(struct vd_hook_ctx *ctx) {
	struct bridge *bridge = bridge_of(ctx);
	bridge->keymaps++;
	bridge->keymap_fd_size = fd_size(ctx->fds[0]);
	return true;
}

static const struct vd_hook request_hooks[] = {
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_ATTACH, handle_attach },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_COMMIT, handle_commit_first },
	{ &vd_iface_wl_surface, VD_WL_SURFACE_REQUEST_COMMIT, handle_commit },
};

static const struct vd_hook request_post_hooks[] = {
	{ &vd_iface_wl_shm, VD_WL_SHM_REQUEST_CREATE_POOL, handle_create_pool_done },
	{ &vd_iface_wl_shm_pool, VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER,
		handle_create_buffer_done },
};

static const struct vd_hook event_hooks[] = {
	{ &vd_iface_wl_keyboard, VD_WL_KEYBOARD_EVENT_KEYMAP, handle_keymap },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool bridge_init(struct bridge *bridge, uint32_t max_objects) {
	*bridge = (struct bridge){0};
	bridge->hooks = vd_hook_registry_create();
	if (bridge->hooks == NULL ||
			!vd_hook_registry_add(bridge->hooks, VD_HOOK_REQUEST, request_hooks,
				COUNT(request_hooks)) ||
			!vd_hook_registry_add(bridge->hooks, VD_HOOK_REQUEST_POST, request_post_hooks,
				COUNT(request_post_hooks)) ||
			!vd_hook_registry_add(bridge->hooks, VD_HOOK_EVENT, event_hooks,
				COUNT(event_hooks))) {
		return false;
	}
	if (!vd_tracker_init(&bridge->tracker, bridge->hooks, max_objects)) {
		return false;
	}
	bridge->tracker.data = bridge;
	return true;
}

static void bridge_finish(struct bridge *bridge) {
	vd_tracker_finish(&bridge->tracker);
	vd_hook_registry_destroy(bridge->hooks);
}

/*
 * Tracks every message in `in` (requests or events) until it needs more
 * bytes; what would be forwarded is counted, fds are closed. Returns the
 * last result.
 */
static enum vd_track_result track_all(struct bridge *bridge, struct vd_connection *in,
		bool requests, int *forwarded, int *dropped, struct vd_tracked *out) {
	for (;;) {
		enum vd_track_result result = requests ?
			vd_tracker_request(&bridge->tracker, in, out) :
			vd_tracker_event(&bridge->tracker, in, out);
		if (result != VD_TRACK_MESSAGE) {
			return result;
		}
		(*(out->drop ? dropped : forwarded))++;
		for (uint32_t i = 0; i < out->msg.fd_count; i++) {
			if (out->fds[i] >= 0) {
				close(out->fds[i]);
			}
		}
		vd_tracker_done(&bridge->tracker, in, out);
	}
}

/* The client's stream: globals bound, a surface with an shm buffer
 * committed, a keyboard and a data device. */
static void client_stream(struct stream *s) {
	put(s, 1, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, "u", 2);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 1, "wl_compositor", 4, 3);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 2, "wl_shm", 1, 4);
	put(s, 3, VD_WL_COMPOSITOR_REQUEST_CREATE_SURFACE, "u", 5);
	put(s, 4, VD_WL_SHM_REQUEST_CREATE_POOL, "ui", 6, 4096); // + fd
	put(s, 6, VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER, "uiiiiu", 7, 0, 16, 16, 64,
		VD_WL_SHM_FORMAT_ARGB8888);
	put(s, 5, VD_WL_SURFACE_REQUEST_ATTACH, "uii", 7, 0, 0);
	put(s, 5, VD_WL_SURFACE_REQUEST_DAMAGE_BUFFER, "iiii", 0, 0, 16, 16);
	put(s, 5, VD_WL_SURFACE_REQUEST_COMMIT, "");
	put(s, 6, VD_WL_SHM_POOL_REQUEST_DESTROY, "");
	put(s, 1, VD_WL_DISPLAY_REQUEST_SYNC, "u", 8);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 3, "wl_seat", 5, 9);
	put(s, 9, VD_WL_SEAT_REQUEST_GET_KEYBOARD, "u", 10);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 4, "wl_data_device_manager", 3, 11);
	put(s, 11, VD_WL_DATA_DEVICE_MANAGER_REQUEST_GET_DATA_DEVICE, "uu", 12, 9);
}

struct reader {
	struct bridge *bridge;
	int ready_calls;
	enum vd_track_result result;
	int forwarded, dropped;
	struct vd_tracked out;
};

static void handle_ready(struct vd_endpoint *endpoint, uint32_t mask, void *data) {
	struct reader *reader = data;
	reader->ready_calls++;
	if ((mask & WL_EVENT_READABLE) && vd_endpoint_read(endpoint, 65536) == VD_IO_OK) {
		reader->result = track_all(reader->bridge, &endpoint->conn, true,
			&reader->forwarded, &reader->dropped, &reader->out);
	}
}

static const struct vd_interface *interface_of(struct bridge *bridge, uint32_t id) {
	struct vd_object *object = vd_tracker_get(&bridge->tracker, id);
	return object != NULL ? object->interface : NULL;
}

static bool tracker_follows_a_client(void) {
	struct bridge bridge;
	CHECK(bridge_init(&bridge, 1000), "bridge_init");
	struct wl_event_loop *loop = wl_event_loop_create();
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0,
		"socketpair: %s", strerror(errno));
	struct vd_endpoint *endpoint = vd_socket_endpoint_create(loop, sv[0]);
	CHECK(endpoint != NULL && endpoint->pid == getpid(), "socket endpoint, pid %d",
		endpoint ? (int)endpoint->pid : -1);
	struct reader reader = { .bridge = &bridge };
	CHECK(vd_endpoint_attach(endpoint, 16, 65536, handle_ready, &reader), "attach");

	struct stream s = {0};
	client_stream(&s);
	int pool_fd = memfd_of_size(4096);
	CHECK(pool_fd >= 0, "memfd");
	CHECK(send_with_fds(sv[1], &s, &pool_fd, 1), "send: %s", strerror(errno));
	close(pool_fd);
	CHECK(wl_event_loop_dispatch(loop, 1000) == 0, "dispatch");
	CHECK(reader.ready_calls == 1, "ready called %d times", reader.ready_calls);
	CHECK(reader.result == VD_TRACK_MORE, "result %d: %s", reader.result,
		reader.out.error.text);
	CHECK(reader.forwarded == 15 && reader.dropped == 0, "%d forwarded, %d dropped",
		reader.forwarded, reader.dropped);

	/* every object, by its client ID */
	CHECK(interface_of(&bridge, 2) == &vd_iface_wl_registry, "2: wl_registry");
	CHECK(interface_of(&bridge, 3) == &vd_iface_wl_compositor, "3: wl_compositor");
	CHECK(vd_tracker_get(&bridge.tracker, 3)->version == 4, "bound at version 4");
	CHECK(interface_of(&bridge, 5) == &vd_iface_wl_surface, "5: wl_surface");
	CHECK(interface_of(&bridge, 7) == &vd_iface_wl_buffer, "7: wl_buffer");
	CHECK(interface_of(&bridge, 10) == &vd_iface_wl_keyboard, "10: wl_keyboard");
	CHECK(interface_of(&bridge, 12) == &vd_iface_wl_data_device, "12: wl_data_device");
	/* the pool is destroyed by the client, its ID kept until delete_id */
	CHECK(vd_tracker_get(&bridge.tracker, 6) == NULL, "pool 6 gone for the client");
	CHECK(vd_object_map_get(&bridge.tracker.map, 6) != NULL, "pool 6 ID still reserved");
	CHECK(bridge.pool_addons_destroyed == 1, "pool addon destroyed %d times",
		bridge.pool_addons_destroyed);
	/* the hooks saw the fd, the buffer and the commit */
	CHECK(bridge.pool_fd_size == 4096, "pool fd of %lld bytes", (long long)bridge.pool_fd_size);
	CHECK(bridge.commits == 1 && bridge.committed_buffer == 7 &&
		bridge.committed_width == 16, "commit of buffer %u (width %d)",
		bridge.committed_buffer, bridge.committed_width);
	CHECK(bridge.surface_hook_order == 2, "two hooks on one opcode ran in order");
	CHECK(vd_connection_in_fd_count(&endpoint->conn) == 0, "every fd taken");

	/* events toward the client, from a transport that is not a socket */
	struct vd_connection events;
	CHECK(vd_connection_init(&events, 16, 65536), "events connection");
	struct stream e = {0};
	put(&e, 8, VD_WL_CALLBACK_EVENT_DONE, "u", 42);
	put(&e, 1, VD_WL_DISPLAY_EVENT_DELETE_ID, "u", 8);
	put(&e, 1, VD_WL_DISPLAY_EVENT_DELETE_ID, "u", 6);
	put(&e, 10, VD_WL_KEYBOARD_EVENT_KEYMAP, "uu", VD_WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1,
		100); // + fd
	put(&e, 12, VD_WL_DATA_DEVICE_EVENT_DATA_OFFER, "u", VD_WIRE_SERVER_ID_START);
	put(&e, VD_WIRE_SERVER_ID_START, VD_WL_DATA_OFFER_EVENT_OFFER, "s", "text/plain");
	put(&e, 12, VD_WL_DATA_DEVICE_EVENT_SELECTION, "u", VD_WIRE_SERVER_ID_START);
	int keymap_fd = memfd_of_size(100);
	CHECK(keymap_fd >= 0 && feed(&events, &e, &keymap_fd, 1), "feed events");
	int forwarded = 0, dropped = 0;
	struct vd_tracked out;
	enum vd_track_result result = track_all(&bridge, &events, false, &forwarded, &dropped,
		&out);
	CHECK(result == VD_TRACK_MORE, "events: result %d: %s", result, out.error.text);
	CHECK(forwarded == 7 && dropped == 0, "events: %d forwarded, %d dropped", forwarded,
		dropped);
	CHECK(vd_object_map_get(&bridge.tracker.map, 8) == NULL, "callback 8 deleted");
	CHECK(vd_object_map_get(&bridge.tracker.map, 6) == NULL, "pool 6 deleted");
	CHECK(bridge.keymaps == 1 && bridge.keymap_fd_size == 100, "keymap fd of %lld bytes",
		(long long)bridge.keymap_fd_size);
	CHECK(interface_of(&bridge, VD_WIRE_SERVER_ID_START) == &vd_iface_wl_data_offer,
		"server-created wl_data_offer");

	/* the client destroys the server's object: gone at once; an event
	 * racing that is dropped */
	struct stream r = {0};
	put(&r, VD_WIRE_SERVER_ID_START, VD_WL_DATA_OFFER_REQUEST_DESTROY, "");
	CHECK(feed(&endpoint->conn, &r, NULL, 0), "feed request");
	forwarded = dropped = 0;
	result = track_all(&bridge, &endpoint->conn, true, &forwarded, &dropped, &out);
	CHECK(result == VD_TRACK_MORE && forwarded == 1, "offer destroy: %d", result);
	CHECK(vd_object_map_get(&bridge.tracker.map, VD_WIRE_SERVER_ID_START) == NULL,
		"offer released at once");
	struct stream late = {0};
	put(&late, VD_WIRE_SERVER_ID_START, VD_WL_DATA_OFFER_EVENT_OFFER, "s", "text/html");
	CHECK(feed(&events, &late, NULL, 0), "feed late event");
	forwarded = dropped = 0;
	result = track_all(&bridge, &events, false, &forwarded, &dropped, &out);
	CHECK(result == VD_TRACK_MORE && forwarded == 0 && dropped == 1,
		"late event: %d forwarded, %d dropped", forwarded, dropped);

	vd_connection_finish(&events);
	vd_endpoint_destroy(endpoint);
	close(sv[1]);
	bridge_finish(&bridge);
	wl_event_loop_destroy(loop);
	return true;
}

/* One request stream that must be refused with code and text. */
static bool refused(void (*write)(struct stream *s), bool with_fd, uint32_t max_objects,
		uint32_t code, const char *text) {
	struct bridge bridge;
	CHECK(bridge_init(&bridge, max_objects), "bridge_init");
	struct vd_connection in;
	CHECK(vd_connection_init(&in, 16, 65536), "connection");
	struct stream s = {0};
	write(&s);
	int fd = with_fd ? memfd_of_size(64) : -1;
	CHECK(feed(&in, &s, &fd, with_fd ? 1 : 0), "feed");
	int forwarded = 0, dropped = 0;
	struct vd_tracked out;
	enum vd_track_result result = track_all(&bridge, &in, true, &forwarded, &dropped, &out);
	CHECK(result == VD_TRACK_ERROR, "accepted, want \"%s\"", text);
	CHECK(out.error.code == code, "code %u, want %u (%s)", out.error.code, code,
		out.error.text);
	CHECK(strstr(out.error.text, text) != NULL, "error \"%s\", want \"%s\"",
		out.error.text, text);
	vd_connection_finish(&in);
	bridge_finish(&bridge);
	return true;
}

static void write_unknown_object(struct stream *s) {
	put(s, 5, VD_WL_SURFACE_REQUEST_COMMIT, "");
}

static void write_skipped_id(struct stream *s) {
	put(s, 1, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, "u", 5);
}

static void write_missing_fd(struct stream *s) {
	put(s, 1, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, "u", 2);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 1, "wl_shm", 1, 3);
	put(s, 3, VD_WL_SHM_REQUEST_CREATE_POOL, "ui", 4, 4096);
}

static void write_wrong_interface(struct stream *s) {
	put(s, 1, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, "u", 2);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 1, "wl_compositor", 4, 3);
	put(s, 3, VD_WL_COMPOSITOR_REQUEST_CREATE_SURFACE, "u", 4);
	put(s, 4, VD_WL_SURFACE_REQUEST_ATTACH, "uii", 2, 0, 0);
}

static void write_too_many(struct stream *s) {
	put(s, 1, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, "u", 2);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 1, "wl_compositor", 4, 3);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 2, "wl_shm", 1, 4);
}

static void write_bad_size(struct stream *s) {
	put(s, 1, VD_WL_DISPLAY_REQUEST_SYNC, "u", 2);
	vd_wire_put_u32(s->data, 4, 6u << 16 | VD_WL_DISPLAY_REQUEST_SYNC);
}

static void write_unknown_interface(struct stream *s) {
	put(s, 1, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, "u", 2);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 1, "zwlr_screencopy_manager_v1", 1, 3);
}

static void write_destroyed_sender(struct stream *s) {
	put(s, 1, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, "u", 2);
	put(s, 2, VD_WL_REGISTRY_REQUEST_BIND, "uN", 1, "wl_shm", 1, 3);
	put(s, 3, VD_WL_SHM_REQUEST_CREATE_POOL, "ui", 4, 64); // + fd
	put(s, 4, VD_WL_SHM_POOL_REQUEST_DESTROY, "");
	put(s, 4, VD_WL_SHM_POOL_REQUEST_RESIZE, "i", 128);
}

static bool tracker_refuses_bad_requests(void) {
	return refused(write_unknown_object, false, 100, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid object 5") &&
		refused(write_skipped_id, false, 100, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid new id 5 in wl_display.get_registry") &&
		refused(write_missing_fd, false, 100, VD_WL_DISPLAY_ERROR_INVALID_METHOD,
			"wl_shm.create_pool: file descriptor expected") &&
		refused(write_wrong_interface, false, 100, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
			"object 2 is a wl_registry, wl_surface.attach wants a wl_buffer") &&
		refused(write_too_many, false, 3, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"too many objects (limit 3)") &&
		refused(write_bad_size, false, 100, VD_WL_DISPLAY_ERROR_INVALID_METHOD,
			"invalid message size 6") &&
		refused(write_unknown_interface, false, 100, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
			"unknown interface zwlr_screencopy_manager_v1") &&
		refused(write_destroyed_sender, true, 100, VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid object 4");
}

/* Deferred destruction: what goes during a dispatch is freed after it */

static int addon_destroyed;

static void count_destroy(struct vd_object_addon *addon) {
	addon_destroyed++;
	free(addon);
}

static const struct vd_object_addon_impl count_impl = { .name = "count", .destroy = count_destroy };

static bool objects_freed_when_the_dispatch_ends(void) {
	struct vd_objects objects;
	vd_objects_init(&objects);
	struct vd_object *a = vd_object_create(&objects, &vd_iface_wl_surface, 1);
	struct vd_object *b = vd_object_create(&objects, &vd_iface_wl_buffer, 1);
	CHECK(a != NULL && b != NULL && objects.count == 2, "created");
	struct vd_object_addon *addon = calloc(1, sizeof(*addon));
	vd_object_addon_init(addon, a, &count_impl);
	addon_destroyed = 0;

	vd_objects_dispatch_begin(&objects);
	vd_objects_dispatch_begin(&objects); // nested: a hook dispatching again
	vd_object_destroy(&objects, a);
	CHECK(addon_destroyed == 1, "addon destroyed at once");
	CHECK(objects.count == 1, "no longer counted");
	/* still readable (ASan would say otherwise) */
	CHECK(a->flags & VD_OBJECT_DEAD, "marked dead");
	CHECK(a->interface == &vd_iface_wl_surface, "still readable");
	vd_objects_dispatch_end(&objects);
	CHECK(a->flags & VD_OBJECT_DEAD, "inner end frees nothing");
	vd_objects_dispatch_end(&objects);
	CHECK(wl_list_empty(&objects.dead), "outer end freed it");

	/* outside a dispatch: at once */
	vd_object_destroy(&objects, b);
	CHECK(objects.count == 0 && wl_list_empty(&objects.dead), "freed at once");
	vd_objects_finish(&objects);
	return true;
}

static bool addons_many_per_object(void) {
	struct vd_objects objects;
	vd_objects_init(&objects);
	struct vd_object *object = vd_object_create(&objects, &vd_iface_wl_shm_pool, 1);
	int destroyed = 0;
	struct pool_info *pool = calloc(1, sizeof(*pool));
	pool->destroyed = &destroyed;
	vd_object_addon_init(&pool->addon, object, &pool_info_impl);
	struct buffer_info *other = calloc(1, sizeof(*other));
	vd_object_addon_init(&other->addon, object, &buffer_info_impl);
	CHECK(vd_object_addon_find(object, &pool_info_impl) == &pool->addon, "find pool addon");
	CHECK(vd_object_addon_find(object, &buffer_info_impl) == &other->addon, "find other");
	CHECK(vd_object_addon_find(object, &count_impl) == NULL, "no such addon");
	/* a user detaches its own without a callback */
	vd_object_addon_finish(&other->addon);
	free(other);
	CHECK(vd_object_addon_find(object, &buffer_info_impl) == NULL, "detached");
	vd_object_destroy(&objects, object);
	CHECK(destroyed == 1, "pool addon destroyed with its object");
	vd_objects_finish(&objects);
	return true;
}

/* Registries are per instance: two never see each other's hooks. */

static int gate_calls;

static bool gate_drop(struct vd_hook_ctx *ctx) {
	gate_calls++;
	return false;
}

static bool hooks_are_per_registry(void) {
	struct vd_hook_registry *a = vd_hook_registry_create();
	struct vd_hook_registry *b = vd_hook_registry_create();
	CHECK(a != NULL && b != NULL, "registries");
	const struct vd_hook gate = { &vd_iface_wl_surface, 0, gate_drop };
	CHECK(vd_hook_registry_add(a, VD_HOOK_GATE, &gate, 1), "add gate");
	CHECK(vd_hook_registry_find(a, &vd_iface_wl_surface, VD_HOOK_GATE,
		VD_WL_SURFACE_REQUEST_COMMIT) != NULL, "a's gate for any opcode");
	CHECK(vd_hook_registry_find(b, &vd_iface_wl_surface, VD_HOOK_GATE, 0) == NULL,
		"b has no gate");
	CHECK(vd_hook_registry_find(a, &vd_iface_wl_surface, VD_HOOK_REQUEST,
		VD_WL_SURFACE_REQUEST_COMMIT) == NULL, "no request hook");
	gate_calls = 0;
	struct vd_hook_ctx ctx = {0};
	CHECK(!vd_hooks_run(vd_hook_registry_find(a, &vd_iface_wl_surface, VD_HOOK_GATE, 0),
		&ctx) && gate_calls == 1, "the gate drops");
	CHECK(vd_hooks_run(NULL, &ctx), "no hooks: pass");
	vd_hook_registry_destroy(a);
	vd_hook_registry_destroy(b);
	return true;
}

static bool endpoint_of_another_transport(void) {
	struct bridge bridge;
	CHECK(bridge_init(&bridge, 1000), "bridge_init");
	struct memory_sink *sink = calloc(1, sizeof(*sink));
	struct memory_endpoint *mem = memory_endpoint_create("channel=7", sink);
	CHECK(mem != NULL, "memory endpoint");
	struct vd_endpoint *endpoint = &mem->base;
	struct reader reader = { .bridge = &bridge };
	CHECK(vd_endpoint_attach(endpoint, 4, 4096, handle_ready, &reader), "attach");
	CHECK(mem->watched == WL_EVENT_READABLE, "watching input from the start");

	/* the link delivers the client's stream and the pool's fd */
	struct stream s = {0};
	client_stream(&s);
	int pool_fd = memfd_of_size(4096);
	CHECK(memory_endpoint_deliver(mem, s.data, s.len, &pool_fd, 1), "deliver");
	vd_endpoint_notify(endpoint, WL_EVENT_READABLE);
	CHECK(reader.result == VD_TRACK_MORE && reader.forwarded == 15, "tracked %d: %s",
		reader.forwarded, reader.out.error.text);
	CHECK(bridge.pool_fd_size == 4096, "the pool fd came through the link");

	/* output: two messages, the second with an fd; the link takes 12
	 * bytes, then the rest */
	int fd = memfd_of_size(10);
	uint8_t msg[12];
	struct vd_wire_writer w;
	vd_wire_writer_init(&w, msg, 2, VD_WL_REGISTRY_EVENT_GLOBAL_REMOVE);
	vd_wire_writer_put_u32(&w, 1);
	vd_wire_writer_finish(&w);
	CHECK(vd_connection_queue(&endpoint->conn, msg, sizeof(msg), NULL, 0), "queue 1");
	CHECK(vd_connection_queue(&endpoint->conn, msg, sizeof(msg), &fd, 1), "queue 2");
	mem->window = 12;
	CHECK(vd_endpoint_flush(endpoint) == VD_IO_AGAIN, "window closed: output remains");
	CHECK(sink->len == 12 && sink->fd_count == 0, "first message only, no fd yet");
	CHECK(vd_endpoint_watch(endpoint, WL_EVENT_READABLE | WL_EVENT_WRITABLE), "watch");
	CHECK(mem->watched == (WL_EVENT_READABLE | WL_EVENT_WRITABLE), "owner waits to write");
	mem->window = 4096;
	CHECK(vd_endpoint_flush(endpoint) == VD_IO_OK, "window open: all sent");
	CHECK(sink->len == 24 && sink->fd_count == 1, "the fd went with its message");
	CHECK(fd_size(sink->fds[0]) == 10, "the same file");
	close(sink->fds[0]);

	/* queued output is bounded: past the limit it is refused, fds closed */
	uint8_t big[VD_WIRE_MAX_MESSAGE_SIZE] = {0};
	mem->window = 0;
	int queued = 0;
	while (queued < 64 && vd_connection_queue(&endpoint->conn, big, sizeof(big), NULL, 0)) {
		queued++;
	}
	CHECK(queued < 64, "output grows without bound");
	int extra = memfd_of_size(1);
	CHECK(!vd_connection_queue(&endpoint->conn, big, sizeof(big), &extra, 1), "refused");
	CHECK(fcntl(extra, F_GETFD) < 0 && errno == EBADF, "its fd is closed");

	vd_endpoint_destroy(endpoint);
	CHECK(sink->destroyed, "transport destroyed");
	free(sink);
	bridge_finish(&bridge);
	return true;
}

static const struct tap_case cases[] = {
	TAP_CASE(tracker_follows_a_client),
	TAP_CASE(tracker_refuses_bad_requests),
	TAP_CASE(objects_freed_when_the_dispatch_ends),
	TAP_CASE(addons_many_per_object),
	TAP_CASE(hooks_are_per_registry),
	TAP_CASE(endpoint_of_another_transport),
};

TAP_MAIN(cases)
