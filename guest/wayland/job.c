#define LOG_TAG "job"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
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
 * Either way nothing is copied into the link's queue
 * (vd_link_conn_send_ref): compared bytes are written from the shadow,
 * which never changes under a write still queued except forward (a later
 * job sends what differs after it); copied bytes straight from the client's
 * memory, whose buffer the client leaves alone until the compositor
 * releases it, after the commit. The shadow then lags there: its granules
 * are marked stale, and the next comparison sends them whole and brings the
 * shadow up to date. The client's memory is read only under a SIGBUS guard
 * here, and a write from it that faults sends zeros: a client that
 * truncates its pool file has its connection ended, as a compositor
 * (libwayland's wl_shm) would do.
 */

#define BLOCK 64
/* Equal bytes a run may span (a word: a run's own head is two or three bytes). */
#define RUN_GAP 4
/* Runs packed into one WL_POOL_DIFF at most... */
#define PACK_MAX (256u * 1024u)
/* ...and runs this long go on their own, as WL_POOL_DATA from the shadow. */
#define LONG_RUN (16u * 1024u)
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
#define RAW_COMMITS 300

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
	/* runs being packed into a WL_POOL_DIFF */
	uint8_t *pack;
	size_t pack_len;
	uint32_t pack_base;
	size_t pack_last; // where the last run packed ends
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

/* Bit k: the k-th 4-byte word of the BLOCK bytes at a and b differs. */
static uint32_t block_mask(const uint8_t *a, const uint8_t *b) {
#if defined(__SSE2__)
	uint32_t equal = 0;
	for (int k = 0; k < 4; k++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + 16 * k));
		__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + 16 * k));
		equal |= (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(x, y))) <<
			(4 * k);
	}
	return ~equal & 0xffffu;
#else
	uint32_t mask = 0;
	for (int k = 0; k < 16; k++) {
		if (memcmp(a + 4 * k, b + 4 * k, 4) != 0) {
			mask |= 1u << k;
		}
	}
	return mask;
#endif
}

/* ---- the shadow's lag ---- */

static bool mark_stale(struct pool *pool, size_t start, size_t end) {
	size_t last = (end - 1) / VD_POOL_GRANULE;
	size_t need = last / 8 + 1;
	if (need > pool->stale_size) {
		size_t size = (pool->size / VD_POOL_GRANULE) / 8 + 1;
		size = size > need ? size : need;
		uint8_t *stale = realloc(pool->stale, size);
		if (stale == NULL) {
			return false;
		}
		memset(stale + pool->stale_size, 0, size - pool->stale_size);
		pool->stale = stale;
		pool->stale_size = size;
	}
	for (size_t g = start / VD_POOL_GRANULE; g <= last; g++) {
		pool->stale[g / 8] |= (uint8_t)(1u << (g % 8));
	}
	return true;
}

static bool is_stale(const struct pool *pool, size_t granule) {
	return granule / 8 < pool->stale_size && (pool->stale[granule / 8] >> (granule % 8)) & 1;
}

bool pool_stale(const struct pool *pool, size_t start, size_t end) {
	for (size_t g = start / VD_POOL_GRANULE; g * VD_POOL_GRANULE < end; g++) {
		if (is_stale(pool, g)) {
			return true;
		}
	}
	return false;
}

/* ---- sending ---- */

static void release_pool(void *data, bool faulted) {
	pool_unref(data);
}

/* Bytes straight from the client's memory: a fault means its file shrank. */
static void release_client(void *data, bool faulted) {
	struct pool *pool = data;
	if (faulted && !pool->broken) {
		pool->broken = true;
		if (pool->client != NULL) {
			client_fail(pool->client, VD_DISPLAY_ID, VD_WL_DISPLAY_ERROR_IMPLEMENTATION,
				"the file of a wl_shm pool is smaller than the pool");
		}
	}
	pool_unref(pool);
}

/*
 * Sends [offset, offset + len) of the pool as WL_POOL_DATA frames, written
 * from the shadow, or (from_client) from the client's memory.
 */
static bool send_span(struct job *job, struct vd_link_conn *conn, uint32_t channel,
		size_t offset, size_t len, bool from_client) {
	struct pool *pool = job->pool;
	const uint8_t *base = from_client ? pool->map : pool->shadow;
	while (len > 0) {
		uint32_t n = len < CHUNK ? (uint32_t)len : CHUNK;
		struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_DATA, .id = channel};
		msg.body.wl_pool_data = (struct vd_link_wl_pool_data){.pool = pool->id,
			.offset = (uint32_t)offset, .stride = n, .width = n,
			.data = base + offset, .data_len = n};
		if (!vd_link_conn_send_ref(conn, &msg, from_client ? release_client : release_pool,
				pool_ref(pool))) {
			pool_unref(pool);
			return false;
		}
		job->sent += n;
		offset += n;
		len -= n;
	}
	return true;
}

/* Rows narrower than PACK_ROW, packed into frames (copied: they are small). */
static bool send_rows(struct job *job, struct vd_link_conn *conn, uint32_t channel,
		size_t offset, uint32_t width, uint32_t rows) {
	struct pool *pool = job->pool;
	uint8_t buf[64 * 1024];
	while (rows > 0) {
		uint32_t n = (uint32_t)(sizeof(buf) / width);
		n = n < rows ? n : rows;
		for (uint32_t r = 0; r < n; r++) {
			memcpy(buf + (size_t)r * width, pool->map + offset + (size_t)r * job->stride,
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

static size_t put_varint(uint8_t *p, uint32_t value) {
	size_t n = 0;
	while (value >= 0x80) {
		p[n++] = (uint8_t)(value | 0x80);
		value >>= 7;
	}
	p[n++] = (uint8_t)value;
	return n;
}

static void release_pack(void *data, bool faulted) {
	free(data);
}

/* Sends the runs packed so far as one WL_POOL_DIFF (written from the pack, not copied). */
static bool flush_pack(struct job *job, struct vd_link_conn *conn, uint32_t channel) {
	if (job->pack == NULL || job->pack_len == 0) {
		return true;
	}
	uint8_t *pack = job->pack;
	size_t len = job->pack_len;
	job->pack = NULL;
	job->pack_len = 0;
	struct vd_link_msg msg = {.type = VD_LINK_WL_POOL_DIFF, .id = channel};
	msg.body.wl_pool_diff = (struct vd_link_wl_pool_diff){.pool = job->pool->id,
		.offset = job->pack_base, .data = pack, .data_len = (uint32_t)len};
	if (!vd_link_conn_send_ref(conn, &msg, release_pack, pack)) {
		free(pack);
		return false;
	}
	job->sent += len;
	return true;
}

/* A run of changed bytes: into the shadow, and to the host (packed, or alone if long). */
static bool emit_run(struct job *job, struct vd_link_conn *conn, uint32_t channel, size_t start,
		size_t end) {
	struct pool *pool = job->pool;
	size_t len = end - start;
	memcpy(pool->shadow + start, pool->map + start, len);
	if (len >= LONG_RUN) {
		return flush_pack(job, conn, channel) && send_span(job, conn, channel, start, len,
			false);
	}
	/* a run behind the last one (another box), or no room: a new pack */
	if (job->pack != NULL && (start < job->pack_last || job->pack_len + 10 + len > PACK_MAX) &&
			!flush_pack(job, conn, channel)) {
		return false;
	}
	if (job->pack == NULL) {
		job->pack = malloc(PACK_MAX);
		if (job->pack == NULL) {
			return send_span(job, conn, channel, start, len, false);
		}
		job->pack_len = 0;
		job->pack_base = (uint32_t)start;
		job->pack_last = start;
	}
	uint8_t *p = job->pack + job->pack_len;
	p += put_varint(p, (uint32_t)(start - job->pack_last));
	p += put_varint(p, (uint32_t)len);
	memcpy(p, pool->shadow + start, len);
	job->pack_len = (size_t)(p + len - job->pack);
	job->pack_last = end;
	return true;
}

/* Compares [s, e) with the shadow word by word and sends the runs that differ. */
static bool compare_piece(struct job *job, struct vd_link_conn *conn, uint32_t channel,
		size_t s, size_t e) {
	const uint8_t *map = job->pool->map;
	const uint8_t *shadow = job->pool->shadow;
	bool in_run = false;
	size_t run_start = 0, run_end = 0;
	size_t i = s;
	while (i < e) {
		if (!in_run) {
			i = find_diff(map, shadow, i, e);
			if (i == e) {
				break;
			}
		}
		if (e - i < BLOCK) {
			for (; i < e; i++) {
				if (map[i] != shadow[i]) {
					if (in_run && i - run_end > RUN_GAP) {
						if (!emit_run(job, conn, channel, run_start, run_end)) {
							return false;
						}
						in_run = false;
					}
					if (!in_run) {
						in_run = true;
						run_start = i;
					}
					run_end = i + 1;
				}
			}
			break;
		}
		uint32_t mask = block_mask(map + i, shadow + i);
		if (mask == 0xffffu && in_run && run_end == i) {
			run_end = i + BLOCK; // a dense run goes on
		} else {
			for (int k = 0; mask != 0; k++, mask >>= 1) {
				if (!(mask & 1)) {
					continue;
				}
				size_t at = i + 4 * (size_t)k;
				if (in_run && at - run_end > RUN_GAP) {
					if (!emit_run(job, conn, channel, run_start, run_end)) {
						return false;
					}
					in_run = false;
				}
				if (!in_run) {
					in_run = true;
					run_start = at;
				}
				run_end = at + 4;
			}
		}
		i += BLOCK;
		if (in_run && i - run_end > RUN_GAP) {
			if (!emit_run(job, conn, channel, run_start, run_end)) {
				return false;
			}
			in_run = false;
		}
	}
	return !in_run || emit_run(job, conn, channel, run_start, run_end);
}

/*
 * Compares [s, e) granule by granule: where the shadow lags (a copy sent
 * from the client's memory), the bytes are copied and sent whole.
 */
static bool compare_span(struct job *job, struct vd_link_conn *conn, uint32_t channel, size_t s,
		size_t e) {
	struct pool *pool = job->pool;
	job->examined += e - s;
	while (s < e) {
		size_t granule = s / VD_POOL_GRANULE;
		size_t g0 = granule * VD_POOL_GRANULE, g1 = g0 + VD_POOL_GRANULE;
		size_t piece = e < g1 ? e : g1;
		if (is_stale(pool, granule)) {
			memcpy(pool->shadow + s, pool->map + s, piece - s);
			if (!send_span(job, conn, channel, s, piece - s, false)) {
				return false;
			}
			if (s == g0 && piece == g1) {
				pool->stale[granule / 8] &= (uint8_t)~(1u << (granule % 8));
			}
		} else if (!compare_piece(job, conn, channel, s, piece)) {
			return false;
		}
		s = piece;
	}
	return true;
}

/*
 * Sends rows of [s, s + width) every stride (count rows) whole, straight from
 * the client's memory; the shadow lags there from now on.
 */
static bool copy_rows(struct job *job, struct vd_link_conn *conn, uint32_t channel, size_t s,
		uint32_t width, uint32_t rows, bool contiguous) {
	struct pool *pool = job->pool;
	job->examined += (size_t)width * rows;
	size_t end = s + (size_t)(rows - 1) * job->stride + width;
	if (!mark_stale(pool, s, end)) {
		/* no bitmap: keep the shadow right the slow way */
		for (uint32_t r = 0; r < rows; r++) {
			size_t at = s + (size_t)r * job->stride;
			memcpy(pool->shadow + at, pool->map + at, width);
		}
	}
	if (contiguous) {
		return send_span(job, conn, channel, s, (size_t)width * rows, true);
	}
	if (width < PACK_ROW) {
		return send_rows(job, conn, channel, s, width, rows);
	}
	for (uint32_t r = 0; r < rows; r++) {
		if (!send_span(job, conn, channel, s + (size_t)r * job->stride, width, true)) {
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
	bool flushed = flush_pack(job, conn, channel);
	if (guard_end()) {
		job->pool->broken = true;
		*fault = true;
		return true;
	}
	if (!flushed) {
		return true; // the link is going
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

void job_stats(const struct job *job, uint64_t *examined, uint64_t *sent) {
	*examined = job->examined;
	*sent = job->sent;
}

void job_free(struct job *job) {
	if (job == NULL) {
		return;
	}
	pool_unref(job->pool);
	if (--job->stat->refs == 0) {
		free(job->stat);
	}
	free(job->pack);
	free(job->boxes);
	free(job);
}
