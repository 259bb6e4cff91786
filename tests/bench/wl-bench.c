/*
 * wl-bench: measures what a Wayland proxy adds to a client's traffic.
 *
 *   wl-bench roundtrip [N]   N wl_display.sync round trips (default 10000)
 *   wl-bench throughput [N]  N wl_region.add requests, then one round trip (default 1000000)
 *   wl-bench connect [N]     N connect + registry + bind-all + disconnect cycles (default 200)
 *
 * Connects to $WAYLAND_DISPLAY. Results go to stdout as key=value lines, one
 * per metric (e.g. "roundtrip_p50_us=41.2"), ending with this process's own
 * CPU time (cpu_s=, user + system); errors go to stderr, exit 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <wayland-client.h>

#define BENCH_WARMUP 100
// Requests queued between explicit flushes. libwayland-client 1.21 buffers
// 4096 bytes of requests and treats a full socket during a marshal as fatal,
// so the buffer is drained well before it fills: 128 * 24 bytes = 3072.
#define BENCH_FLUSH_EVERY 128
// Events of a global that this program has no description for. They are
// parsed as argument-less and dropped (no listener is attached).
#define BENCH_GENERIC_EVENTS 64

static double bench_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The q-quantile (0..1) of sorted samples, nearest-rank. */
static double bench_quantile(const double *sorted, size_t n, double q) {
	size_t rank = (size_t)(q * n + 0.5);
	if (rank == 0) {
		rank = 1;
	}
	if (rank > n) {
		rank = n;
	}
	return sorted[rank - 1];
}

static double bench_mean(const double *samples, size_t n) {
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		sum += samples[i];
	}
	return n > 0 ? sum / n : 0;
}

static void sync_handle_done(void *data, struct wl_callback *callback, uint32_t serial) {
	bool *done = data;
	*done = true;
}

static const struct wl_callback_listener sync_listener = {
	.done = sync_handle_done,
};

/* One wl_display.sync round trip: send, flush, wait for done. */
static bool bench_sync(struct wl_display *display) {
	bool done = false;
	struct wl_callback *callback = wl_display_sync(display);
	if (callback == NULL) {
		return false;
	}
	wl_callback_add_listener(callback, &sync_listener, &done);
	while (!done) {
		if (wl_display_dispatch(display) < 0) {
			break;
		}
	}
	wl_callback_destroy(callback);
	return done;
}

/* Write out everything queued, waiting for the socket when it is full. */
static bool bench_flush(struct wl_display *display) {
	while (wl_display_flush(display) < 0) {
		if (errno != EAGAIN) {
			return false;
		}
		struct pollfd pfd = {
			.fd = wl_display_get_fd(display),
			.events = POLLOUT,
		};
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			return false;
		}
	}
	return true;
}

static bool bench_roundtrip(struct wl_display *display, long n) {
	double *samples = calloc(n, sizeof(*samples));
	if (samples == NULL) {
		return false;
	}
	bool ok = false;
	for (int i = 0; i < BENCH_WARMUP; i++) {
		if (!bench_sync(display)) {
			goto out;
		}
	}
	for (long i = 0; i < n; i++) {
		double start = bench_now();
		if (!bench_sync(display)) {
			goto out;
		}
		samples[i] = (bench_now() - start) * 1e6;
	}
	double mean = bench_mean(samples, n);
	qsort(samples, n, sizeof(*samples), bench_cmp_double);
	printf("roundtrip_n=%ld\n", n);
	printf("roundtrip_p50_us=%.2f\n", bench_quantile(samples, n, 0.50));
	printf("roundtrip_p99_us=%.2f\n", bench_quantile(samples, n, 0.99));
	printf("roundtrip_mean_us=%.2f\n", mean);
	ok = true;

out:
	free(samples);
	return ok;
}

struct bench_globals {
	struct wl_compositor *compositor;
};

static void throughput_handle_global(void *data, struct wl_registry *registry,
		uint32_t name, const char *interface, uint32_t version) {
	struct bench_globals *globals = data;
	if (strcmp(interface, wl_compositor_interface.name) == 0 && globals->compositor == NULL) {
		globals->compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 1);
	}
}

static void throughput_handle_global_remove(void *data, struct wl_registry *registry,
		uint32_t name) {
	// Not expected during a benchmark.
}

static const struct wl_registry_listener throughput_registry_listener = {
	.global = throughput_handle_global,
	.global_remove = throughput_handle_global_remove,
};

static bool bench_throughput(struct wl_display *display, long n) {
	bool ok = false;
	struct bench_globals globals = {0};
	struct wl_region *region = NULL;
	struct wl_registry *registry = wl_display_get_registry(display);
	if (registry == NULL) {
		return false;
	}
	wl_registry_add_listener(registry, &throughput_registry_listener, &globals);
	if (wl_display_roundtrip(display) < 0) {
		goto out;
	}
	if (globals.compositor == NULL) {
		fprintf(stderr, "wl-bench: no wl_compositor global\n");
		goto out;
	}
	region = wl_compositor_create_region(globals.compositor);
	if (region == NULL || !bench_sync(display)) {
		goto out;
	}

	double start = bench_now();
	for (long i = 0; i < n; i++) {
		// The same small rectangle each time keeps the compositor's work
		// per request constant (the union does not grow).
		wl_region_add(region, (int32_t)(i & 7), 0, 8, 8);
		if ((i + 1) % BENCH_FLUSH_EVERY == 0 && !bench_flush(display)) {
			goto out;
		}
	}
	if (!bench_flush(display) || !bench_sync(display)) {
		goto out;
	}
	double secs = bench_now() - start;
	printf("throughput_n=%ld\n", n);
	printf("throughput_secs=%.4f\n", secs);
	printf("throughput_msgs_per_s=%.0f\n", n / secs);
	ok = true;

out:
	if (region != NULL) {
		wl_region_destroy(region);
	}
	if (globals.compositor != NULL) {
		wl_compositor_destroy(globals.compositor);
	}
	wl_registry_destroy(registry);
	return ok;
}

/*
 * Interfaces for globals this program knows nothing about, built at run time
 * from the name the registry announces. Events are parsed as argument-less
 * and have no listener; nothing is ever requested on these objects.
 */
static struct wl_message generic_events[BENCH_GENERIC_EVENTS];

struct bench_interface {
	struct wl_interface iface;
	char *name;
};

#define BENCH_MAX_GLOBALS 256

struct bench_connect {
	struct bench_interface interfaces[BENCH_MAX_GLOBALS];
	struct wl_proxy *bound[BENCH_MAX_GLOBALS];
	size_t count;
	bool failed;
};

static const struct wl_interface *const known_interfaces[] = {
	&wl_compositor_interface,
	&wl_subcompositor_interface,
	&wl_shm_interface,
	&wl_seat_interface,
	&wl_output_interface,
	&wl_data_device_manager_interface,
};

static const struct wl_interface *connect_interface(struct bench_connect *state,
		const char *name) {
	for (size_t i = 0; i < sizeof(known_interfaces) / sizeof(known_interfaces[0]); i++) {
		if (strcmp(known_interfaces[i]->name, name) == 0) {
			return known_interfaces[i];
		}
	}
	struct bench_interface *generic = &state->interfaces[state->count];
	generic->name = strdup(name);
	if (generic->name == NULL) {
		return NULL;
	}
	generic->iface = (struct wl_interface){
		.name = generic->name,
		.version = 1,
		.event_count = BENCH_GENERIC_EVENTS,
		.events = generic_events,
	};
	return &generic->iface;
}

static void connect_handle_global(void *data, struct wl_registry *registry,
		uint32_t name, const char *interface, uint32_t version) {
	struct bench_connect *state = data;
	if (state->count >= BENCH_MAX_GLOBALS) {
		state->failed = true;
		return;
	}
	const struct wl_interface *iface = connect_interface(state, interface);
	if (iface == NULL) {
		state->failed = true;
		return;
	}
	state->bound[state->count] = wl_registry_bind(registry, name, iface, 1);
	if (state->bound[state->count] == NULL) {
		state->failed = true;
		return;
	}
	state->count++;
}

static void connect_handle_global_remove(void *data, struct wl_registry *registry,
		uint32_t name) {
	// Nothing to do: the objects are dropped with the connection.
}

static const struct wl_registry_listener connect_registry_listener = {
	.global = connect_handle_global,
	.global_remove = connect_handle_global_remove,
};

static void connect_finish(struct bench_connect *state) {
	for (size_t i = 0; i < state->count; i++) {
		wl_proxy_destroy(state->bound[i]);
		free(state->interfaces[i].name);
	}
	state->count = 0;
}

/* One connection: connect, registry, round trip, bind all, round trip. */
static bool connect_once(struct bench_connect *state, size_t *globals) {
	struct wl_display *display = wl_display_connect(NULL);
	if (display == NULL) {
		fprintf(stderr, "wl-bench: cannot connect: %s\n", strerror(errno));
		return false;
	}
	bool ok = false;
	*state = (struct bench_connect){0};
	struct wl_registry *registry = wl_display_get_registry(display);
	if (registry == NULL) {
		goto out;
	}
	wl_registry_add_listener(registry, &connect_registry_listener, state);
	if (wl_display_roundtrip(display) < 0 || wl_display_roundtrip(display) < 0) {
		goto out_registry;
	}
	if (state->failed) {
		fprintf(stderr, "wl-bench: could not bind every global\n");
		goto out_registry;
	}
	*globals = state->count;
	ok = true;

out_registry:
	connect_finish(state);
	wl_registry_destroy(registry);
out:
	if (wl_display_get_error(display) != 0) {
		fprintf(stderr, "wl-bench: display error %d\n", wl_display_get_error(display));
		ok = false;
	}
	wl_display_disconnect(display);
	return ok;
}

static bool bench_connect(long n) {
	for (size_t i = 0; i < BENCH_GENERIC_EVENTS; i++) {
		generic_events[i] = (struct wl_message){ .name = "event", .signature = "" };
	}
	struct bench_connect *state = calloc(1, sizeof(*state));
	double *samples = calloc(n, sizeof(*samples));
	bool ok = false;
	size_t globals = 0;
	if (state == NULL || samples == NULL) {
		goto out;
	}
	for (long i = 0; i < n; i++) {
		double start = bench_now();
		if (!connect_once(state, &globals)) {
			goto out;
		}
		samples[i] = (bench_now() - start) * 1e3;
	}
	double mean = bench_mean(samples, n);
	qsort(samples, n, sizeof(*samples), bench_cmp_double);
	printf("connect_n=%ld\n", n);
	printf("connect_globals=%zu\n", globals);
	printf("connect_p50_ms=%.3f\n", bench_quantile(samples, n, 0.50));
	printf("connect_mean_ms=%.3f\n", mean);
	ok = true;

out:
	free(samples);
	free(state);
	return ok;
}

static void usage(FILE *out) {
	fprintf(out, "usage: wl-bench roundtrip|throughput|connect [N]\n");
}

int main(int argc, char *argv[]) {
	if (argc < 2 || argc > 3) {
		usage(stderr);
		return 2;
	}
	const char *mode = argv[1];
	long n;
	if (strcmp(mode, "roundtrip") == 0) {
		n = 10000;
	} else if (strcmp(mode, "throughput") == 0) {
		n = 1000000;
	} else if (strcmp(mode, "connect") == 0) {
		n = 200;
	} else {
		usage(stderr);
		return 2;
	}
	if (argc == 3) {
		char *end;
		errno = 0;
		n = strtol(argv[2], &end, 10);
		if (errno != 0 || *end != '\0' || n <= 0 || n > 1000000000) {
			fprintf(stderr, "wl-bench: bad count '%s'\n", argv[2]);
			return 2;
		}
	}

	bool ok;
	if (strcmp(mode, "connect") == 0) {
		ok = bench_connect(n);
	} else {
		struct wl_display *display = wl_display_connect(NULL);
		if (display == NULL) {
			fprintf(stderr, "wl-bench: cannot connect: %s\n", strerror(errno));
			return 1;
		}
		if (strcmp(mode, "roundtrip") == 0) {
			ok = bench_roundtrip(display, n);
		} else {
			ok = bench_throughput(display, n);
		}
		if (wl_display_get_error(display) != 0) {
			fprintf(stderr, "wl-bench: display error %d\n", wl_display_get_error(display));
			ok = false;
		}
		wl_display_disconnect(display);
	}
	if (!ok) {
		fprintf(stderr, "wl-bench: %s failed\n", mode);
		return 1;
	}
	struct rusage usage;
	if (getrusage(RUSAGE_SELF, &usage) == 0) {
		printf("cpu_s=%.4f\n", usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
				usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
	}
	return 0;
}
