#define LOG_TAG "job"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "guest/wayland/shm.h"
#include "protocols/log.h"

/*
 * Sending a commit's bytes (shm.h). Two ways, chosen per buffer from what
 * its last commits changed:
 *
 * - compare: the candidate rows are compared with the shadow (what the
 *   host's mirror holds) in blocks of BLOCK bytes; only runs of blocks that
 *   differ are copied into the shadow and sent (waypipe's approach). A
 *   terminal that scrolls, a blinking cursor, a toolkit that damages more
 *   than it paints: a fraction of the damage crosses the link.
 * - copy: when a buffer's last commits changed nearly every byte they
 *   damaged (video, a full redraw), comparing only costs: the rows are
 *   copied into the shadow and sent whole. Every RAW_COMMITS commits the
 *   buffer is compared once more, to notice a change of habit.
 *
 * Either way the bytes are written to the link from the shadow (no copy
 * into the link's queue, vd_link_conn_send_ref), which never changes under
 * a write still queued except forward: a later job sends what differs
 * after it. The client's memory is read only under a SIGBUS guard: a client
 * that truncates its pool file gets zeros read and its connection ended,
 * like a compositor would do (libwayland's wl_shm).
 */

#define BLOCK 64
/* Runs of differing blocks closer than this are sent as one (a frame's head is 32 bytes). */
#define MERGE_GAP 64
/* Bytes of a POOL_DATA frame at most: frames of other channels wait for one. */
#define CHUNK (256u * 1024u)
/* Rows narrower than this are packed into a frame (copied), wider ones sent from the shadow. */
#define PACK_ROW 1024
/* Compared bytes count this much less than bytes sent, against the turn's budget. */
#define SCAN_DISCOUNT 8
/* "Nearly every byte": sent * RAW_DEN >= examined * RAW_NUM. */
#define RAW_NUM 3
#define RAW_DEN 4
#define RAW_STREAK 2
#define RAW_COMMITS 60

struct job {
	struct pool *pool;
	struct bufstat *stat;
	uint32_t offset, stride, bpp;
	int32_t width, height;
	pixman_box32_t *boxes;
	int nboxes;
	int box; // the box being sent
	int32_t row; // its next row
	size_t skip; // bytes of that row (or contiguous span) already done
	bool raw;
	uint64_t examined, sent;
	size_t size;
};

/* ---- the SIGBUS guard ---- */

static struct {
	uint8_t *base;
	size_t len;
	volatile sig_atomic_t faulted;
} guard;

static void handle_sigbus(int signo, siginfo_t *info, void *context) {
	uint8_t *addr = info->si_addr;
	if (guard.base != NULL && addr >= guard.base && addr < guard.base + guard.len) {
		/* the client's file is shorter than it said: read zeros from here on */
		if (mmap(guard.base, guard.len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				-1, 0) != MAP_FAILED) {
			guard.faulted = 1;
			return;
		}
	}
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

bool job_guard_init(void) {
	struct sigaction sa = {.sa_sigaction = handle_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER};
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) == 0;
}

static void guard_begin(struct pool *pool) {
	guard.base = pool->map;
	guard.len = VD_POOL_RESERVED;
	guard.faulted = 0;
}

/* True if the client's memory went away during the access. */
static bool guard_end(void) {
	guard.base = NULL;
	return guard.faulted != 0;
}

/* ---- comparing ---- */

/* The first block from i on whose bytes differ, or e. */
static size_t find_diff(const uint8_t *a, const uint8_t *b, size_t i, size_t e) {
	while (e - i >= 4096 && memcmp(a + i, b + i, 4096) == 0) {
		i += 4096;
	}
	while (e - i >= BLOCK) {
		if (memcmp(a + i, b + i, BLOCK) != 0) {
			return i;
		}
		i += BLOCK;
	}
	return i < e && memcmp(a + i, b + i, e - i) != 0 ? i : e;
}

/* The end of the run of differing blocks at i (it ends at the first equal block). */
static size_t find_same(const uint8_t *a, const uint8_t *b, size_t i, size_t e) {
	i += e - i < BLOCK ? e - i : BLOCK;
	while (e - i >= BLOCK && memcmp(a + i, b + i, BLOCK) != 0) {
		i += BLOCK;
	}
	if (e - i < BLOCK && i < e && memcmp(a + i, b + i, e - i) != 0) {
		i = e;
	}
	return i;
}

/* ---- sending ---- */

static void release_pool(void *data) {
	pool_unref(data);
}

/* Sends shadow[offset, offset + len) as WL_POOL_DATA frames, from the shadow. */
static bool send_span(struct job *job, struct vd_link_conn *conn, uint32_t channel,
		size_t offset, size_t len) {
	struct pool *pool = job->pool;
	while (len > 0) {
		uint32_t n = len < CHUNK ? (uint32_t)len : CHUNK;
		struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_DATA, .id = channel};
		msg.body.wl_pool_data = (struct vd_link_wl_pool_data){.pool = pool->id,
			.offset = (uint32_t)offset, .stride = n, .width = n,
			.data = pool->shadow + offset, .data_len = n};
		if (!vd_link_conn_send_ref(conn, &msg, release_pool, pool_ref(pool))) {
			pool_unref(pool);
			return false;
		}
		job->sent += n;
		offset += n;
		len -= n;
	}
	return true;
}

/* Rows narrower than PACK_ROW, packed into frames (copied, they are small). */
static bool send_rows(struct job *job, struct vd_link_conn *conn, uint32_t channel,
		size_t offset, uint32_t width, uint32_t rows) {
	struct pool *pool = job->pool;
	uint8_t buf[64 * 1024];
	while (rows > 0) {
		uint32_t n = (uint32_t)(sizeof(buf) / width);
		n = n < rows ? n : rows;
		for (uint32_t r = 0; r < n; r++) {
			memcpy(buf + (size_t)r * width, pool->shadow + offset + (size_t)r * job->stride,
				width);
		}
		struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_DATA, .id = channel};
		msg.body.wl_pool_data = (struct vd_link_wl_pool_data){.pool = pool->id,
			.offset = (uint32_t)offset, .stride = job->stride, .width = width, .data = buf,
			.data_len = n * width};
		if (!vd_link_conn_send(conn, &msg)) {
			return false;
		}
		job->sent += (size_t)n * width;
		offset += (size_t)n * job->stride;
		rows -= n;
	}
	return true;
}

/* Compares [s, e) with the shadow and sends the runs that differ; false if the link failed. */
static bool compare_span(struct job *job, struct vd_link_conn *conn, uint32_t channel, size_t s,
		size_t e) {
	struct pool *pool = job->pool;
	const uint8_t *map = pool->map;
	uint8_t *shadow = pool->shadow;
	size_t i = s;
	job->examined += e - s;
	while (i < e) {
		i = find_diff(map, shadow, i, e);
		if (i == e) {
			break;
		}
		size_t j = find_same(map, shadow, i, e);
		for (;;) {
			size_t look = e - j < MERGE_GAP ? e : j + MERGE_GAP;
			size_t k = find_diff(map, shadow, j, look);
			if (k == look) {
				break;
			}
			j = find_same(map, shadow, k, e);
		}
		memcpy(shadow + i, map + i, j - i);
		if (!send_span(job, conn, channel, i, j - i)) {
			return false;
		}
		i = j;
	}
	return true;
}

/* Copies rows of [s, s + width) every stride, count rows, into the shadow and sends them. */
static bool copy_rows(struct job *job, struct vd_link_conn *conn, uint32_t channel, size_t s,
		uint32_t width, uint32_t rows, bool contiguous) {
	struct pool *pool = job->pool;
	job->examined += (size_t)width * rows;
	if (contiguous) {
		memcpy(pool->shadow + s, pool->map + s, (size_t)width * rows);
		return send_span(job, conn, channel, s, (size_t)width * rows);
	}
	for (uint32_t r = 0; r < rows; r++) {
		size_t at = s + (size_t)r * job->stride;
		memcpy(pool->shadow + at, pool->map + at, width);
	}
	if (width < PACK_ROW) {
		return send_rows(job, conn, channel, s, width, rows);
	}
	for (uint32_t r = 0; r < rows; r++) {
		if (!send_span(job, conn, channel, s + (size_t)r * job->stride, width)) {
			return false;
		}
	}
	return true;
}

static size_t cost(const struct job *job, uint64_t examined, uint64_t sent) {
	return (size_t)(job->sent - sent + (job->examined - examined) / SCAN_DISCOUNT);
}

/* One step of the current box: up to about budget of work. False if the link failed. */
static bool step(struct job *job, struct vd_link_conn *conn, uint32_t channel, size_t budget) {
	const pixman_box32_t *box = &job->boxes[job->box];
	uint32_t x0 = (uint32_t)box->x1 * job->bpp, x1 = (uint32_t)box->x2 * job->bpp;
	uint32_t width = x1 - x0;
	bool full_rows = x0 == 0 && width == job->stride;
	uint64_t examined = job->examined, sent = job->sent;
	while (job->row < box->y2 && cost(job, examined, sent) < budget) {
		size_t row_start = job->offset + (size_t)job->row * job->stride + x0;
		if (full_rows) {
			/* whole rows are one span: take as many as fit the turn */
			size_t left = (size_t)(box->y2 - job->row) * job->stride - job->skip;
			size_t n = left < CHUNK ? left : CHUNK;
			size_t s = row_start + job->skip;
			bool ok = job->raw ? copy_rows(job, conn, channel, s, (uint32_t)n, 1, true) :
				compare_span(job, conn, channel, s, s + n);
			if (!ok) {
				return false;
			}
			job->skip += n;
			job->row += (int32_t)(job->skip / job->stride);
			job->skip %= job->stride;
		} else if (job->raw) {
			uint32_t rows = (uint32_t)(CHUNK / width);
			rows = rows > 0 ? rows : 1;
			rows = rows < (uint32_t)(box->y2 - job->row) ? rows : (uint32_t)(box->y2 - job->row);
			if (!copy_rows(job, conn, channel, row_start, width, rows, false)) {
				return false;
			}
			job->row += (int32_t)rows;
		} else {
			if (!compare_span(job, conn, channel, row_start, row_start + width)) {
				return false;
			}
			job->row++;
		}
	}
	return true;
}

static void finish_stats(struct job *job) {
	struct bufstat *stat = job->stat;
	if (job->raw) {
		if (++stat->raw_commits >= RAW_COMMITS) {
			stat->raw = false; // look again
			stat->streak = 0;
		}
		return;
	}
	if (job->examined >= 65536 && job->sent * RAW_DEN >= job->examined * RAW_NUM) {
		if (++stat->streak >= RAW_STREAK) {
			stat->raw = true;
			stat->raw_commits = 0;
		}
	} else {
		stat->streak = 0;
	}
}

bool job_produce(struct job *job, struct vd_link_conn *conn, uint32_t channel, size_t *budget,
		bool *fault) {
	*fault = false;
	if (job->pool->broken) {
		*fault = true;
		return true;
	}
	guard_begin(job->pool);
	uint64_t examined = job->examined, sent = job->sent;
	while (job->box < job->nboxes && cost(job, examined, sent) < *budget) {
		if (job->row < job->boxes[job->box].y1) {
			job->row = job->boxes[job->box].y1;
		}
		if (!step(job, conn, channel, *budget - cost(job, examined, sent))) {
			break; // the link is going: the job ends with it
		}
		if (job->row >= job->boxes[job->box].y2) {
			job->box++;
			job->row = 0;
			job->skip = 0;
		}
	}
	if (guard_end()) {
		job->pool->broken = true;
		*fault = true;
		return true;
	}
	size_t used = cost(job, examined, sent);
	*budget = used < *budget ? *budget - used : 0;
	if (job->box < job->nboxes && !vd_link_conn_closing(conn)) {
		return false;
	}
	finish_stats(job);
	return true;
}

struct job *job_create(struct pool *pool, struct bufstat *stat, uint32_t offset, int32_t stride,
		int32_t width, int32_t height, uint32_t bpp, const pixman_region32_t *region) {
	int n;
	const pixman_box32_t *boxes = pixman_region32_rectangles((pixman_region32_t *)region, &n);
	struct job *job = calloc(1, sizeof(*job));
	if (job == NULL || (n > 0 && (job->boxes = calloc((size_t)n, sizeof(*boxes))) == NULL)) {
		free(job);
		return NULL;
	}
	memcpy(job->boxes, boxes, (size_t)n * sizeof(*boxes));
	job->nboxes = n;
	job->pool = pool_ref(pool);
	job->stat = stat;
	stat->refs++;
	job->offset = offset;
	job->stride = (uint32_t)stride;
	job->width = width;
	job->height = height;
	job->bpp = bpp;
	job->raw = stat->raw;
	job->row = n > 0 ? boxes[0].y1 : 0;
	for (int i = 0; i < n; i++) {
		job->size += (size_t)(boxes[i].x2 - boxes[i].x1) * bpp * (size_t)(boxes[i].y2 -
			boxes[i].y1);
	}
	return job;
}

size_t job_size(const struct job *job) {
	return job->size;
}

void job_free(struct job *job) {
	if (job == NULL) {
		return;
	}
	pool_unref(job->pool);
	if (--job->stat->refs == 0) {
		free(job->stat);
	}
	free(job->boxes);
	free(job);
}
