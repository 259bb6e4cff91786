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

#define MAX_CLIENTS 64
#define VM_MAX_QUEUE (4u * 1024u * 1024u) // a guest not reading more than this is dropped
#define CLIENT_MAX_QUEUE (16u * 1024u * 1024u)
#define RETRY_MIN_MS 100
/* A channel that stayed up this long starts the next retries from RETRY_MIN_MS again. */
#define STABLE_CHANNEL_MS 10000
/* App snapshots: a burst of SNAPSHOT_BURST, then one per SNAPSHOT_REFILL_MS. */
#define SNAPSHOT_BURST 10
#define SNAPSHOT_REFILL_MS 5000
/* Acknowledge a run's output (letting the guest send more) while its vmdesk keeps up. */
#define CLIENT_ACK_QUEUE (1024u * 1024u)

enum vm_state {
	VM_NO_AGENT,
	VM_CONFIG_ERROR,
	VM_WAITING, // for the next attempt
	VM_DIALING,
	VM_HELLO, // connected, waiting for the guest's HELLO
	VM_READY,
};

static const char *const state_names[] = {
	[VM_NO_AGENT] = "no agent configured",
	[VM_CONFIG_ERROR] = "configuration error",
	[VM_WAITING] = "disconnected",
	[VM_DIALING] = "connecting",
	[VM_HELLO] = "handshake",
	[VM_READY] = "connected",
};

struct vm {
	struct vd_vmconf conf;
	enum vm_state state;
	struct vd_dial dial;
	struct vd_agent_conn conn;
	struct vd_backoff backoff;
	uint64_t retry_at;
	uint64_t hello_deadline;
	char last_error[256];
	uint64_t connected_at;
	unsigned connects;
	uint32_t caps;
	char software[VD_AGENT_MAX_SOFTWARE + 1];
	bool idle_known, idle;
	uint32_t idle_seconds;
	uint64_t idle_reported_at;
	uint32_t next_id;
	/* the app list: ids and names of the last complete snapshot */
	char **app_ids, **app_names;
	size_t napps;
	bool apps_known;
	/* snapshot in progress */
	bool in_snapshot;
	uint32_t snap_count, snap_received, snap_refused;
	double snap_tokens; // app snapshots allowed now (refilled over time, kept across connections)
	uint64_t snap_tokens_at;
	char **snap_ids, **snap_names;
	size_t snap_n;
};

struct client;

struct request {
	struct request *next;
	struct client *client;
	struct vm *vm;
	uint32_t id;
	bool wait;
	bool started;
	uint64_t deadline; // for RUN_STARTED
	uint64_t pending_ack; // output forwarded, not yet acknowledged to the guest
};

struct client {
	struct vd_agent_conn conn;
	struct request *req;
	bool done; // answered; closes once flushed
};

static struct {
	struct vm *vms;
	size_t nvms;
	struct client *clients[MAX_CLIENTS];
	int nclients;
	struct request *requests;
	int listen_fd;
	int signal_fd;
	char socket_path[VD_ADDR_PATH_MAX];
	struct vd_menu menu;
	bool menu_enabled;
	int connect_timeout_ms;
	uint32_t retry_max_ms;
	int request_timeout_ms;
	bool quit;
} h = {.listen_fd = -1, .signal_fd = -1};

/* ---- helpers ---- */

static void strv_free(char **v, size_t n) {
	for (size_t i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}

static char *xstrdup(const char *s) {
	char *d = strdup(s);
	if (d == NULL) {
		abort();
	}
	return d;
}

static struct vm *find_vm(const char *name) {
	for (size_t i = 0; i < h.nvms; i++) {
		if (strcmp(h.vms[i].conf.name, name) == 0) {
			return &h.vms[i];
		}
	}
	return NULL;
}

static void client_send(struct client *client, const struct vd_agent_msg *msg) {
	if (!vd_agent_conn_send(&client->conn, msg)) {
		vd_log(VD_WARN, "client not reading; dropping %s", vd_agent_type_name(msg->type));
	}
}

static void client_error(struct client *client, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void client_error(struct client *client, uint32_t code, const char *fmt, ...) {
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

static void client_text(struct client *client, const char *text) {
	struct vd_agent_msg msg = {.type = VD_AGENT_CTL_TEXT, .text = (char *)text};
	client_send(client, &msg);
	client->done = true;
}

static void request_destroy(struct request *req) {
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

static struct request *find_request(struct vm *vm, uint32_t id) {
	for (struct request *req = h.requests; req; req = req->next) {
		if (req->vm == vm && req->id == id) {
			return req;
		}
	}
	return NULL;
}

/* ---- VM channel ---- */

static void vm_snapshot_clear(struct vm *vm) {
	strv_free(vm->snap_ids, vm->snap_n);
	strv_free(vm->snap_names, vm->snap_n);
	vm->snap_ids = vm->snap_names = NULL;
	vm->snap_n = 0;
	vm->in_snapshot = false;
}

static void vm_schedule_retry(struct vm *vm) {
	uint32_t delay = vd_backoff_next(&vm->backoff);
	vm->retry_at = vd_now_ms() + delay;
	vm->state = VM_WAITING;
}

/* Drops the channel: pending requests fail, a new attempt is scheduled. */
static void vm_disconnect(struct vm *vm, const char *why) {
	if (vm->state == VM_DIALING) {
		vd_dial_finish(&vm->dial);
	} else if (vm->state == VM_HELLO || vm->state == VM_READY) {
		vd_agent_conn_flush(&vm->conn);
		vd_agent_conn_finish(&vm->conn);
		vd_log(VD_INFO, "vm=%s disconnected: %s", vm->conf.name, why);
		/* Only a channel that worked for a while earns quick retries: a guest that
		 * connects and misbehaves is retried less and less often. */
		if (vm->state == VM_READY && vd_now_ms() - vm->connected_at >= STABLE_CHANNEL_MS) {
			vd_backoff_reset(&vm->backoff);
		}
	}
	snprintf(vm->last_error, sizeof(vm->last_error), "%s", why);
	vm_snapshot_clear(vm);
	vm->idle_known = false;
	vm->caps = 0;
	for (struct request *req = h.requests, *next; req; req = next) {
		next = req->next;
		if (req->vm != vm) {
			continue;
		}
		if (req->client != NULL) {
			client_error(req->client, VD_AGENT_E_DISCONNECTED,
				"VM %s: the agent channel closed during the command (%s)", vm->conf.name, why);
		}
		request_destroy(req);
	}
	vm_schedule_retry(vm);
}

static void vm_protocol_error(struct vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vm_protocol_error(struct vm *vm, const char *fmt, ...) {
	char reason[300];
	va_list args;
	va_start(args, fmt);
	vsnprintf(reason, sizeof(reason), fmt, args);
	va_end(args);
	vd_log(VD_WARN, "vm=%s protocol error: %s", vm->conf.name, reason);
	char why[320];
	snprintf(why, sizeof(why), "protocol error: %s", reason);
	vm_disconnect(vm, why);
}

static bool vm_send(struct vm *vm, const struct vd_agent_msg *msg) {
	if (!vd_agent_conn_send(&vm->conn, msg)) {
		if (vd_agent_conn_queued(&vm->conn) > vm->conn.max_queue) {
			vd_log(VD_WARN, "vm=%s guest is not reading (%zu bytes queued); dropping the channel",
				vm->conf.name, vd_agent_conn_queued(&vm->conn));
			vm_disconnect(vm, "guest not reading");
		}
		return false;
	}
	return true;
}

static void vm_connected(struct vm *vm, int fd) {
	vd_agent_conn_init(&vm->conn, fd, VM_MAX_QUEUE);
	vm->state = VM_HELLO;
	vm->hello_deadline = vd_now_ms() + (uint64_t)h.connect_timeout_ms;
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-hostd %s", VD_VERSION);
	struct vd_agent_msg hello = {.type = VD_AGENT_HELLO, .min_version = VD_AGENT_VERSION,
		.max_version = VD_AGENT_VERSION, .caps = VD_AGENT_CAPS_KNOWN, .software = software};
	vm_send(vm, &hello);
}

static void vm_dial(struct vm *vm) {
	vm->state = VM_DIALING;
	enum vd_dial_status status = vd_dial_start(&vm->dial, &vm->conf.agent, h.connect_timeout_ms);
	if (status == VD_DIAL_FAILED) {
		vd_log(VD_DEBUG, "vm=%s: %s", vm->conf.name, vm->dial.err);
		snprintf(vm->last_error, sizeof(vm->last_error), "%s", vm->dial.err);
		vm_schedule_retry(vm);
	} else if (status == VD_DIAL_DONE) {
		vm_connected(vm, vd_dial_take_fd(&vm->dial));
	}
}

static void vm_dial_step(struct vm *vm) {
	enum vd_dial_status status = vd_dial_step(&vm->dial);
	if (status == VD_DIAL_FAILED) {
		if (strcmp(vm->last_error, vm->dial.err) != 0) {
			vd_log(VD_INFO, "vm=%s: %s", vm->conf.name, vm->dial.err);
		}
		snprintf(vm->last_error, sizeof(vm->last_error), "%s", vm->dial.err);
		vm_schedule_retry(vm);
	} else if (status == VD_DIAL_DONE) {
		vm_connected(vm, vd_dial_take_fd(&vm->dial));
	}
}

static void vm_handle_hello(struct vm *vm, const struct vd_agent_msg *msg) {
	if (msg->max_version < VD_AGENT_VERSION || msg->min_version > VD_AGENT_VERSION) {
		vm_protocol_error(vm, "no common protocol version (guest speaks %u..%u)",
			msg->min_version, msg->max_version);
		return;
	}
	vm->caps = msg->caps & VD_AGENT_CAPS_KNOWN;
	snprintf(vm->software, sizeof(vm->software), "%s", msg->software);
	vm->state = VM_READY;
	vm->connected_at = vd_now_ms();
	vm->connects++;
	vm->last_error[0] = '\0';
	char caps[64];
	vd_agent_caps_format(vm->caps, caps, sizeof(caps));
	vd_log(VD_INFO, "vm=%s connected: %s, protocol %d, capabilities: %s", vm->conf.name,
		vm->software, VD_AGENT_VERSION, caps);
}

static void vm_handle_app(struct vm *vm, const struct vd_agent_msg *msg) {
	const struct vd_agent_app *app = &msg->app;
	for (size_t i = 0; i < vm->snap_n; i++) {
		if (strcmp(vm->snap_ids[i], app->id) == 0) {
			vd_log(VD_WARN, "vm=%s app refused: duplicate desktop ID %s", vm->conf.name, app->id);
			vm->snap_refused++;
			return;
		}
	}
	if (h.menu_enabled) {
		char err[512];
		if (!vd_menu_write_app(&h.menu, vm->conf.name, vm->conf.color, app, err, sizeof(err))) {
			vd_log(VD_WARN, "vm=%s app refused: %s: %s", vm->conf.name, app->id, err);
			vm->snap_refused++;
			return;
		}
	}
	char **ids = realloc(vm->snap_ids, (vm->snap_n + 1) * sizeof(char *));
	if (ids == NULL) {
		abort();
	}
	vm->snap_ids = ids;
	char **names = realloc(vm->snap_names, (vm->snap_n + 1) * sizeof(char *));
	if (names == NULL) {
		abort();
	}
	vm->snap_names = names;
	vm->snap_ids[vm->snap_n] = xstrdup(app->id);
	vm->snap_names[vm->snap_n] = xstrdup(app->name);
	vm->snap_n++;
}

static void vm_commit_apps(struct vm *vm) {
	strv_free(vm->app_ids, vm->napps);
	strv_free(vm->app_names, vm->napps);
	vm->app_ids = vm->snap_ids;
	vm->app_names = vm->snap_names;
	vm->napps = vm->snap_n;
	vm->apps_known = true;
	vm->snap_ids = vm->snap_names = NULL;
	vm->snap_n = 0;
	vm->in_snapshot = false;
	vd_log(VD_INFO, "vm=%s: %zu applications (%u refused)", vm->conf.name, vm->napps,
		vm->snap_refused);
	if (h.menu_enabled) {
		vd_menu_commit_vm(&h.menu, vm->conf.name, vm->app_ids, vm->napps);
		vd_menu_update_database(&h.menu);
	}
}

static void vm_forward(struct vm *vm, const struct vd_agent_msg *msg) {
	struct request *req = find_request(vm, msg->id);
	if (req == NULL) {
		vd_log(VD_DEBUG, "vm=%s: %s for unknown request %u ignored", vm->conf.name,
			vd_agent_type_name(msg->type), msg->id);
		return;
	}
	bool finished = false;
	switch (msg->type) {
	case VD_AGENT_RUN_STARTED:
		if (req->started) {
			vm_protocol_error(vm, "second RUN_STARTED for request %u", msg->id);
			return;
		}
		req->started = true;
		finished = !req->wait;
		break;
	case VD_AGENT_RUN_OUTPUT:
	case VD_AGENT_RUN_EXIT:
		if (!req->wait || !req->started) {
			vm_protocol_error(vm, "%s for a request that does not expect it",
				vd_agent_type_name(msg->type));
			return;
		}
		finished = msg->type == VD_AGENT_RUN_EXIT;
		if (msg->type == VD_AGENT_RUN_OUTPUT) {
			req->pending_ack += msg->data_len;
		}
		break;
	case VD_AGENT_ERROR:
		finished = true;
		break;
	default:
		return;
	}
	if (req->client == NULL && msg->type == VD_AGENT_RUN_STARTED && req->wait) {
		/* Its vmdesk went away before the program started: hang it up. */
		struct vd_agent_msg sig = {.type = VD_AGENT_SIGNAL, .id = req->id, .signo = SIGHUP};
		vm_send(vm, &sig);
	}
	if (req->client != NULL) {
		struct vd_agent_msg fwd = *msg;
		fwd.id = 0;
		client_send(req->client, &fwd);
		if (finished) {
			req->client->done = true;
		}
	}
	if (finished) {
		request_destroy(req);
	}
}

/* Handles one message from a guest. Returns false if the channel was dropped. */
static bool vm_handle(struct vm *vm, const struct vd_agent_msg *msg) {
	if (vm->state == VM_HELLO) {
		if (msg->type != VD_AGENT_HELLO) {
			vm_protocol_error(vm, "%s before HELLO", vd_agent_type_name(msg->type));
			return false;
		}
		vm_handle_hello(vm, msg);
		return vm->state == VM_READY;
	}
	uint32_t need = 0;
	switch (msg->type) {
	case VD_AGENT_RUN_STARTED:
	case VD_AGENT_RUN_OUTPUT:
	case VD_AGENT_RUN_EXIT:
		need = VD_AGENT_CAP_RUN;
		break;
	case VD_AGENT_APPS_BEGIN:
	case VD_AGENT_APP:
	case VD_AGENT_APPS_END:
		need = VD_AGENT_CAP_APPS;
		break;
	case VD_AGENT_IDLE:
		need = VD_AGENT_CAP_IDLE;
		break;
	case VD_AGENT_ERROR:
		break;
	default:
		/* RUN, SIGNAL, CTL_* ... never come from a guest */
		vm_protocol_error(vm, "unexpected %s from the guest", vd_agent_type_name(msg->type));
		return false;
	}
	if ((vm->caps & need) != need) {
		vm_protocol_error(vm, "%s without the capability", vd_agent_type_name(msg->type));
		return false;
	}
	switch (msg->type) {
	case VD_AGENT_ERROR:
		if (msg->id == 0) {
			vd_log(VD_WARN, "vm=%s guest reports error %u: %s", vm->conf.name, msg->code,
				msg->message);
			return true;
		}
		/* fallthrough */
	case VD_AGENT_RUN_STARTED:
	case VD_AGENT_RUN_OUTPUT:
	case VD_AGENT_RUN_EXIT:
		vm_forward(vm, msg);
		return vm->state == VM_READY;
	case VD_AGENT_APPS_BEGIN: {
		if (vm->in_snapshot) {
			vm_protocol_error(vm, "APPS_BEGIN inside a snapshot");
			return false;
		}
		uint64_t now = vd_now_ms();
		vm->snap_tokens += (double)(now - vm->snap_tokens_at) / SNAPSHOT_REFILL_MS;
		vm->snap_tokens = vm->snap_tokens > SNAPSHOT_BURST ? SNAPSHOT_BURST : vm->snap_tokens;
		vm->snap_tokens_at = now;
		if (vm->snap_tokens < 1) {
			vm_protocol_error(vm, "app lists sent too often (burst %d, then one per %d s)",
				SNAPSHOT_BURST, SNAPSHOT_REFILL_MS / 1000);
			return false;
		}
		vm->snap_tokens -= 1;
		vm->in_snapshot = true;
		vm->snap_count = msg->count;
		vm->snap_received = 0;
		vm->snap_refused = 0;
		return true;
	}
	case VD_AGENT_APP:
		if (!vm->in_snapshot || vm->snap_received >= vm->snap_count) {
			vm_protocol_error(vm, "APP outside a snapshot or beyond its announced count");
			return false;
		}
		vm->snap_received++;
		vm_handle_app(vm, msg);
		return true;
	case VD_AGENT_APPS_END:
		if (!vm->in_snapshot || vm->snap_received != vm->snap_count) {
			vm_protocol_error(vm, "APPS_END after %u of %u apps", vm->snap_received,
				vm->snap_count);
			return false;
		}
		vm_commit_apps(vm);
		return true;
	case VD_AGENT_IDLE:
		if (!vm->idle_known || vm->idle != msg->idle) {
			vd_log(VD_INFO, "vm=%s %s", vm->conf.name, msg->idle ? "idle" : "busy");
		}
		vm->idle_known = true;
		vm->idle = msg->idle;
		vm->idle_seconds = msg->idle_seconds;
		vm->idle_reported_at = vd_now_ms();
		return true;
	default:
		return true;
	}
}

static void vm_readable(struct vm *vm) {
	char err[256];
	if (vd_agent_conn_read(&vm->conn, err, sizeof(err)) != VD_CONN_OK) {
		vm_disconnect(vm, err);
		return;
	}
	struct vd_agent_frame frame;
	enum vd_conn_status status;
	while (vd_agent_conn_next(&vm->conn, &frame, &status, err, sizeof(err))) {
		struct vd_agent_msg msg;
		if (!vd_agent_decode(frame.header.type, frame.header.id, frame.payload,
				frame.header.length, &msg, err, sizeof(err))) {
			if (frame.header.type == VD_AGENT_APP && vm->state == VM_READY &&
					vm->in_snapshot && vm->snap_received < vm->snap_count) {
				/* One bad entry: refuse it, keep the others. */
				vd_log(VD_WARN, "vm=%s app refused: %s", vm->conf.name, err);
				vm->snap_received++;
				vm->snap_refused++;
				continue;
			}
			const char *name = vd_agent_type_name(frame.header.type);
			vm_protocol_error(vm, "%s%s%s", name ? name : "", name ? ": " : "", err);
			return;
		}
		bool alive = vm_handle(vm, &msg);
		vd_agent_msg_finish(&msg);
		if (!alive) {
			return;
		}
	}
	if (status == VD_CONN_ERROR) {
		vm_protocol_error(vm, "%s", err);
	} else if (status == VD_CONN_EOF) {
		vm_disconnect(vm, "the guest closed the channel");
	}
}

/* ---- CLI clients ---- */

static void client_destroy(struct client *client) {
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

static struct vm *client_vm(struct client *client, const char *name) {
	struct vm *vm = find_vm(name);
	if (vm == NULL) {
		client_error(client, VD_AGENT_E_NO_VM, "no VM named %s", name);
	}
	return vm;
}

static bool vm_check_ready(struct client *client, struct vm *vm) {
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

static void client_run(struct client *client, struct vm *vm, const struct vd_agent_msg *msg) {
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

static void client_status(struct client *client, struct vm *vm) {
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

static void client_list(struct client *client) {
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

static void client_apps(struct client *client, struct vm *vm) {
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

static void client_handle(struct client *client, const struct vd_agent_msg *msg) {
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

static void client_readable(struct client *client) {
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

static void accept_client(void) {
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

/* ---- main loop ---- */

enum slot_kind { SLOT_LISTEN, SLOT_SIGNAL, SLOT_VM, SLOT_CLIENT };

struct slot {
	enum slot_kind kind;
	void *ptr;
};

static bool client_alive(struct client *client) {
	for (int i = 0; i < h.nclients; i++) {
		if (h.clients[i] == client) {
			return true;
		}
	}
	return false;
}

static void timers(void) {
	uint64_t now = vd_now_ms();
	for (size_t i = 0; i < h.nvms; i++) {
		struct vm *vm = &h.vms[i];
		if (vm->state == VM_WAITING && now >= vm->retry_at) {
			vm_dial(vm);
		} else if (vm->state == VM_DIALING && now >= vm->dial.deadline_ms) {
			vm_dial_step(vm);
		} else if (vm->state == VM_HELLO && now >= vm->hello_deadline) {
			vm_protocol_error(vm, "no HELLO from the guest in time");
		}
	}
	for (struct request *req = h.requests, *next; req; req = next) {
		next = req->next;
		if (!req->started && now >= req->deadline) {
			if (req->client != NULL) {
				client_error(req->client, VD_AGENT_E_TIMEOUT,
					"VM %s: no answer from the agent", req->vm->conf.name);
			}
			request_destroy(req);
		}
	}
}

static int loop_timeout(void) {
	uint64_t now = vd_now_ms(), next = UINT64_MAX;
	for (size_t i = 0; i < h.nvms; i++) {
		struct vm *vm = &h.vms[i];
		uint64_t at = UINT64_MAX;
		if (vm->state == VM_WAITING) {
			at = vm->retry_at;
		} else if (vm->state == VM_DIALING) {
			at = vm->dial.deadline_ms;
		} else if (vm->state == VM_HELLO) {
			at = vm->hello_deadline;
		}
		next = at < next ? at : next;
	}
	for (struct request *req = h.requests; req; req = req->next) {
		if (!req->started && req->deadline < next) {
			next = req->deadline;
		}
	}
	if (next == UINT64_MAX) {
		return -1;
	}
	return next <= now ? 0 : (int)(next - now > INT_MAX ? INT_MAX : next - now);
}

static void run_loop(void) {
	size_t max = 2 + h.nvms + MAX_CLIENTS;
	struct pollfd *pfds = calloc(max, sizeof(*pfds));
	struct slot *slots = calloc(max, sizeof(*slots));
	if (pfds == NULL || slots == NULL) {
		abort();
	}
	while (!h.quit) {
		timers();
		size_t n = 0;
		pfds[n] = (struct pollfd){.fd = h.listen_fd, .events = POLLIN};
		slots[n++] = (struct slot){SLOT_LISTEN, NULL};
		pfds[n] = (struct pollfd){.fd = h.signal_fd, .events = POLLIN};
		slots[n++] = (struct slot){SLOT_SIGNAL, NULL};
		for (size_t i = 0; i < h.nvms; i++) {
			struct vm *vm = &h.vms[i];
			if (vm->state == VM_DIALING) {
				pfds[n] = (struct pollfd){.fd = vd_dial_fd(&vm->dial),
					.events = vd_dial_events(&vm->dial)};
			} else if (vm->state == VM_HELLO || vm->state == VM_READY) {
				short events = POLLIN;
				if (vd_agent_conn_queued(&vm->conn) > 0) {
					events |= POLLOUT;
				}
				pfds[n] = (struct pollfd){.fd = vm->conn.fd, .events = events};
			} else {
				continue;
			}
			slots[n++] = (struct slot){SLOT_VM, vm};
		}
		for (int i = 0; i < h.nclients; i++) {
			struct client *client = h.clients[i];
			short events = POLLIN;
			if (vd_agent_conn_queued(&client->conn) > 0) {
				events |= POLLOUT;
			}
			pfds[n] = (struct pollfd){.fd = client->conn.fd, .events = events};
			slots[n++] = (struct slot){SLOT_CLIENT, client};
		}
		int ready = poll(pfds, n, loop_timeout());
		if (ready < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "poll");
			break;
		}
		for (size_t i = 0; i < n && ready > 0; i++) {
			if (pfds[i].revents == 0) {
				continue;
			}
			switch (slots[i].kind) {
			case SLOT_LISTEN:
				accept_client();
				break;
			case SLOT_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(h.signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					vd_log(VD_INFO, "signal %u: exiting", si.ssi_signo);
					h.quit = true;
				}
				break;
			}
			case SLOT_VM: {
				struct vm *vm = slots[i].ptr;
				if (vm->state == VM_DIALING && pfds[i].fd == vd_dial_fd(&vm->dial)) {
					vm_dial_step(vm);
				} else if ((vm->state == VM_HELLO || vm->state == VM_READY) &&
						pfds[i].fd == vm->conn.fd) {
					if ((pfds[i].revents & POLLOUT) && !vd_agent_conn_flush(&vm->conn)) {
						vm_disconnect(vm, "write error");
						break;
					}
					if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
						vm_readable(vm);
					}
				}
				break;
			}
			case SLOT_CLIENT: {
				struct client *client = slots[i].ptr;
				if (!client_alive(client)) {
					break;
				}
				if ((pfds[i].revents & POLLOUT) && !vd_agent_conn_flush(&client->conn)) {
					client_destroy(client);
					break;
				}
				if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
					client_readable(client);
				}
				break;
			}
			}
		}
		/* Flow control of program output: acknowledge what the reader has taken. */
		for (struct request *req = h.requests; req; req = req->next) {
			if (req->pending_ack == 0 || req->vm->state != VM_READY || (req->client != NULL &&
					vd_agent_conn_queued(&req->client->conn) > CLIENT_ACK_QUEUE)) {
				continue;
			}
			while (req->pending_ack > 0) {
				uint32_t n = req->pending_ack > VD_AGENT_RUN_WINDOW ?
					VD_AGENT_RUN_WINDOW : (uint32_t)req->pending_ack;
				struct vd_agent_msg ack = {.type = VD_AGENT_RUN_ACK, .id = req->id, .acked = n};
				if (!vd_agent_conn_send(&req->vm->conn, &ack)) {
					break; // retried next round; a guest not reading is dropped below
				}
				req->pending_ack -= n;
			}
		}
		/* Flush what handling queued; drop peers that do not read. */
		for (size_t i = 0; i < h.nvms; i++) {
			struct vm *vm = &h.vms[i];
			if (vm->state == VM_HELLO || vm->state == VM_READY) {
				if (!vd_agent_conn_flush(&vm->conn)) {
					vm_disconnect(vm, "write error");
				}
			}
		}
		for (int i = 0; i < h.nclients; i++) {
			struct client *client = h.clients[i];
			if (!vd_agent_conn_flush(&client->conn) ||
					vd_agent_conn_queued(&client->conn) > CLIENT_MAX_QUEUE) {
				client_destroy(client);
				i--;
			}
		}
	}
	free(pfds);
	free(slots);
}

static void load_vms(const char *user_dir, const char *system_dir) {
	const char *dirs[2];
	size_t ndirs = 0;
	if (system_dir != NULL && system_dir[0] != '\0') {
		dirs[ndirs++] = system_dir;
	}
	dirs[ndirs++] = user_dir;
	struct vd_vmconf *confs;
	size_t count = vd_vmconf_load_dirs(dirs, ndirs, &confs);
	h.vms = calloc(count ? count : 1, sizeof(*h.vms));
	if (h.vms == NULL) {
		abort();
	}
	h.nvms = count;
	for (size_t i = 0; i < count; i++) {
		struct vm *vm = &h.vms[i];
		vm->conf = confs[i];
		vm->conn.fd = -1;
		vd_backoff_init(&vm->backoff, RETRY_MIN_MS, h.retry_max_ms);
		vm->snap_tokens = SNAPSHOT_BURST;
		vm->snap_tokens_at = vd_now_ms();
		if (vm->conf.error[0] != '\0') {
			vm->state = VM_CONFIG_ERROR;
		} else if (!vm->conf.has_agent) {
			vm->state = VM_NO_AGENT;
		} else {
			vm->state = VM_WAITING;
			vm->retry_at = 0; // now
		}
		vd_log(VD_INFO, "vm=%s agent %s (%s)", vm->conf.name,
			vm->conf.has_agent ? vm->conf.agent_str : "none", vm->conf.path);
	}
	free(confs);
}

static void usage(FILE *f) {
	fprintf(f,
		"Usage: vmdesk-hostd [options]\n"
		"The vmdesk host daemon: keeps a channel to each VM's agent, serves the vmdesk\n"
		"command and puts the VMs' applications in the host menu.\n\n"
		"  --socket PATH            control socket (default $XDG_RUNTIME_DIR/vmdesk/hostd.sock)\n"
		"  --config-dir DIR         VM definitions (default $XDG_CONFIG_HOME/vmdesk/vms)\n"
		"  --system-config-dir DIR  system VM definitions (default /etc/vmdesk/vms; \"\" for none)\n"
		"  --connect-timeout-ms N   connect + handshake time limit (default 5000)\n"
		"  --retry-max-ms N         longest pause between connection attempts (default 30000)\n"
		"  --request-timeout-ms N   time for the agent to start a program (default 30000)\n"
		"  --no-menu                do not write host menu entries\n"
		"  --cli PATH               the vmdesk command written in menu entries\n"
		"  --log-level LEVEL        error, warn, info or debug (default info)\n"
		"  --help, --version\n");
}

static bool parse_ms(const char *s, int *out) {
	char *end;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || end == s || v < 1 || v > 3600000) {
		return false;
	}
	*out = (int)v;
	return true;
}

int main(int argc, char *argv[]) {
	vd_log_init("vmdesk-hostd", VD_INFO);
	static const struct option options[] = {
		{"socket", required_argument, NULL, 's'},
		{"config-dir", required_argument, NULL, 'c'},
		{"system-config-dir", required_argument, NULL, 'C'},
		{"connect-timeout-ms", required_argument, NULL, 't'},
		{"retry-max-ms", required_argument, NULL, 'r'},
		{"request-timeout-ms", required_argument, NULL, 'q'},
		{"no-menu", no_argument, NULL, 'n'},
		{"cli", required_argument, NULL, 'x'},
		{"log-level", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *socket_path = NULL, *config_dir = NULL, *cli = NULL;
	const char *system_dir = SYSCONFDIR_VMS;
	h.connect_timeout_ms = 5000;
	h.request_timeout_ms = 30000;
	int retry_max = 30000;
	h.menu_enabled = true;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'c':
			config_dir = optarg;
			break;
		case 'C':
			system_dir = optarg;
			break;
		case 't':
		case 'r':
		case 'q': {
			int *target = opt == 't' ? &h.connect_timeout_ms :
				opt == 'r' ? &retry_max : &h.request_timeout_ms;
			if (!parse_ms(optarg, target)) {
				fprintf(stderr, "vmdesk-hostd: bad time %s (milliseconds)\n", optarg);
				return 2;
			}
			break;
		}
		case 'n':
			h.menu_enabled = false;
			break;
		case 'x':
			cli = optarg;
			break;
		case 'L': {
			enum vd_log_level level;
			if (!vd_log_parse_level(optarg, &level)) {
				fprintf(stderr, "vmdesk-hostd: bad --log-level %s\n", optarg);
				return 2;
			}
			vd_log_set_level(level);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vmdesk-hostd %s\n", VD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	h.retry_max_ms = (uint32_t)retry_max;

	char buf[PATH_MAX];
	if (socket_path == NULL) {
		const char *run = getenv("XDG_RUNTIME_DIR");
		if (run == NULL || run[0] != '/') {
			fprintf(stderr, "vmdesk-hostd: XDG_RUNTIME_DIR is not set; use --socket\n");
			return 2;
		}
		snprintf(buf, sizeof(buf), "%s/vmdesk", run);
		if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "vmdesk-hostd: mkdir %s: %s\n", buf, strerror(errno));
			return 1;
		}
		snprintf(h.socket_path, sizeof(h.socket_path), "%s/vmdesk/hostd.sock", run);
	} else {
		snprintf(h.socket_path, sizeof(h.socket_path), "%s", socket_path);
	}
	char user_dir[PATH_MAX];
	if (config_dir != NULL) {
		snprintf(user_dir, sizeof(user_dir), "%s", config_dir);
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		if (xdg != NULL && xdg[0] == '/') {
			snprintf(user_dir, sizeof(user_dir), "%s/vmdesk/vms", xdg);
		} else if (home != NULL) {
			snprintf(user_dir, sizeof(user_dir), "%s/.config/vmdesk/vms", home);
		} else {
			fprintf(stderr, "vmdesk-hostd: neither XDG_CONFIG_HOME nor HOME is set\n");
			return 2;
		}
	}
	char self[PATH_MAX], cli_buf[PATH_MAX];
	if (cli == NULL) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = '\0';
			char *slash = strrchr(self, '/');
			*slash = '\0';
			if (strlen(self) + 8 > sizeof(cli_buf)) {
				self[0] = '\0';
			}
			memcpy(cli_buf, self, strlen(self));
			memcpy(cli_buf + strlen(self), "/vmdesk", 8);
			cli = cli_buf;
		}
	}
	if (h.menu_enabled && !vd_menu_init(&h.menu, cli)) {
		vd_log(VD_WARN, "no XDG_DATA_HOME/HOME: menu integration disabled");
		h.menu_enabled = false;
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	h.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (h.signal_fd < 0) {
		vd_log_errno(VD_ERROR, "signalfd");
		return 1;
	}

	load_vms(user_dir, system_dir);
	if (h.menu_enabled) {
		char **names = calloc(h.nvms + 1, sizeof(char *));
		if (names == NULL) {
			abort();
		}
		for (size_t i = 0; i < h.nvms; i++) {
			names[i] = h.vms[i].conf.name;
		}
		vd_menu_prune(&h.menu, names, h.nvms);
		free(names);
	}

	struct vd_addr addr = {.kind = VD_ADDR_UNIX};
	snprintf(addr.path, sizeof(addr.path), "%s", h.socket_path);
	char err[256];
	umask(077);
	h.listen_fd = vd_transport_listen(&addr, err, sizeof(err));
	umask(022);
	if (h.listen_fd < 0) {
		vd_log(VD_ERROR, "%s", err);
		return 1;
	}
	vd_log(VD_INFO, "listening on %s, %zu VMs", h.socket_path, h.nvms);
	run_loop();

	while (h.nclients > 0) {
		client_destroy(h.clients[0]);
	}
	while (h.requests != NULL) {
		request_destroy(h.requests);
	}
	for (size_t i = 0; i < h.nvms; i++) {
		struct vm *vm = &h.vms[i];
		if (vm->state == VM_DIALING) {
			vd_dial_finish(&vm->dial);
		} else if (vm->state == VM_HELLO || vm->state == VM_READY) {
			vd_agent_conn_finish(&vm->conn);
		}
		vm_snapshot_clear(vm);
		strv_free(vm->app_ids, vm->napps);
		strv_free(vm->app_names, vm->napps);
	}
	free(h.vms);
	close(h.listen_fd);
	unlink(h.socket_path);
	close(h.signal_fd);
	return 0;
}
