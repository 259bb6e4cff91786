#define LOG_TAG "link"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/wayland/bridge.h"
#include "protocols/log.h"

/*
 * The bridge's end of the link: it listens (vsock, unix) and takes one host
 * at a time, the newest (a proxy that restarted finds its old connection
 * still open), or keeps a virtio-serial port open for good. Every link of
 * the Wayland set uses the nonce handshake (link.md): on a port a new
 * proxy shows itself by a new nonce, and resets the channels of the old one.
 */

/* What the bridge may queue for a host that does not read, before it gives up on it. */
#define MAX_QUEUE (16u << 20)
#define HIGH_WATER (256u * 1024u)
#define QUANTUM (256u * 1024u)
#define SOCKET_BUFFER (1 << 20)
#define PORT_RETRY_MS 1000

static void start_conn(struct bridge *bridge, int fd);

bool hostlink_send(struct bridge *bridge, const struct vd_link_msg *msg) {
	return bridge->conn != NULL && bridge->ready && vd_link_conn_send(bridge->conn, msg);
}

static void link_down(struct bridge *bridge, const char *why) {
	bool was_ready = bridge->ready;
	bridge->ready = false;
	vd_mux_set_conn(&bridge->mux, NULL);
	if (was_ready) {
		clients_link_gone(bridge, why);
	}
}

static void handle_ready(struct vd_link_conn *conn) {
	struct vd_link_msg msg = {.type = VD_LINK_WL_LIMITS};
	msg.body.wl_limits = (struct vd_link_wl_limits){.window = VD_BRIDGE_WINDOW,
		.pipe_window = VD_BRIDGE_PIPE_WINDOW};
	vd_link_conn_send(conn, &msg);
}

static void handle_limits(struct bridge *bridge, const struct vd_link_wl_limits *limits) {
	if (bridge->ready) {
		vd_link_conn_fail(bridge->conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: WL_LIMITS twice");
		return;
	}
	bridge->host_window = limits->window;
	bridge->host_pipe_window = limits->pipe_window;
	/* the host's other limits (channels, mirror bytes) it enforces and says so: a
	 * refused channel's CLOSE reason reaches its client */
	bridge->max_pools = limits->max_pools;
	bridge->ready = true;
	vd_mux_set_conn(&bridge->mux, bridge->conn);
	vd_log(VD_INFO, "linked to the host (%s): up to %u clients, %u shm pools each",
		vd_link_conn_peer_software(bridge->conn), limits->max_channels, limits->max_pools);
	clients_link_ready(bridge);
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct bridge *bridge = vd_link_conn_data(conn);
	switch (msg->type) {
	case VD_LINK_ERROR:
		vd_log(VD_WARN, "the host reports: %s", msg->body.error.message);
		return;
	case VD_LINK_WL_LIMITS:
		handle_limits(bridge, &msg->body.wl_limits);
		return;
	case VD_LINK_WL_PING: {
		struct vd_link_msg pong = {.type = VD_LINK_WL_PONG};
		pong.body.wl_pong.seq = msg->body.wl_ping.seq;
		vd_link_conn_send(conn, &pong);
		return;
	}
	default:
		break;
	}
	if (!bridge->ready) {
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: %s before "
			"WL_LIMITS", vd_link_type_name(&vd_link_wayland, msg->type));
		return;
	}
	clients_message(bridge, msg);
}

static void handle_drained(struct vd_link_conn *conn) {
	struct bridge *bridge = vd_link_conn_data(conn);
	vd_mux_drained(&bridge->mux);
}

static void handle_reset(struct vd_link_conn *conn) {
	struct bridge *bridge = vd_link_conn_data(conn);
	/* a new HELLO of the host, or a frame that broke the link's step (logged) */
	vd_log(VD_WARN, "the link to the host started over: its clients' channels are closed");
	link_down(bridge, "the host's proxy restarted, or the link lost step");
}

static int handle_port_retry(void *data);

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct bridge *bridge = vd_link_conn_data(conn);
	vd_log(bridge->ready ? VD_WARN : VD_INFO, "link to the host closed: %s",
		reason ? reason : "the host closed it");
	link_down(bridge, reason ? reason : "the host closed it");
	vd_link_conn_destroy(conn);
	bridge->conn = NULL;
	if (bridge->link_addr.kind == VD_ADDR_SERIAL) {
		/* the port stays ours: open it again */
		if (bridge->port_retry == NULL) {
			bridge->port_retry = wl_event_loop_add_timer(bridge->loop, handle_port_retry,
				bridge);
		}
		if (bridge->port_retry != NULL) {
			wl_event_source_timer_update(bridge->port_retry, PORT_RETRY_MS);
		}
	}
}

static const struct vd_link_conn_impl link_impl = {
	.ready = handle_ready,
	.message = handle_message,
	.drained = handle_drained,
	.reset = handle_reset,
	.closed = handle_closed,
};

static void start_conn(struct bridge *bridge, int fd) {
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-guest-wayland %s", VD_VERSION);
	struct vd_link_conn_config config = {.set = &vd_link_wayland, .role = VD_LINK_ROLE_GUEST,
		.caps = VD_LINK_WAYLAND_CAPS_ALL, .software = software, .max_queue = MAX_QUEUE,
		.carrier = VD_LINK_CARRIER_SERIAL};
	bridge->conn = vd_link_conn_create(bridge->loop, fd, &config, &link_impl, bridge);
	if (bridge->conn == NULL) {
		vd_log(VD_ERROR, "out of memory for the link");
	}
}

static int handle_port_retry(void *data) {
	struct bridge *bridge = data;
	char err[256];
	int fd = vd_transport_open_serial(&bridge->link_addr, err, sizeof(err));
	if (fd < 0) {
		vd_log(VD_ERROR, "%s", err);
		bridge->quit = true;
		bridge->failed = true;
		return 0;
	}
	start_conn(bridge, fd);
	return 0;
}

static int handle_accept(int listen_fd, uint32_t mask, void *data) {
	struct bridge *bridge = data;
	for (;;) {
		int fd = vd_transport_accept(listen_fd);
		if (fd < 0) {
			return 0;
		}
		if (bridge->conn != NULL) {
			/* the newest host wins: a proxy that restarted left its old connection */
			vd_log(VD_WARN, "a new host connection replaces the current one");
			link_down(bridge, "a new host connected");
			vd_link_conn_destroy(bridge->conn);
			bridge->conn = NULL;
		}
		int size = SOCKET_BUFFER;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		vd_log(VD_INFO, "a host connected");
		start_conn(bridge, fd);
	}
}

bool hostlink_start(struct bridge *bridge, char *err, size_t err_size) {
	vd_mux_init(&bridge->mux, bridge->loop, HIGH_WATER, QUANTUM);
	vd_addr_format(&bridge->link_addr, bridge->link_text, sizeof(bridge->link_text));
	if (bridge->link_addr.kind == VD_ADDR_SERIAL) {
		int fd = vd_transport_open_serial(&bridge->link_addr, err, err_size);
		if (fd < 0) {
			return false;
		}
		start_conn(bridge, fd);
		return bridge->conn != NULL;
	}
	if (!vd_transport_listen(&bridge->link_addr, &bridge->link_listener, err, err_size)) {
		return false;
	}
	bridge->link_source = wl_event_loop_add_fd(bridge->loop, bridge->link_listener.fd,
		WL_EVENT_READABLE, handle_accept, bridge);
	if (bridge->link_source == NULL) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	return true;
}

void hostlink_finish(struct bridge *bridge) {
	vd_link_conn_destroy(bridge->conn);
	bridge->conn = NULL;
	bridge->ready = false;
	vd_mux_finish(&bridge->mux);
	if (bridge->port_retry != NULL) {
		wl_event_source_remove(bridge->port_retry);
		bridge->port_retry = NULL;
	}
	if (bridge->link_source != NULL) {
		wl_event_source_remove(bridge->link_source);
		bridge->link_source = NULL;
	}
	vd_listener_finish(&bridge->link_listener);
}
