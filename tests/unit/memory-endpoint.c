#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/memory-endpoint.h"

static struct memory_endpoint *memory_from(struct vd_endpoint *endpoint) {
	struct memory_endpoint *mem = wl_container_of(endpoint, mem, base);
	return mem;
}

static enum vd_io_result memory_read(struct vd_endpoint *endpoint, size_t max) {
	struct memory_endpoint *mem = memory_from(endpoint);
	for (size_t i = 0; i < mem->incoming_fd_count; i++) {
		if (!vd_connection_push_fd(&endpoint->conn, mem->incoming_fds[i])) {
			for (size_t j = i; j < mem->incoming_fd_count; j++) {
				close(mem->incoming_fds[j]);
			}
			mem->incoming_fd_count = 0;
			return VD_IO_TOO_MANY_FDS;
		}
	}
	mem->incoming_fd_count = 0;
	size_t space;
	uint8_t *tail = vd_connection_in_tail(&endpoint->conn, &space);
	size_t n = mem->incoming_len - mem->incoming_pos;
	n = n < space ? n : space;
	n = n < max ? n : max;
	if (n == 0) {
		return mem->hangup ? VD_IO_CLOSED : VD_IO_AGAIN;
	}
	memcpy(tail, mem->incoming + mem->incoming_pos, n);
	mem->incoming_pos += n;
	vd_connection_in_commit(&endpoint->conn, n);
	endpoint->conn.drained = mem->incoming_pos == mem->incoming_len;
	return VD_IO_OK;
}

static enum vd_io_result memory_flush(struct vd_endpoint *endpoint) {
	struct memory_endpoint *mem = memory_from(endpoint);
	struct memory_sink *sink = mem->sink;
	struct vd_connection *conn = &endpoint->conn;
	size_t n = vd_connection_out_size(conn);
	n = n < mem->window ? n : mem->window;
	n = n < sizeof(sink->data) - sink->len ? n : sizeof(sink->data) - sink->len;
	/* the fds of every message that starts in what is sent go now */
	size_t fd_count = 0;
	while (fd_count < conn->out_fd_count &&
			conn->out_fds[conn->out_fd_start + fd_count].offset < conn->out_start + n) {
		if (sink->fd_count == MEMORY_ENDPOINT_FDS) {
			return VD_IO_ERROR;
		}
		sink->fds[sink->fd_count++] = dup(conn->out_fds[conn->out_fd_start + fd_count].fd);
		fd_count++;
	}
	if (n > 0) {
		memcpy(sink->data + sink->len, conn->out + conn->out_start, n);
		sink->len += n;
	}
	mem->window -= n;
	vd_connection_out_sent(conn, n, fd_count);
	return vd_connection_out_size(conn) > 0 ? VD_IO_AGAIN : VD_IO_OK;
}

static bool memory_watch(struct vd_endpoint *endpoint, uint32_t mask) {
	memory_from(endpoint)->watched = mask;
	return true;
}

static void memory_destroy(struct vd_endpoint *endpoint) {
	struct memory_endpoint *mem = memory_from(endpoint);
	for (size_t i = 0; i < mem->incoming_fd_count; i++) {
		close(mem->incoming_fds[i]);
	}
	mem->sink->destroyed = true;
	free(mem);
}

static const struct vd_endpoint_impl memory_impl = {
	.name = "memory",
	.read = memory_read,
	.flush = memory_flush,
	.watch = memory_watch,
	.destroy = memory_destroy,
};

struct memory_endpoint *memory_endpoint_create(const char *label, struct memory_sink *sink) {
	struct memory_endpoint *mem = calloc(1, sizeof(*mem));
	if (mem == NULL) {
		return NULL;
	}
	vd_endpoint_init(&mem->base, &memory_impl);
	snprintf(mem->base.label, sizeof(mem->base.label), "%s", label);
	mem->sink = sink;
	mem->window = SIZE_MAX;
	return mem;
}

bool memory_endpoint_deliver(struct memory_endpoint *mem, const void *data, size_t size,
		const int *fds, size_t fd_count) {
	if (size > sizeof(mem->incoming) - mem->incoming_len ||
			fd_count > MEMORY_ENDPOINT_FDS - mem->incoming_fd_count) {
		return false;
	}
	memcpy(mem->incoming + mem->incoming_len, data, size);
	mem->incoming_len += size;
	for (size_t i = 0; i < fd_count; i++) {
		mem->incoming_fds[mem->incoming_fd_count++] = fds[i];
	}
	return true;
}
