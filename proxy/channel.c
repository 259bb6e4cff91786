#define LOG_TAG "channel"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocols/log.h"
#include "protocols/wire.h"
#include "proxy/channel.h"
#include "proxy/mirror.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/vm-link.h"

static struct vd_channel *channel_from(struct vd_endpoint *endpoint) {
	struct vd_channel *channel = wl_container_of(endpoint, channel, base);
	return channel;
}

static bool link_up(const struct vd_channel *channel) {
	return !channel->link_gone && channel->link->conn != NULL && channel->link->ready;
}

static bool send_msg(struct vd_channel *channel, struct vd_link_msg *msg) {
	msg->id = channel->id;
	return link_up(channel) && vd_link_conn_send(channel->link->conn, msg);
}

/* ---- telling the session ---- */

static uint32_t pending_events(const struct vd_channel *channel) {
	uint32_t events = 0;
	bool over = channel->guest_closed || channel->link_gone;
	if (vd_channel_in_size(&channel->in) > 0 || over) {
		events |= WL_EVENT_READABLE;
	}
	if (channel->credit > 0 && link_up(channel)) {
		events |= WL_EVENT_WRITABLE;
	}
	return events;
}

static void handle_kick(void *data) {
	struct vd_channel *channel = data;
	channel->kick = NULL; // the loop removes it
	uint32_t events = pending_events(channel) & channel->base.mask;
	if (!(channel->base.mask & WL_EVENT_READABLE) &&
			(channel->link_gone || channel->guest_closed)) {
		events |= WL_EVENT_HANGUP; // a paused session ends too
	}
	if (events != 0) {
		/* may destroy the channel: nothing of it after this */
		vd_endpoint_notify(&channel->base, events);
	}
}

/* The session hears of what is pending soon, from the loop (like a level-triggered fd). */
static void kick(struct vd_channel *channel) {
	if (channel->kick == NULL && channel->base.ready != NULL) {
		channel->kick = wl_event_loop_add_idle(channel->link->server->loop, handle_kick,
			channel);
	}
}

/*
 * A protocol error of the guest on this channel: its client gets
 * wl_display.error and the session ends (logged by the session).
 */
static void channel_fail(struct vd_channel *channel, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void channel_fail(struct vd_channel *channel, const char *fmt, ...) {
	if (channel->failed) {
		return;
	}
	channel->failed = true;
	char text[400];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	if (channel->session != NULL) {
		vd_session_client_error(channel->session, VD_DISPLAY_ID,
			VD_WL_DISPLAY_ERROR_IMPLEMENTATION, "vmdesk-proxy: the VM's link: %s", text);
		vd_session_schedule_flush(channel->session);
	}
}

/* ---- the endpoint ---- */

static enum vd_io_result channel_read(struct vd_endpoint *endpoint, size_t max) {
	struct vd_channel *channel = channel_from(endpoint);
	bool too_many_fds;
	size_t moved = vd_channel_in_take(&channel->in, &endpoint->conn, max, &too_many_fds);
	uint32_t ack = vd_channel_in_ack(&channel->in, false);
	if (ack > 0) {
		struct vd_link_msg msg = {.type = VD_LINK_WL_ACK};
		msg.body.wl_ack.bytes = ack;
		send_msg(channel, &msg);
	}
	endpoint->conn.drained = vd_channel_in_size(&channel->in) == 0;
	if (!endpoint->conn.drained) {
		kick(channel); // more is there: as a socket would stay readable
	}
	if (too_many_fds) {
		return VD_IO_TOO_MANY_FDS;
	}
	if (moved > 0) {
		return VD_IO_OK;
	}
	return channel->guest_closed || channel->link_gone ? VD_IO_CLOSED : VD_IO_AGAIN;
}

/* An fd in an event becomes a link object, sent before the event's bytes. */
static bool send_fd(struct vd_channel *channel, int fd, char *err, size_t err_size) {
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, err_size, "cannot look at an fd: %s", strerror(errno));
		return false;
	}
	struct vd_link_msg msg = {0};
	if (S_ISREG(st.st_mode)) {
		/* a keymap: its contents, to become a memfd in the guest */
		if (st.st_size > VD_LINK_WL_MAX_FILE) {
			snprintf(err, err_size, "a file of %lld bytes is more than the link carries "
				"(%u)", (long long)st.st_size, VD_LINK_WL_MAX_FILE);
			return false;
		}
		size_t size = (size_t)st.st_size;
		uint8_t *contents = malloc(size ? size : 1);
		if (contents == NULL) {
			snprintf(err, err_size, "out of memory");
			return false;
		}
		size_t done = 0;
		while (done < size) {
			ssize_t n = pread(fd, contents + done, size - done, (off_t)done);
			if (n <= 0) {
				break;
			}
			done += (size_t)n;
		}
		msg.type = VD_LINK_WL_FILE;
		msg.body.wl_file = (struct vd_link_wl_file){.contents = contents,
			.contents_len = (uint32_t)done};
		bool ok = send_msg(channel, &msg);
		free(contents);
		if (!ok) {
			snprintf(err, err_size, "the link is gone");
		}
		return ok;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
		snprintf(err, err_size, "an fd of mode 0%o cannot cross the VM link",
			(unsigned)st.st_mode & S_IFMT);
		return false;
	}
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (copy < 0) {
		snprintf(err, err_size, "cannot keep a pipe: %s", strerror(errno));
		return false;
	}
	if (!vd_link_pipes_add_local(&channel->pipes, copy, &msg, err, err_size)) {
		return false;
	}
	if (!send_msg(channel, &msg)) {
		snprintf(err, err_size, "the link is gone");
		return false;
	}
	return true;
}

static enum vd_io_result channel_flush(struct vd_endpoint *endpoint) {
	struct vd_channel *channel = channel_from(endpoint);
	struct vd_connection *conn = &endpoint->conn;
	if (!link_up(channel) || channel->guest_closed) {
		errno = EPIPE;
		return VD_IO_ERROR;
	}
	while (vd_connection_out_size(conn) > 0) {
		while (conn->out_fd_count > 0 &&
				conn->out_fds[conn->out_fd_start].offset <= conn->out_start) {
			char err[256];
			if (!send_fd(channel, conn->out_fds[conn->out_fd_start].fd, err, sizeof(err))) {
				vd_log(VD_WARN, "vm=%s channel=%u: %s", channel->link->server->vm,
					channel->id, err);
				errno = EPROTO;
				return VD_IO_ERROR;
			}
			vd_connection_out_sent(conn, 0, 1); // closes our copy
		}
		size_t n = vd_connection_out_size(conn);
		if (conn->out_fd_count > 0) {
			size_t next = conn->out_fds[conn->out_fd_start].offset - conn->out_start;
			n = next < n ? next : n;
		}
		n = n < channel->credit ? n : channel->credit;
		n = n < VD_LINK_WL_MAX_DATA ? n : VD_LINK_WL_MAX_DATA;
		if (n == 0) {
			break; // the guest's window is full: WL_ACK brings more
		}
		struct vd_link_msg msg = {.type = VD_LINK_WL_DATA};
		msg.body.wl_data = (struct vd_link_wl_data){.data = conn->out + conn->out_start,
			.data_len = (uint32_t)n};
		if (!send_msg(channel, &msg)) {
			errno = EPIPE;
			return VD_IO_ERROR;
		}
		channel->credit -= (uint32_t)n;
		vd_connection_out_sent(conn, n, 0);
	}
	return vd_connection_out_size(conn) > 0 ? VD_IO_AGAIN : VD_IO_OK;
}

static bool channel_watch(struct vd_endpoint *endpoint, uint32_t mask) {
	struct vd_channel *channel = channel_from(endpoint);
	if (pending_events(channel) & mask) {
		kick(channel);
	}
	return true;
}

static void free_pool(struct vd_channel *channel, struct vd_mirror *mirror) {
	channel->mirror_bytes -= mirror->bytes;
	channel->link->mirror_bytes -= mirror->bytes;
	channel->pool_count--;
	vd_mirror_destroy(mirror);
}

static void channel_destroy(struct vd_endpoint *endpoint) {
	struct vd_channel *channel = channel_from(endpoint);
	struct vd_vm_link *link = channel->link;
	if (!channel->guest_closed && link_up(channel)) {
		const char *reason = channel->session != NULL && channel->session->error[0] ?
			channel->session->error : "closed by the host";
		struct vd_link_msg msg = {.type = VD_LINK_WL_CLOSE};
		msg.body.wl_close.reason = reason;
		if (!send_msg(channel, &msg)) {
			msg.body.wl_close.reason = "closed by the host";
			send_msg(channel, &msg);
		}
	}
	if (channel->kick != NULL) {
		wl_event_source_remove(channel->kick);
	}
	struct vd_mirror *mirror, *tmp;
	wl_list_for_each_safe(mirror, tmp, &channel->pools, link) {
		free_pool(channel, mirror);
	}
	vd_link_pipes_finish(&channel->pipes);
	vd_channel_in_finish(&channel->in);
	wl_list_remove(&channel->link_node);
	link->channel_count--;
	free(channel);
}

static const struct vd_endpoint_impl channel_impl = {
	.name = "channel",
	.read = channel_read,
	.flush = channel_flush,
	.watch = channel_watch,
	.destroy = channel_destroy,
};

/* ---- opening ---- */

static void refuse(struct vd_vm_link *link, uint32_t id, const char *why) {
	uint8_t buf[VD_WIRE_MAX_MESSAGE_SIZE];
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, buf, VD_DISPLAY_ID, VD_WL_DISPLAY_EVENT_ERROR);
	vd_wire_writer_put_u32(&writer, VD_DISPLAY_ID);
	vd_wire_writer_put_u32(&writer, VD_WL_DISPLAY_ERROR_IMPLEMENTATION);
	vd_wire_writer_put_string(&writer, why);
	struct vd_link_msg msg = {.type = VD_LINK_WL_DATA, .id = id};
	if (vd_wire_writer_finish(&writer) && writer.size <= link->peer_window) {
		msg.body.wl_data = (struct vd_link_wl_data){.data = buf, .data_len = writer.size};
		vd_link_conn_send(link->conn, &msg);
	}
	msg = (struct vd_link_msg){.type = VD_LINK_WL_CLOSE, .id = id};
	msg.body.wl_close.reason = why;
	vd_link_conn_send(link->conn, &msg);
}

bool vd_channel_open(struct vd_vm_link *link, uint32_t id) {
	struct vd_server *server = link->server;
	if (link->channel_count >= link->limits.max_channels) {
		if (link->refused++ % 1000 == 0) {
			vd_log(VD_WARN, "vm=%s: channel %u refused: %zu clients already (--max-channels "
				"%u; %llu refused so far)", server->vm, id, link->channel_count,
				link->limits.max_channels, (unsigned long long)link->refused);
		}
		refuse(link, id, "vmdesk-proxy: too many clients of this VM");
		return false;
	}
	struct vd_channel *channel = calloc(1, sizeof(*channel));
	if (channel == NULL || !vd_channel_in_init(&channel->in, VD_VM_LINK_WINDOW,
			server->limits.max_fds)) {
		free(channel);
		refuse(link, id, "vmdesk-proxy: out of memory");
		return false;
	}
	vd_endpoint_init(&channel->base, &channel_impl);
	snprintf(channel->base.label, sizeof(channel->base.label), "channel=%u", id);
	channel->link = link;
	channel->id = id;
	channel->credit = link->peer_window;
	wl_list_init(&channel->pools);
	vd_link_pipes_init(&channel->pipes, &link->mux, server->loop, id, true,
		VD_VM_LINK_PIPE_WINDOW, link->peer_pipe_window, VD_VM_LINK_MAX_PIPES);
	wl_list_insert(link->channels.prev, &channel->link_node);
	link->channel_count++;
	int upstream = vd_server_connect_upstream(server);
	if (upstream < 0) {
		vd_log_errno(VD_ERROR, "vm=%s channel=%u: cannot connect to the compositor at %s",
			server->vm, id, server->upstream_path);
		channel->guest_closed = true; // refused below, nothing more to say
		channel_destroy(&channel->base);
		refuse(link, id, "vmdesk-proxy: cannot reach the compositor");
		return false;
	}
	/* on failure the session destroys the endpoint: the channel is gone */
	channel->session = vd_session_create_with(server, &channel->base, upstream, link->hooks);
	return channel->session != NULL;
}

struct vd_channel *vd_channel_find(struct vd_vm_link *link, uint32_t id) {
	struct vd_channel *channel;
	wl_list_for_each_reverse(channel, &link->channels, link_node) {
		if (channel->id == id && !channel->link_gone) {
			return channel;
		}
	}
	return NULL;
}

void vd_channel_link_gone(struct vd_channel *channel) {
	channel->link_gone = true;
	kick(channel);
}

/* ---- messages ---- */

static struct vd_mirror *find_pool(struct vd_channel *channel, uint32_t id) {
	struct vd_mirror *mirror;
	wl_list_for_each(mirror, &channel->pools, link) {
		if (mirror->id == id) {
			return mirror;
		}
	}
	channel_fail(channel, "pool %u is not one of this client's", id);
	return NULL;
}

/* Counts what the rows write; false (the channel failed) past a limit. */
static bool account(struct vd_channel *channel, struct vd_mirror *mirror, uint32_t offset,
		uint32_t stride, uint32_t width, uint32_t rows) {
	if (!vd_mirror_contains(mirror, offset, stride, width, rows)) {
		channel_fail(channel, "%u rows of %u bytes every %u from byte %u do not fit in pool "
			"%u of %u bytes", rows, width, stride, offset, mirror->id, mirror->size);
		return false;
	}
	uint64_t added = vd_mirror_touch(mirror, offset, stride, width, rows);
	struct vd_vm_link *link = channel->link;
	channel->mirror_bytes += added;
	link->mirror_bytes += added;
	if (mirror->bytes > link->limits.pool_mirror) {
		channel_fail(channel, "pool %u needs more than %llu bytes of mirror "
			"(--max-pool-mirror)", mirror->id, (unsigned long long)link->limits.pool_mirror);
		return false;
	}
	if (link->mirror_bytes > link->limits.vm_mirror) {
		channel_fail(channel, "the VM's pools need more than %llu bytes of mirror "
			"(--max-mirror)", (unsigned long long)link->limits.vm_mirror);
		return false;
	}
	return true;
}

uint8_t *vd_channel_bulk_target(struct vd_channel *channel, const struct vd_link_msg *msg) {
	const struct vd_link_wl_pool_data *data = &msg->body.wl_pool_data;
	if (channel->failed || msg->type != VD_LINK_WL_POOL_DATA) {
		return NULL;
	}
	uint32_t rows = data->data_len / data->width;
	if (rows != 1 && data->stride != data->width) {
		return NULL; // rows apart: read whole, then copied row by row
	}
	struct vd_mirror *mirror = find_pool(channel, data->pool);
	if (mirror == NULL || !account(channel, mirror, data->offset, data->stride, data->width,
			rows)) {
		return NULL;
	}
	return mirror->map + data->offset;
}

static void handle_pool_data(struct vd_channel *channel, const struct vd_link_wl_pool_data *data) {
	struct vd_mirror *mirror = find_pool(channel, data->pool);
	if (mirror == NULL) {
		return;
	}
	if (data->data == mirror->map + data->offset) {
		return; // read straight into the mirror, counted then
	}
	uint32_t rows = data->data_len / data->width;
	if (account(channel, mirror, data->offset, data->stride, data->width, rows)) {
		vd_mirror_write(mirror, data->offset, data->stride, data->width, rows, data->data);
	}
}

static void handle_pool_copy(struct vd_channel *channel, const struct vd_link_wl_pool_copy *copy) {
	struct vd_mirror *src = find_pool(channel, copy->src_pool);
	struct vd_mirror *dst = src != NULL ? find_pool(channel, copy->dst_pool) : NULL;
	if (dst == NULL) {
		return;
	}
	if (!vd_mirror_contains(src, copy->src_offset, copy->src_stride, copy->width,
			copy->rows)) {
		channel_fail(channel, "a copy from outside pool %u", src->id);
		return;
	}
	if (account(channel, dst, copy->dst_offset, copy->dst_stride, copy->width, copy->rows)) {
		vd_mirror_copy(dst, copy->dst_offset, copy->dst_stride, src, copy->src_offset,
			copy->src_stride, copy->width, copy->rows);
	}
}

/* An unsigned LEB128 number of at most 32 bits. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint32_t *out) {
	uint64_t value = 0;
	for (unsigned shift = 0; shift < 35 && *p < end; shift += 7) {
		uint8_t byte = *(*p)++;
		value |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*out = (uint32_t)value;
			return value <= UINT32_MAX;
		}
	}
	return false;
}

/* Runs of changed bytes (link.md, "Buffer contents"). */
static void handle_pool_diff(struct vd_channel *channel, const struct vd_link_wl_pool_diff *diff) {
	struct vd_mirror *mirror = find_pool(channel, diff->pool);
	if (mirror == NULL) {
		return;
	}
	const uint8_t *p = diff->data, *end = diff->data + diff->data_len;
	uint64_t pos = diff->offset;
	while (p < end) {
		uint32_t skip, len;
		if (!read_varint(&p, end, &skip) || !read_varint(&p, end, &len) || len == 0 ||
				(size_t)(end - p) < len) {
			channel_fail(channel, "a malformed WL_POOL_DIFF for pool %u", mirror->id);
			return;
		}
		pos += skip;
		if (pos + len > mirror->size) {
			channel_fail(channel, "a run of %u bytes at byte %llu is outside pool %u of %u "
				"bytes", len, (unsigned long long)pos, mirror->id, mirror->size);
			return;
		}
		if (!account(channel, mirror, (uint32_t)pos, len, len, 1)) {
			return;
		}
		memcpy(mirror->map + pos, p, len);
		p += len;
		pos += len;
	}
}

static void handle_pool(struct vd_channel *channel, const struct vd_link_wl_pool *pool) {
	struct vd_vm_link *link = channel->link;
	if (pool->pool <= channel->last_pool) {
		channel_fail(channel, "pool number %u reused", pool->pool);
		return;
	}
	channel->last_pool = pool->pool;
	if (channel->pool_count >= link->limits.max_pools) {
		channel_fail(channel, "more than %u shm pools", link->limits.max_pools);
		return;
	}
	char err[256];
	struct vd_mirror *mirror = vd_mirror_create(pool->pool, pool->size, err, sizeof(err));
	if (mirror == NULL) {
		channel_fail(channel, "%s", err);
		return;
	}
	wl_list_insert(&channel->pools, &mirror->link);
	channel->pool_count++;
	int fd = vd_mirror_dup_fd(mirror);
	if (fd < 0 || !vd_channel_in_push_fd(&channel->in, fd)) {
		if (fd >= 0) {
			close(fd);
		}
		channel_fail(channel, "too many file descriptors in flight");
	}
}

static void handle_pool_discard(struct vd_channel *channel,
		const struct vd_link_wl_pool_discard *discard) {
	struct vd_mirror *mirror = find_pool(channel, discard->pool);
	if (mirror == NULL) {
		return;
	}
	if ((uint64_t)discard->offset + discard->length > mirror->size) {
		channel_fail(channel, "bytes %u..%llu are outside pool %u of %u bytes",
			discard->offset, (unsigned long long)discard->offset + discard->length,
			mirror->id, mirror->size);
		return;
	}
	uint64_t freed = vd_mirror_discard(mirror, discard->offset, discard->length);
	channel->mirror_bytes -= freed;
	channel->link->mirror_bytes -= freed;
}

void vd_channel_message(struct vd_channel *channel, const struct vd_link_msg *msg) {
	if (channel->failed) {
		return; // the session is ending
	}
	char err[256];
	struct vd_mirror *mirror;
	switch (msg->type) {
	case VD_LINK_WL_DATA:
		if (channel->guest_closed) {
			channel_fail(channel, "data after WL_CLOSE");
		} else if (!vd_channel_in_push(&channel->in, msg->body.wl_data.data,
				msg->body.wl_data.data_len)) {
			channel_fail(channel, "%u bytes past the window of %u", msg->body.wl_data.data_len,
				channel->in.window);
		} else {
			kick(channel);
		}
		return;
	case VD_LINK_WL_ACK:
		if ((uint64_t)channel->credit + msg->body.wl_ack.bytes > channel->link->peer_window) {
			channel_fail(channel, "acknowledgement of %u bytes never sent",
				msg->body.wl_ack.bytes);
			return;
		}
		channel->credit += msg->body.wl_ack.bytes;
		if (channel->base.mask & WL_EVENT_WRITABLE) {
			kick(channel);
		}
		return;
	case VD_LINK_WL_CLOSE:
		channel->guest_closed = true;
		kick(channel);
		return;
	case VD_LINK_WL_POOL:
		handle_pool(channel, &msg->body.wl_pool);
		return;
	case VD_LINK_WL_POOL_RESIZE:
		mirror = find_pool(channel, msg->body.wl_pool_resize.pool);
		if (mirror != NULL && !vd_mirror_resize(mirror, msg->body.wl_pool_resize.size, err,
				sizeof(err))) {
			channel_fail(channel, "%s", err);
		}
		return;
	case VD_LINK_WL_POOL_SEALED:
		mirror = find_pool(channel, msg->body.wl_pool_sealed.pool);
		if (mirror != NULL) {
			vd_mirror_seal(mirror);
		}
		return;
	case VD_LINK_WL_POOL_DISCARD:
		handle_pool_discard(channel, &msg->body.wl_pool_discard);
		return;
	case VD_LINK_WL_POOL_FREE:
		mirror = find_pool(channel, msg->body.wl_pool_free.pool);
		if (mirror != NULL) {
			free_pool(channel, mirror);
		}
		return;
	case VD_LINK_WL_POOL_DATA:
		handle_pool_data(channel, &msg->body.wl_pool_data);
		return;
	case VD_LINK_WL_POOL_DIFF:
		handle_pool_diff(channel, &msg->body.wl_pool_diff);
		return;
	case VD_LINK_WL_POOL_COPY:
		handle_pool_copy(channel, &msg->body.wl_pool_copy);
		return;
	case VD_LINK_WL_PIPE: {
		int fd;
		if (!vd_link_pipes_add_remote(&channel->pipes, &msg->body.wl_pipe, &fd, err,
				sizeof(err))) {
			channel_fail(channel, "%s", err);
		} else if (!vd_channel_in_push_fd(&channel->in, fd)) {
			close(fd);
			channel_fail(channel, "too many file descriptors in flight");
		}
		return;
	}
	case VD_LINK_WL_PIPE_DATA:
	case VD_LINK_WL_PIPE_ACK:
	case VD_LINK_WL_PIPE_CLOSE:
		if (!vd_link_pipes_message(&channel->pipes, msg, err, sizeof(err))) {
			channel_fail(channel, "%s", err);
		}
		return;
	default:
		channel_fail(channel, "unexpected %s", vd_link_type_name(&vd_link_wayland, msg->type));
		return;
	}
}
