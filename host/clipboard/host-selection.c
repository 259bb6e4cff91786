#define LOG_TAG "clipboard"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wayland-client.h>

#include "host/clipboard/host-selection.h"
#include "host/clipboard/host-toplevels.h"
#include "protocols/link.h"
#include "protocols/log.h"
#include "protocols/text.h"
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
	struct vd_host_selection *hs;
	int fd;
	struct wl_event_source *source;
	struct wl_event_source *timer;
	struct own_data *own;
	size_t offset;
	struct wl_list link; // vd_host_selection.writers
};

struct reader {
	int fd;
	struct wl_event_source *source;
	struct wl_event_source *timer;
	uint8_t *buf;
	size_t size, cap, max_size;
	char mime[VD_MIME_MAX + 1];
	vd_host_read_done done;
	void *data;
};

struct vd_host_selection {
	struct wl_event_loop *loop;
	struct wl_display *display;
	struct wl_event_source *display_source;
	struct wl_event_source *lost_idle;
	vd_host_lost lost;
	void *lost_data;
	bool dead;

	struct wl_registry *registry;
	struct wl_callback *sync; // the first round trip
	struct wl_seat *seat;
	struct zwlr_data_control_manager_v1 *manager;
	struct zwlr_data_control_device_v1 *device;
	bool ready; // data-control is there

	struct vd_host_toplevels toplevels; // which window is activated

	struct offer *pending; // introduced, not yet selected
	struct offer *current; // the host selection (NULL: none, or ours)

	struct zwlr_data_control_source_v1 *source; // ours, while it is the selection
	struct own_data *own;
	struct wl_list writers; // writer.link
	size_t writer_count;

	struct reader *reader;
};

static void own_unref(struct own_data *own) {
	if (own != NULL && --own->refs == 0) {
		free(own);
	}
}

static void handle_lost_idle(void *data) {
	struct vd_host_selection *hs = data;
	hs->lost_idle = NULL; // the loop removes it
	hs->lost(hs->lost_data); // destroys hs
}

/* The connection died: tell the owner from the loop, never from inside a call. */
static void mark_dead(struct vd_host_selection *hs) {
	if (hs->dead) {
		return;
	}
	hs->dead = true;
	hs->ready = false;
	if (hs->display_source != NULL) {
		wl_event_source_fd_update(hs->display_source, 0);
	}
	hs->lost_idle = wl_event_loop_add_idle(hs->loop, handle_lost_idle, hs);
}

static void flush(struct vd_host_selection *hs) {
	if (hs->dead) {
		return;
	}
	uint32_t mask = WL_EVENT_READABLE;
	if (wl_display_flush(hs->display) < 0) {
		if (errno != EAGAIN) {
			vd_log_errno(VD_WARN, "lost the host compositor");
			mark_dead(hs);
			return;
		}
		mask |= WL_EVENT_WRITABLE;
	}
	wl_event_source_fd_update(hs->display_source, mask);
}

/* ---- offers ---- */

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
	if (offer->mime_count == MAX_OFFER_MIMES || !vd_mime_valid(mime, strlen(mime))) {
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
	hs->ready = false;
}

static const struct zwlr_data_control_device_v1_listener device_listener = {
	.data_offer = device_handle_data_offer,
	.selection = device_handle_selection,
	.finished = device_handle_finished,
};

/* ---- our source ---- */

static void writer_destroy(struct writer *writer) {
	wl_list_remove(&writer->link);
	writer->hs->writer_count--;
	wl_event_source_remove(writer->source);
	wl_event_source_remove(writer->timer);
	close(writer->fd);
	own_unref(writer->own);
	free(writer);
}

static int handle_writer(int fd, uint32_t mask, void *data) {
	struct writer *w = data;
	while (w->offset < w->own->size) {
		ssize_t n = write(w->fd, w->own->bytes + w->offset, w->own->size - w->offset);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return 0;
		}
		if (n <= 0) {
			break; // the reader went away
		}
		w->offset += (size_t)n;
	}
	writer_destroy(w);
	return 0;
}

static int handle_writer_timeout(void *data) {
	vd_log(VD_WARN, "a host application did not take the pasted data in time");
	writer_destroy(data);
	return 0;
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
	writer->hs = hs;
	writer->fd = fd;
	writer->source = wl_event_loop_add_fd(hs->loop, fd, WL_EVENT_WRITABLE, handle_writer, writer);
	writer->timer = wl_event_loop_add_timer(hs->loop, handle_writer_timeout, writer);
	if (writer->source == NULL || writer->timer == NULL) {
		if (writer->source != NULL) {
			wl_event_source_remove(writer->source);
		}
		if (writer->timer != NULL) {
			wl_event_source_remove(writer->timer);
		}
		close(fd);
		free(writer);
		return;
	}
	wl_event_source_timer_update(writer->timer, WRITE_TIMEOUT_MS);
	writer->own = hs->own;
	hs->own->refs++;
	wl_list_insert(&hs->writers, &writer->link);
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

/* ---- registry ---- */

static void registry_handle_global(void *data, struct wl_registry *registry, uint32_t name,
		const char *interface, uint32_t version) {
	struct vd_host_selection *hs = data;
	if (strcmp(interface, wl_seat_interface.name) == 0 && hs->seat == NULL) {
		hs->seat = wl_registry_bind(registry, name, &wl_seat_interface, 1);
	} else if (strcmp(interface, zwlr_data_control_manager_v1_interface.name) == 0 &&
			hs->manager == NULL) {
		hs->manager = wl_registry_bind(registry, name,
			&zwlr_data_control_manager_v1_interface, 1);
	} else {
		host_toplevels_handle_global(&hs->toplevels, registry, name, interface, version);
	}
}

static void registry_handle_global_remove(void *data, struct wl_registry *registry,
		uint32_t name) {
}

static const struct wl_registry_listener registry_listener = {
	.global = registry_handle_global,
	.global_remove = registry_handle_global_remove,
};

static void sync_handle_done(void *data, struct wl_callback *callback, uint32_t serial) {
	struct vd_host_selection *hs = data;
	wl_callback_destroy(callback);
	hs->sync = NULL;
	if (hs->seat == NULL || hs->manager == NULL) {
		vd_log(VD_WARN, "the host compositor offers no %s: the host's clipboard takes no part "
			"in the global clipboard", hs->seat == NULL ? "seat" :
			"wlr data-control (zwlr_data_control_manager_v1)");
	} else {
		hs->device = zwlr_data_control_manager_v1_get_data_device(hs->manager, hs->seat);
		zwlr_data_control_device_v1_add_listener(hs->device, &device_listener, hs);
		hs->ready = true;
		vd_log(VD_INFO, "the host clipboard takes part through wlr data-control");
	}
	if (!host_toplevels_tracking(&hs->toplevels)) {
		vd_log(VD_INFO, "the host compositor does not say which window is active (no wlr "
			"foreign-toplevel): focus comes from the proxies alone");
	}
}

static const struct wl_callback_listener sync_listener = {
	.done = sync_handle_done,
};

static int handle_display(int fd, uint32_t mask, void *data) {
	struct vd_host_selection *hs = data;
	if (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) {
		vd_log(VD_WARN, "lost the host compositor: the host leaves the global clipboard");
		mark_dead(hs);
		return 0;
	}
	if (mask & WL_EVENT_READABLE) {
		/* read what is there without ever waiting for more */
		while (wl_display_prepare_read(hs->display) != 0) {
			if (wl_display_dispatch_pending(hs->display) < 0) {
				mark_dead(hs);
				return 0;
			}
		}
		if (wl_display_read_events(hs->display) < 0 && errno != EAGAIN) {
			vd_log(VD_WARN, "lost the host compositor: the host leaves the global clipboard");
			mark_dead(hs);
			return 0;
		}
		if (wl_display_dispatch_pending(hs->display) < 0) {
			mark_dead(hs);
			return 0;
		}
	}
	flush(hs);
	return 0;
}

struct vd_host_selection *host_selection_create(struct wl_event_loop *loop, const char *display,
		vd_host_lost lost, void *data) {
	struct vd_host_selection *hs = calloc(1, sizeof(*hs));
	if (hs == NULL) {
		return NULL;
	}
	hs->loop = loop;
	hs->lost = lost;
	hs->lost_data = data;
	wl_list_init(&hs->writers);
	host_toplevels_init(&hs->toplevels);
	hs->display = wl_display_connect(display);
	if (hs->display == NULL) {
		free(hs);
		return NULL;
	}
	hs->display_source = wl_event_loop_add_fd(loop, wl_display_get_fd(hs->display),
		WL_EVENT_READABLE, handle_display, hs);
	if (hs->display_source == NULL) {
		wl_display_disconnect(hs->display);
		free(hs);
		return NULL;
	}
	hs->registry = wl_display_get_registry(hs->display);
	wl_registry_add_listener(hs->registry, &registry_listener, hs);
	hs->sync = wl_display_sync(hs->display);
	wl_callback_add_listener(hs->sync, &sync_listener, hs);
	flush(hs);
	return hs;
}

static void reader_finish(struct vd_host_selection *hs, uint8_t status, const char *error) {
	struct reader *reader = hs->reader;
	hs->reader = NULL;
	wl_event_source_remove(reader->source);
	wl_event_source_remove(reader->timer);
	close(reader->fd);
	if (reader->done != NULL) {
		reader->done(reader->data, status, status == VD_LINK_CLIP_STATUS_OK ? reader->buf : NULL,
			status == VD_LINK_CLIP_STATUS_OK ? reader->size : 0, reader->mime, error);
	}
	free(reader->buf);
	free(reader);
}

void host_selection_cancel_read(struct vd_host_selection *hs) {
	if (hs != NULL && hs->reader != NULL) {
		hs->reader->done = NULL;
		reader_finish(hs, VD_LINK_CLIP_STATUS_FAILED, "cancelled");
	}
}

void host_selection_destroy(struct vd_host_selection *hs) {
	if (hs == NULL) {
		return;
	}
	host_selection_cancel_read(hs);
	struct writer *writer, *tmp;
	wl_list_for_each_safe(writer, tmp, &hs->writers, link) {
		writer_destroy(writer);
	}
	host_toplevels_finish(&hs->toplevels);
	/* on a dead connection these only free memory */
	drop_source(hs);
	offer_destroy(hs->pending);
	offer_destroy(hs->current);
	if (hs->sync != NULL) {
		wl_callback_destroy(hs->sync);
	}
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
	if (hs->lost_idle != NULL) {
		wl_event_source_remove(hs->lost_idle);
	}
	wl_event_source_remove(hs->display_source);
	wl_display_disconnect(hs->display);
	free(hs);
}

bool host_selection_alive(const struct vd_host_selection *hs) {
	return hs != NULL && hs->ready && !hs->dead;
}

bool host_selection_tracks_focus(const struct vd_host_selection *hs) {
	return hs != NULL && !hs->dead && hs->sync == NULL &&
		host_toplevels_tracking(&hs->toplevels);
}

const char *host_selection_focused_app_id(const struct vd_host_selection *hs) {
	return host_toplevels_activated_app_id(&hs->toplevels);
}

static int handle_reader(int fd, uint32_t mask, void *data) {
	struct vd_host_selection *hs = data;
	struct reader *reader = hs->reader;
	for (;;) {
		if (reader->cap - reader->size < READ_CHUNK) {
			size_t cap = reader->cap + 4 * READ_CHUNK;
			uint8_t *buf = realloc(reader->buf, cap);
			if (buf == NULL) {
				reader_finish(hs, VD_LINK_CLIP_STATUS_FAILED, "out of memory");
				return 0;
			}
			reader->buf = buf;
			reader->cap = cap;
		}
		ssize_t n = read(reader->fd, reader->buf + reader->size, READ_CHUNK);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return 0;
		}
		if (n < 0) {
			reader_finish(hs, VD_LINK_CLIP_STATUS_FAILED, "reading the host clipboard failed");
			return 0;
		}
		if (n == 0) {
			reader_finish(hs, VD_LINK_CLIP_STATUS_OK, NULL);
			return 0;
		}
		reader->size += (size_t)n;
		if (reader->size > reader->max_size) {
			reader_finish(hs, VD_LINK_CLIP_STATUS_TOO_LARGE, "the data is larger than the limit");
			return 0;
		}
	}
}

static int handle_reader_timeout(void *data) {
	reader_finish(data, VD_LINK_CLIP_STATUS_TIMEOUT,
		"the host application did not send its data in time");
	return 0;
}

bool host_selection_read(struct vd_host_selection *hs, const char *const *mimes, size_t count,
		size_t max_size, int timeout_ms, vd_host_read_done done, void *data,
		const char **reason) {
	*reason = "the host clipboard is not reachable";
	if (!host_selection_alive(hs) || hs->reader != NULL) {
		return false;
	}
	const char *mime = NULL;
	struct offer *offer = hs->current;
	if (offer == NULL) {
		*reason = hs->source != NULL ? "the host clipboard holds what was pasted into it" :
			"the host clipboard is empty";
		return false;
	}
	for (size_t i = 0; i < count && mime == NULL; i++) {
		for (size_t j = 0; j < offer->mime_count; j++) {
			if (strcmp(mimes[i], offer->mimes[j]) == 0) {
				mime = offer->mimes[j];
				break;
			}
		}
	}
	if (mime == NULL) {
		*reason = "the host clipboard holds no text";
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
	reader->done = done;
	reader->data = data;
	snprintf(reader->mime, sizeof(reader->mime), "%s", mime);
	reader->source = wl_event_loop_add_fd(hs->loop, fds[0], WL_EVENT_READABLE, handle_reader,
		hs);
	reader->timer = wl_event_loop_add_timer(hs->loop, handle_reader_timeout, hs);
	if (reader->source == NULL || reader->timer == NULL) {
		if (reader->source != NULL) {
			wl_event_source_remove(reader->source);
		}
		if (reader->timer != NULL) {
			wl_event_source_remove(reader->timer);
		}
		close(fds[0]);
		close(fds[1]);
		free(reader);
		*reason = "out of resources";
		return false;
	}
	wl_event_source_timer_update(reader->timer, timeout_ms);
	zwlr_data_control_offer_v1_receive(offer->proxy, mime, fds[1]);
	flush(hs);
	close(fds[1]);
	hs->reader = reader;
	return true;
}

bool host_selection_set(struct vd_host_selection *hs, const char *const *mimes, size_t count,
		const uint8_t *bytes, size_t size) {
	if (!host_selection_alive(hs) || count == 0) {
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
	flush(hs);
	return true;
}
