/*
 * frame-bench: time from a client's commit to the compositor's frame
 * callback, for a window that only redraws and for one that resizes on
 * every frame. Run it directly on a compositor and through vmdesk-proxy
 * (with and without frames) to see what the frame costs.
 *
 * usage: frame-bench redraw|resize [N]
 * prints: mode=... n=... p50_us=... p99_us=... mean_us=...
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

struct state {
	struct wl_display *display;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm_base;
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	bool configured;
	bool frame_done;
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version) {
	struct state *st = data;
	if (strcmp(interface, wl_compositor_interface.name) == 0) {
		st->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	} else if (strcmp(interface, wl_shm_interface.name) == 0) {
		st->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	} else if (strcmp(interface, xdg_wm_base_interface.name) == 0) {
		st->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
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
	struct state *st = data;
	xdg_surface_ack_configure(xdg_surface, serial);
	st->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = handle_xdg_configure,
};

static void handle_toplevel_configure(void *data, struct xdg_toplevel *toplevel, int32_t w,
		int32_t h, struct wl_array *states) {
}

static void handle_toplevel_close(void *data, struct xdg_toplevel *toplevel) {
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = handle_toplevel_configure,
	.close = handle_toplevel_close,
};

static void handle_frame_done(void *data, struct wl_callback *callback, uint32_t time) {
	struct state *st = data;
	st->frame_done = true;
	wl_callback_destroy(callback);
}

static const struct wl_callback_listener frame_listener = {
	.done = handle_frame_done,
};

static struct wl_buffer *create_buffer(struct state *st, int width, int height,
		uint32_t color) {
	int stride = width * 4;
	size_t size = (size_t)stride * (size_t)height;
	int fd = memfd_create("frame-bench", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		perror("memfd");
		exit(1);
	}
	uint32_t *pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pixels == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	for (size_t i = 0; i < size / 4; i++) {
		pixels[i] = color;
	}
	munmap(pixels, size);
	struct wl_shm_pool *pool = wl_shm_create_pool(st->shm, fd, (int32_t)size);
	struct wl_buffer *buffer = wl_shm_pool_create_buffer(pool, 0, width, height, stride,
		WL_SHM_FORMAT_XRGB8888);
	wl_shm_pool_destroy(pool);
	close(fd);
	return buffer;
}

static double now_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int compare_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char *argv[]) {
	if (argc < 2 || (strcmp(argv[1], "redraw") != 0 && strcmp(argv[1], "resize") != 0)) {
		fprintf(stderr, "usage: frame-bench redraw|resize [N]\n");
		return 2;
	}
	bool resize = strcmp(argv[1], "resize") == 0;
	int n = argc > 2 ? atoi(argv[2]) : 300;
	if (n <= 0 || n > 1000000) {
		fprintf(stderr, "frame-bench: N must be 1..1000000\n");
		return 2;
	}
	struct state st = {0};
	st.display = wl_display_connect(NULL);
	if (st.display == NULL) {
		fprintf(stderr, "frame-bench: cannot connect to the compositor\n");
		return 1;
	}
	struct wl_registry *registry = wl_display_get_registry(st.display);
	wl_registry_add_listener(registry, &registry_listener, &st);
	wl_display_roundtrip(st.display);
	if (st.compositor == NULL || st.shm == NULL || st.wm_base == NULL) {
		fprintf(stderr, "frame-bench: the compositor lacks wl_compositor, wl_shm or "
			"xdg_wm_base\n");
		return 1;
	}
	xdg_wm_base_add_listener(st.wm_base, &wm_base_listener, &st);
	st.surface = wl_compositor_create_surface(st.compositor);
	st.xdg_surface = xdg_wm_base_get_xdg_surface(st.wm_base, st.surface);
	xdg_surface_add_listener(st.xdg_surface, &xdg_surface_listener, &st);
	st.toplevel = xdg_surface_get_toplevel(st.xdg_surface);
	xdg_toplevel_add_listener(st.toplevel, &toplevel_listener, &st);
	xdg_toplevel_set_title(st.toplevel, "frame-bench");
	wl_surface_commit(st.surface);
	while (!st.configured && wl_display_dispatch(st.display) >= 0) {
	}

	/* two buffers per size; resize alternates between two sizes */
	const int sizes[2][2] = { { 400, 300 }, { 420, 320 } };
	struct wl_buffer *buffers[2][2];
	for (int s = 0; s < 2; s++) {
		for (int b = 0; b < 2; b++) {
			buffers[s][b] = create_buffer(&st, sizes[s][0], sizes[s][1],
				b ? 0xff3366aa : 0xff66aa33);
		}
	}
	double *samples = calloc((size_t)n, sizeof(double));
	int warmup = 10;
	for (int i = -warmup; i < n; i++) {
		int s = resize ? (i & 1) : 0;
		struct wl_buffer *buffer = buffers[s][(i >> 1) & 1];
		if (resize) {
			xdg_surface_set_window_geometry(st.xdg_surface, 0, 0, sizes[s][0],
				sizes[s][1]);
		}
		wl_surface_attach(st.surface, buffer, 0, 0);
		wl_surface_damage_buffer(st.surface, 0, 0, sizes[s][0], sizes[s][1]);
		struct wl_callback *callback = wl_surface_frame(st.surface);
		wl_callback_add_listener(callback, &frame_listener, &st);
		st.frame_done = false;
		double start = now_us();
		wl_surface_commit(st.surface);
		wl_display_flush(st.display);
		while (!st.frame_done) {
			if (wl_display_dispatch(st.display) < 0) {
				fprintf(stderr, "frame-bench: connection lost\n");
				return 1;
			}
		}
		if (i >= 0) {
			samples[i] = now_us() - start;
		}
	}
	double sum = 0;
	for (int i = 0; i < n; i++) {
		sum += samples[i];
	}
	qsort(samples, (size_t)n, sizeof(double), compare_double);
	printf("mode=%s n=%d p50_us=%.1f p99_us=%.1f mean_us=%.1f\n", argv[1], n,
		samples[n / 2], samples[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], sum / n);
	free(samples);
	wl_display_disconnect(st.display);
	return 0;
}
