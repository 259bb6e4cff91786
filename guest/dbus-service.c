#define LOG_TAG "bus"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/dbus-service.h"
#include "protocols/backoff.h"
#include "protocols/clock.h"
#include "protocols/log.h"

struct vd_guest_service {
	struct wl_event_loop *loop;
	char address[4200];
	char name[256];
	enum vd_guest_service_mode mode;
	const struct vd_guest_service_impl *impl;
	void *data;
	struct vd_dbus *bus;
	struct vd_dbus_call *request;
	struct wl_event_source *retry_timer;
	struct vd_backoff backoff;
	bool owned;
	bool told_taken; // logged that another program holds the name
};

bool vd_guest_service_mode_parse(const char *s, enum vd_guest_service_mode *mode) {
	if (strcmp(s, "auto") == 0) {
		*mode = VD_GUEST_SERVICE_AUTO;
	} else if (strcmp(s, "replace") == 0) {
		*mode = VD_GUEST_SERVICE_REPLACE;
	} else if (strcmp(s, "off") == 0) {
		*mode = VD_GUEST_SERVICE_OFF;
	} else {
		return false;
	}
	return true;
}

static void set_owned(struct vd_guest_service *service, bool owned) {
	if (service->owned == owned) {
		return;
	}
	service->owned = owned;
	vd_log(VD_INFO, "%s %s", owned ? "serving" : "no longer serving", service->name);
	service->impl->owned(service->data, owned);
}

static void request_name(struct vd_guest_service *service);

static void handle_request(int code, void *data) {
	struct vd_guest_service *service = data;
	service->request = NULL;
	if (code == DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER ||
			code == DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) {
		service->told_taken = false;
		set_owned(service, true);
		return;
	}
	if (!service->told_taken) {
		vd_log(VD_INFO, "%s is held by another program: waiting for it to go", service->name);
		service->told_taken = true;
	}
}

static void request_name(struct vd_guest_service *service) {
	if (service->request != NULL || service->bus == NULL) {
		return;
	}
	unsigned flags = DBUS_NAME_FLAG_DO_NOT_QUEUE | DBUS_NAME_FLAG_ALLOW_REPLACEMENT;
	if (service->mode == VD_GUEST_SERVICE_REPLACE) {
		flags |= DBUS_NAME_FLAG_REPLACE_EXISTING;
	}
	service->request = vd_dbus_request_name(service->bus, service->name, flags, handle_request,
		service);
}

static DBusHandlerResult handle_filter(struct vd_dbus *bus, DBusMessage *msg, void *data) {
	struct vd_guest_service *service = data;
	const char *sender = dbus_message_get_sender(msg);
	bool from_bus = sender != NULL && strcmp(sender, DBUS_SERVICE_DBUS) == 0;
	const char *name, *old_owner, *new_owner;
	if (from_bus && dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameLost") &&
			dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID) &&
			strcmp(name, service->name) == 0) {
		set_owned(service, false);
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	if (from_bus && dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameAcquired") &&
			dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID) &&
			strcmp(name, service->name) == 0) {
		set_owned(service, true);
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	if (from_bus && dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged") &&
			dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING,
				&old_owner, DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID) &&
			strcmp(name, service->name) == 0 && new_owner[0] == '\0' && !service->owned) {
		request_name(service); // the other holder went: take over
	}
	return service->impl->filter != NULL ? service->impl->filter(service->data, msg) :
		DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static void handle_ready(struct vd_dbus *bus, void *data) {
	struct vd_guest_service *service = data;
	vd_backoff_connected(&service->backoff, vd_now_ms());
	char rule[512];
	snprintf(rule, sizeof(rule), "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='"
		DBUS_INTERFACE_DBUS "',member='NameOwnerChanged',arg0='%s'", service->name);
	vd_dbus_add_match(bus, rule);
	service->impl->connected(service->data, bus);
	request_name(service);
}

static void connect_bus(struct vd_guest_service *service);

static void handle_closed(struct vd_dbus *bus, void *data) {
	struct vd_guest_service *service = data;
	vd_log(VD_WARN, "the session bus went away (%s): connecting again later", service->name);
	set_owned(service, false);
	service->impl->disconnected(service->data);
	service->request = NULL; // cancelled with the bus
	vd_dbus_destroy(service->bus);
	service->bus = NULL;
	vd_backoff_disconnected(&service->backoff, vd_now_ms());
	wl_event_source_timer_update(service->retry_timer, (int)vd_backoff_next(&service->backoff));
}

static const struct vd_dbus_impl bus_impl = {
	.ready = handle_ready,
	.filter = handle_filter,
	.closed = handle_closed,
};

static void connect_bus(struct vd_guest_service *service) {
	char err[512];
	service->bus = vd_dbus_connect(service->loop, service->address, &bus_impl, service, err,
		sizeof(err));
	if (service->bus == NULL) {
		vd_log(VD_WARN, "%s: %s", service->name, err);
		wl_event_source_timer_update(service->retry_timer,
			(int)vd_backoff_next(&service->backoff));
	}
}

static int handle_retry(void *data) {
	struct vd_guest_service *service = data;
	if (service->bus == NULL) {
		connect_bus(service);
	}
	return 0;
}

struct vd_guest_service *vd_guest_service_create(struct wl_event_loop *loop, const char *address,
		const char *name, enum vd_guest_service_mode mode, const struct vd_guest_service_impl *impl,
		void *data) {
	struct vd_guest_service *service = calloc(1, sizeof(*service));
	if (service == NULL) {
		return NULL;
	}
	service->loop = loop;
	snprintf(service->address, sizeof(service->address), "%s", address);
	snprintf(service->name, sizeof(service->name), "%s", name);
	service->mode = mode;
	service->impl = impl;
	service->data = data;
	vd_backoff_init(&service->backoff, 500, 30000, 10000);
	service->retry_timer = wl_event_loop_add_timer(loop, handle_retry, service);
	if (service->retry_timer == NULL) {
		free(service);
		return NULL;
	}
	connect_bus(service);
	return service;
}

void vd_guest_service_destroy(struct vd_guest_service *service) {
	if (service == NULL) {
		return;
	}
	vd_dbus_destroy(service->bus);
	wl_event_source_remove(service->retry_timer);
	free(service);
}

struct vd_dbus *vd_guest_service_bus(struct vd_guest_service *service) {
	return service->bus;
}

bool vd_guest_service_owned(const struct vd_guest_service *service) {
	return service->owned;
}
