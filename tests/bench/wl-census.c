/*
 * wl-census: what a Wayland client really changes per frame. A relay (like
 * wl-forward) between a client and whatever it would connect to, that reads
 * the client's requests with vmdesk's message tables and, at every
 * wl_surface.commit with a wl_shm buffer attached, compares the buffer with
 * a copy of what that surface showed before (before the commit is
 * forwarded, so the client cannot have touched it yet).
 *
 *   wl-census SOCKET UPSTREAM COUNTERS
 *
 * COUNTERS is a file of 64-bit words (counters.h), kept current:
 *   0 messages       requests seen
 *   1 frames         commits with a buffer attached
 *   2 changed_bytes  4 x the pixels that differ from the surface's previous content
 *                    (every pixel of a first buffer or of a new size)
 *   3 damage_bytes   4 x the pixels in the union of the frame's damage, clipped
 *   4 buffer_bytes   width x height x 4 of the buffers committed
 *   5 unparsed       requests it could not follow (unknown object or interface,
 *                    malformed); a census with any is incomplete
 *   6 other_buffers  commits of buffers that are not wl_shm (not compared)
 *   7 connections
 * Only 4-byte-per-pixel shm formats are compared (others count in unparsed).
 * A measuring tool for the benchmark, not a security boundary.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "counters.h"
#include "protocols/interface.h"
#include "protocols/wire.h"
#include "relay.h"

enum census_counter {
	CENSUS_MESSAGES,
	CENSUS_FRAMES,
	CENSUS_CHANGED,
	CENSUS_DAMAGE,
	CENSUS_BUFFER,
	CENSUS_UNPARSED,
	CENSUS_OTHER_BUFFERS,
	CENSUS_CONNECTIONS,
	CENSUS_COUNTER_COUNT,
};

#define CENSUS_MAX_ID (1u << 20)
#define CENSUS_MAX_FDS 256
#define CENSUS_MAX_RECTS 4096
#define CENSUS_IN_SIZE (2 * VD_WIRE_MAX_MESSAGE_SIZE + 65536)

enum census_kind {
	CENSUS_NONE,
	CENSUS_POOL,
	CENSUS_BUFFER_OBJ,
	CENSUS_SURFACE,
};

struct census_pool {
	int fd;
	uint8_t *map;
	size_t size;
	int refs; // the wl_shm_pool object and each of its buffers
};

struct census_buffer {
	struct census_pool *pool;
	int32_t offset, width, height, stride;
	uint32_t format;
};

struct census_rect {
	int32_t x, y, w, h;
	bool surface_coords; // wl_surface.damage (else damage_buffer)
};

struct census_surface {
	bool attached; // an attach since the last commit
	uint32_t pending_buffer; // its argument (0: null)
	int32_t pending_scale, scale;
	struct census_rect rects[CENSUS_MAX_RECTS];
	size_t rect_count;
	bool rects_overflow;
	uint32_t current_buffer;
	uint8_t *shadow; // what the surface shows: width * height * 4 bytes, packed
	int32_t shadow_width, shadow_height;
};

struct census_object {
	const struct vd_interface *iface;
	enum census_kind kind;
	void *data;
};

struct census_conn {
	volatile uint64_t *counters;
	struct census_object *objects; // indexed by client ID
	uint32_t object_count;
	uint8_t in[CENSUS_IN_SIZE];
	size_t in_len;
	int fds[CENSUS_MAX_FDS];
	size_t fd_count;
	bool lost; // the stream could not be followed: stop reading it
};

static void pool_unref(struct census_pool *pool) {
	if (pool == NULL || --pool->refs > 0) {
		return;
	}
	if (pool->map != NULL) {
		munmap(pool->map, pool->size);
	}
	close(pool->fd);
	free(pool);
}

static bool pool_map(struct census_pool *pool, size_t size) {
	if (pool->map != NULL) {
		munmap(pool->map, pool->size);
		pool->map = NULL;
	}
	void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, pool->fd, 0);
	if (map == MAP_FAILED) {
		return false;
	}
	pool->map = map;
	pool->size = size;
	return true;
}

static void object_clear(struct census_object *obj) {
	switch (obj->kind) {
	case CENSUS_POOL:
		pool_unref(obj->data);
		break;
	case CENSUS_BUFFER_OBJ: {
		struct census_buffer *buffer = obj->data;
		pool_unref(buffer->pool);
		free(buffer);
		break;
	}
	case CENSUS_SURFACE: {
		struct census_surface *surface = obj->data;
		free(surface->shadow);
		free(surface);
		break;
	}
	case CENSUS_NONE:
		break;
	}
	*obj = (struct census_object){0};
}

static struct census_object *object_get(struct census_conn *conn, uint32_t id) {
	if (id == 0 || id >= CENSUS_MAX_ID) {
		return NULL;
	}
	if (id >= conn->object_count) {
		uint32_t count = conn->object_count ? conn->object_count : 64;
		while (count <= id) {
			count *= 2;
		}
		struct census_object *objects = realloc(conn->objects, count * sizeof(*objects));
		if (objects == NULL) {
			return NULL;
		}
		memset(objects + conn->object_count, 0,
			(count - conn->object_count) * sizeof(*objects));
		conn->objects = objects;
		conn->object_count = count;
	}
	return &conn->objects[id];
}

/* Pixels in the union of rects clipped to w x h (row by row, merging spans). */
static uint64_t damage_area(const struct census_surface *surface, int32_t w, int32_t h) {
	static int32_t starts[CENSUS_MAX_RECTS], ends[CENSUS_MAX_RECTS];
	uint64_t area = 0;
	for (int32_t y = 0; y < h; y++) {
		size_t spans = 0;
		for (size_t i = 0; i < surface->rect_count; i++) {
			const struct census_rect *r = &surface->rects[i];
			int64_t s = r->surface_coords ? surface->scale : 1;
			int64_t x0 = r->x * s, y0 = r->y * s;
			int64_t x1 = x0 + (int64_t)r->w * s, y1 = y0 + (int64_t)r->h * s;
			if (y < y0 || y >= y1) {
				continue;
			}
			x0 = x0 < 0 ? 0 : x0;
			x1 = x1 > w ? w : x1;
			if (x0 >= x1) {
				continue;
			}
			// Insertion by start keeps the list sorted; lists are short.
			size_t j = spans++;
			while (j > 0 && starts[j - 1] > x0) {
				starts[j] = starts[j - 1];
				ends[j] = ends[j - 1];
				j--;
			}
			starts[j] = (int32_t)x0;
			ends[j] = (int32_t)x1;
		}
		int32_t covered_to = 0;
		for (size_t i = 0; i < spans; i++) {
			int32_t from = starts[i] > covered_to ? starts[i] : covered_to;
			if (ends[i] > from) {
				area += (uint64_t)(ends[i] - from);
				covered_to = ends[i];
			}
		}
	}
	return area;
}

/* Counts the pixels of buffer that differ from the shadow, and makes the shadow equal. */
static uint64_t changed_pixels(struct census_surface *surface, const struct census_buffer *b) {
	size_t row_bytes = (size_t)b->width * 4;
	bool fresh = surface->shadow == NULL || surface->shadow_width != b->width ||
		surface->shadow_height != b->height;
	if (fresh) {
		free(surface->shadow);
		surface->shadow = malloc(row_bytes * (size_t)b->height);
		surface->shadow_width = b->width;
		surface->shadow_height = b->height;
		if (surface->shadow == NULL) {
			surface->shadow_width = surface->shadow_height = 0;
			return (uint64_t)b->width * (uint64_t)b->height;
		}
	}
	uint64_t changed = 0;
	const uint8_t *base = b->pool->map + b->offset;
	for (int32_t y = 0; y < b->height; y++) {
		const uint8_t *row = base + (size_t)y * (size_t)b->stride;
		uint8_t *shadow = surface->shadow + (size_t)y * row_bytes;
		if (fresh) {
			changed += (uint64_t)b->width;
		} else if (memcmp(row, shadow, row_bytes) != 0) {
			// Blocks of 64 bytes first: most of a row is usually unchanged.
			for (size_t x = 0; x < row_bytes; x += 64) {
				size_t n = row_bytes - x < 64 ? row_bytes - x : 64;
				if (memcmp(row + x, shadow + x, n) == 0) {
					continue;
				}
				for (size_t p = x; p < x + n; p += 4) {
					changed += memcmp(row + p, shadow + p, 4) != 0;
				}
			}
		} else {
			continue;
		}
		memcpy(shadow, row, row_bytes);
	}
	return changed;
}

static void surface_commit(struct census_conn *conn, struct census_surface *surface) {
	surface->scale = surface->pending_scale;
	if (surface->attached) {
		surface->current_buffer = surface->pending_buffer;
		surface->attached = false;
		if (surface->pending_buffer == 0) {
			free(surface->shadow);
			surface->shadow = NULL;
		}
	}
	uint32_t id = surface->current_buffer;
	struct census_object *obj = id != 0 ? object_get(conn, id) : NULL;
	bool new_frame = surface->rect_count > 0 || surface->rects_overflow;
	if (obj == NULL || !new_frame) {
		surface->rect_count = 0;
		surface->rects_overflow = false;
		return;
	}
	conn->counters[CENSUS_FRAMES]++;
	if (obj->kind != CENSUS_BUFFER_OBJ) {
		conn->counters[CENSUS_OTHER_BUFFERS]++;
	} else {
		struct census_buffer *b = obj->data;
		uint64_t pixels = (uint64_t)b->width * (uint64_t)b->height;
		conn->counters[CENSUS_BUFFER] += pixels * 4;
		conn->counters[CENSUS_CHANGED] += changed_pixels(surface, b) * 4;
		conn->counters[CENSUS_DAMAGE] += (surface->rects_overflow ? pixels :
			damage_area(surface, b->width, b->height)) * 4;
	}
	surface->rect_count = 0;
	surface->rects_overflow = false;
}

static void add_rect(struct census_surface *surface, const struct vd_wire_message *msg,
		bool surface_coords) {
	if (surface->rect_count >= CENSUS_MAX_RECTS) {
		surface->rects_overflow = true; // counted as full damage
		return;
	}
	surface->rects[surface->rect_count++] = (struct census_rect){
		.x = msg->args[0].i, .y = msg->args[1].i,
		.w = msg->args[2].i, .h = msg->args[3].i,
		.surface_coords = surface_coords,
	};
}

static bool format_is_4_bytes(uint32_t format) {
	// ARGB8888, XRGB8888 and the fourcc 32-bit RGB orders.
	static const char *const fourccs[] = { "AB24", "XB24", "AR24", "XR24", "RA24", "RX24",
		"BA24", "BX24", "AR30", "XR30", "AB30", "XB30" };
	if (format == 0 || format == 1) {
		return true;
	}
	for (size_t i = 0; i < sizeof(fourccs) / sizeof(fourccs[0]); i++) {
		uint32_t code;
		memcpy(&code, fourccs[i], 4);
		if (code == format) {
			return true;
		}
	}
	return false;
}

/* What the census follows; everything else only types new objects. */
static void handle_request(struct census_conn *conn, struct census_object *obj,
		const struct vd_wire_message *msg, const int *fds) {
	const struct vd_interface *iface = obj->iface;
	uint16_t opcode = msg->header.opcode;
	if (iface == &vd_iface_wl_shm && opcode == VD_WL_SHM_REQUEST_CREATE_POOL) {
		struct census_object *pool_obj = object_get(conn, msg->args[0].id);
		struct census_pool *pool = calloc(1, sizeof(*pool));
		if (pool_obj == NULL || pool == NULL) {
			free(pool);
			conn->counters[CENSUS_UNPARSED]++;
			return;
		}
		pool->fd = fcntl(fds[0], F_DUPFD_CLOEXEC, 0);
		pool->refs = 1;
		if (pool->fd < 0 || msg->args[2].i <= 0 ||
				!pool_map(pool, (size_t)msg->args[2].i)) {
			if (pool->fd >= 0) {
				close(pool->fd);
			}
			free(pool);
			conn->counters[CENSUS_UNPARSED]++;
			return;
		}
		pool_obj->kind = CENSUS_POOL;
		pool_obj->data = pool;
	} else if (iface == &vd_iface_wl_shm_pool && obj->kind == CENSUS_POOL) {
		struct census_pool *pool = obj->data;
		if (opcode == VD_WL_SHM_POOL_REQUEST_RESIZE) {
			if (msg->args[0].i <= 0 || !pool_map(pool, (size_t)msg->args[0].i)) {
				conn->counters[CENSUS_UNPARSED]++;
			}
		} else if (opcode == VD_WL_SHM_POOL_REQUEST_CREATE_BUFFER) {
			struct census_object *buf_obj = object_get(conn, msg->args[0].id);
			struct census_buffer *b = calloc(1, sizeof(*b));
			if (buf_obj == NULL || b == NULL) {
				free(b);
				conn->counters[CENSUS_UNPARSED]++;
				return;
			}
			*b = (struct census_buffer){
				.pool = pool, .offset = msg->args[1].i, .width = msg->args[2].i,
				.height = msg->args[3].i, .stride = msg->args[4].i,
				.format = msg->args[5].u,
			};
			int64_t end = (int64_t)b->offset + (int64_t)b->stride * b->height;
			if (b->offset < 0 || b->width <= 0 || b->height <= 0 ||
					b->stride < b->width * 4 || end > (int64_t)pool->size ||
					!format_is_4_bytes(b->format)) {
				free(b);
				conn->counters[CENSUS_UNPARSED]++;
				return;
			}
			pool->refs++;
			buf_obj->kind = CENSUS_BUFFER_OBJ;
			buf_obj->data = b;
		}
	} else if (iface == &vd_iface_wl_compositor &&
			opcode == VD_WL_COMPOSITOR_REQUEST_CREATE_SURFACE) {
		struct census_object *surf_obj = object_get(conn, msg->args[0].id);
		struct census_surface *surface = calloc(1, sizeof(*surface));
		if (surf_obj == NULL || surface == NULL) {
			free(surface);
			conn->counters[CENSUS_UNPARSED]++;
			return;
		}
		surface->scale = surface->pending_scale = 1;
		surf_obj->kind = CENSUS_SURFACE;
		surf_obj->data = surface;
	} else if (iface == &vd_iface_wl_surface && obj->kind == CENSUS_SURFACE) {
		struct census_surface *surface = obj->data;
		switch (opcode) {
		case VD_WL_SURFACE_REQUEST_ATTACH:
			surface->attached = true;
			surface->pending_buffer = msg->args[0].id;
			break;
		case VD_WL_SURFACE_REQUEST_DAMAGE:
			add_rect(surface, msg, true);
			break;
		case VD_WL_SURFACE_REQUEST_DAMAGE_BUFFER:
			add_rect(surface, msg, false);
			break;
		case VD_WL_SURFACE_REQUEST_SET_BUFFER_SCALE:
			surface->pending_scale = msg->args[0].i > 0 ? msg->args[0].i : 1;
			break;
		case VD_WL_SURFACE_REQUEST_COMMIT:
			surface_commit(conn, surface);
			break;
		default:
			break;
		}
	}
}

static void handle_message(struct census_conn *conn, const uint8_t *data,
		const struct vd_wire_header *header) {
	conn->counters[CENSUS_MESSAGES]++;
	struct census_object *obj = object_get(conn, header->object);
	if (obj == NULL || obj->iface == NULL || header->opcode >= obj->iface->request_count) {
		conn->counters[CENSUS_UNPARSED]++;
		return;
	}
	const struct vd_message *desc = &obj->iface->requests[header->opcode];
	if (desc->fd_count > conn->fd_count) {
		conn->lost = true; // an fd that never came: the fd queue cannot be trusted
		conn->counters[CENSUS_UNPARSED]++;
		return;
	}
	int fds[VD_WIRE_MAX_ARGS];
	memcpy(fds, conn->fds, desc->fd_count * sizeof(int));
	conn->fd_count -= desc->fd_count;
	memmove(conn->fds, conn->fds + desc->fd_count, conn->fd_count * sizeof(int));

	static struct vd_wire_message msg;
	char err[128];
	if (!vd_wire_parse(desc, data, &msg, err, sizeof(err))) {
		conn->counters[CENSUS_UNPARSED]++;
	} else {
		// The new objects a request makes are typed before it is handled.
		for (uint32_t i = 0; i < msg.arg_count; i++) {
			if (msg.args[i].type != VD_ARG_NEW_ID) {
				continue;
			}
			struct census_object *made = object_get(conn, msg.args[i].id);
			if (made != NULL) {
				object_clear(made);
				made->iface = msg.args[i].new_interface != NULL ?
					vd_interface_find(msg.args[i].new_interface) : NULL;
			}
		}
		obj = object_get(conn, header->object); // the table may have moved
		handle_request(conn, obj, &msg, fds);
		if (desc->destructor) {
			object_clear(object_get(conn, header->object));
		}
	}
	for (size_t i = 0; i < desc->fd_count; i++) {
		close(fds[i]);
	}
}

static void *census_open(void *data) {
	struct census_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		return NULL;
	}
	conn->counters = data;
	conn->counters[CENSUS_CONNECTIONS]++;
	struct census_object *display = object_get(conn, 1);
	if (display != NULL) {
		display->iface = &vd_iface_wl_display;
	}
	return conn;
}

static bool census_chunk(void *data, bool to_upstream, const uint8_t *bytes, size_t len,
		const int *fds, size_t fd_count) {
	struct census_conn *conn = data;
	if (conn == NULL || !to_upstream || conn->lost) {
		return true; // forward only
	}
	for (size_t i = 0; i < fd_count; i++) {
		if (conn->fd_count >= CENSUS_MAX_FDS) {
			conn->lost = true;
			return true;
		}
		int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			conn->lost = true;
			return true;
		}
		conn->fds[conn->fd_count++] = fd;
	}
	while (len > 0) {
		size_t take = sizeof(conn->in) - conn->in_len;
		take = take < len ? take : len;
		memcpy(conn->in + conn->in_len, bytes, take);
		conn->in_len += take;
		bytes += take;
		len -= take;
		size_t pos = 0;
		while (conn->in_len - pos >= VD_WIRE_HEADER_SIZE) {
			struct vd_wire_header header;
			vd_wire_header_read(conn->in + pos, &header);
			if (header.size < VD_WIRE_HEADER_SIZE || header.size % 4 != 0) {
				conn->lost = true;
				conn->counters[CENSUS_UNPARSED]++;
				return true;
			}
			if (conn->in_len - pos < header.size) {
				break;
			}
			handle_message(conn, conn->in + pos, &header);
			pos += header.size;
		}
		memmove(conn->in, conn->in + pos, conn->in_len - pos);
		conn->in_len -= pos;
	}
	return true;
}

static void census_close(void *data) {
	struct census_conn *conn = data;
	if (conn == NULL) {
		return;
	}
	for (uint32_t i = 0; i < conn->object_count; i++) {
		object_clear(&conn->objects[i]);
	}
	for (size_t i = 0; i < conn->fd_count; i++) {
		close(conn->fds[i]);
	}
	free(conn->objects);
	free(conn);
}

int main(int argc, char *argv[]) {
	if (argc != 4) {
		fprintf(stderr, "usage: wl-census SOCKET UPSTREAM COUNTERS\n");
		return 2;
	}
	volatile uint64_t *counters = counters_create(argv[3], CENSUS_COUNTER_COUNT);
	if (counters == NULL) {
		perror("wl-census: counters");
		return 1;
	}
	struct relay_observer census = {
		.open = census_open,
		.chunk = census_chunk,
		.close = census_close,
		.data = (void *)counters,
	};
	relay_run(argv[1], argv[2], &census);
	perror("wl-census: setup");
	return 1;
}
