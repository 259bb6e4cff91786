#ifndef HOST_CLIPBOARD_NOTIFY_H
#define HOST_CLIPBOARD_NOTIFY_H

#include <stdbool.h>
#include <wayland-server-core.h>

/*
 * Desktop notifications (org.freedesktop.Notifications.Notify on the session
 * bus) for the global clipboard. Every notification is also logged; without
 * a session bus or a notification server, logging is all that happens. The
 * bus connection runs on the event loop (protocols/dbus.h);
 * sending never waits for an answer.
 */

struct vd_clip_notify;

/* NULL if there is no session bus (then clip_notify_send only logs). */
struct vd_clip_notify *clip_notify_create(struct wl_event_loop *loop);
void clip_notify_destroy(struct vd_clip_notify *notify);
/* critical: a refused transfer. */
void clip_notify_send(struct vd_clip_notify *notify, bool critical, const char *summary,
	const char *body);

#endif
