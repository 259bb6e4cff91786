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

/* ---- VM channel ---- */

void vm_snapshot_clear(struct vm *vm) {
	strv_free(vm->snap_ids, vm->snap_n);
	strv_free(vm->snap_names, vm->snap_n);
	vm->snap_ids = vm->snap_names = NULL;
	vm->snap_n = 0;
	vm->in_snapshot = false;
}

void vm_schedule_retry(struct vm *vm) {
	uint32_t delay = vd_backoff_next(&vm->backoff);
	vm->retry_at = vd_now_ms() + delay;
	vm->state = VM_WAITING;
}

/* Drops the channel: pending requests fail, a new attempt is scheduled. */
void vm_disconnect(struct vm *vm, const char *why) {
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


void vm_protocol_error(struct vm *vm, const char *fmt, ...) {
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

bool vm_send(struct vm *vm, const struct vd_agent_msg *msg) {
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

void vm_connected(struct vm *vm, int fd) {
	vd_agent_conn_init(&vm->conn, fd, VM_MAX_QUEUE);
	vm->state = VM_HELLO;
	vm->hello_deadline = vd_now_ms() + (uint64_t)h.connect_timeout_ms;
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-hostd %s", VD_VERSION);
	struct vd_agent_msg hello = {.type = VD_AGENT_HELLO, .min_version = VD_AGENT_VERSION,
		.max_version = VD_AGENT_VERSION, .caps = VD_AGENT_CAPS_KNOWN, .software = software};
	vm_send(vm, &hello);
}

void vm_dial(struct vm *vm) {
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

void vm_dial_step(struct vm *vm) {
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

void vm_handle_hello(struct vm *vm, const struct vd_agent_msg *msg) {
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

void vm_handle_app(struct vm *vm, const struct vd_agent_msg *msg) {
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

void vm_commit_apps(struct vm *vm) {
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

void vm_forward(struct vm *vm, const struct vd_agent_msg *msg) {
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
bool vm_handle(struct vm *vm, const struct vd_agent_msg *msg) {
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

void vm_readable(struct vm *vm) {
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
