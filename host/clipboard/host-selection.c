#define LOG_TAG "clipboard"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>

#include "host/clipboard/host-selection.h"
#include "protocols/clip-link.h"
#include "protocols/log.h"
#include "wlr-data-control-unstable-v1-client-protocol.h"

#define MAX_OFFER_MIMES 64
#define READ_CHUNK 65536
#define WRITE_TIMEOUT_MS 10000
#define MAX_WRITERS 32

struct offer {
	struct zwlr_data_control_offer_v1 *proxy;
	char *mimes[MAX_OFFER_MIMES];
	size_t mime_count;
};

struct own_data {
	int refs;
	size_t size;
	uint8_t bytes[];
};

struct writer {
	int fd;
	struct own_data *own;
	size_t offset;
	int64_t deadline;
	struct writer *next;
};

struct reader {
	int fd;
	uint8_t *buf;
	size_t size, cap, max_size;
	char mime[VD_CLIP_MAX_MIME_LENGTH + 1];
	int64_t deadline;
	vd_host_read_done done;
	void *data;
};

struct vd_host_selection {
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_seat *seat;
	struct zwlr_data_control_manager_v1 *manager;
	struct zwlr_data_control_device_v1 *device;
	bool alive;
	bool want_write;

	struct offer *pending; // introduced, not yet selected
	struct offer *current; // the host selection (NULL: none, or ours)

	struct zwlr_data_control_source_v1 *source; // ours, while it is the selection
	struct own_data *own;
	struct writer *writers;
	size_t writer_count;

	struct reader *reader;
};

static int64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void own_unref(struct own_data *own) {
	if (own != NULL && --own->refs == 0) {
		free(own);
	}
}

/* Offers */

static void offer_destroy(struct offer *offer) {
	if (offer == NULL) {
		return;
	}
	zwlr_data_control_offer_v1_destroy(offer->proxy);
	for (size_t i = 0; i < offer->mime_count; i++) {
		free(offer->mimes[i]);
	}
	free(offer);
}

static void offer_handle_offer(void *data, struct zwlr_data_control_offer_v1 *proxy,
		const char *mime) {
	struct offer *offer = data;
	if (offer->mime_count == MAX_OFFER_MIMES || !clip_link_mime_valid(mime)) {
		return;
	}
	char *copy = strdup(mime);
	if (copy != NULL) {
		offer->mimes[offer->mime_count++] = copy;
	}
}

static const struct zwlr_data_control_offer_v1_listener offer_listener = {
	.offer = offer_handle_offer,
};

static void device_handle_data_offer(void *data, struct zwlr_data_control_device_v1 *device,
		struct zwlr_data_control_offer_v1 *proxy) {
	struct vd_host_selection *hs = data;
	struct offer *offer = calloc(1, sizeof(*offer));
	if (offer == NULL) {
		zwlr_data_control_offer_v1_destroy(proxy);
		return;
	}
	offer->proxy = proxy;
	zwlr_data_control_offer_v1_add_listener(proxy, &offer_listener, offer);
	offer_destroy(hs->pending);
	hs->pending = offer;
}

static void device_handle_selection(void *data, struct zwlr_data_control_device_v1 *device,
		struct zwlr_data_control_offer_v1 *proxy) {
	struct vd_host_selection *hs = data;
	struct offer *offer = NULL;
	if (proxy != NULL && hs->pending != NULL && hs->pending->proxy == proxy) {
		offer = hs->pending;
		hs->pending = NULL;
	}
	if (hs->current != offer) {
		offer_destroy(hs->current);
	}
	hs->current = offer;
}

static void device_handle_finished(void *data, struct zwlr_data_control_device_v1 *device) {
	struct vd_host_selection *hs = data;
	vd_log(VD_WARN, "the host's data-control device is gone");
	hs->alive = false;
}

static const struct zwlr_data_control_device_v1_listener device_listener = {
	.data_offer = device_handle_data_offer,
	.selection = device_handle_selection,
	.finished = device_handle_finished,
};

/* Our source */

static void writer_destroy(struct vd_host_selection *hs, struct writer *writer) {
	for (struct writer **p = &hs->writers; *p != NULL; p = &(*p)->next) {
		if (*p == writer) {
			*p = writer->next;
			break;
		}
	}
	close(writer->fd);
	own_unref(writer->own);
	free(writer);
	hs->writer_count--;
}

static void source_handle_send(void *data, struct zwlr_data_control_source_v1 *source,
		const char *mime, int fd) {
	struct vd_host_selection *hs = data;
	if (source != hs->source || hs->own == NULL || hs->writer_count == MAX_WRITERS) {
		close(fd);
		return;
	}
	struct writer *writer = calloc(1, sizeof(*writer));
	int flags = fcntl(fd, F_GETFL);
	if (writer == NULL || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		free(writer);
		close(fd);
		return;
	}
	writer->fd = fd;
	writer->own = hs->own;
	hs->own->refs++;
	writer->deadline = now_ms() + WRITE_TIMEOUT_MS;
	writer->next = hs->writers;
	hs->writers = writer;
	hs->writer_count++;
}

static void drop_source(struct vd_host_selection *hs) {
	if (hs->source != NULL) {
		zwlr_data_control_source_v1_destroy(hs->source);
		hs->source = NULL;
	}
	own_unref(hs->own);
	hs->own = NULL;
}

static void source_handle_cancelled(void *data, struct zwlr_data_control_source_v1 *source) {
	struct vd_host_selection *hs = data;
	if (source == hs->source) {
		drop_source(hs);
	} else {
		zwlr_data_control_source_v1_destroy(source);
	}
}

static const struct zwlr_data_control_source_v1_listener source_listener = {
	.send = source_handle_send,
	.cancelled = source_handle_cancelled,
};

/* Registry */

static void registry_handle_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version) {
	struct vd_host_selection *hs = data;
	if (strcmp(interface, wl_seat_interface.name) == 0 && hs->seat == NULL) {
		hs->seat = wl_registry_bind(registry, name, &wl_seat_interface, 1);
	} else if (strcmp(interface, zwlr_data_control_manager_v1_interface.name) == 0 &&
			hs->manager == NULL) {
		hs->manager = wl_registry_bind(registry, name,
			&zwlr_data_control_manager_v1_interface, 1);
	}
}

static void registry_handle_global_remove(void *data, struct wl_registry *registry,
		uint32_t name) {
}

static const struct wl_registry_listener registry_listener = {
	.global = registry_handle_global,
	.global_remove = registry_handle_global_remove,
};

struct vd_host_selection *host_selection_create(const char *display) {
	struct vd_host_selection *hs = calloc(1, sizeof(*hs));
	if (hs == NULL) {
		return NULL;
	}
	hs->display = wl_display_connect(display);
	if (hs->display == NULL) {
		vd_log(VD_WARN, "cannot connect to the host compositor (%s): the host takes no "
			"part in the global clipboard", display ? display : "$WAYLAND_DISPLAY");
		free(hs);
		return NULL;
	}
	hs->registry = wl_display_get_registry(hs->display);
	wl_registry_add_listener(hs->registry, &registry_listener, hs);
	if (wl_display_roundtrip(hs->display) < 0 || hs->seat == NULL || hs->manager == NULL) {
		vd_log(VD_WARN, "the host compositor offers no %s: the host takes no part in "
			"the global clipboard", hs->seat == NULL ? "seat" :
			"wlr data-control (zwlr_data_control_manager_v1)");
		host_selection_destroy(hs);
		return NULL;
	}
	hs->device = zwlr_data_control_manager_v1_get_data_device(hs->manager, hs->seat);
	zwlr_data_control_device_v1_add_listener(hs->device, &device_listener, hs);
	hs->alive = true;
	if (wl_display_roundtrip(hs->display) < 0) {
		host_selection_destroy(hs);
		return NULL;
	}
	return hs;
}

static void reader_finish(struct vd_host_selection *hs, uint8_t status, const char *error) {
	struct reader *reader = hs->reader;
	hs->reader = NULL;
	if (reader->done != NULL) {
		reader->done(reader->data, status, status == VD_CLIP_OK ? reader->buf : NULL,
			status == VD_CLIP_OK ? reader->size : 0, reader->mime, error);
	}
	close(reader->fd);
	free(reader->buf);
	free(reader);
}

void host_selection_cancel_read(struct vd_host_selection *hs) {
	if (hs != NULL && hs->reader != NULL) {
		hs->reader->done = NULL;
		reader_finish(hs, VD_CLIP_FAILED, "cancelled");
	}
}

void host_selection_destroy(struct vd_host_selection *hs) {
	if (hs == NULL) {
		return;
	}
	host_selection_cancel_read(hs);
	while (hs->writers != NULL) {
		writer_destroy(hs, hs->writers);
	}
	/* on a dead connection these only free memory */
	drop_source(hs);
	offer_destroy(hs->pending);
	offer_destroy(hs->current);
	if (hs->device != NULL) {
		zwlr_data_control_device_v1_destroy(hs->device);
	}
	if (hs->manager != NULL) {
		zwlr_data_control_manager_v1_destroy(hs->manager);
	}
	if (hs->seat != NULL) {
		wl_seat_destroy(hs->seat);
	}
	wl_registry_destroy(hs->registry);
	wl_display_disconnect(hs->display);
	free(hs);
}

bool host_selection_alive(const struct vd_host_selection *hs) {
	return hs != NULL && hs->alive;
}

int host_selection_pollfds(struct vd_host_selection *hs, struct pollfd *pfds, int max) {
	int n = 0;
	if (hs->alive && n < max) {
		wl_display_dispatch_pending(hs->display);
		short events = POLLIN;
		if (wl_display_flush(hs->display) < 0) {
			if (errno == EAGAIN) {
				events |= POLLOUT;
			} else {
				vd_log_errno(VD_WARN, "lost the host compositor");
				hs->alive = false;
			}
		}
		if (hs->alive) {
			pfds[n++] = (struct pollfd){ .fd = wl_display_get_fd(hs->display),
				.events = events };
		}
	}
	if (hs->reader != NULL && n < max) {
		pfds[n++] = (struct pollfd){ .fd = hs->reader->fd, .events = POLLIN };
	}
	for (struct writer *w = hs->writers; w != NULL && n < max; w = w->next) {
		pfds[n++] = (struct pollfd){ .fd = w->fd, .events = POLLOUT };
	}
	return n;
}

static void handle_reader(struct vd_host_selection *hs) {
	struct reader *reader = hs->reader;
	for (;;) {
		if (reader->cap - reader->size < READ_CHUNK) {
			size_t cap = reader->cap + 4 * READ_CHUNK;
			uint8_t *buf = realloc(reader->buf, cap);
			if (buf == NULL) {
				reader_finish(hs, VD_CLIP_FAILED, "out of memory");
				return;
			}
			reader->buf = buf;
			reader->cap = cap;
		}
		ssize_t n = read(reader->fd, reader->buf + reader->size, READ_CHUNK);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return;
		}
		if (n < 0) {
			reader_finish(hs, VD_CLIP_FAILED, "reading the host clipboard failed");
			return;
		}
		if (n == 0) {
			reader_finish(hs, VD_CLIP_OK, NULL);
			return;
		}
		reader->size += (size_t)n;
		if (reader->size > reader->max_size) {
			reader_finish(hs, VD_CLIP_TOO_LARGE, "the data is larger than the limit");
			return;
		}
	}
}

static void handle_writer(struct vd_host_selection *hs, struct writer *w) {
	while (w->offset < w->own->size) {
		ssize_t n = write(w->fd, w->own->bytes + w->offset, w->own->size - w->offset);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return;
		}
		if (n <= 0) {
			break; // the reader went away
		}
		w->offset += (size_t)n;
	}
	writer_destroy(hs, w);
}

bool host_selection_dispatch(struct vd_host_selection *hs, int fd, short revents) {
	if (hs->alive && fd == wl_display_get_fd(hs->display)) {
		if ((revents & POLLOUT) && wl_display_flush(hs->display) < 0 && errno != EAGAIN) {
			hs->alive = false;
		}
		if (hs->alive && (revents & (POLLIN | POLLHUP | POLLERR)) &&
				wl_display_dispatch(hs->display) < 0) {
			vd_log(VD_WARN, "lost the host compositor: the host leaves the global "
				"clipboard");
			hs->alive = false;
		}
		return true;
	}
	if (hs->reader != NULL && fd == hs->reader->fd) {
		handle_reader(hs);
		return true;
	}
	for (struct writer *w = hs->writers; w != NULL; w = w->next) {
		if (w->fd == fd) {
			handle_writer(hs, w);
			return true;
		}
	}
	return false;
}

int64_t host_selection_timers(struct vd_host_selection *hs, int64_t now) {
	int64_t next = -1;
	if (hs->reader != NULL) {
		if (now >= hs->reader->deadline) {
			reader_finish(hs, VD_CLIP_TIMEOUT,
				"the host application did not send its data in time");
		} else {
			next = hs->reader->deadline;
		}
	}
	struct writer *w = hs->writers;
	while (w != NULL) {
		struct writer *after = w->next;
		if (now >= w->deadline) {
			vd_log(VD_WARN, "a host application did not take the pasted data in time");
			writer_destroy(hs, w);
		} else if (next < 0 || w->deadline < next) {
			next = w->deadline;
		}
		w = after;
	}
	return next;
}

bool host_selection_read(struct vd_host_selection *hs, const char *const *mimes, size_t count,
		size_t max_size, int timeout_ms, int64_t now, vd_host_read_done done, void *data,
		const char **reason) {
	*reason = "the host clipboard is not reachable";
	if (!hs->alive || hs->reader != NULL) {
		return false;
	}
	const char *mime = NULL;
	struct offer *offer = hs->current;
	if (offer == NULL) {
		*reason = hs->source != NULL ? "the host clipboard holds what was pasted into it" :
			"the host clipboard is empty";
		if (hs->source == NULL) {
			return false;
		}
	}
	for (size_t i = 0; offer != NULL && i < count && mime == NULL; i++) {
		for (size_t j = 0; j < offer->mime_count; j++) {
			if (strcmp(mimes[i], offer->mimes[j]) == 0) {
				mime = offer->mimes[j];
				break;
			}
		}
	}
	if (mime == NULL) {
		if (offer != NULL) {
			*reason = "the host clipboard holds no text";
		}
		return false;
	}
	struct reader *reader = calloc(1, sizeof(*reader));
	int fds[2];
	if (reader == NULL || pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(reader);
		*reason = "out of resources";
		return false;
	}
	reader->fd = fds[0];
	reader->max_size = max_size;
	reader->deadline = now + timeout_ms;
	reader->done = done;
	reader->data = data;
	snprintf(reader->mime, sizeof(reader->mime), "%s", mime);
	zwlr_data_control_offer_v1_receive(offer->proxy, mime, fds[1]);
	wl_display_flush(hs->display);
	close(fds[1]);
	hs->reader = reader;
	return true;
}

bool host_selection_set(struct vd_host_selection *hs, const char *const *mimes, size_t count,
		const uint8_t *bytes, size_t size) {
	if (!hs->alive || count == 0) {
		return false;
	}
	struct own_data *own = malloc(sizeof(*own) + size);
	if (own == NULL) {
		return false;
	}
	own->refs = 1;
	own->size = size;
	memcpy(own->bytes, bytes, size);
	struct zwlr_data_control_source_v1 *source =
		zwlr_data_control_manager_v1_create_data_source(hs->manager);
	if (source == NULL) {
		free(own);
		return false;
	}
	zwlr_data_control_source_v1_add_listener(source, &source_listener, hs);
	for (size_t i = 0; i < count; i++) {
		zwlr_data_control_source_v1_offer(source, mimes[i]);
	}
	zwlr_data_control_device_v1_set_selection(hs->device, source);
	drop_source(hs);
	hs->source = source;
	hs->own = own;
	wl_display_flush(hs->display);
	return true;
}
