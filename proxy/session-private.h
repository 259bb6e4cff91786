#ifndef PROXY_SESSION_PRIVATE_H
#define PROXY_SESSION_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "protocols/log.h"
#include "proxy/session.h"

/*
 * What the session's files share: proxy/session.c (connections, lifetime),
 * proxy/dispatch.c (the message path), proxy/object.c (objects and the
 * proxy's own objects).
 */

/* wl_display */
#define DISPLAY_ID 1
#define DISPLAY_EVENT_ERROR 0
#define DISPLAY_EVENT_DELETE_ID 1
#define DISPLAY_ERROR_INVALID_OBJECT 0
#define DISPLAY_ERROR_INVALID_METHOD 1
#define DISPLAY_ERROR_NO_MEMORY 2
#define DISPLAY_ERROR_IMPLEMENTATION 3

void session_log(struct vd_session *session, enum vd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void session_send_delete_id(struct vd_session *session, uint32_t client_id);
void session_send_display_error(struct vd_session *session, uint32_t object_id, uint32_t code,
	const char *message);

struct vd_object *object_create(struct vd_session *session,
	const struct vd_interface *interface, uint32_t version);
void object_maybe_free(struct vd_session *session, struct vd_object *object);
void object_release_client(struct vd_session *session, struct vd_object *object);
void object_release_upstream(struct vd_session *session, struct vd_object *object);

/* Builds the hook index; once per process, before any session. */
bool dispatch_init(void);
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
