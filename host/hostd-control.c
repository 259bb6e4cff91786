#define LOG_TAG "hostd"


#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/menu.h"
#include "host/vmconf.h"
#include "protocols/agent-conn.h"
#include "protocols/agent-wire.h"
#include "protocols/log.h"
#include "protocols/transport.h"
#include "host/hostd.h"

static const char *const state_names[] = {
	[VM_NO_AGENT] = "no agent configured",
	[VM_CONFIG_ERROR] = "configuration error",
	[VM_WAITING] = "disconnected",
	[VM_DIALING] = "connecting",
	[VM_HELLO] = "handshake",
	[VM_READY] = "connected",
};

/* ---- helpers ---- */

void strv_free(char **v, size_t n) {
	for (size_t i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}

char *xstrdup(const char *s) {
	char *d = strdup(s);
	if (d == NULL) {
		abort();
	}
	return d;
}

struct vm *find_vm(const char *name) {
	for (size_t i = 0; i < h.nvms; i++) {
		if (strcmp(h.vms[i].conf.name, name) == 0) {
			return &h.vms[i];
		}
	}
	return NULL;
}

void client_send(struct client *client, const struct vd_agent_msg *msg) {
	if (!vd_agent_conn_send(&client->conn, msg)) {
		vd_log(VD_WARN, "client not reading; dropping %s", vd_agent_type_name(msg->type));
	}
}


void client_error(struct client *client, uint32_t code, const char *fmt, ...) {
	char text[VD_AGENT_MAX_ERROR];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	for (char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
			*p = ' ';
		}
	}
	if (!vd_agent_text_valid(text, strlen(text), false)) {
		snprintf(text, sizeof(text), "error %u", code);
	}
	struct vd_agent_msg msg = {.type = VD_AGENT_ERROR, .code = code, .message = text};
	client_send(client, &msg);
	client->done = true;
}

void client_text(struct client *client, const char *text) {
	struct vd_agent_msg msg = {.type = VD_AGENT_CTL_TEXT, .text = (char *)text};
	client_send(client, &msg);
	client->done = true;
}

void request_destroy(struct request *req) {
	for (struct request **p = &h.requests; *p; p = &(*p)->next) {
		if (*p == req) {
			*p = req->next;
			break;
		}
	}
	if (req->client != NULL) {
		req->client->req = NULL;
	}
	free(req);
}

struct request *find_request(struct vm *vm, uint32_t id) {
	for (struct request *req = h.requests; req; req = req->next) {
		if (req->vm == vm && req->id == id) {
			return req;
		}
	}
	return NULL;
}

/* ---- CLI clients ---- */

void client_destroy(struct client *client) {
	if (client->req != NULL) {
		struct request *req = client->req;
		if (req->wait && req->started && req->vm->state == VM_READY) {
			/* Like a terminal hangup: the waiting program loses its reader. */
			struct vd_agent_msg sig = {.type = VD_AGENT_SIGNAL, .id = req->id, .signo = SIGHUP};
			vm_send(req->vm, &sig);
		}
		req->client = NULL;
		if (!req->wait || req->started) {
			request_destroy(req);
		}
	}
	vd_agent_conn_finish(&client->conn);
	for (int i = 0; i < h.nclients; i++) {
		if (h.clients[i] == client) {
			h.clients[i] = h.clients[--h.nclients];
			break;
		}
	}
	free(client);
}

struct vm *client_vm(struct client *client, const char *name) {
	struct vm *vm = find_vm(name);
	if (vm == NULL) {
		client_error(client, VD_AGENT_E_NO_VM, "no VM named %s", name);
	}
	return vm;
}

bool vm_check_ready(struct client *client, struct vm *vm) {
	if (vm->state == VM_READY) {
		if (!(vm->caps & VD_AGENT_CAP_RUN)) {
			client_error(client, VD_AGENT_E_UNSUPPORTED, "VM %s: the agent cannot run programs",
				vm->conf.name);
			return false;
		}
		return true;
	}
	if (vm->state == VM_CONFIG_ERROR) {
		client_error(client, VD_AGENT_E_NOT_CONNECTED, "VM %s: %s", vm->conf.name,
			vm->conf.error);
	} else if (vm->state == VM_NO_AGENT) {
		client_error(client, VD_AGENT_E_NOT_CONNECTED, "VM %s has no agent address (%s)",
			vm->conf.name, vm->conf.path);
	} else {
		bool retry = vm->state == VM_WAITING;
		client_error(client, VD_AGENT_E_NOT_CONNECTED, "VM %s: agent not connected (%s%s%s)%s",
			vm->conf.name, state_names[vm->state], vm->last_error[0] ? ": " : "",
			vm->last_error, retry ? "; trying again now" : "");
		if (retry) {
			/* Someone wants this VM: skip the rest of the backoff pause. */
			vm->retry_at = vd_now_ms();
		}
	}
	return false;
}

void client_run(struct client *client, struct vm *vm, const struct vd_agent_msg *msg) {
	if (!vm_check_ready(client, vm)) {
		return;
	}
	if (msg->type == VD_AGENT_CTL_RUN_APP && vm->apps_known) {
		bool found = false;
		for (size_t i = 0; i < vm->napps && !found; i++) {
			found = strcmp(vm->app_ids[i], msg->app_id) == 0;
		}
		if (!found) {
			client_error(client, VD_AGENT_E_NOT_FOUND, "VM %s has no application %s",
				vm->conf.name, msg->app_id);
			return;
		}
	}
	struct request *req = calloc(1, sizeof(*req));
	if (req == NULL) {
		abort();
	}
	if (++vm->next_id == 0) {
		vm->next_id = 1;
	}
	req->id = vm->next_id;
	req->vm = vm;
	req->client = client;
	req->wait = msg->flags & VD_AGENT_RUN_WAIT;
	req->deadline = vd_now_ms() + (uint64_t)h.request_timeout_ms;
	req->next = h.requests;
	h.requests = req;
	client->req = req;
	struct vd_agent_msg fwd = *msg;
	fwd.type = msg->type == VD_AGENT_CTL_RUN ? VD_AGENT_RUN : VD_AGENT_RUN_APP;
	fwd.id = req->id;
	fwd.vm = NULL;
	if (!vm_send(vm, &fwd) && vm->state == VM_READY) {
		client_error(client, VD_AGENT_E_LIMIT, "cannot queue the request");
		request_destroy(req);
	}
}


static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
	for (;;) {
		va_list args;
		va_start(args, fmt);
		int n = vsnprintf(*buf + *len, *cap - *len, fmt, args);
		va_end(args);
		if (n < 0) {
			return;
		}
		if ((size_t)n < *cap - *len) {
			*len += (size_t)n;
			return;
		}
		*cap = (*cap + (size_t)n) * 2;
		char *b = realloc(*buf, *cap);
		if (b == NULL) {
			abort();
		}
		*buf = b;
	}
}

void client_status(struct client *client, struct vm *vm) {
	size_t len = 0, cap = 1024;
	char *text = malloc(cap);
	if (text == NULL) {
		abort();
	}
	text[0] = '\0';
	uint64_t now = vd_now_ms();
	append(&text, &len, &cap, "vm: %s\nconfig: %s\ncolor: %s (#%02x%02x%02x)\n", vm->conf.name,
		vm->conf.path, vm->conf.color_str, vm->conf.color.r, vm->conf.color.g, vm->conf.color.b);
	if (vm->conf.error[0] != '\0') {
		append(&text, &len, &cap, "config error: %s\n", vm->conf.error);
	}
	append(&text, &len, &cap, "agent: %s\nchannel: %s\n",
		vm->conf.has_agent ? vm->conf.agent_str : "(none)", state_names[vm->state]);
	if (vm->state == VM_READY) {
		char caps[64];
		vd_agent_caps_format(vm->caps, caps, sizeof(caps));
		append(&text, &len, &cap, "connected for: %llu s\nguest agent: %s\nprotocol: %d\n"
			"capabilities: %s\n", (unsigned long long)((now - vm->connected_at) / 1000),
			vm->software, VD_AGENT_VERSION, caps);
	}
	if (vm->last_error[0] != '\0') {
		append(&text, &len, &cap, "last error: %s\n", vm->last_error);
	}
	if (vm->state == VM_WAITING) {
		append(&text, &len, &cap, "next attempt in: %llu ms\n",
			(unsigned long long)(vm->retry_at > now ? vm->retry_at - now : 0));
	}
	append(&text, &len, &cap, "connections: %u\n", vm->connects);
	if (vm->apps_known) {
		append(&text, &len, &cap, "applications: %zu\n", vm->napps);
	}
	if (vm->idle_known) {
		uint64_t secs = vm->idle ?
			vm->idle_seconds + (now - vm->idle_reported_at) / 1000 : 0;
		append(&text, &len, &cap, "idle: %s", vm->idle ? "yes" : "no");
		if (vm->idle) {
			append(&text, &len, &cap, " (%llu s)", (unsigned long long)secs);
		}
		append(&text, &len, &cap, "\n");
	}
	client_text(client, text);
	free(text);
}

void client_list(struct client *client) {
	size_t len = 0, cap = 1024;
	char *text = malloc(cap);
	if (text == NULL) {
		abort();
	}
	text[0] = '\0';
	for (size_t i = 0; i < h.nvms; i++) {
		struct vm *vm = &h.vms[i];
		append(&text, &len, &cap, "%s\t%s\t%s\t%s\n", vm->conf.name, state_names[vm->state],
			vm->conf.color_str, vm->conf.has_agent ? vm->conf.agent_str : "-");
	}
	client_text(client, text);
	free(text);
}

void client_apps(struct client *client, struct vm *vm) {
	size_t len = 0, cap = 1024;
	char *text = malloc(cap);
	if (text == NULL) {
		abort();
	}
	text[0] = '\0';
	for (size_t i = 0; i < vm->napps; i++) {
		append(&text, &len, &cap, "%s\t%s\n", vm->app_ids[i], vm->app_names[i]);
	}
	client_text(client, text);
	free(text);
}

void client_handle(struct client *client, const struct vd_agent_msg *msg) {
	struct vm *vm = NULL;
	if (client->req != NULL || client->done) {
		if (msg->type == VD_AGENT_CTL_SIGNAL && client->req != NULL) {
			struct request *req = client->req;
			if (req->started && req->vm->state == VM_READY) {
				struct vd_agent_msg sig = {.type = VD_AGENT_SIGNAL, .id = req->id,
					.signo = msg->signo};
				vm_send(req->vm, &sig);
			}
			return;
		}
		client_error(client, VD_AGENT_E_PROTOCOL, "one request per connection");
		return;
	}
	switch (msg->type) {
	case VD_AGENT_CTL_RUN:
	case VD_AGENT_CTL_RUN_APP:
		if ((vm = client_vm(client, msg->vm)) != NULL) {
			client_run(client, vm, msg);
		}
		break;
	case VD_AGENT_CTL_STATUS:
		if ((vm = client_vm(client, msg->vm)) != NULL) {
			client_status(client, vm);
		}
		break;
	case VD_AGENT_CTL_APPS:
		if ((vm = client_vm(client, msg->vm)) != NULL) {
			client_apps(client, vm);
		}
		break;
	case VD_AGENT_CTL_LIST:
		client_list(client);
		break;
	default:
		client_error(client, VD_AGENT_E_PROTOCOL, "unexpected %s",
			vd_agent_type_name(msg->type));
		break;
	}
}

void client_readable(struct client *client) {
	char err[256];
	if (vd_agent_conn_read(&client->conn, err, sizeof(err)) != VD_CONN_OK) {
		client_destroy(client);
		return;
	}
	struct vd_agent_frame frame;
	enum vd_conn_status status;
	while (vd_agent_conn_next(&client->conn, &frame, &status, err, sizeof(err))) {
		struct vd_agent_msg msg;
		if (!vd_agent_decode(frame.header.type, frame.header.id, frame.payload,
				frame.header.length, &msg, err, sizeof(err))) {
			vd_log(VD_WARN, "client: bad request: %s", err);
			client_error(client, VD_AGENT_E_PROTOCOL, "%s", err);
			return;
		}
		client_handle(client, &msg);
		vd_agent_msg_finish(&msg);
	}
	if (status != VD_CONN_OK) {
		client_destroy(client);
	}
}

void accept_client(void) {
	int fd = vd_transport_accept(h.listen_fd);
	if (fd < 0) {
		return;
	}
	/* The socket lives in a 0700 directory; check the peer anyway. */
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
		vd_log(VD_WARN, "refusing a control connection from another user");
		close(fd);
		return;
	}
	if (h.nclients >= MAX_CLIENTS) {
		close(fd);
		return;
	}
	struct client *client = calloc(1, sizeof(*client));
	if (client == NULL) {
		abort();
	}
	vd_agent_conn_init(&client->conn, fd, CLIENT_MAX_QUEUE);
	h.clients[h.nclients++] = client;
}
