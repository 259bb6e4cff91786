#ifndef PROXY_SESSION_H
#define PROXY_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <wayland-server-core.h>
#include <wayland-util.h>

#include "protocols/interface.h"
#include "protocols/wire.h"
#include "proxy/wl/vd-wl.h"

/*
 * A session is one guest client and its own connection to the compositor.
 * Every message is parsed, checked and re-encoded with the object IDs of the
 * other side: the client's IDs and the compositor's IDs are two spaces, and
 * the proxy's own objects exist only in the compositor's. The client's end
 * is an endpoint (proxy/wl/endpoint.h): a Unix socket, or a channel of a VM
 * link. The rules for ownership and for what is destroyed while a message
 * is dispatched are the library's: proxy/wl/vd-wl.h.
 */

struct vd_server;
struct vd_session;
struct vd_wire_message;

/* Behaviour attached to an object by its owner in the proxy (frames, shell
 * tracking); more behaviour goes in addons (proxy/wl/object.h). */
struct vd_object_impl {
	/* an event for a proxy-owned object; fds are closed by the caller */
	void (*event)(struct vd_session *session, struct vd_object *object,
		const struct vd_wire_message *msg, const int *fds);
	/* the object is gone for the client (or the session ends): drop
	 * what hangs off it; called once */
	void (*gone)(struct vd_session *session, struct vd_object *object);
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
	char peer[40]; // the client in log lines: "pid=4242", "channel=7"

	struct vd_endpoint *client; // the guest client's end
	struct vd_endpoint *upstream; // the compositor's end
	struct wl_event_source *idle_flush; // output queued from outside its handlers
	const struct vd_hook_registry *hooks; // the server's, or the creator's

	struct vd_object_map client_map, upstream_map;
	struct vd_objects objects; // every object of both maps

	struct vd_global *globals;
	size_t global_count, global_cap;
	uint32_t global_names; // names handed out so far

	uint32_t shm_formats[64]; // advertised by the compositor
	size_t shm_format_count;

	struct vd_shell *shell; // proxy/shell.h
	void *clipboard_serials; // proxy/clipboard.c: recent input serials

	size_t unfenced; // request bytes sent since the last fence
	uint32_t fences_pending; // the proxy's own syncs not yet answered

	bool connected; // logged as connected: log its end
	bool closing; // a fatal error: flush what is queued, then close
	bool tearing_down; // no more messages: the session is being freed
	char error[256]; // why the session ended
};

/* A session for a client on a Unix socket; takes both fds (closed on failure). */
struct vd_session *vd_session_create(struct vd_server *server, int client_fd, int upstream_fd);
/*
 * A session for a client on any endpoint (a VM link channel), with the
 * server's hooks or others (NULL: the server's). Takes the endpoint and
 * upstream_fd (destroyed and closed on failure).
 */
struct vd_session *vd_session_create_with(struct vd_server *server, struct vd_endpoint *client,
	int upstream_fd, const struct vd_hook_registry *hooks);
/* Never from inside the session's own dispatch: see vd_session_close. */
void vd_session_destroy(struct vd_session *session);
/*
 * Ends the session once its queued output is flushed: from its own handlers
 * it is destroyed when the handler returns, otherwise from the event loop,
 * soon. reason goes to the disconnect log line.
 */
void vd_session_close(struct vd_session *session, const char *reason);

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
/* Calls impl->gone once and detaches the impl, then destroys the addons. */
void vd_object_gone(struct vd_session *session, struct vd_object *object);
/* A client object that is still live for the client, or NULL. */
struct vd_object *vd_session_client_object(struct vd_session *session, uint32_t client_id);

/* Hooks (struct vd_hook_ctx, proxy/wl/hooks.h): ctx->session is the session. */

/* proxy/registry.c */
bool registry_handle_bind(struct vd_hook_ctx *ctx);
bool registry_handle_global(struct vd_hook_ctx *ctx);
bool registry_handle_global_remove(struct vd_hook_ctx *ctx);
void registry_finish(struct vd_session *session);

/* proxy/shm.c */
bool shm_handle_format(struct vd_hook_ctx *ctx);
bool shm_handle_create_pool(struct vd_hook_ctx *ctx);
bool shm_handle_create_pool_done(struct vd_hook_ctx *ctx);
bool shm_pool_handle_resize(struct vd_hook_ctx *ctx);
bool shm_pool_handle_create_buffer(struct vd_hook_ctx *ctx);

/* proxy/shell.c, proxy/surface.c, proxy/frame.c: see proxy/shell.h */

/* proxy/trace.c */
void trace_message(struct vd_session *session, bool from_client, const struct vd_object *object,
	const struct vd_wire_message *msg, bool dropped);

#endif
