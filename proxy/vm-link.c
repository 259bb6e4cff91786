#define LOG_TAG "vm-link"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/clock.h"
#include "protocols/log.h"
#include "proxy/channel.h"
#include "proxy/server.h"
#include "proxy/session-private.h"
#include "proxy/vm-link.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STABLE_MS 10000
#define DIAL_TIMEOUT_MS 5000
/* The link's own queue: the channels' windows keep it far below. */
#define MAX_QUEUE (16u << 20)
/* The mux adds the pipes' data while the link's queue is below this. */
#define HIGH_WATER (256u * 1024u)
#define QUANTUM (64u * 1024u)
/* The socket's buffers: a frame or two in flight in the kernel. */
#define SOCKET_BUFFER (1 << 20)

/* ---- what link sessions may see ---- */

/*
 * The fd-carrying messages a channel carries (proxy/channel.c and the
 * guest's bridge): shm pools, keymaps and the two selections' pipes. A
 * global from which a client could reach any other fd-carrying message
 * (linux-dmabuf and the like) is hidden on link sessions: the guest's
 * applications fall back to wl_shm.
 */
static bool fd_message_carried(const struct vd_interface *interface, bool request,
		uint16_t opcode) {
	if (request) {
		return (interface == &vd_iface_wl_shm && opcode == VD_WL_SHM_REQUEST_CREATE_POOL) ||
			(interface == &vd_iface_wl_data_offer &&
				opcode == VD_WL_DATA_OFFER_REQUEST_RECEIVE) ||
			(interface == &vd_iface_zwp_primary_selection_offer_v1 &&
				opcode == VD_ZWP_PRIMARY_SELECTION_OFFER_V1_REQUEST_RECEIVE);
	}
	return (interface == &vd_iface_wl_keyboard && opcode == VD_WL_KEYBOARD_EVENT_KEYMAP) ||
		(interface == &vd_iface_wl_data_source && opcode == VD_WL_DATA_SOURCE_EVENT_SEND) ||
		(interface == &vd_iface_zwp_primary_selection_source_v1 &&
			opcode == VD_ZWP_PRIMARY_SELECTION_SOURCE_V1_EVENT_SEND);
}

static bool messages_carried(const struct vd_interface *interface, bool request,
	uint8_t *state);

/* state: 0 unknown, 1 being looked at, 2 carried, 3 not carried */
static bool interface_carried(const struct vd_interface *interface, uint8_t *state) {
	uint8_t *s = &state[interface->index];
	if (*s != 0) {
		return *s != 3; // a cycle counts as carried: its messages are checked where it began
	}
	*s = 1;
	bool ok = messages_carried(interface, true, state) &&
		messages_carried(interface, false, state);
	*s = ok ? 2 : 3;
	return ok;
}

static bool messages_carried(const struct vd_interface *interface, bool request,
		uint8_t *state) {
	uint16_t count = request ? interface->request_count : interface->event_count;
	const struct vd_message *messages = request ? interface->requests : interface->events;
	for (uint16_t i = 0; i < count; i++) {
		const struct vd_message *msg = &messages[i];
		if (msg->fd_count > 0 && !fd_message_carried(interface, request, i)) {
			return false;
		}
		for (uint8_t a = 0; a < msg->arg_count; a++) {
			const struct vd_arg *arg = &msg->args[a];
			if (arg->type == VD_ARG_NEW_ID && arg->interface != NULL &&
					!interface_carried(arg->interface, state)) {
				return false;
			}
		}
	}
	return true;
}

static uint8_t *carried; // per interface: 2 carried, 3 hidden on link sessions

static bool link_handle_global(struct vd_hook_ctx *ctx) {
	const struct vd_interface *interface = vd_interface_find(ctx->msg->args[1].str.data);
	if (interface != NULL && carried[interface->index] == 3) {
		vd_log(VD_DEBUG, "vm=%s %s: global %s hidden: it carries fds the VM link does not",
			ctx->session->server->vm, ctx->session->peer, interface->name);
		return false; // never named: binding it is an invalid global
	}
	return true;
}

static const struct vd_hook link_event_hooks[] = {
	{ &vd_iface_wl_registry, VD_WL_REGISTRY_EVENT_GLOBAL, link_handle_global },
};

static struct vd_hook_registry *link_hooks_create(void) {
	if (carried == NULL) {
		carried = calloc(vd_interface_count, 1);
		if (carried == NULL) {
			return NULL;
		}
		for (size_t i = 0; i < vd_interface_count; i++) {
			interface_carried(vd_interfaces[i], carried);
		}
	}
	struct vd_hook_registry *registry = vd_hook_registry_create();
	if (registry == NULL || !vd_hook_registry_add(registry, VD_HOOK_EVENT, link_event_hooks,
			sizeof(link_event_hooks) / sizeof(link_event_hooks[0])) ||
			!dispatch_hooks_add(registry)) {
		vd_hook_registry_destroy(registry);
		return NULL;
	}
	return registry;
}

/* ---- the link ---- */

static void schedule_retry(struct vd_vm_link *link) {
	wl_event_source_timer_update(link->retry_timer, (int)vd_backoff_next(&link->backoff));
}

/* Every channel of the link session that ended; their sessions end from the loop. */
static size_t end_channels(struct vd_vm_link *link) {
	size_t count = 0;
	struct vd_channel *channel;
	wl_list_for_each(channel, &link->channels, link_node) {
		if (!channel->link_gone) {
			vd_channel_link_gone(channel);
			count++;
		}
	}
	link->ready = false;
	link->got_hello = false;
	link->last_channel = 0;
	link->ping_sent_ms = 0;
	vd_mux_set_conn(&link->mux, NULL);
	return count;
}

static void send_limits(struct vd_vm_link *link) {
	struct vd_link_msg msg = {.type = VD_LINK_WL_LIMITS};
	msg.body.wl_limits = (struct vd_link_wl_limits){
		.window = VD_VM_LINK_WINDOW,
		.pipe_window = VD_VM_LINK_PIPE_WINDOW,
		.max_channels = link->limits.max_channels,
		.max_pools = link->limits.max_pools,
		.pool_mirror = link->limits.pool_mirror,
		.vm_mirror = link->limits.vm_mirror,
	};
	vd_link_conn_send(link->conn, &msg);
}

static void handle_ready(struct vd_link_conn *conn) {
	struct vd_vm_link *link = vd_link_conn_data(conn);
	link->got_hello = true;
	send_limits(link);
}

static void handle_limits(struct vd_vm_link *link, const struct vd_link_wl_limits *limits) {
	if (link->ready) {
		vd_link_conn_fail(link->conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: WL_LIMITS twice");
		return;
	}
	link->peer_window = limits->window;
	link->peer_pipe_window = limits->pipe_window;
	link->ready = true;
	vd_mux_set_conn(&link->mux, link->conn);
	vd_backoff_connected(&link->backoff, vd_now_ms());
	link->warned = false;
	vd_log(VD_INFO, "vm=%s: linked to the guest at %s (%s)", link->server->vm,
		link->addr_text, vd_link_conn_peer_software(link->conn));
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct vd_vm_link *link = vd_link_conn_data(conn);
	switch (msg->type) {
	case VD_LINK_ERROR:
		vd_log(VD_WARN, "vm=%s: the guest at %s reports: %s", link->server->vm,
			link->addr_text, msg->body.error.message);
		return;
	case VD_LINK_WL_LIMITS:
		handle_limits(link, &msg->body.wl_limits);
		return;
	case VD_LINK_WL_PONG:
		if (msg->body.wl_pong.seq == link->ping_seq) {
			link->ping_sent_ms = 0;
		}
		return;
	default:
		break;
	}
	if (!link->ready) {
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: %s before "
			"WL_LIMITS", vd_link_type_name(&vd_link_wayland, msg->type));
		return;
	}
	if (msg->id == 0) {
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: %s without a "
			"channel", vd_link_type_name(&vd_link_wayland, msg->type));
		return;
	}
	if (msg->type == VD_LINK_WL_OPEN) {
		if (msg->id <= link->last_channel) {
			vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: channel "
				"%u opened after %u (numbers only grow)", msg->id, link->last_channel);
			return;
		}
		link->last_channel = msg->id;
		vd_channel_open(link, msg->id);
		return;
	}
	struct vd_channel *channel = vd_channel_find(link, msg->id);
	if (channel == NULL) {
		if (msg->id > link->last_channel) {
			vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: %s for "
				"channel %u, never opened", vd_link_type_name(&vd_link_wayland, msg->type),
				msg->id);
		}
		return; // a channel that ended: what crossed its end is dropped
	}
	vd_channel_message(channel, msg);
}

static uint8_t *handle_bulk_target(struct vd_link_conn *conn, const struct vd_link_msg *head) {
	struct vd_vm_link *link = vd_link_conn_data(conn);
	struct vd_channel *channel = link->ready ? vd_channel_find(link, head->id) : NULL;
	return channel != NULL ? vd_channel_bulk_target(channel, head) : NULL;
}

static void handle_drained(struct vd_link_conn *conn) {
	struct vd_vm_link *link = vd_link_conn_data(conn);
	vd_mux_drained(&link->mux);
}

static void handle_reset(struct vd_link_conn *conn) {
	struct vd_vm_link *link = vd_link_conn_data(conn);
	size_t count = end_channels(link);
	vd_log(VD_WARN, "vm=%s: the guest's bridge at %s started over: %zu client%s of the old "
		"one closed", link->server->vm, link->addr_text, count, count == 1 ? "" : "s");
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct vd_vm_link *link = vd_link_conn_data(conn);
	bool was_ready = link->ready;
	size_t count = end_channels(link);
	vd_backoff_disconnected(&link->backoff, vd_now_ms());
	uint32_t delay = vd_backoff_next(&link->backoff);
	wl_event_source_timer_update(link->retry_timer, (int)delay);
	/* reason lives in conn: logged before it goes */
	vd_log(was_ready ? VD_WARN : VD_INFO, "vm=%s: link to the guest at %s %s: %s; %zu "
		"client%s closed; dialling again in %u ms", link->server->vm, link->addr_text,
		was_ready ? "lost" : "failed", reason ? reason : "the guest closed it", count,
		count == 1 ? "" : "s", delay);
	vd_link_conn_destroy(conn);
	link->conn = NULL;
}

static const struct vd_link_conn_impl link_impl = {
	.ready = handle_ready,
	.message = handle_message,
	.drained = handle_drained,
	.reset = handle_reset,
	.closed = handle_closed,
	.bulk_target = handle_bulk_target,
};

static void handle_dialed(void *data, int fd, const char *err) {
	struct vd_vm_link *link = data;
	link->dialer = NULL;
	if (fd < 0) {
		vd_log(link->warned ? VD_DEBUG : VD_INFO, "vm=%s: no guest at %s (%s); dialling "
			"again with a backoff", link->server->vm, link->addr_text, err);
		link->warned = true;
		schedule_retry(link);
		return;
	}
	int size = SOCKET_BUFFER;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-proxy %s", VD_VERSION);
	/*
	 * The nonce handshake on every carrier: behind a Unix socket may be a
	 * QEMU virtio-serial chardev, whose guest can restart unseen.
	 */
	struct vd_link_conn_config config = {.set = &vd_link_wayland, .role = VD_LINK_ROLE_HOST,
		.caps = VD_LINK_WAYLAND_CAPS_ALL, .software = software, .max_queue = MAX_QUEUE,
		.carrier = VD_LINK_CARRIER_SERIAL};
	link->conn = vd_link_conn_create(link->server->loop, fd, &config, &link_impl, link);
	if (link->conn == NULL) {
		schedule_retry(link);
	}
}

static int handle_retry(void *data) {
	struct vd_vm_link *link = data;
	if (link->conn != NULL || link->dialer != NULL) {
		return 0;
	}
	link->dialer = vd_dial(link->server->loop, &link->addr, DIAL_TIMEOUT_MS, handle_dialed,
		link);
	if (link->dialer == NULL) {
		schedule_retry(link);
	}
	return 0;
}

static int handle_ping(void *data) {
	struct vd_vm_link *link = data;
	uint32_t timeout = link->limits.timeout_ms;
	uint32_t period = timeout / 3 > 0 ? timeout / 3 : 1;
	wl_event_source_timer_update(link->ping_timer, (int)period);
	if (link->conn == NULL || !link->got_hello || vd_link_conn_closing(link->conn)) {
		return 0;
	}
	uint64_t now = vd_now_ms();
	if (link->ping_sent_ms != 0) {
		uint64_t waited = now - link->ping_sent_ms;
		if (waited >= timeout) {
			vd_link_conn_fail(link->conn, VD_LINK_ERROR_CODE_TIMEOUT, "no answer to a ping "
				"for %u ms (the guest does not read)", timeout);
		} else if (timeout - waited < period) {
			/* the deadline itself, not the next period after it */
			wl_event_source_timer_update(link->ping_timer, (int)(timeout - waited));
		}
		return 0;
	}
	struct vd_link_msg msg = {.type = VD_LINK_WL_PING};
	msg.body.wl_ping.seq = ++link->ping_seq;
	link->ping_sent_ms = now;
	vd_link_conn_send(link->conn, &msg);
	return 0;
}

struct vd_vm_link *vd_vm_link_create(struct vd_server *server, const struct vd_addr *addr,
		const struct vd_vm_link_limits *limits) {
	struct vd_vm_link *link = calloc(1, sizeof(*link));
	if (link == NULL) {
		return NULL;
	}
	link->server = server;
	link->addr = *addr;
	vd_addr_format(addr, link->addr_text, sizeof(link->addr_text));
	link->limits = *limits;
	wl_list_init(&link->channels);
	vd_backoff_init(&link->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, STABLE_MS);
	vd_mux_init(&link->mux, server->loop, HIGH_WATER, QUANTUM);
	link->hooks = link_hooks_create();
	link->retry_timer = wl_event_loop_add_timer(server->loop, handle_retry, link);
	link->ping_timer = wl_event_loop_add_timer(server->loop, handle_ping, link);
	if (link->hooks == NULL || link->retry_timer == NULL || link->ping_timer == NULL) {
		vd_vm_link_destroy(link);
		return NULL;
	}
	wl_event_source_timer_update(link->retry_timer, 1); // now, from the loop
	uint32_t period = limits->timeout_ms / 3;
	wl_event_source_timer_update(link->ping_timer, (int)(period > 0 ? period : 1));
	vd_log(VD_INFO, "vm=%s: the guest's Wayland bridge is at %s", server->vm, link->addr_text);
	return link;
}

void vd_vm_link_destroy(struct vd_vm_link *link) {
	if (link == NULL) {
		return;
	}
	/* the sessions go first: their channels point here */
	struct vd_channel *channel, *tmp;
	wl_list_for_each_safe(channel, tmp, &link->channels, link_node) {
		channel->link_gone = true;
		vd_session_destroy(channel->session);
	}
	vd_dialer_cancel(link->dialer);
	vd_link_conn_destroy(link->conn);
	vd_mux_finish(&link->mux);
	if (link->retry_timer != NULL) {
		wl_event_source_remove(link->retry_timer);
	}
	if (link->ping_timer != NULL) {
		wl_event_source_remove(link->ping_timer);
	}
	vd_hook_registry_destroy(link->hooks);
	free(link);
}
