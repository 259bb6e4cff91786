#ifndef HOST_CLIPBOARD_NOTIFY_H
#define HOST_CLIPBOARD_NOTIFY_H

#include <stdbool.h>

/*
 * Desktop notifications (org.freedesktop.Notifications.Notify on the session
 * bus) for the global clipboard. Every notification is also logged; without
 * a session bus or a notification server, logging is all that happens.
 * Sending never waits for an answer.
 */

struct vd_clip_notify;

/* NULL if there is no session bus (then notify_send only logs). */
struct vd_clip_notify *clip_notify_create(void);
void clip_notify_destroy(struct vd_clip_notify *notify);
/* critical: a refused transfer. */
void clip_notify_send(struct vd_clip_notify *notify, bool critical, const char *summary,
	const char *body);
/* The bus connection's fd (-1: none), to poll for reading; and its handler. */
int clip_notify_fd(struct vd_clip_notify *notify);
void clip_notify_dispatch(struct vd_clip_notify *notify);

#endif
