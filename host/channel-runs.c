#define LOG_TAG "channel"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/channel-private.h"
#include "protocols/link-conn.h"
#include "protocols/log.h"

/*
 * Programs run in the guest for a requester (vmdesk run, a menu click):
 * each is a vd_run with an id on the channel, answered by RUN_STARTED,
 * output within a window the requester acknowledges, and RUN_EXIT or an
 * ERROR. A run ends when its last message is delivered, when its
 * requester detaches, or when the channel goes.
 */

static void run_free(struct vd_run *run) {
	struct vd_channel *channel = run->channel;
	wl_list_remove(&run->link);
	channel_notify(channel);
	if (run->deadline != NULL) {
		wl_event_source_remove(run->deadline);
	}
	free(run);
}

/* Tells the requester; frees the run if the message ends it. */
static void run_event(struct vd_run *run, const struct vd_link_msg *msg, bool ends) {
	if (run->event != NULL) {
		run->event(run->data, msg);
	}
	if (ends) {
		run_free(run);
	}
}

static void run_error(struct vd_run *run, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void run_error(struct vd_run *run, uint32_t code, const char *fmt, ...) {
	char text[1024];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	struct vd_link_msg msg = {.type = VD_LINK_ERROR, .id = run->id};
	msg.body.error = (struct vd_link_error){.code = code, .message = text};
	run_event(run, &msg, true);
}

static struct vd_run *find_run(struct vd_channel *channel, uint32_t id) {
	struct vd_run *run;
	wl_list_for_each(run, &channel->runs, link) {
		if (run->id == id) {
			return run;
		}
	}
	return NULL;
}

void channel_fail_runs(struct vd_channel *channel, uint32_t code, const char *why) {
	struct vd_run *run, *tmp;
	wl_list_for_each_safe(run, tmp, &channel->runs, link) {
		run_error(run, code, "VM %s: %s", channel->conf.name, why);
	}
}


static void handle_ack_idle(void *data) {
	struct vd_channel *channel = data;
	channel->ack_idle = NULL; // the loop removes it
	struct vd_run *run;
	wl_list_for_each(run, &channel->runs, link) {
		if (run->ack_pending > 0) {
			struct vd_link_msg msg = {.type = VD_LINK_RUN_ACK, .id = run->id};
			msg.body.run_ack.bytes = run->ack_pending;
			run->ack_pending = 0;
			channel_send_msg(channel, &msg);
		}
	}
}

void vd_run_ack(struct vd_run *run, uint32_t bytes) {
	struct vd_channel *channel = run->channel;
	if (bytes > run->unacked) {
		bytes = (uint32_t)run->unacked;
	}
	run->unacked -= bytes;
	/* one RUN_ACK per run and loop iteration, however many chunks it covers */
	run->ack_pending += bytes;
	if (run->ack_pending > 0 && channel->ack_idle == NULL) {
		channel->ack_idle = wl_event_loop_add_idle(channel->config.loop, handle_ack_idle,
			channel);
	}
}

void vd_run_signal(struct vd_run *run, uint32_t signo) {
	if (!run->started) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_SIGNAL, .id = run->id};
	msg.body.signal.signo = signo;
	channel_send_msg(run->channel, &msg);
}

void vd_run_input(struct vd_run *run, const uint8_t *data, uint32_t len, bool eof) {
	struct vd_link_msg msg = {.type = VD_LINK_RUN_INPUT, .id = run->id};
	msg.body.run_input = (struct vd_link_run_input){.eof = eof, .data = data, .data_len = len};
	channel_send_msg(run->channel, &msg);
}

void vd_run_detach(struct vd_run *run) {
	run->event = NULL;
	if (run->wait && run->started) {
		/* like a terminal hangup: the waiting program loses its reader */
		vd_run_signal(run, VD_LINK_SIGNUM_HUP);
	}
	if (!run->wait || run->started) {
		run_free(run); // nothing more to wait for; later messages for it are ignored
	}
}

static int handle_run_deadline(void *data) {
	struct vd_run *run = data;
	run_error(run, VD_LINK_ERROR_CODE_TIMEOUT, "no answer from the agent");
	return 0;
}


struct vd_run *vd_channel_run(struct vd_channel *channel, const struct vd_link_msg *request,
		vd_run_event event, void *data, uint32_t *code, char *err, size_t err_size) {
	const char *name = channel->conf.name;
	if (channel->state != VD_CHANNEL_READY) {
		*code = VD_LINK_ERROR_CODE_NOT_CONNECTED;
		if (channel->state == VD_CHANNEL_CONFIG_ERROR) {
			snprintf(err, err_size, "VM %s: %s", name, channel->conf.error);
		} else if (channel->state == VD_CHANNEL_NO_AGENT) {
			snprintf(err, err_size, "VM %s has no agent address (%s)", name,
				channel->conf.path);
		} else if (channel->state == VD_CHANNEL_VM_STOPPED) {
			snprintf(err, err_size, "VM %s is not running (vmdesk start %s)", name, name);
		} else {
			bool retry = channel->state == VD_CHANNEL_WAITING;
			snprintf(err, err_size, "VM %s: agent not connected (%s%s%s)%s", name,
				vd_channel_state_name(channel->state), channel->last_error[0] ? ": " : "",
				channel->last_error, retry ? "; trying again now" : "");
			if (retry) {
				/* someone wants this VM: skip the rest of the pause */
				wl_event_source_timer_update(channel->retry_timer, 1);
			}
		}
		return NULL;
	}
	if (!(vd_link_conn_caps(channel->conn) & VD_LINK_CAP_RUN)) {
		*code = VD_LINK_ERROR_CODE_UNSUPPORTED;
		snprintf(err, err_size, "VM %s: the agent cannot run programs", name);
		return NULL;
	}
	if (request->type == VD_LINK_RUN_APP && channel->apps_known &&
			!channel_has_app(channel, request->body.run_app.app_id)) {
		*code = VD_LINK_ERROR_CODE_NOT_FOUND;
		snprintf(err, err_size, "VM %s has no application %s", name,
			request->body.run_app.app_id);
		return NULL;
	}
	struct vd_run *run = calloc(1, sizeof(*run));
	if (run == NULL) {
		*code = VD_LINK_ERROR_CODE_INTERNAL;
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	if (++channel->next_id == 0) {
		channel->next_id = 1;
	}
	run->channel = channel;
	run->id = channel->next_id;
	run->event = event;
	run->data = data;
	uint32_t flags = request->type == VD_LINK_RUN ? request->body.run.flags :
		request->body.run_app.flags;
	run->wait = flags & VD_LINK_RUN_FLAGS_WAIT;
	run->deadline = wl_event_loop_add_timer(channel->config.loop, handle_run_deadline, run);
	if (run->deadline != NULL) {
		wl_event_source_timer_update(run->deadline, channel->config.request_timeout_ms);
	}
	wl_list_insert(&channel->runs, &run->link);
	channel_notify(channel);
	struct vd_link_msg msg = *request;
	msg.id = run->id;
	if (!channel_send_msg(channel, &msg)) {
		/* the link fails later and fails the run with it: no event from inside this call */
		*code = VD_LINK_ERROR_CODE_LIMIT;
		snprintf(err, err_size, "VM %s: cannot queue the request", name);
		run_free(run);
		return NULL;
	}
	return run;
}

void channel_handle_run_message(struct vd_channel *channel, const struct vd_link_msg *msg) {
	struct vd_run *run = find_run(channel, msg->id);
	if (run == NULL) {
		/* a run whose requester left, or a late answer */
		vd_log(VD_DEBUG, "vm=%s: %s for unknown request %u ignored", channel->conf.name,
			vd_link_type_name(&vd_link_guest, msg->type), msg->id);
		return;
	}
	switch (msg->type) {
	case VD_LINK_RUN_STARTED:
		if (run->started) {
			vd_link_conn_fail(channel->conn, VD_LINK_ERROR_CODE_PROTOCOL,
				"protocol error: second RUN_STARTED for request %u", msg->id);
			return;
		}
		run->started = true;
		if (run->deadline != NULL) {
			wl_event_source_remove(run->deadline);
			run->deadline = NULL;
		}
		if (run->event == NULL && run->wait) {
			/* its requester went away before the program started: hang it up */
			vd_run_signal(run, VD_LINK_SIGNUM_HUP);
			run_free(run);
			return;
		}
		run_event(run, msg, !run->wait);
		return;
	case VD_LINK_RUN_OUTPUT:
	case VD_LINK_RUN_EXIT:
	case VD_LINK_RUN_INPUT_ACK:
		if (!run->wait || !run->started) {
			vd_link_conn_fail(channel->conn, VD_LINK_ERROR_CODE_PROTOCOL,
				"protocol error: %s for a request that does not expect it",
				vd_link_type_name(&vd_link_guest, msg->type));
			return;
		}
		if (msg->type == VD_LINK_RUN_OUTPUT) {
			run->unacked += msg->body.run_output.data_len;
			if (run->unacked > VD_LINK_RUN_WINDOW) {
				vd_link_conn_fail(channel->conn, VD_LINK_ERROR_CODE_PROTOCOL,
					"protocol error: output of request %u beyond its %u-byte window",
					msg->id, VD_LINK_RUN_WINDOW);
				return;
			}
		}
		run_event(run, msg, msg->type == VD_LINK_RUN_EXIT);
		return;
	case VD_LINK_ERROR:
		run_event(run, msg, true);
		return;
	default:
		return;
	}
}
