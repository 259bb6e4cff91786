#ifndef PROTOCOLS_DBUS_H
#define PROTOCOLS_DBUS_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <wayland-server-core.h>

/*
 * libdbus on a wl_event_loop: the one D-Bus glue of every program (the
 * notification and tray modules of vmdesk-hostd and vmdesk-guestd, the
 * global clipboard's notifications). Nothing here waits: connecting sends
 * Hello as a pending call, method calls are pending calls with a timeout
 * whose answer (or timeout error) comes back to a callback, and the
 * connection's fds and timers are the loop's sources.
 *
 * Lifetime, as for links (protocols/link-conn.h): callbacks run from the
 * loop (an idle callback dispatches what the bus sent); vd_dbus_destroy may
 * be called anywhere, also inside a callback of the same connection: the
 * connection then stops delivering at once and is freed when the dispatch
 * returns.
 */

struct vd_dbus;
struct vd_dbus_call;

struct vd_dbus_impl {
	/* Hello was answered: the unique name is known (optional). */
	void (*ready)(struct vd_dbus *bus, void *data);
	/*
	 * Every incoming message that is not the answer of a pending call
	 * (signals, method calls to objects without a handler). Return
	 * DBUS_HANDLER_RESULT_HANDLED to stop it there (optional).
	 */
	DBusHandlerResult (*filter)(struct vd_dbus *bus, DBusMessage *msg, void *data);
	/* The bus went away (or Hello failed); the owner destroys it here or later. */
	void (*closed)(struct vd_dbus *bus, void *data);
};

/*
 * Connects to address (a D-Bus address, e.g. "unix:path=/run/user/1000/bus")
 * and registers with the bus (Hello, answered later). NULL with the reason
 * in err if the address cannot be used at all.
 */
struct vd_dbus *vd_dbus_connect(struct wl_event_loop *loop, const char *address,
	const struct vd_dbus_impl *impl, void *data, char *err, size_t err_size);
/* Cancels every pending call (their callbacks never run), closes, frees. Accepts NULL. */
void vd_dbus_destroy(struct vd_dbus *bus);
DBusConnection *vd_dbus_connection(struct vd_dbus *bus);
bool vd_dbus_ready(const struct vd_dbus *bus);
/* The connection's unique name, "" until ready. */
const char *vd_dbus_unique_name(const struct vd_dbus *bus);

/*
 * The session bus's address: DBUS_SESSION_BUS_ADDRESS, else
 * unix:path=$XDG_RUNTIME_DIR/bus when that socket exists; NULL if neither.
 */
const char *vd_dbus_session_address(char *buf, size_t size);

/* Queues msg (no answer wanted; written from the loop). False if out of memory. */
bool vd_dbus_send(struct vd_dbus *bus, DBusMessage *msg);

/*
 * Calls a method: reply gets the answer, an error message (also
 * org.freedesktop.DBus.Error.NoReply after timeout_ms, or when the
 * connection closes), exactly once, from the loop, unless the call was
 * cancelled first. The handle is valid until reply starts or
 * vd_dbus_call_cancel; NULL (and no reply) if the call could not be sent.
 */
typedef void (*vd_dbus_reply)(DBusMessage *reply, void *data);
struct vd_dbus_call *vd_dbus_call(struct vd_dbus *bus, DBusMessage *msg, int timeout_ms,
	vd_dbus_reply reply, void *data);
/* Forgets the call: its reply never comes. Accepts NULL. */
void vd_dbus_call_cancel(struct vd_dbus_call *call);

/* Adds a match rule without waiting for the bus's answer. */
void vd_dbus_add_match(struct vd_dbus *bus, const char *rule);
void vd_dbus_remove_match(struct vd_dbus *bus, const char *rule);

/*
 * RequestName(name, flags): result gets the bus's answer code
 * (DBUS_REQUEST_NAME_REPLY_*) or -1 on an error.
 */
typedef void (*vd_dbus_name_result)(int code, void *data);
struct vd_dbus_call *vd_dbus_request_name(struct vd_dbus *bus, const char *name, unsigned flags,
	vd_dbus_name_result result, void *data);
/* ReleaseName, no answer wanted. */
void vd_dbus_release_name(struct vd_dbus *bus, const char *name);

/* An error reply to call, with a printf-style message. */
void vd_dbus_reply_error(struct vd_dbus *bus, DBusMessage *call, const char *name,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * The start of an org.freedesktop.DBus.Properties call to an object whose
 * properties are all read-only: Set is answered PropertyReadOnly, any member
 * but Get and GetAll UnknownMethod, and false returned (answered). Else the
 * call's interface and property name (NULL for GetAll) and whether its
 * arguments parsed (*args_ok), for the caller to answer.
 */
bool vd_dbus_properties_call(struct vd_dbus *bus, DBusMessage *call, const char **iface,
	const char **name, bool *args_ok);
/* The answer to an org.freedesktop.DBus.Introspectable.Introspect call. */
void vd_dbus_reply_introspect(struct vd_dbus *bus, DBusMessage *call, const char *xml);
/* The name of an error reply's error, its first string argument in *text (or ""). */
const char *vd_dbus_error_text(DBusMessage *reply, const char **text);

#endif
