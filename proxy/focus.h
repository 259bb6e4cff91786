#ifndef PROXY_FOCUS_H
#define PROXY_FOCUS_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/session.h"

/*
 * Keyboard focus of the VM's windows, as the compositor reports it, from a
 * source the VM's clients cannot end: on each session's compositor
 * connection the proxy binds every wl_seat itself and asks it for a
 * wl_keyboard of its own. The compositor sends keyboard enter/leave to
 * every keyboard of the connection whose surface has focus, so the proxy's
 * keyboard sees them whether the client has a keyboard, releases it, or
 * releases its seat. The proxy's seats and keyboards are never visible to
 * the client. Losing a seat (global_remove), its keyboard capability or
 * the session counts as a leave.
 *
 * Input serials come from the same events (keyboard enter, key, modifiers)
 * and from the client's pointer buttons (focus_note_serial). A serial is
 * valid for set_selection only while the session has keyboard focus and
 * when it is one of the FOCUS_SERIALS last input serials the session got
 * since it gained that focus: a leave forgets them all.
 */

#define FOCUS_SERIALS 32
#define FOCUS_MAX_SEATS 8

/* From the proxy's own registry on the compositor connection (shell.c). */
void focus_handle_global(struct vd_session *session, struct vd_object *registry,
	uint32_t name, const char *interface, uint32_t version);
void focus_handle_global_remove(struct vd_session *session, uint32_t name);

/* An input serial the compositor sent the client (a pointer button). */
void focus_note_serial(struct vd_session *session, uint32_t serial);
/* Whether serial may set a selection now (see above). */
bool focus_serial_valid(struct vd_session *session, uint32_t serial);
/* Whether one of the session's surfaces has keyboard focus on some seat. */
bool focus_session_has_focus(struct vd_session *session);
/* The session ends (its objects are gone): a leave if it had focus. */
void focus_session_finish(struct vd_session *session);

#endif
