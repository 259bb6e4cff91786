/*
 * key-bench: input latency, from a key event entering the compositor to the
 * client receiving it, through whatever path the client is connected by.
 *
 *   key-bench target --report-fd FD
 *       A small window (through the path under test). Writes "focus" when it
 *       gets keyboard focus, then "key CODE NS" for every key press, NS its
 *       CLOCK_MONOTONIC receipt time in nanoseconds, to FD. Runs until killed.
 *   key-bench inject --report-fd FD [--samples N] [--timeout S]
 *       Holds a zwp_virtual_keyboard_v1 on the compositor ($WAYLAND_DISPLAY,
 *       the host's). Prints "ready" once the keyboard exists, waits for the
 *       target's "focus" on FD, then N times (default 500): notes the time,
 *       sends a key press, waits for the target's report of it, sends the
 *       release. Prints key=value lines: samples, p50_us, p99_us, mean_us,
 *       max_us. Both ends read CLOCK_MONOTONIC on the same machine.
 *
 * One key at a time (closed loop), so no sample waits behind another.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>

#include "virtual-keyboard-unstable-v1-client-protocol.h"
#include "xdg-shell-client-protocol.h"

#define KEY_BENCH_SIZE 128
#define KEY_BENCH_MAX_SAMPLES 100000
/* evdev codes of the letters a..z on a US layout, cycled through */
static const uint32_t key_codes[] = {
	30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50,
	49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44,
};

/* A keymap in the text format; the compositor resolves the includes. */
static const char keymap_text[] =
	"xkb_keymap {\n"
	"	xkb_keycodes { include \"evdev+aliases(qwerty)\" };\n"
	"	xkb_types { include \"complete\" };\n"
	"	xkb_compat { include \"complete\" };\n"
	"	xkb_symbols { include \"pc+us+inet(evdev)\" };\n"
	"};\n";

struct key_bench {
	struct wl_display *display;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct wl_seat *seat;
	struct xdg_wm_base *wm_base;
	struct zwp_virtual_keyboard_manager_v1 *vk_manager;
	struct wl_keyboard *keyboard;
	struct wl_surface *surface;
	bool configured;
	int report_fd;
};

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report(struct key_bench *bench, const char *line) {
	size_t len = strlen(line);
	if (write(bench->report_fd, line, len) != (ssize_t)len) {
		perror("key-bench: report");
		exit(1);
	}
}

/* -- target: a window with keyboard focus ------------------------------------ */

static void keyboard_keymap(void *data, struct wl_keyboard *keyboard, uint32_t format,
		int32_t fd, uint32_t size) {
	close(fd);
}

static void keyboard_enter(void *data, struct wl_keyboard *keyboard, uint32_t serial,
		struct wl_surface *surface, struct wl_array *keys) {
	report(data, "focus\n");
}

static void keyboard_leave(void *data, struct wl_keyboard *keyboard, uint32_t serial,
		struct wl_surface *surface) {
}

static void keyboard_key(void *data, struct wl_keyboard *keyboard, uint32_t serial,
		uint32_t time, uint32_t key, uint32_t state) {
	int64_t at = now_ns();
	if (state != WL_KEYBOARD_KEY_STATE_PRESSED) {
		return;
	}
	char line[64];
	snprintf(line, sizeof(line), "key %u %lld\n", key, (long long)at);
	report(data, line);
}

static void keyboard_modifiers(void *data, struct wl_keyboard *keyboard, uint32_t serial,
		uint32_t depressed, uint32_t latched, uint32_t locked, uint32_t group) {
}

static void keyboard_repeat_info(void *data, struct wl_keyboard *keyboard, int32_t rate,
		int32_t delay) {
}

static const struct wl_keyboard_listener keyboard_listener = {
	.keymap = keyboard_keymap,
	.enter = keyboard_enter,
	.leave = keyboard_leave,
	.key = keyboard_key,
	.modifiers = keyboard_modifiers,
	.repeat_info = keyboard_repeat_info,
};

static void seat_capabilities(void *data, struct wl_seat *seat, uint32_t caps) {
	struct key_bench *bench = data;
	if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && bench->keyboard == NULL) {
		bench->keyboard = wl_seat_get_keyboard(seat);
		wl_keyboard_add_listener(bench->keyboard, &keyboard_listener, bench);
	}
}

static void seat_name(void *data, struct wl_seat *seat, const char *name) {
}

static const struct wl_seat_listener seat_listener = {
	.capabilities = seat_capabilities,
	.name = seat_name,
};

static void handle_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version) {
	struct key_bench *bench = data;
	if (strcmp(interface, wl_compositor_interface.name) == 0 && version >= 4) {
		bench->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
	} else if (strcmp(interface, wl_shm_interface.name) == 0) {
		bench->shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
	} else if (strcmp(interface, wl_seat_interface.name) == 0 && bench->seat == NULL) {
		bench->seat = wl_registry_bind(registry, name, &wl_seat_interface, 4);
	} else if (strcmp(interface, xdg_wm_base_interface.name) == 0) {
		bench->wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
	} else if (strcmp(interface, zwp_virtual_keyboard_manager_v1_interface.name) == 0) {
		bench->vk_manager = wl_registry_bind(registry, name,
			&zwp_virtual_keyboard_manager_v1_interface, 1);
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
	struct key_bench *bench = data;
	xdg_surface_ack_configure(xdg_surface, serial);
	bench->configured = true;
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = handle_xdg_configure,
};

static void handle_toplevel_configure(void *data, struct xdg_toplevel *toplevel, int32_t w,
		int32_t h, struct wl_array *states) {
}

static void handle_toplevel_close(void *data, struct xdg_toplevel *toplevel) {
	exit(0);
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = handle_toplevel_configure,
	.close = handle_toplevel_close,
};

static struct wl_buffer *make_buffer(struct key_bench *bench) {
	int stride = KEY_BENCH_SIZE * 4;
	size_t size = (size_t)stride * KEY_BENCH_SIZE;
	int fd = memfd_create("key-bench", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		perror("key-bench: memfd");
		exit(1);
	}
	uint32_t *pixels = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pixels == MAP_FAILED) {
		perror("key-bench: mmap");
		exit(1);
	}
	for (size_t i = 0; i < size / 4; i++) {
		pixels[i] = 0xff806040u;
	}
	munmap(pixels, size);
	struct wl_shm_pool *pool = wl_shm_create_pool(bench->shm, fd, (int32_t)size);
	struct wl_buffer *buffer = wl_shm_pool_create_buffer(pool, 0, KEY_BENCH_SIZE,
		KEY_BENCH_SIZE, stride, WL_SHM_FORMAT_XRGB8888);
	wl_shm_pool_destroy(pool);
	close(fd);
	return buffer;
}

static int run_target(struct key_bench *bench) {
	if (bench->compositor == NULL || bench->shm == NULL || bench->seat == NULL ||
			bench->wm_base == NULL) {
		fprintf(stderr, "key-bench: target needs wl_compositor v4, wl_shm, wl_seat and "
			"xdg_wm_base\n");
		return 1;
	}
	wl_seat_add_listener(bench->seat, &seat_listener, bench);
	xdg_wm_base_add_listener(bench->wm_base, &wm_base_listener, bench);
	bench->surface = wl_compositor_create_surface(bench->compositor);
	struct xdg_surface *xdg_surface = xdg_wm_base_get_xdg_surface(bench->wm_base,
		bench->surface);
	xdg_surface_add_listener(xdg_surface, &xdg_surface_listener, bench);
	struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg_surface);
	xdg_toplevel_add_listener(toplevel, &toplevel_listener, bench);
	xdg_toplevel_set_title(toplevel, "key-bench");
	xdg_toplevel_set_app_id(toplevel, "key-bench");
	wl_surface_commit(bench->surface);
	while (!bench->configured) {
		if (wl_display_dispatch(bench->display) < 0) {
			return 1;
		}
	}
	wl_surface_attach(bench->surface, make_buffer(bench), 0, 0);
	wl_surface_damage_buffer(bench->surface, 0, 0, KEY_BENCH_SIZE, KEY_BENCH_SIZE);
	wl_surface_commit(bench->surface);
	while (wl_display_dispatch(bench->display) >= 0) {
	}
	fprintf(stderr, "key-bench: target lost its connection\n");
	return 1;
}

/* -- inject: a virtual keyboard on the host compositor ------------------------ */

/* Reads one line from fd into buf (NUL-terminated, without the newline) within timeout_ms. */
static bool read_line(int fd, char *buf, size_t size, int timeout_ms) {
	size_t len = 0;
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
	while (len + 1 < size) {
		int left = (int)((deadline - now_ns()) / 1000000);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, left > 0 ? left : 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return false;
		}
		// One byte at a time: lines are short and there is one per sample.
		ssize_t got = read(fd, buf + len, 1);
		if (got <= 0) {
			return false;
		}
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return true;
		}
		len++;
	}
	return false;
}

static bool send_keymap(struct zwp_virtual_keyboard_v1 *keyboard) {
	size_t size = sizeof(keymap_text); // with the NUL, as wl_keyboard.keymap has it
	int fd = memfd_create("key-bench-keymap", MFD_CLOEXEC);
	if (fd < 0 || write(fd, keymap_text, size) != (ssize_t)size) {
		perror("key-bench: keymap");
		return false;
	}
	zwp_virtual_keyboard_v1_keymap(keyboard, WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1, fd,
		(uint32_t)size);
	close(fd);
	return true;
}

static int run_inject(struct key_bench *bench, long samples, int timeout_ms) {
	if (bench->seat == NULL || bench->vk_manager == NULL) {
		fprintf(stderr, "key-bench: the compositor has no wl_seat or "
			"zwp_virtual_keyboard_manager_v1\n");
		return 1;
	}
	struct zwp_virtual_keyboard_v1 *keyboard =
		zwp_virtual_keyboard_manager_v1_create_virtual_keyboard(bench->vk_manager,
			bench->seat);
	if (!send_keymap(keyboard) || wl_display_roundtrip(bench->display) < 0) {
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	char line[128];
	if (!read_line(bench->report_fd, line, sizeof(line), timeout_ms) ||
			strcmp(line, "focus") != 0) {
		fprintf(stderr, "key-bench: the target never got keyboard focus\n");
		return 1;
	}
	double *latencies = calloc((size_t)samples, sizeof(*latencies));
	if (latencies == NULL) {
		return 1;
	}
	double sum = 0;
	for (long i = 0; i < samples; i++) {
		uint32_t code = key_codes[i % (long)(sizeof(key_codes) / sizeof(key_codes[0]))];
		int64_t sent = now_ns();
		uint32_t ms = (uint32_t)(sent / 1000000);
		zwp_virtual_keyboard_v1_key(keyboard, ms, code, WL_KEYBOARD_KEY_STATE_PRESSED);
		if (wl_display_flush(bench->display) < 0) {
			fprintf(stderr, "key-bench: lost the compositor\n");
			return 1;
		}
		unsigned got_code;
		long long got_ns;
		if (!read_line(bench->report_fd, line, sizeof(line), timeout_ms) ||
				sscanf(line, "key %u %lld", &got_code, &got_ns) != 2) {
			fprintf(stderr, "key-bench: no report for key %ld (code %u)\n", i, code);
			return 1;
		}
		if (got_code != code) {
			fprintf(stderr, "key-bench: sent code %u, the target got %u\n", code,
				got_code);
			return 1;
		}
		latencies[i] = (double)(got_ns - sent) / 1e3;
		sum += latencies[i];
		zwp_virtual_keyboard_v1_key(keyboard, ms, code, WL_KEYBOARD_KEY_STATE_RELEASED);
		if (wl_display_roundtrip(bench->display) < 0) {
			return 1;
		}
	}
	qsort(latencies, (size_t)samples, sizeof(*latencies), compare_double);
	printf("samples=%ld\n", samples);
	printf("p50_us=%.1f\n", latencies[samples / 2]);
	printf("p99_us=%.1f\n", latencies[(samples * 99) / 100]);
	printf("mean_us=%.1f\n", sum / (double)samples);
	printf("max_us=%.1f\n", latencies[samples - 1]);
	free(latencies);
	zwp_virtual_keyboard_v1_destroy(keyboard);
	wl_display_roundtrip(bench->display);
	return 0;
}

static void usage(void) {
	fprintf(stderr, "usage: key-bench target --report-fd FD\n"
		"       key-bench inject --report-fd FD [--samples N] [--timeout S]\n");
}

int main(int argc, char *argv[]) {
	if (argc < 2) {
		usage();
		return 2;
	}
	bool target = strcmp(argv[1], "target") == 0;
	if (!target && strcmp(argv[1], "inject") != 0) {
		usage();
		return 2;
	}
	struct key_bench bench = { .report_fd = -1 };
	long samples = 500;
	double timeout = 10;
	for (int i = 2; i < argc; i++) {
		bool has_value = i + 1 < argc;
		if (strcmp(argv[i], "--report-fd") == 0 && has_value) {
			bench.report_fd = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--samples") == 0 && has_value) {
			samples = atol(argv[++i]);
		} else if (strcmp(argv[i], "--timeout") == 0 && has_value) {
			timeout = atof(argv[++i]);
		} else {
			usage();
			return 2;
		}
	}
	if (bench.report_fd < 0 || samples < 1 || samples > KEY_BENCH_MAX_SAMPLES ||
			timeout <= 0) {
		usage();
		return 2;
	}
	bench.display = wl_display_connect(NULL);
	if (bench.display == NULL) {
		fprintf(stderr, "key-bench: cannot connect: %s\n", strerror(errno));
		return 1;
	}
	struct wl_registry *registry = wl_display_get_registry(bench.display);
	wl_registry_add_listener(registry, &registry_listener, &bench);
	if (wl_display_roundtrip(bench.display) < 0) {
		return 1;
	}
	int status = target ? run_target(&bench) : run_inject(&bench, samples,
		(int)(timeout * 1000));
	// The target runs until killed: only the injector gets here.
	if (bench.vk_manager != NULL) {
		zwp_virtual_keyboard_manager_v1_destroy(bench.vk_manager);
	}
	if (bench.seat != NULL) {
		wl_seat_destroy(bench.seat);
	}
	if (bench.compositor != NULL) {
		wl_compositor_destroy(bench.compositor);
	}
	if (bench.shm != NULL) {
		wl_shm_destroy(bench.shm);
	}
	if (bench.wm_base != NULL) {
		xdg_wm_base_destroy(bench.wm_base);
	}
	wl_registry_destroy(registry);
	wl_display_disconnect(bench.display);
	return status;
}
