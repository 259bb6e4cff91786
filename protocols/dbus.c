#define LOG_TAG "dbus"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocols/dbus.h"
#include "protocols/log.h"

#define HELLO_TIMEOUT_MS 10000

struct vd_dbus_call {
	struct vd_dbus *bus;
	struct wl_list link; // vd_dbus.calls
	DBusPendingCall *pending;
	vd_dbus_reply reply;
	void *data;
	void *owned; // the wrapper's own data (RequestName's), freed with the call
};

struct vd_dbus {
	struct wl_event_loop *loop;
	DBusConnection *conn;
	const struct vd_dbus_impl *impl;
	void *data;
	struct wl_event_source *dispatch_idle;
	struct wl_list calls; // vd_dbus_call.link
	bool ready;
	bool closed; // told the owner
	bool dispatching;
	bool dead; // destroyed while dispatching: freed when the dispatch returns
};

struct watch {
	struct vd_dbus *bus;
	DBusWatch *watch;
	struct wl_event_source *source;
};

struct timeout {
	DBusTimeout *timeout;
	struct wl_event_source *timer;
	struct vd_dbus *bus;
};

static void bus_free(struct vd_dbus *bus);

/* ---- the loop ---- */

static void handle_dispatch_idle(void *data) {
	struct vd_dbus *bus = data;
	bus->dispatch_idle = NULL; // the loop removes it
	bus->dispatching = true;
	while (!bus->dead && dbus_connection_dispatch(bus->conn) == DBUS_DISPATCH_DATA_REMAINS) {
	}
	bus->dispatching = false;
	if (bus->dead) {
		bus_free(bus);
	}
}

static void schedule_dispatch(struct vd_dbus *bus) {
	if (bus->dispatch_idle == NULL && !bus->dead) {
		bus->dispatch_idle = wl_event_loop_add_idle(bus->loop, handle_dispatch_idle, bus);
	}
}

static void handle_dispatch_status(DBusConnection *conn, DBusDispatchStatus status, void *data) {
	if (status == DBUS_DISPATCH_DATA_REMAINS) {
		schedule_dispatch(data);
	}
}

static int handle_watch(int fd, uint32_t mask, void *data) {
	struct watch *w = data;
	unsigned flags = 0;
	if (mask & WL_EVENT_READABLE) {
		flags |= DBUS_WATCH_READABLE;
	}
	if (mask & WL_EVENT_WRITABLE) {
		flags |= DBUS_WATCH_WRITABLE;
	}
	if (mask & WL_EVENT_HANGUP) {
		flags |= DBUS_WATCH_HANGUP;
	}
	if (mask & WL_EVENT_ERROR) {
		flags |= DBUS_WATCH_ERROR;
	}
	struct vd_dbus *bus = w->bus;
	dbus_watch_handle(w->watch, flags); // may free w
	schedule_dispatch(bus);
	return 0;
}

static void watch_update(struct watch *w) {
	if (w->source != NULL) {
		wl_event_source_remove(w->source);
		w->source = NULL;
	}
	if (!dbus_watch_get_enabled(w->watch)) {
		return;
	}
	unsigned flags = dbus_watch_get_flags(w->watch);
	uint32_t mask = 0;
	if (flags & DBUS_WATCH_READABLE) {
		mask |= WL_EVENT_READABLE;
	}
	if (flags & DBUS_WATCH_WRITABLE) {
		mask |= WL_EVENT_WRITABLE;
	}
	/* the loop watches a duplicate of the fd: a read and a write watch on one fd can coexist */
	w->source = wl_event_loop_add_fd(w->bus->loop, dbus_watch_get_unix_fd(w->watch), mask,
		handle_watch, w);
}

static void watch_free(void *data) {
	struct watch *w = data;
	if (w->source != NULL) {
		wl_event_source_remove(w->source);
	}
	free(w);
}

static dbus_bool_t add_watch(DBusWatch *watch, void *data) {
	struct watch *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return FALSE;
	}
	w->bus = data;
	w->watch = watch;
	dbus_watch_set_data(watch, w, watch_free);
	watch_update(w);
	return TRUE;
}

static void remove_watch(DBusWatch *watch, void *data) {
	struct watch *w = dbus_watch_get_data(watch);
	if (w != NULL && w->source != NULL) {
		wl_event_source_remove(w->source);
		w->source = NULL;
	}
}

static void toggle_watch(DBusWatch *watch, void *data) {
	struct watch *w = dbus_watch_get_data(watch);
	if (w != NULL) {
		watch_update(w);
	}
}

static int handle_timeout(void *data) {
	struct timeout *t = data;
	struct vd_dbus *bus = t->bus;
	/* libdbus timeouts repeat until removed: re-arm first, t may be gone afterwards */
	wl_event_source_timer_update(t->timer, dbus_timeout_get_interval(t->timeout));
	dbus_timeout_handle(t->timeout);
	schedule_dispatch(bus);
	return 0;
}

static void timeout_free(void *data) {
	struct timeout *t = data;
	wl_event_source_remove(t->timer);
	free(t);
}

static dbus_bool_t add_timeout(DBusTimeout *timeout, void *data) {
	struct vd_dbus *bus = data;
	struct timeout *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return FALSE;
	}
	t->timeout = timeout;
	t->bus = bus;
	t->timer = wl_event_loop_add_timer(bus->loop, handle_timeout, t);
	if (t->timer == NULL) {
		free(t);
		return FALSE;
	}
	dbus_timeout_set_data(timeout, t, timeout_free);
	if (dbus_timeout_get_enabled(timeout)) {
		wl_event_source_timer_update(t->timer, dbus_timeout_get_interval(timeout));
	}
	return TRUE;
}

static void remove_timeout(DBusTimeout *timeout, void *data) {
	struct timeout *t = dbus_timeout_get_data(timeout);
	if (t != NULL) {
		wl_event_source_timer_update(t->timer, 0);
	}
}

static void toggle_timeout(DBusTimeout *timeout, void *data) {
	struct timeout *t = dbus_timeout_get_data(timeout);
	if (t != NULL) {
		wl_event_source_timer_update(t->timer, dbus_timeout_get_enabled(timeout) ?
			dbus_timeout_get_interval(timeout) : 0);
	}
}

/* ---- calls ---- */

static void call_free(struct vd_dbus_call *call) {
	wl_list_remove(&call->link);
	dbus_pending_call_unref(call->pending);
	free(call->owned);
	free(call);
}

static void handle_pending(DBusPendingCall *pending, void *data) {
	struct vd_dbus_call *call = data;
	struct vd_dbus *bus = call->bus;
	DBusMessage *reply = dbus_pending_call_steal_reply(pending);
	vd_dbus_reply fn = call->reply;
	void *fn_data = call->data, *owned = call->owned;
	call->owned = NULL; // freed after fn, which may use it
	call_free(call);
	if (reply != NULL && !bus->dead) {
		fn(reply, fn_data);
	}
	free(owned);
	if (reply != NULL) {
		dbus_message_unref(reply);
	}
}

struct vd_dbus_call *vd_dbus_call(struct vd_dbus *bus, DBusMessage *msg, int timeout_ms,
		vd_dbus_reply reply, void *data) {
	if (bus->dead || bus->closed) {
		return NULL;
	}
	DBusPendingCall *pending = NULL;
	if (!dbus_connection_send_with_reply(bus->conn, msg, &pending, timeout_ms) ||
			pending == NULL) {
		return NULL;
	}
	struct vd_dbus_call *call = calloc(1, sizeof(*call));
	if (call == NULL) {
		dbus_pending_call_cancel(pending);
		dbus_pending_call_unref(pending);
		return NULL;
	}
	call->bus = bus;
	call->pending = pending;
	call->reply = reply;
	call->data = data;
	wl_list_insert(&bus->calls, &call->link);
	if (!dbus_pending_call_set_notify(pending, handle_pending, call, NULL)) {
		dbus_pending_call_cancel(pending);
		call_free(call);
		return NULL;
	}
	return call;
}

void vd_dbus_call_cancel(struct vd_dbus_call *call) {
	if (call == NULL) {
		return;
	}
	dbus_pending_call_cancel(call->pending);
	call_free(call);
}

bool vd_dbus_send(struct vd_dbus *bus, DBusMessage *msg) {
	if (bus->dead || bus->closed) {
		return false;
	}
	return dbus_connection_send(bus->conn, msg, NULL);
}

/* ---- the connection ---- */

static void tell_closed(struct vd_dbus *bus) {
	if (bus->closed) {
		return;
	}
	bus->closed = true;
	if (bus->impl->closed != NULL) {
		bus->impl->closed(bus, bus->data);
	}
}

static DBusHandlerResult handle_filter(DBusConnection *conn, DBusMessage *msg, void *data) {
	struct vd_dbus *bus = data;
	if (bus->dead) {
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	if (dbus_message_is_signal(msg, DBUS_INTERFACE_LOCAL, "Disconnected")) {
		tell_closed(bus);
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	DBusHandlerResult result = DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	if (bus->impl->filter != NULL) {
		result = bus->impl->filter(bus, msg, bus->data);
	}
	return bus->dead ? DBUS_HANDLER_RESULT_HANDLED : result;
}

static void handle_hello(DBusMessage *reply, void *data) {
	struct vd_dbus *bus = data;
	const char *name = NULL;
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_METHOD_RETURN ||
			!dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID) ||
			!dbus_bus_set_unique_name(bus->conn, name)) {
		const char *text;
		const char *err = vd_dbus_error_text(reply, &text);
		vd_log(VD_WARN, "the bus did not answer Hello: %s %s", err, text);
		tell_closed(bus);
		return;
	}
	bus->ready = true;
	if (bus->impl->ready != NULL) {
		bus->impl->ready(bus, bus->data);
	}
}

struct vd_dbus *vd_dbus_connect(struct wl_event_loop *loop, const char *address,
		const struct vd_dbus_impl *impl, void *data, char *err, size_t err_size) {
	DBusError error;
	dbus_error_init(&error);
	/* unix: addresses connect at once; authentication runs on the loop */
	DBusConnection *conn = dbus_connection_open_private(address, &error);
	if (conn == NULL) {
		snprintf(err, err_size, "cannot connect to %s: %s", address, error.message);
		dbus_error_free(&error);
		return NULL;
	}
	dbus_connection_set_exit_on_disconnect(conn, FALSE);
	struct vd_dbus *bus = calloc(1, sizeof(*bus));
	if (bus == NULL) {
		dbus_connection_close(conn);
		dbus_connection_unref(conn);
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	bus->loop = loop;
	bus->conn = conn;
	bus->impl = impl;
	bus->data = data;
	wl_list_init(&bus->calls);
	if (!dbus_connection_set_watch_functions(conn, add_watch, remove_watch, toggle_watch, bus,
			NULL) ||
			!dbus_connection_set_timeout_functions(conn, add_timeout, remove_timeout,
				toggle_timeout, bus, NULL) ||
			!dbus_connection_add_filter(conn, handle_filter, bus, NULL)) {
		bus_free(bus);
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	dbus_connection_set_dispatch_status_function(conn, handle_dispatch_status, bus, NULL);
	DBusMessage *hello = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
		DBUS_INTERFACE_DBUS, "Hello");
	struct vd_dbus_call *call = hello != NULL ?
		vd_dbus_call(bus, hello, HELLO_TIMEOUT_MS, handle_hello, bus) : NULL;
	if (hello != NULL) {
		dbus_message_unref(hello);
	}
	if (call == NULL) {
		bus_free(bus);
		snprintf(err, err_size, "cannot send Hello to %s", address);
		return NULL;
	}
	schedule_dispatch(bus);
	return bus;
}

static void bus_free(struct vd_dbus *bus) {
	struct vd_dbus_call *call, *tmp;
	wl_list_for_each_safe(call, tmp, &bus->calls, link) {
		vd_dbus_call_cancel(call);
	}
	dbus_connection_remove_filter(bus->conn, handle_filter, bus);
	dbus_connection_close(bus->conn);
	dbus_connection_set_watch_functions(bus->conn, NULL, NULL, NULL, NULL, NULL);
	dbus_connection_set_timeout_functions(bus->conn, NULL, NULL, NULL, NULL, NULL);
	dbus_connection_set_dispatch_status_function(bus->conn, NULL, NULL, NULL);
	dbus_connection_unref(bus->conn);
	if (bus->dispatch_idle != NULL) {
		wl_event_source_remove(bus->dispatch_idle);
	}
	free(bus);
}

void vd_dbus_destroy(struct vd_dbus *bus) {
	if (bus == NULL || bus->dead) {
		return;
	}
	bus->dead = true;
	struct vd_dbus_call *call, *tmp;
	wl_list_for_each_safe(call, tmp, &bus->calls, link) {
		vd_dbus_call_cancel(call);
	}
	if (!bus->dispatching) {
		bus_free(bus);
	}
}

DBusConnection *vd_dbus_connection(struct vd_dbus *bus) {
	return bus->conn;
}

bool vd_dbus_ready(const struct vd_dbus *bus) {
	return bus->ready && !bus->closed && !bus->dead;
}

const char *vd_dbus_unique_name(const struct vd_dbus *bus) {
	const char *name = bus->ready ? dbus_bus_get_unique_name(bus->conn) : NULL;
	return name != NULL ? name : "";
}

const char *vd_dbus_session_address(char *buf, size_t size) {
	const char *address = getenv("DBUS_SESSION_BUS_ADDRESS");
	if (address != NULL && address[0] != '\0') {
		return address;
	}
	const char *run = getenv("XDG_RUNTIME_DIR");
	if (run == NULL || run[0] != '/') {
		return NULL;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/bus", run);
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		return NULL;
	}
	int n = snprintf(buf, size, "unix:path=%s", path);
	return n > 0 && (size_t)n < size ? buf : NULL;
}

static void bus_method(struct vd_dbus *bus, const char *rule, const char *method) {
	DBusMessage *msg = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
		DBUS_INTERFACE_DBUS, method);
	if (msg == NULL) {
		return;
	}
	dbus_message_set_no_reply(msg, TRUE);
	if (dbus_message_append_args(msg, DBUS_TYPE_STRING, &rule, DBUS_TYPE_INVALID)) {
		vd_dbus_send(bus, msg);
	}
	dbus_message_unref(msg);
}

void vd_dbus_add_match(struct vd_dbus *bus, const char *rule) {
	bus_method(bus, rule, "AddMatch");
}

void vd_dbus_remove_match(struct vd_dbus *bus, const char *rule) {
	bus_method(bus, rule, "RemoveMatch");
}

void vd_dbus_release_name(struct vd_dbus *bus, const char *name) {
	bus_method(bus, name, "ReleaseName");
}

struct name_request {
	vd_dbus_name_result result;
	void *data;
};

static void handle_name_reply(DBusMessage *reply, void *data) {
	struct name_request req = *(struct name_request *)data; // freed with the call
	dbus_uint32_t code = 0;
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_METHOD_RETURN ||
			!dbus_message_get_args(reply, NULL, DBUS_TYPE_UINT32, &code, DBUS_TYPE_INVALID)) {
		req.result(-1, req.data);
		return;
	}
	req.result((int)code, req.data);
}

struct vd_dbus_call *vd_dbus_request_name(struct vd_dbus *bus, const char *name, unsigned flags,
		vd_dbus_name_result result, void *data) {
	struct name_request *req = malloc(sizeof(*req));
	DBusMessage *msg = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
		DBUS_INTERFACE_DBUS, "RequestName");
	dbus_uint32_t f = flags;
	struct vd_dbus_call *call = NULL;
	if (req != NULL && msg != NULL && dbus_message_append_args(msg, DBUS_TYPE_STRING, &name,
			DBUS_TYPE_UINT32, &f, DBUS_TYPE_INVALID)) {
		*req = (struct name_request){result, data};
		call = vd_dbus_call(bus, msg, 10000, handle_name_reply, req);
		if (call != NULL) {
			call->owned = req; // a call cancelled before its reply frees it too
		}
	}
	if (msg != NULL) {
		dbus_message_unref(msg);
	}
	if (call == NULL) {
		free(req);
	}
	return call;
}

bool vd_dbus_properties_call(struct vd_dbus *bus, DBusMessage *call, const char **iface,
		const char **name, bool *args_ok) {
	if (dbus_message_has_member(call, "Set")) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_PROPERTY_READ_ONLY, "read-only");
		return false;
	}
	bool all = dbus_message_has_member(call, "GetAll");
	if (!all && !dbus_message_has_member(call, "Get")) {
		vd_dbus_reply_error(bus, call, DBUS_ERROR_UNKNOWN_METHOD, "no such method");
		return false;
	}
	*iface = "";
	*name = NULL;
	*args_ok = all ? dbus_message_get_args(call, NULL, DBUS_TYPE_STRING, iface,
			DBUS_TYPE_INVALID) :
		dbus_message_get_args(call, NULL, DBUS_TYPE_STRING, iface, DBUS_TYPE_STRING, name,
			DBUS_TYPE_INVALID);
	if (!all && !*args_ok) {
		*name = NULL;
	}
	return true;
}

void vd_dbus_reply_error(struct vd_dbus *bus, DBusMessage *call, const char *name,
		const char *fmt, ...) {
	if (dbus_message_get_no_reply(call)) {
		return;
	}
	char text[512];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	DBusMessage *reply = dbus_message_new_error(call, name, text);
	if (reply != NULL) {
		vd_dbus_send(bus, reply);
		dbus_message_unref(reply);
	}
}

void vd_dbus_reply_introspect(struct vd_dbus *bus, DBusMessage *call, const char *xml) {
	DBusMessage *reply = dbus_message_new_method_return(call);
	if (reply != NULL && dbus_message_append_args(reply, DBUS_TYPE_STRING, &xml,
			DBUS_TYPE_INVALID)) {
		vd_dbus_send(bus, reply);
	}
	if (reply != NULL) {
		dbus_message_unref(reply);
	}
}

const char *vd_dbus_error_text(DBusMessage *reply, const char **text) {
	*text = "";
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_ERROR) {
		return "unexpected answer";
	}
	const char *s = NULL;
	if (dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID) &&
			s != NULL) {
		*text = s;
	}
	const char *name = dbus_message_get_error_name(reply);
	return name != NULL ? name : "error";
}
