/*
 * shm-bench: a wl_shm client that draws as fast as the compositor lets it
 * (one frame per frame callback), for measuring what a path costs per frame.
 *
 *   shm-bench full|square WIDTHxHEIGHT [--seconds S] [--frames N] [--warmup N] [--sync]
 *
 *   full    every pixel changes on every frame (full damage)
 *   square  one 64x64 square in the middle changes colour on every frame, and
 *           only it is damaged (16384 changed bytes per frame)
 *
 * XRGB8888 buffers, each in its own pool (as toolkits do); a new buffer is
 * made only when every existing one is still held by the compositor (at most
 * four). After --warmup frames (default 20) it measures --frames frames or
 * --seconds seconds (default 3), whichever ends first. With --sync it prints
 * "ready" after the warm-up and waits for a line on stdin before measuring,
 * so that the runner can read CPU and byte counters around exactly the
 * measured frames. Results go to stdout as key=value lines; errors to stderr.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

#define SHM_BENCH_MAX_BUFFERS 4
#define SHM_BENCH_SQUARE 64
#define SHM_BENCH_BACKGROUND 0xff203040u
#define SHM_BENCH_MAX_SIDE 8192

enum shm_bench_mode {
	SHM_BENCH_FULL,
	SHM_BENCH_SQUARE_MODE,
};

struct shm_buffer {
	struct wl_buffer *wl_buffer;
	uint32_t *pixels;
	size_t size;
	bool busy;
	bool fresh; // never drawn: its whole content must be painted
};

struct shm_bench {
	enum shm_bench_mode mode;
	int width, height;
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm_base;
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	bool configured;
	bool closed;
	bool frame_done;
	double frame_done_at;
	struct shm_buffer buffers[SHM_BENCH_MAX_BUFFERS];
	int buffer_count;
	uint64_t damage_bytes; // damaged area of the measured frames, in bytes
};

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
	struct rusage usage;
	if (getrusage(RUSAGE_SELF, &usage) != 0) {
		return 0;
	}
	return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
		(double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static int compare_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version) {
	struct shm_bench *bench = data;
	if (strcmp(interface, wl_compositor_interface.name) == 0 && version >= 4) {
		bench->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	} else if (strcmp(interface, wl_shm_interface.name) == 0) {
		bench->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	} else if (strcmp(interface, xdg_wm_base_interface.name) == 0) {
		bench->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
	}
}

static void handle_global_remove(void *data, struct wl_registry *registry, uint32_t name) {
}

static const struct wl_registry_listener registry_listener = {
	.global = handle_global,
	.global_remove = handle_global_remove,
};

static void handle_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial) {
	xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {
	.ping = handle_ping,
};

static void handle_xdg_configure(void *data, struct xdg_surface *xdg_surface, uint32_t serial) {
	struct shm_bench *bench = data;
	xdg_surface_ack_configure(xdg_surface, serial);
	bench->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = handle_xdg_configure,
};

static void handle_toplevel_configure(void *data, struct xdg_toplevel *toplevel, int32_t w,
		int32_t h, struct wl_array *states) {
	// The window keeps its own size (it floats).
}

static void handle_toplevel_close(void *data, struct xdg_toplevel *toplevel) {
	struct shm_bench *bench = data;
	bench->closed = true;
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = handle_toplevel_configure,
	.close = handle_toplevel_close,
};

static void handle_frame_done(void *data, struct wl_callback *callback, uint32_t time) {
	struct shm_bench *bench = data;
	bench->frame_done = true;
	bench->frame_done_at = now_s();
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener frame_listener = {
	.done = handle_frame_done,
};

static void handle_buffer_release(void *data, struct wl_buffer *wl_buffer) {
	struct shm_buffer *buffer = data;
	buffer->busy = false;
}

static const struct wl_buffer_listener buffer_listener = {
	.release = handle_buffer_release,
};

static bool buffer_init(struct shm_bench *bench, struct shm_buffer *buffer) {
	int stride = bench->width * 4;
	buffer->size = (size_t)stride * (size_t)bench->height;
	int fd = memfd_create("shm-bench", MFD_CLOEXEC);
	if (fd < 0) {
		perror("shm-bench: memfd_create");
		return false;
	}
	if (ftruncate(fd, (off_t)buffer->size) != 0) {
		perror("shm-bench: ftruncate");
		close(fd);
		return false;
	}
	buffer->pixels = mmap(NULL, buffer->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (buffer->pixels == MAP_FAILED) {
		perror("shm-bench: mmap");
		close(fd);
		return false;
	}
	struct wl_shm_pool *pool = wl_shm_create_pool(bench->shm, fd, (int32_t)buffer->size);
	buffer->wl_buffer = wl_shm_pool_create_buffer(pool, 0, bench->width, bench->height,
		stride, WL_SHM_FORMAT_XRGB8888);
	wl_buffer_add_listener(buffer->wl_buffer, &buffer_listener, buffer);
	wl_shm_pool_destroy(pool);
	close(fd);
	buffer->busy = false;
	buffer->fresh = true;
	return true;
}

/* A buffer the compositor does not hold; NULL if the connection failed. */
static struct shm_buffer *next_buffer(struct shm_bench *bench) {
	while (true) {
		for (int i = 0; i < bench->buffer_count; i++) {
			if (!bench->buffers[i].busy) {
				return &bench->buffers[i];
			}
		}
		if (bench->buffer_count < SHM_BENCH_MAX_BUFFERS) {
			struct shm_buffer *buffer = &bench->buffers[bench->buffer_count];
			if (!buffer_init(bench, buffer)) {
				return NULL;
			}
			bench->buffer_count++;
			return buffer;
		}
		if (wl_display_dispatch(bench->display) < 0) {
			return NULL;
		}
	}
}

/* Paints frame number `frame` into buffer and damages what changed. */
static void draw(struct shm_bench *bench, struct shm_buffer *buffer, uint32_t frame) {
	int w = bench->width, h = bench->height;
	if (bench->mode == SHM_BENCH_FULL) {
		// Each pixel moves by 0x010203 per frame: it differs from the same
		// buffer's previous content (two frames ago) in every pixel.
		for (int y = 0; y < h; y++) {
			uint32_t *row = buffer->pixels + (size_t)y * (size_t)w;
			uint32_t base = frame * 0x00010203u + (uint32_t)y * 0x00000101u;
			for (int x = 0; x < w; x++) {
				row[x] = 0xff000000u | (base + (uint32_t)x);
			}
		}
		wl_surface_damage_buffer(bench->surface, 0, 0, w, h);
		bench->damage_bytes += (uint64_t)w * (uint64_t)h * 4;
		return;
	}
	if (buffer->fresh) {
		for (size_t i = 0; i < buffer->size / 4; i++) {
			buffer->pixels[i] = SHM_BENCH_BACKGROUND;
		}
	}
	int side = SHM_BENCH_SQUARE;
	int x0 = w / 2 - side / 2, y0 = h / 2 - side / 2;
	uint32_t color = 0xff000000u | ((frame * 0x00050307u) & 0x00ffffffu);
	for (int y = y0; y < y0 + side; y++) {
		uint32_t *row = buffer->pixels + (size_t)y * (size_t)w;
		for (int x = x0; x < x0 + side; x++) {
			row[x] = color;
		}
	}
	if (buffer->fresh) {
		wl_surface_damage_buffer(bench->surface, 0, 0, w, h);
		bench->damage_bytes += (uint64_t)w * (uint64_t)h * 4;
	} else {
		wl_surface_damage_buffer(bench->surface, x0, y0, side, side);
		bench->damage_bytes += (uint64_t)side * (uint64_t)side * 4;
	}
}

/* Draws, commits and waits for the frame callback; the commit-to-done time in *latency. */
static bool frame(struct shm_bench *bench, uint32_t number, double *latency) {
	struct shm_buffer *buffer = next_buffer(bench);
	if (buffer == NULL) {
		return false;
	}
	draw(bench, buffer, number);
	buffer->fresh = false;
	buffer->busy = true;
	wl_surface_attach(bench->surface, buffer->wl_buffer, 0, 0);
	struct wl_callback *callback = wl_surface_frame(bench->surface);
	wl_callback_add_listener(callback, &frame_listener, bench);
	bench->frame_done = false;
	double start = now_s();
	wl_surface_commit(bench->surface);
	while (!bench->frame_done && !bench->closed) {
		if (wl_display_dispatch(bench->display) < 0) {
			return false;
		}
	}
	*latency = bench->frame_done_at - start;
	return !bench->closed;
}

static bool setup(struct shm_bench *bench) {
	bench->display = wl_display_connect(NULL);
	if (bench->display == NULL) {
		fprintf(stderr, "shm-bench: cannot connect: %s\n", strerror(errno));
		return false;
	}
	bench->registry = wl_display_get_registry(bench->display);
	wl_registry_add_listener(bench->registry, &registry_listener, bench);
	if (wl_display_roundtrip(bench->display) < 0) {
		return false;
	}
	if (bench->compositor == NULL || bench->shm == NULL || bench->wm_base == NULL) {
		fprintf(stderr, "shm-bench: no wl_compositor v4, wl_shm or xdg_wm_base\n");
		return false;
	}
	xdg_wm_base_add_listener(bench->wm_base, &wm_base_listener, bench);
	bench->surface = wl_compositor_create_surface(bench->compositor);
	bench->xdg_surface = xdg_wm_base_get_xdg_surface(bench->wm_base, bench->surface);
	xdg_surface_add_listener(bench->xdg_surface, &xdg_surface_listener, bench);
	bench->toplevel = xdg_surface_get_toplevel(bench->xdg_surface);
	xdg_toplevel_add_listener(bench->toplevel, &toplevel_listener, bench);
	xdg_toplevel_set_title(bench->toplevel, "shm-bench");
	xdg_toplevel_set_app_id(bench->toplevel, "shm-bench");
	wl_surface_commit(bench->surface);
	while (!bench->configured && !bench->closed) {
		if (wl_display_dispatch(bench->display) < 0) {
			return false;
		}
	}
	return !bench->closed;
}

static void teardown(struct shm_bench *bench) {
	for (int i = 0; i < bench->buffer_count; i++) {
		wl_buffer_destroy(bench->buffers[i].wl_buffer);
		munmap(bench->buffers[i].pixels, bench->buffers[i].size);
	}
	if (bench->toplevel != NULL) {
		xdg_toplevel_destroy(bench->toplevel);
	}
	if (bench->xdg_surface != NULL) {
		xdg_surface_destroy(bench->xdg_surface);
	}
	if (bench->surface != NULL) {
		wl_surface_destroy(bench->surface);
	}
	if (bench->wm_base != NULL) {
		xdg_wm_base_destroy(bench->wm_base);
	}
	if (bench->shm != NULL) {
		wl_shm_destroy(bench->shm);
	}
	if (bench->compositor != NULL) {
		wl_compositor_destroy(bench->compositor);
	}
	if (bench->registry != NULL) {
		wl_registry_destroy(bench->registry);
	}
	wl_display_disconnect(bench->display);
}

static bool parse_size(const char *text, int *width, int *height) {
	char *end;
	long w = strtol(text, &end, 10);
	if (*end != 'x') {
		return false;
	}
	long h = strtol(end + 1, &end, 10);
	if (*end != '\0' || w < SHM_BENCH_SQUARE || h < SHM_BENCH_SQUARE ||
			w > SHM_BENCH_MAX_SIDE || h > SHM_BENCH_MAX_SIDE) {
		return false;
	}
	*width = (int)w;
	*height = (int)h;
	return true;
}

static void usage(void) {
	fprintf(stderr, "usage: shm-bench full|square WIDTHxHEIGHT [--seconds S] [--frames N] "
		"[--warmup N] [--sync]\n");
}

int main(int argc, char *argv[]) {
	struct shm_bench bench = {0};
	if (argc < 3) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "full") == 0) {
		bench.mode = SHM_BENCH_FULL;
	} else if (strcmp(argv[1], "square") == 0) {
		bench.mode = SHM_BENCH_SQUARE_MODE;
	} else {
		usage();
		return 2;
	}
	if (!parse_size(argv[2], &bench.width, &bench.height)) {
		fprintf(stderr, "shm-bench: bad size '%s' (64x64 to 8192x8192)\n", argv[2]);
		return 2;
	}
	double seconds = 3;
	long max_frames = 1000000, warmup = 20;
	bool sync = false;
	for (int i = 3; i < argc; i++) {
		bool has_value = i + 1 < argc;
		if (strcmp(argv[i], "--seconds") == 0 && has_value) {
			seconds = atof(argv[++i]);
		} else if (strcmp(argv[i], "--frames") == 0 && has_value) {
			max_frames = atol(argv[++i]);
		} else if (strcmp(argv[i], "--warmup") == 0 && has_value) {
			warmup = atol(argv[++i]);
		} else if (strcmp(argv[i], "--sync") == 0) {
			sync = true;
		} else {
			usage();
			return 2;
		}
	}
	if (seconds <= 0 || max_frames <= 0 || max_frames > 1000000 || warmup < 0) {
		usage();
		return 2;
	}
	if (!setup(&bench)) {
		fprintf(stderr, "shm-bench: setup failed\n");
		return 1;
	}
	double *latencies = calloc((size_t)max_frames, sizeof(*latencies));
	if (latencies == NULL) {
		return 1;
	}
	uint32_t number = 0;
	double latency;
	for (long i = 0; i < warmup; i++) {
		if (!frame(&bench, number++, &latency)) {
			fprintf(stderr, "shm-bench: connection lost during warm-up\n");
			return 1;
		}
	}
	if (sync) {
		char line[64];
		printf("ready\n");
		fflush(stdout);
		if (fgets(line, sizeof(line), stdin) == NULL) {
			fprintf(stderr, "shm-bench: no go from the runner\n");
			return 1;
		}
	}
	bench.damage_bytes = 0;
	double cpu_start = cpu_s();
	double start = now_s();
	long frames = 0;
	while (frames < max_frames && now_s() - start < seconds) {
		if (!frame(&bench, number++, &latencies[frames])) {
			fprintf(stderr, "shm-bench: connection lost\n");
			return 1;
		}
		frames++;
	}
	double secs = now_s() - start;
	double cpu = cpu_s() - cpu_start;
	qsort(latencies, (size_t)frames, sizeof(*latencies), compare_double);
	printf("mode=%s\n", argv[1]);
	printf("width=%d\nheight=%d\n", bench.width, bench.height);
	printf("frames=%ld\n", frames);
	printf("secs=%.4f\n", secs);
	printf("fps=%.2f\n", (double)frames / secs);
	printf("frame_p50_us=%.1f\n", latencies[frames / 2] * 1e6);
	printf("frame_p99_us=%.1f\n", latencies[(frames * 99) / 100] * 1e6);
	printf("damage_bytes_per_frame=%.1f\n", (double)bench.damage_bytes / (double)frames);
	printf("buffers=%d\n", bench.buffer_count);
	printf("cpu_s=%.4f\n", cpu);
	fflush(stdout);
	free(latencies);
	teardown(&bench);
	return 0;
}
