#ifndef PROXY_SESSION_PRIVATE_H
#define PROXY_SESSION_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "protocols/log.h"
#include "proxy/session.h"

/*
 * What the session's files share: proxy/session.c (lifetime, errors),
 * proxy/session-io.c (reading, writing, flow control), proxy/dispatch.c
 * (the message path), proxy/object.c (objects and the proxy's own objects).
 */

void session_log(struct vd_session *session, enum vd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Marks the session closing with a reason (if none was given before). */
void session_set_closing(struct vd_session *session, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void session_send_delete_id(struct vd_session *session, uint32_t client_id);
void session_send_display_error(struct vd_session *session, uint32_t object_id, uint32_t code,
	const char *message);

/* proxy/session-io.c */
/* The endpoints' ready callback. */
void session_handle_ready(struct vd_endpoint *endpoint, uint32_t mask, void *data);
/* Flushes, ends a closing session, or updates what the endpoints watch. */
void session_after_dispatch(struct vd_session *session);

/* proxy/object.c */
struct vd_object *object_create(struct vd_session *session,
	const struct vd_interface *interface, uint32_t version);
void object_maybe_free(struct vd_session *session, struct vd_object *object);
void object_release_client(struct vd_session *session, struct vd_object *object);
void object_release_upstream(struct vd_session *session, struct vd_object *object);

/* proxy/dispatch.c */
/* The proxy's hooks: the tables of proxy/, proxy/shell.h, proxy/clipboard.h. */
struct vd_hook_registry *dispatch_hooks_create(void);
/* Adds them to a registry that may hold hooks to run first (link sessions'). */
bool dispatch_hooks_add(struct vd_hook_registry *registry);
/* One complete message from the client or the compositor. */
void dispatch_request(struct vd_session *session, const uint8_t *data,
	const struct vd_wire_header *header);
void dispatch_event(struct vd_session *session, const uint8_t *data,
	const struct vd_wire_header *header);

static inline void close_fds(int *fds, size_t count) {
	for (size_t i = 0; i < count; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
}

#endif
