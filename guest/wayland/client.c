#define LOG_TAG "client"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/wayland/client.h"
#include "guest/wayland/shm.h"
#include "protocols/log.h"

/* Requests read per wakeup, as a compositor reads them. */
#define READ_SIZE 16384
/* Events queued toward a client before the channel takes no more from the host. */
#define CLIENT_OUT_MAX (1u << 20)
#define MAX_FDS 256
#define MAX_WAITING 64

static void client_ready(struct vd_endpoint *endpoint, uint32_t mask, void *data);
bool client_produce(struct vd_mux_source *source, struct vd_link_conn *conn, size_t budget);

static const char *client_name(const struct client *client, char *buf, size_t size) {
	if (client->sock != NULL && client->sock->pid > 0) {
		snprintf(buf, size, "pid=%d channel=%u", (int)client->sock->pid, client->channel);
	} else {
		snprintf(buf, size, "channel=%u", client->channel);
	}
	return buf;
}

/* ---- lifetime ---- */

void client_free_item(struct client *client, struct item *item) {
	wl_list_remove(&item->link);
	if (item->kind == ITEM_JOB) {
		uint64_t examined, sent;
		job_stats(item->job, &examined, &sent);
		client->stats.commits++;
		client->stats.examined += examined;
		client->stats.sent += sent;
		job_free(item->job);
	} else if (item->kind == ITEM_DISCARD || item->kind == ITEM_COPY) {
		pool_unref(item->pool);
		pool_unref(item->src);
	}
	free(item);
}

void client_destroy(struct client *client) {
	if (client == NULL) {
		return;
	}
	struct bridge *bridge = client->bridge;
	char name[64];
	vd_log(VD_DEBUG, "%s: closed: %llu bytes of requests, %llu commits with %llu bytes "
		"compared or copied and %llu sent", client_name(client, name, sizeof(name)),
		(unsigned long long)client->stats.wayland, (unsigned long long)client->stats.commits,
		(unsigned long long)client->stats.examined, (unsigned long long)client->stats.sent);
	client->gone = true; // the objects' addons queue nothing any more
	wl_list_remove(&client->link);
	bridge->client_count--;
	if (client->channel == 0) {
		bridge->waiting--;
	}
	vd_mux_remove(&client->mux);
	vd_tracker_finish(&client->tracker);
	shm_flush_discards(client); // (nothing is queued: the client is gone)
	free(client->freed);
	struct item *item, *tmp;
	wl_list_for_each_safe(item, tmp, &client->items, link) {
		client_free_item(client, item);
	}
	if (client->channel != 0) {
		vd_link_pipes_finish(&client->pipes);
		vd_channel_in_finish(&client->in);
	}
	vd_connection_finish(&client->events);
	vd_endpoint_destroy(client->sock);
	if (client->wait_timer != NULL) {
		wl_event_source_remove(client->wait_timer);
	}
	if (client->reaper != NULL) {
		wl_event_source_remove(client->reaper);
	}
	free(client->out_bytes);
	free(client);
}

static void handle_reap(void *data) {
	struct client *client = data;
	client->reaper = NULL; // the loop removes it
	if (client->sock != NULL) {
		vd_endpoint_flush(client->sock); // best effort: the error, if any
	}
	client_destroy(client);
}

/* Destroyed from the loop, never inside the hooks or the link's turns that found it. */
void client_schedule_reap(struct client *client) {
	if (client->reaper == NULL) {
		client->reaper = wl_event_loop_add_idle(client->bridge->loop, handle_reap, client);
	}
}

static void send_display_error(struct client *client, uint32_t object, uint32_t code,
		const char *text) {
	uint8_t buf[VD_WIRE_MAX_MESSAGE_SIZE];
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_ERROR);
	vd_wire_writer_put_u32(&writer, object);
	vd_wire_writer_put_u32(&writer, code);
	vd_wire_writer_put_string(&writer, text);
	if (client->sock != NULL && vd_wire_writer_finish(&writer)) {
		vd_connection_queue(&client->sock->conn, buf, writer.size, NULL, 0);
	}
}

static void send_close(struct client *client, const char *reason) {
	struct vd_link_msg msg = {.type = VD_LINK_WL_CLOSE, .id = client->channel};
	msg.body.wl_close.reason = reason;
	if (client->channel != 0) {
		hostlink_send(client->bridge, &msg);
	}
}

void client_fail(struct client *client, uint32_t object, uint32_t code, const char *fmt, ...) {
	if (client->failed) {
		return;
	}
	client->failed = true;
	va_list args;
	va_start(args, fmt);
	vsnprintf(client->error, sizeof(client->error), fmt, args);
	va_end(args);
	char name[64];
	vd_log(VD_WARN, "%s: error: %s", client_name(client, name, sizeof(name)), client->error);
	send_display_error(client, object, code, client->error);
	if (!client->gone && !client->host_closed) {
		send_close(client, client->error);
	}
	client->host_closed = true; // nothing more is sent for it
	vd_mux_remove(&client->mux);
	client_schedule_reap(client);
}

/* The client closed its socket: what it sent before still goes, then WL_CLOSE. */
static void client_gone(struct client *client) {
	if (client->gone) {
		return;
	}
	client->gone = true;
	client->reading = false;
	if (client->channel == 0 || client->host_closed || client->failed) {
		client_schedule_reap(client);
		return;
	}
	struct item *item = calloc(1, sizeof(*item));
	if (item == NULL) {
		send_close(client, "closed");
		client_schedule_reap(client);
		return;
	}
	item->kind = ITEM_CLOSE;
	wl_list_insert(client->items.prev, &item->link);
	vd_mux_wake(&client->mux);
}

/* ---- requests ---- */

/* An fd in a request (other than a pool's) crosses as a pipe. */
static bool carry_fd(struct client *client, int fd) {
	struct stat st;
	if (fstat(fd, &st) != 0 || (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))) {
		close(fd);
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
			"vmdesk-guest-wayland: this kind of file descriptor cannot cross to the host");
		return false;
	}
	struct vd_link_msg msg;
	char err[256];
	if (!vd_link_pipes_add_local(&client->pipes, fd, &msg, err, sizeof(err))) {
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY, "%s", err);
		return false;
	}
	client_queue_msg(client, &msg);
	return true;
}

static void send_delete_id(struct client *client, uint32_t id) {
	uint8_t buf[12];
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_DELETE_ID);
	vd_wire_writer_put_u32(&writer, id);
	vd_wire_writer_finish(&writer);
	vd_connection_queue(&client->sock->conn, buf, writer.size, NULL, 0);
}

static void read_requests(struct client *client) {
	struct vd_connection *conn = &client->sock->conn;
	switch (vd_endpoint_read(client->sock, READ_SIZE)) {
	case VD_IO_OK:
		break;
	case VD_IO_AGAIN:
		return;
	case VD_IO_TOO_MANY_FDS:
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"too many file descriptors in flight");
		return;
	default:
		client_gone(client);
		return;
	}
	struct vd_tracked out;
	while (!client->failed) {
		enum vd_track_result result = vd_tracker_request(&client->tracker, conn, &out);
		if (result == VD_TRACK_MORE) {
			break;
		}
		if (result == VD_TRACK_ERROR) {
			client_fail(client, out.error_object, out.error.code, "%s", out.error.text);
			break;
		}
		bool ok = !client->failed;
		for (uint32_t i = 0; i < out.msg.fd_count; i++) {
			if (out.fds[i] < 0) {
				continue; // kept by a hook (a pool)
			}
			if (!ok || out.drop) {
				close(out.fds[i]);
			} else {
				ok = carry_fd(client, out.fds[i]);
			}
		}
		if (ok && !out.drop) {
			client_queue_bytes(client, out.data, out.header.size);
		}
		if (out.delete_id != 0) {
			send_delete_id(client, out.delete_id);
		}
		vd_tracker_done(&client->tracker, conn, &out);
	}
	if (!client->failed && conn->drained && vd_connection_in_size(conn) == 0 &&
			vd_connection_in_fd_count(conn) > 0) {
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_INVALID_METHOD,
			"%zu file descriptors sent without a message to carry them",
			vd_connection_in_fd_count(conn));
	}
	shm_flush_discards(client);
	if (client->queued >= QUEUE_HIGH) {
		client->reading = false; // it waits in its own sendmsg until the link took some
	}
}

/* ---- events ---- */

static void deliver_events(struct client *client) {
	if (client->sock == NULL || client->failed) {
		return;
	}
	struct vd_connection *out = &client->sock->conn;
	while (vd_connection_out_size(out) < CLIENT_OUT_MAX && !client->failed) {
		bool too_many_fds;
		size_t moved = vd_channel_in_take(&client->in, &client->events, VD_CONNECTION_IN_SIZE,
			&too_many_fds);
		if (too_many_fds) {
			client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
				"vmdesk-guest-wayland: too many file descriptors from the host");
			return;
		}
		struct vd_tracked ev;
		for (;;) {
			enum vd_track_result result = vd_tracker_event(&client->tracker, &client->events,
				&ev);
			if (result == VD_TRACK_MORE) {
				break;
			}
			if (result == VD_TRACK_ERROR) {
				client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
					"vmdesk-guest-wayland: the host sent a malformed event: %s",
					ev.error.text);
				return;
			}
			if (ev.drop) {
				for (uint32_t i = 0; i < ev.msg.fd_count; i++) {
					if (ev.fds[i] >= 0) {
						close(ev.fds[i]);
					}
				}
			} else if (!vd_connection_queue(out, ev.data, ev.header.size, ev.fds,
					ev.msg.fd_count)) {
				vd_tracker_done(&client->tracker, &client->events, &ev);
				client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
					"the client does not read its events");
				return;
			}
			vd_tracker_done(&client->tracker, &client->events, &ev);
		}
		if (moved == 0) {
			break;
		}
	}
	uint32_t ack = vd_channel_in_ack(&client->in, false);
	if (ack > 0) {
		struct vd_link_msg msg = {.type = VD_LINK_WL_ACK, .id = client->channel};
		msg.body.wl_ack.bytes = ack;
		hostlink_send(client->bridge, &msg);
	}
	if (vd_endpoint_flush(client->sock) == VD_IO_ERROR) {
		client_gone(client);
		return;
	}
	if (client->host_closed && vd_channel_in_size(&client->in) == 0 &&
			vd_connection_in_size(&client->events) == 0) {
		client_schedule_reap(client); // the host ended it: after its last events
	}
	client_update_watch(client);
}

static void client_ready(struct vd_endpoint *endpoint, uint32_t mask, void *data) {
	struct client *client = data;
	if (client->failed || client->gone) {
		return;
	}
	if ((mask & WL_EVENT_READABLE) && client->reading) {
		read_requests(client);
	} else if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		client_gone(client);
	}
	if (client->sock == NULL || client->gone || client->failed) {
		return;
	}
	if (client->channel != 0) {
		deliver_events(client); // room freed by a write, or flushes what a hook queued
	} else if (vd_endpoint_flush(client->sock) == VD_IO_ERROR) {
		client_gone(client);
		return;
	}
	client_update_watch(client);
}

/* ---- channels ---- */

static void open_channel(struct client *client) {
	struct bridge *bridge = client->bridge;
	if (client->wait_timer != NULL) {
		wl_event_source_remove(client->wait_timer);
		client->wait_timer = NULL;
	}
	if (!vd_channel_in_init(&client->in, VD_BRIDGE_WINDOW, MAX_FDS)) {
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return;
	}
	client->channel = ++bridge->next_channel;
	bridge->waiting--;
	vd_link_pipes_init(&client->pipes, &bridge->mux, bridge->loop, client->channel, false,
		VD_BRIDGE_PIPE_WINDOW, bridge->host_pipe_window, VD_BRIDGE_MAX_PIPES);
	client->credit = bridge->host_window;
	struct vd_link_msg msg = {.type = VD_LINK_WL_OPEN, .id = client->channel};
	hostlink_send(bridge, &msg);
	client->reading = true;
	if (!wl_list_empty(&client->items)) {
		vd_mux_wake(&client->mux);
	}
	client_update_watch(client);
}

static int handle_wait_timeout(void *data) {
	struct client *client = data;
	client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
		"vmdesk-guest-wayland: no link to the host: vmdesk-proxy did not connect "
		"within %u ms", client->bridge->wait_ms);
	return 0;
}

void client_create(struct bridge *bridge, int fd) {
	struct client *client = calloc(1, sizeof(*client));
	if (client == NULL || !vd_tracker_init(&client->tracker, bridge->hooks,
			VD_BRIDGE_MAX_OBJECTS)) {
		vd_log(VD_ERROR, "out of memory for a new client");
		free(client);
		close(fd);
		return;
	}
	client->bridge = bridge;
	wl_list_init(&client->items);
	wl_list_insert(bridge->clients.prev, &client->link);
	bridge->client_count++;
	bridge->waiting++;
	vd_mux_source_init(&client->mux, &bridge->mux, client_produce);
	client->sock = vd_socket_endpoint_create(bridge->loop, fd);
	if (client->sock == NULL || !vd_endpoint_attach(client->sock, MAX_FDS,
			2 * CLIENT_OUT_MAX + VD_CONNECTION_IN_SIZE, client_ready, client) ||
			!vd_connection_init(&client->events, MAX_FDS, 0)) {
		vd_log(VD_ERROR, "out of memory for a new client");
		client_destroy(client);
		return;
	}
	client->tracker.data = client;
	char name[64];
	vd_log(VD_DEBUG, "%s: connected", client_name(client, name, sizeof(name)));
	if (bridge->client_count > bridge->max_clients) {
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
			"vmdesk-guest-wayland: too many clients (%u)", bridge->max_clients);
		return;
	}
	if (bridge->ready) {
		open_channel(client);
		return;
	}
	/* no link yet: the client waits (unread, blocked in its first round trip) */
	if (bridge->waiting > MAX_WAITING) {
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
			"vmdesk-guest-wayland: no link to the host, and %d clients wait already",
			MAX_WAITING);
		return;
	}
	vd_endpoint_watch(client->sock, 0);
	client->wait_timer = wl_event_loop_add_timer(bridge->loop, handle_wait_timeout, client);
	if (client->wait_timer != NULL) {
		wl_event_source_timer_update(client->wait_timer, (int)bridge->wait_ms);
	}
}

void clients_link_ready(struct bridge *bridge) {
	struct client *client, *tmp;
	wl_list_for_each_safe(client, tmp, &bridge->clients, link) {
		if (client->channel == 0 && !client->failed && !client->gone) {
			open_channel(client);
		}
	}
}

void clients_link_gone(struct bridge *bridge, const char *why) {
	struct client *client, *tmp;
	wl_list_for_each_safe(client, tmp, &bridge->clients, link) {
		if (client->channel != 0) {
			client->host_closed = true; // no WL_CLOSE on a link that is gone
			client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
				"vmdesk-guest-wayland: the link to the host was lost (%s)", why);
		}
	}
}

static struct client *find_client(struct bridge *bridge, uint32_t channel) {
	struct client *client;
	wl_list_for_each_reverse(client, &bridge->clients, link) {
		if (client->channel == channel) {
			return client;
		}
	}
	return NULL;
}

/* A sealed memfd with a file's contents (a keymap), for the next event. */
static int make_file(const uint8_t *data, size_t size) {
	int fd = memfd_create("vmdesk-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		return -1;
	}
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
}

void clients_message(struct bridge *bridge, const struct vd_link_msg *msg) {
	struct client *client = find_client(bridge, msg->id);
	if (client == NULL) {
		if (msg->id == 0 || msg->id > bridge->next_channel) {
			vd_link_conn_fail(bridge->conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: %s "
				"for channel %u, never opened", vd_link_type_name(&vd_link_wayland, msg->type),
				msg->id);
		}
		return; // a channel that ended: late messages are dropped
	}
	if (client->failed || client->host_closed) {
		return;
	}
	char err[256];
	int fd;
	switch (msg->type) {
	case VD_LINK_WL_DATA:
		if (!vd_channel_in_push(&client->in, msg->body.wl_data.data,
				msg->body.wl_data.data_len)) {
			vd_link_conn_fail(bridge->conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: "
				"channel %u: data past the window", msg->id);
			return;
		}
		deliver_events(client);
		return;
	case VD_LINK_WL_ACK:
		if ((uint64_t)client->credit + msg->body.wl_ack.bytes > bridge->host_window) {
			vd_link_conn_fail(bridge->conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: "
				"channel %u: acknowledgement of bytes never sent", msg->id);
			return;
		}
		client->credit += msg->body.wl_ack.bytes;
		vd_mux_wake(&client->mux);
		return;
	case VD_LINK_WL_CLOSE: {
		char name[64];
		vd_log(VD_INFO, "%s: closed by the host: %s", client_name(client, name, sizeof(name)),
			msg->body.wl_close.reason);
		client->host_closed = true;
		vd_mux_remove(&client->mux);
		deliver_events(client);
		return;
	}
	case VD_LINK_WL_FILE:
		fd = make_file(msg->body.wl_file.contents, msg->body.wl_file.contents_len);
		if (fd < 0 || !vd_channel_in_push_fd(&client->in, fd)) {
			if (fd >= 0) {
				close(fd);
			}
			client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
				"vmdesk-guest-wayland: cannot pass on a file from the host");
		}
		return;
	case VD_LINK_WL_PIPE:
		if (!vd_link_pipes_add_remote(&client->pipes, &msg->body.wl_pipe, &fd, err,
				sizeof(err))) {
			vd_link_conn_fail(bridge->conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: "
				"channel %u: %s", msg->id, err);
		} else if (!vd_channel_in_push_fd(&client->in, fd)) {
			close(fd);
			client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
				"vmdesk-guest-wayland: too many file descriptors from the host");
		}
		return;
	case VD_LINK_WL_PIPE_DATA:
	case VD_LINK_WL_PIPE_ACK:
	case VD_LINK_WL_PIPE_CLOSE:
		if (!vd_link_pipes_message(&client->pipes, msg, err, sizeof(err))) {
			vd_link_conn_fail(bridge->conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: "
				"channel %u: %s", msg->id, err);
		}
		return;
	default:
		vd_link_conn_fail(bridge->conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: "
			"unexpected %s", vd_link_type_name(&vd_link_wayland, msg->type));
		return;
	}
}

struct vd_hook_registry *client_hooks_create(void) {
	struct vd_hook_registry *registry = vd_hook_registry_create();
	if (registry == NULL || !shm_hooks_add(registry) || !surface_hooks_add(registry)) {
		vd_hook_registry_destroy(registry);
		return NULL;
	}
	return registry;
}
