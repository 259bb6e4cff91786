#define LOG_TAG "client"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest/wayland/client.h"
#include "guest/wayland/shm.h"
#include "protocols/log.h"

/*
 * The queue toward the host: a client's requests, the link messages of its
 * pools and pipes, and the bytes of its commits, in the order they came,
 * taken by the link's multiplexer turn by turn with the other channels
 * (client_produce), the Wayland bytes within the host's window.
 */

static struct item *new_item(struct client *client, enum item_kind kind) {
	struct item *item = calloc(1, sizeof(*item));
	if (item == NULL) {
		client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY, "out of memory");
		return NULL;
	}
	item->kind = kind;
	wl_list_insert(client->items.prev, &item->link);
	if (client->channel != 0) {
		vd_mux_wake(&client->mux);
	}
	return item;
}

void client_queue_bytes(struct client *client, const uint8_t *data, size_t len) {
	if (client->out_end + len > client->out_cap) {
		size_t used = client->out_end - client->out_start;
		if (client->out_start > 0) {
			memmove(client->out_bytes, client->out_bytes + client->out_start, used);
			client->out_start = 0;
			client->out_end = used;
		}
		if (used + len > client->out_cap) {
			size_t cap = client->out_cap ? client->out_cap : 16384;
			while (cap < used + len) {
				cap *= 2;
			}
			uint8_t *bytes = realloc(client->out_bytes, cap);
			if (bytes == NULL) {
				client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_NO_MEMORY,
					"out of memory");
				return;
			}
			client->out_bytes = bytes;
			client->out_cap = cap;
		}
	}
	memcpy(client->out_bytes + client->out_end, data, len);
	client->out_end += len;
	client->queued += len;
	struct item *last = wl_list_empty(&client->items) ? NULL :
		wl_container_of(client->items.prev, last, link);
	if (last != NULL && last->kind == ITEM_BYTES) {
		last->len += len;
		if (client->channel != 0) {
			vd_mux_wake(&client->mux);
		}
		return;
	}
	struct item *item = new_item(client, ITEM_BYTES);
	if (item != NULL) {
		item->len = len;
	}
}

void client_queue_msg(struct client *client, const struct vd_link_msg *msg) {
	struct item *item = new_item(client, ITEM_MSG);
	if (item != NULL) {
		item->msg = *msg;
	}
}

void client_queue_job(struct client *client, struct job *job, size_t bytes) {
	struct item *item = new_item(client, ITEM_JOB);
	if (item == NULL) {
		job_free(job);
		return;
	}
	item->job = job;
	item->len = bytes;
	client->queued += bytes;
}

void client_queue_discard(struct client *client, struct pool *pool, uint32_t offset,
		uint32_t length) {
	struct item *item = new_item(client, ITEM_DISCARD);
	if (item == NULL) {
		return;
	}
	item->pool = pool_ref(pool);
	item->msg = (struct vd_link_msg){.type = VD_LINK_WL_POOL_DISCARD};
	item->msg.body.wl_pool_discard = (struct vd_link_wl_pool_discard){.pool = pool->id,
		.offset = offset, .length = length};
}

void client_queue_copy(struct client *client, struct pool *src, struct pool *dst,
		const struct vd_link_msg *msg) {
	struct item *item = new_item(client, ITEM_COPY);
	if (item == NULL) {
		return;
	}
	item->src = pool_ref(src);
	item->pool = pool_ref(dst);
	item->msg = *msg;
}

/* The shadows follow a WL_POOL_COPY as the host's mirrors do (proxy/mirror.c). */
static void copy_shadow(struct pool *dst, struct pool *src, const struct vd_link_wl_pool_copy *c) {
	bool backwards = dst == src && c->dst_offset > c->src_offset;
	for (uint32_t i = 0; i < c->rows; i++) {
		uint32_t r = backwards ? c->rows - 1 - i : i;
		memmove(dst->shadow + c->dst_offset + (size_t)r * c->dst_stride,
			src->shadow + c->src_offset + (size_t)r * c->src_stride, c->width);
	}
}

/* Both ends forget the bytes: the shadow reads zeros as the host's mirror will. */
static void discard_shadow(struct pool *pool, uint32_t offset, uint32_t length) {
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t start = offset, end = (size_t)offset + length;
	size_t first = (start + page - 1) / page * page, last = end / page * page;
	if (first < last) {
		memset(pool->shadow + start, 0, first - start);
		madvise(pool->shadow + first, last - first, MADV_DONTNEED);
		memset(pool->shadow + last, 0, end - last);
	} else {
		memset(pool->shadow + start, 0, end - start);
	}
}

void client_update_watch(struct client *client) {
	if (client->sock == NULL) {
		return;
	}
	uint32_t mask = 0;
	if (client->reading) {
		mask |= WL_EVENT_READABLE;
	}
	if (vd_connection_out_size(&client->sock->conn) > 0) {
		mask |= WL_EVENT_WRITABLE;
	}
	vd_endpoint_watch(client->sock, mask);
}

bool client_produce(struct vd_mux_source *source, struct vd_link_conn *conn, size_t budget) {
	struct client *client = wl_container_of(source, client, mux);
	while (budget > 0 && !wl_list_empty(&client->items) && !client->failed) {
		struct item *item = wl_container_of(client->items.next, item, link);
		struct vd_link_msg msg;
		switch (item->kind) {
		case ITEM_BYTES: {
			size_t n = item->len < client->credit ? item->len : client->credit;
			n = n < VD_LINK_WL_MAX_DATA ? n : VD_LINK_WL_MAX_DATA;
			if (n == 0) {
				return false; // the host's window is full: WL_ACK brings more
			}
			msg = (struct vd_link_msg){.type = VD_LINK_WL_DATA, .id = client->channel};
			msg.body.wl_data = (struct vd_link_wl_data){
				.data = client->out_bytes + client->out_start, .data_len = (uint32_t)n};
			if (!vd_link_conn_send(conn, &msg)) {
				return false;
			}
			client->out_start += n;
			if (client->out_start == client->out_end) {
				client->out_start = client->out_end = 0;
			}
			client->credit -= (uint32_t)n;
			client->queued -= n;
			client->stats.wayland += n;
			budget = n < budget ? budget - n : 0;
			item->len -= n;
			if (item->len == 0) {
				client_free_item(client, item);
			}
			break;
		}
		case ITEM_MSG:
			item->msg.id = client->channel;
			vd_link_conn_send(conn, &item->msg);
			client_free_item(client, item);
			break;
		case ITEM_COPY:
			copy_shadow(item->pool, item->src, &item->msg.body.wl_pool_copy);
			item->msg.id = client->channel;
			vd_link_conn_send(conn, &item->msg);
			client_free_item(client, item);
			break;
		case ITEM_DISCARD:
			discard_shadow(item->pool, item->msg.body.wl_pool_discard.offset,
				item->msg.body.wl_pool_discard.length);
			item->msg.id = client->channel;
			vd_link_conn_send(conn, &item->msg);
			client_free_item(client, item);
			break;
		case ITEM_JOB: {
			bool fault;
			bool done = job_produce(item->job, conn, client->channel, &budget, &fault);
			if (fault) {
				client_fail(client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
					"the file of a wl_shm pool is smaller than the pool");
				return false;
			}
			if (!done) {
				return !vd_link_conn_closing(conn);
			}
			client->queued -= item->len;
			client_free_item(client, item);
			break;
		}
		case ITEM_CLOSE:
			msg = (struct vd_link_msg){.type = VD_LINK_WL_CLOSE, .id = client->channel};
			msg.body.wl_close.reason = "closed";
			vd_link_conn_send(conn, &msg);
			client_free_item(client, item);
			client->host_closed = true;
			client_schedule_reap(client);
			return false;
		}
	}
	if (!client->reading && !client->gone && !client->failed && client->queued < QUEUE_LOW) {
		client->reading = true; // room again: requests are read
		client_update_watch(client);
	}
	if (wl_list_empty(&client->items) || client->failed) {
		return false;
	}
	struct item *head = wl_container_of(client->items.next, head, link);
	return head->kind != ITEM_BYTES || client->credit > 0;
}
