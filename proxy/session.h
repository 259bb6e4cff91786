#ifndef PROXY_SESSION_H
#define PROXY_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <wayland-server-core.h>
#include <wayland-util.h>

#include "protocols/interface.h"
#include "protocols/wire.h"
#include "proxy/connection.h"
#include "proxy/object-map.h"

/*
 * A session is one guest client and its own connection to the compositor.
 * Every message is parsed, checked and re-encoded with the object IDs of the
 * other side: the client's IDs and the compositor's IDs are two spaces, and
 * the proxy's own objects exist only in the compositor's.
 */

struct vd_server;

enum vd_object_flags {
	/* the client destroyed it (request or destructor event); its client
	 * ID stays reserved until the compositor confirms with delete_id */
	VD_OBJECT_CLIENT_GONE = 1 << 0,
	/* no compositor counterpart (the compositor deleted it first, or it
	 * was created on such an object): requests to it are dropped */
	VD_OBJECT_UPSTREAM_GONE = 1 << 1,
	/* the client already got delete_id for it */
	VD_OBJECT_DELETE_ID_SENT = 1 << 2,
	/* created by the proxy; never visible to the client */
	VD_OBJECT_PROXY_OWNED = 1 << 3,
};

struct vd_object;
struct vd_session;
struct vd_wire_message;

/* Behaviour attached to an object by the proxy (frames, shell tracking). */
struct vd_object_impl {
	/* an event for a proxy-owned object; fds are closed by the caller */
	void (*event)(struct vd_session *session, struct vd_object *object,
		const struct vd_wire_message *msg, const int *fds);
	/* the object is gone for the client (or the session ends): drop
	 * what hangs off it; called once */
	void (*gone)(struct vd_session *session, struct vd_object *object);
};

struct vd_object {
	const struct vd_interface *interface;
	uint32_t version;
	uint32_t client_id; // 0: not visible to the client
	uint32_t upstream_id; // 0: no compositor counterpart
	uint32_t flags;
	union {
		int64_t pool_size; // wl_shm_pool
		struct {
			int32_t width, height; // wl_buffer; 0 if unknown
		} buffer;
	};
	const struct vd_object_impl *impl; // may be NULL
	void *data; // the impl's
};

struct vd_global {
	uint32_t name; // as the client sees it
	uint32_t upstream_name;
	const struct vd_interface *interface; // NULL: hidden
	uint32_t version; // shown to the client
	bool removed;
};

struct vd_limits {
	uint32_t max_objects;
	size_t max_queue;
	size_t max_fds;
};

struct vd_session {
	struct vd_server *server;
	struct wl_list link; // vd_server.sessions
	pid_t pid; // of the client, from SO_PEERCRED; 0 if unknown
	uint64_t serial; // a number for log lines

	struct vd_connection client, upstream;
	struct wl_event_source *client_source, *upstream_source;
	struct wl_event_source *idle_flush; // output queued from outside its handlers
	uint32_t client_mask, upstream_mask;

	struct vd_object_map client_map, upstream_map;
	uint32_t object_count;

	struct vd_global *globals;
	size_t global_count, global_cap;
	uint32_t global_names; // names handed out so far

	uint32_t shm_formats[64]; // advertised by the compositor
	size_t shm_format_count;

	struct vd_shell *shell; // proxy/shell.h
	void *clipboard_serials; // proxy/clipboard.c: recent input serials

	size_t unfenced; // request bytes sent since the last fence
	uint32_t fences_pending; // the proxy's own syncs not yet answered

	bool closing; // a fatal error: flush what is queued, then close
	bool tearing_down; // no more messages: the session is being freed
	char error[256]; // why the session ended
};

struct vd_session *vd_session_create(struct vd_server *server, int client_fd, int upstream_fd);
void vd_session_destroy(struct vd_session *session);

/*
 * Posts wl_display.error to the client for object client_id and ends the
 * session. Safe to call from any handler.
 */
void vd_session_client_error(struct vd_session *session, uint32_t client_id, uint32_t code,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The compositor misbehaved: log and end the session. */
void vd_session_upstream_error(struct vd_session *session, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Queues a message built by the proxy toward the client or the compositor. */
bool vd_session_send_client(struct vd_session *session, const uint8_t *data, uint32_t size);
bool vd_session_send_upstream(struct vd_session *session, const uint8_t *data, uint32_t size);

/*
 * The proxy's own objects on the compositor connection. They never appear
 * to the client; their events go to impl->event.
 */
struct vd_object *vd_session_new_object(struct vd_session *session,
	const struct vd_interface *interface, uint32_t version,
	const struct vd_object_impl *impl, void *data);
/*
 * Sends a request from the proxy. fmt has one letter per argument:
 * u (uint32_t), i (int32_t), f (wl_fixed_t as int32_t), s (const char *),
 * o (struct vd_object *, may be NULL), n (struct vd_object * created with
 * vd_session_new_object), h (an fd; ownership passes to the session).
 */
bool vd_session_request(struct vd_session *session, struct vd_object *object, uint16_t opcode,
	const char *fmt, ...);
/*
 * Objects the proxy serves itself, visible to the client only (a server-range
 * ID); their requests reach hooks and go nowhere else.
 */
struct vd_object *vd_session_new_client_object(struct vd_session *session,
	const struct vd_interface *interface, uint32_t version,
	const struct vd_object_impl *impl, void *data);
/* Sends an event to the client, formatted as for vd_session_request. */
bool vd_session_event(struct vd_session *session, struct vd_object *object, uint16_t opcode,
	const char *fmt, ...);
/* Flushes the session's output from the event loop, soon. */
void vd_session_schedule_flush(struct vd_session *session);
/* Sends the destructor request and forgets the object (events dropped). */
void vd_session_destroy_object(struct vd_session *session, struct vd_object *object,
	uint16_t destructor_opcode);
/* Calls impl->gone once and detaches the impl. */
void vd_object_gone(struct vd_session *session, struct vd_object *object);
/* A client object that is still live for the client, or NULL. */
struct vd_object *vd_session_client_object(struct vd_session *session, uint32_t client_id);

/* Hooks: return false to drop the message (an error was posted if needed). */
struct vd_hook_ctx {
	struct vd_session *session;
	struct vd_object *object;
	struct vd_wire_message *msg;
	uint8_t *data; // the message as it will be sent; may be patched in place
	int *fds;
	int64_t new_pool_size; // wl_shm.create_pool: the checked size
	/* request pre-hooks of messages without object arguments may
	 * replace the message (the sender ID is filled in) */
	uint8_t *replacement;
	uint32_t replacement_size;
	/* post-hooks: the objects the request created, and whether the
	 * request went to the compositor (else it was served locally) */
	struct vd_object *new_objects[4];
	uint32_t new_object_count;
	bool forwarded;
};

/* proxy/registry.c */
bool registry_handle_bind(struct vd_hook_ctx *ctx);
bool registry_handle_global(struct vd_hook_ctx *ctx);
bool registry_handle_global_remove(struct vd_hook_ctx *ctx);
void registry_finish(struct vd_session *session);

/* proxy/shm.c */
bool shm_handle_format(struct vd_hook_ctx *ctx);
bool shm_handle_create_pool(struct vd_hook_ctx *ctx);
bool shm_pool_handle_resize(struct vd_hook_ctx *ctx);
bool shm_pool_handle_create_buffer(struct vd_hook_ctx *ctx);

/* proxy/shell.c, proxy/surface.c, proxy/frame.c: see proxy/shell.h */

/* proxy/trace.c */
void trace_message(struct vd_session *session, bool from_client, const struct vd_object *object,
	const struct vd_wire_message *msg, bool dropped);

#endif
