#define LOG_TAG "clipboard"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocols/log.h"
#include "protocols/text.h"
#include "proxy/clipboard.h"
#include "proxy/focus.h"
#include "proxy/server.h"

#define WRITE_TIMEOUT_MS 10000
#define READ_CHUNK 65536

/* The two selection protocols have the same shape: one table each. */
struct selection_protocol {
	const struct vd_interface *device, *source, *offer;
	uint16_t device_data_offer, device_selection; // events
	uint16_t offer_offer; // event
	uint16_t source_send, source_cancelled; // events
	uint16_t device_set_selection; // request
};

static const struct selection_protocol protocols[VD_SELECTION_COUNT] = {
	[VD_SELECTION_CLIPBOARD] = {
		.device = &vd_iface_wl_data_device,
		.source = &vd_iface_wl_data_source,
		.offer = &vd_iface_wl_data_offer,
		.device_data_offer = VD_WL_DATA_DEVICE_EVENT_DATA_OFFER,
		.device_selection = VD_WL_DATA_DEVICE_EVENT_SELECTION,
		.offer_offer = VD_WL_DATA_OFFER_EVENT_OFFER,
		.source_send = VD_WL_DATA_SOURCE_EVENT_SEND,
		.source_cancelled = VD_WL_DATA_SOURCE_EVENT_CANCELLED,
		.device_set_selection = VD_WL_DATA_DEVICE_REQUEST_SET_SELECTION,
	},
	[VD_SELECTION_PRIMARY] = {
		.device = &vd_iface_zwp_primary_selection_device_v1,
		.source = &vd_iface_zwp_primary_selection_source_v1,
		.offer = &vd_iface_zwp_primary_selection_offer_v1,
		.device_data_offer = VD_ZWP_PRIMARY_SELECTION_DEVICE_V1_EVENT_DATA_OFFER,
		.device_selection = VD_ZWP_PRIMARY_SELECTION_DEVICE_V1_EVENT_SELECTION,
		.offer_offer = VD_ZWP_PRIMARY_SELECTION_OFFER_V1_EVENT_OFFER,
		.source_send = VD_ZWP_PRIMARY_SELECTION_SOURCE_V1_EVENT_SEND,
		.source_cancelled = VD_ZWP_PRIMARY_SELECTION_SOURCE_V1_EVENT_CANCELLED,
		.device_set_selection = VD_ZWP_PRIMARY_SELECTION_DEVICE_V1_REQUEST_SET_SELECTION,
	},
};

/* Data the proxy serves itself (from the global clipboard), shared by the
 * writers still sending it. */
struct own_data {
	int refs;
	char *mimes[VD_CLIPBOARD_MAX_MIMES];
	size_t mime_count;
	size_t size;
	uint8_t bytes[];
};

struct source {
	struct vd_session *session;
	struct vd_object *object;
	enum vd_selection_type type;
	char *mimes[VD_CLIPBOARD_MAX_MIMES];
	size_t mime_count;
	bool refused_mimes; // some were dropped: logged once
};

struct device {
	struct vd_session *session;
	struct vd_object *object;
	enum vd_selection_type type;
	struct wl_list link; // vd_clipboard.devices
};

struct offer {
	enum vd_selection_type type;
	uint64_t generation; // of the selection it was made for
};

struct selection {
	uint64_t generation;
	struct source *source; // a VM client's, or NULL
	struct own_data *own; // or the proxy's own, or NULL
};

struct transfer; // a read or a write in progress

struct vd_clipboard {
	struct vd_server *server;
	struct selection selections[VD_SELECTION_COUNT];
	struct wl_list devices; // device.link
	struct wl_list transfers; // transfer.link
	size_t focused_sessions; // sessions with keyboard focus (proxy/focus.c)
};

static struct vd_clipboard *clipboard_of(struct vd_session *session) {
	return session->server->clipboard;
}

static void own_data_unref(struct own_data *own) {
	if (own == NULL || --own->refs > 0) {
		return;
	}
	for (size_t i = 0; i < own->mime_count; i++) {
		free(own->mimes[i]);
	}
	free(own);
}

/* Offers */

static const struct vd_object_impl offer_impl;

static void offer_gone(struct vd_session *session, struct vd_object *object) {
	free(object->data);
	object->data = NULL;
}

static const struct vd_object_impl offer_impl = {
	.gone = offer_gone,
};

static void send_selection_to(struct vd_clipboard *clipboard, struct device *device) {
	const struct selection_protocol *proto = &protocols[device->type];
	struct selection *sel = &clipboard->selections[device->type];
	struct vd_session *session = device->session;
	char *const *mimes = NULL;
	size_t mime_count = 0;
	if (sel->source != NULL) {
		mimes = sel->source->mimes;
		mime_count = sel->source->mime_count;
	} else if (sel->own != NULL) {
		mimes = sel->own->mimes;
		mime_count = sel->own->mime_count;
	}
	if (mimes == NULL) {
		vd_session_event(session, device->object, proto->device_selection, "o", NULL);
		return;
	}
	struct offer *data = calloc(1, sizeof(*data));
	if (data == NULL) {
		return;
	}
	data->type = device->type;
	data->generation = sel->generation;
	struct vd_object *offer = vd_session_new_client_object(session, proto->offer,
		device->object->version, &offer_impl, data);
	if (offer == NULL) {
		free(data);
		return;
	}
	vd_session_event(session, device->object, proto->device_data_offer, "n", offer);
	for (size_t i = 0; i < mime_count; i++) {
		vd_session_event(session, offer, proto->offer_offer, "s", mimes[i]);
	}
	vd_session_event(session, device->object, proto->device_selection, "o", offer);
}

/* Sends a selection to the devices of the focused sessions. */
static void broadcast(struct vd_clipboard *clipboard, enum vd_selection_type type) {
	if (clipboard->focused_sessions == 0) {
		return;
	}
	struct device *device;
	wl_list_for_each(device, &clipboard->devices, link) {
		if (device->type == type && focus_session_has_focus(device->session)) {
			send_selection_to(clipboard, device);
		}
	}
}

static void set_selection(struct vd_clipboard *clipboard, enum vd_selection_type type,
		struct source *source, struct own_data *own) {
	struct selection *sel = &clipboard->selections[type];
	struct source *old = sel->source;
	if (old != NULL && old != source) {
		vd_session_event(old->session, old->object, protocols[type].source_cancelled, "");
	}
	own_data_unref(sel->own);
	sel->source = source;
	sel->own = own;
	sel->generation++;
	broadcast(clipboard, type);
}

/* Sources */

static void source_gone(struct vd_session *session, struct vd_object *object) {
	struct source *source = object->data;
	struct vd_clipboard *clipboard = clipboard_of(session);
	struct selection *sel = &clipboard->selections[source->type];
	if (sel->source == source) {
		sel->source = NULL;
		sel->generation++;
		broadcast(clipboard, source->type);
	}
	for (size_t i = 0; i < source->mime_count; i++) {
		free(source->mimes[i]);
	}
	free(source);
	object->data = NULL;
}

static const struct vd_object_impl source_impl = {
	.gone = source_gone,
};

static struct source *source_from(struct vd_object *object) {
	return object != NULL && object->impl == &source_impl ? object->data : NULL;
}

bool clipboard_handle_manager_local(struct vd_hook_ctx *ctx) {
	return false; // served here: the new object never reaches the compositor
}

bool clipboard_handle_create_source(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct source *source = calloc(1, sizeof(*source));
	if (source == NULL) {
		return true;
	}
	source->session = ctx->session;
	source->object = object;
	source->type = object->interface == &vd_iface_wl_data_source ? VD_SELECTION_CLIPBOARD :
		VD_SELECTION_PRIMARY;
	object->impl = &source_impl;
	object->data = source;
	return true;
}

bool clipboard_handle_source_offer(struct vd_hook_ctx *ctx) {
	struct source *source = source_from(ctx->object);
	const char *mime = ctx->msg->args[0].str.data;
	if (source == NULL) {
		return false;
	}
	if (!vd_mime_valid(mime, strlen(mime)) || source->mime_count == VD_CLIPBOARD_MAX_MIMES) {
		if (!source->refused_mimes) {
			vd_log(VD_WARN, "vm=%s pid=%d: MIME types refused (invalid, or more than %d)",
				ctx->session->server->vm, (int)ctx->session->pid,
				VD_CLIPBOARD_MAX_MIMES);
			source->refused_mimes = true;
		}
		return false;
	}
	for (size_t i = 0; i < source->mime_count; i++) {
		if (strcmp(source->mimes[i], mime) == 0) {
			return false;
		}
	}
	char *copy = strdup(mime);
	if (copy != NULL) {
		source->mimes[source->mime_count++] = copy;
	}
	return false;
}

/* Devices */

static void device_gone(struct vd_session *session, struct vd_object *object) {
	struct device *device = object->data;
	wl_list_remove(&device->link);
	free(device);
	object->data = NULL;
}

static const struct vd_object_impl device_impl = {
	.gone = device_gone,
};

bool clipboard_handle_get_device(struct vd_hook_ctx *ctx) {
	struct vd_clipboard *clipboard = clipboard_of(ctx->session);
	struct vd_object *object = ctx->new_objects[0];
	struct device *device = calloc(1, sizeof(*device));
	if (device == NULL) {
		return true;
	}
	device->session = ctx->session;
	device->object = object;
	device->type = object->interface == &vd_iface_wl_data_device ? VD_SELECTION_CLIPBOARD :
		VD_SELECTION_PRIMARY;
	object->impl = &device_impl;
	object->data = device;
	wl_list_insert(&clipboard->devices, &device->link);
	if (focus_session_has_focus(ctx->session)) {
		send_selection_to(clipboard, device);
	}
	return true;
}

bool clipboard_handle_set_selection(struct vd_hook_ctx *ctx) {
	struct vd_session *session = ctx->session;
	struct vd_clipboard *clipboard = clipboard_of(session);
	struct vd_object *source_object =
		vd_session_client_object(session, ctx->msg->args[0].id);
	uint32_t serial = ctx->msg->args[1].u;
	struct source *source = source_from(source_object);
	enum vd_selection_type type = ctx->object->interface == &vd_iface_wl_data_device ?
		VD_SELECTION_CLIPBOARD : VD_SELECTION_PRIMARY;
	if (source_object != NULL && source == NULL) {
		return false; // not a source of ours (untracked): ignore
	}
	if (source != NULL && source->type != type) {
		return false;
	}
	/* as compositors do: only a client that had input recently may set it;
	 * here also only while it has keyboard focus (proxy/focus.h) */
	if (!focus_serial_valid(session, serial)) {
		vd_log(VD_INFO, "vm=%s pid=%d: selection refused: stale serial %u or no "
			"keyboard focus", session->server->vm, (int)session->pid, serial);
		if (source != NULL) {
			vd_session_event(session, source_object, protocols[type].source_cancelled,
				"");
		}
		return false;
	}
	struct selection *sel = &clipboard->selections[type];
	if (source != NULL && sel->source == source) {
		return false;
	}
	set_selection(clipboard, type, source, NULL);
	return false;
}

bool clipboard_handle_start_drag(struct vd_hook_ctx *ctx) {
	/* drag and drop is refused, within the VM and across its boundary:
	 * the drag never starts, the source is told so */
	struct vd_object *source = vd_session_client_object(ctx->session, ctx->msg->args[0].id);
	vd_log(VD_INFO, "vm=%s pid=%d: drag and drop refused", ctx->session->server->vm,
		(int)ctx->session->pid);
	if (source_from(source) != NULL) {
		vd_session_event(ctx->session, source,
			protocols[VD_SELECTION_CLIPBOARD].source_cancelled, "");
	}
	return false;
}

/* Transfers: the proxy writing its own data, or reading a VM source. */

struct transfer {
	struct vd_clipboard *clipboard;
	struct wl_list link; // vd_clipboard.transfers
	int fd;
	struct wl_event_source *fd_source, *timer;
	/* writing */
	struct own_data *own;
	size_t offset;
	/* reading */
	uint8_t *buf;
	size_t size, cap, max_size;
	char *mime;
	vd_clipboard_read_done done;
	void *done_data;
};

static void transfer_destroy(struct transfer *transfer) {
	if (transfer == NULL) {
		return;
	}
	wl_list_remove(&transfer->link);
	if (transfer->fd_source != NULL) {
		wl_event_source_remove(transfer->fd_source);
	}
	if (transfer->timer != NULL) {
		wl_event_source_remove(transfer->timer);
	}
	if (transfer->fd >= 0) {
		close(transfer->fd);
	}
	own_data_unref(transfer->own);
	free(transfer->buf);
	free(transfer->mime);
	free(transfer);
}

static void read_finish(struct transfer *transfer, const char *error) {
	vd_clipboard_read_done done = transfer->done;
	transfer->done = NULL;
	if (done != NULL) {
		if (error != NULL) {
			done(transfer->done_data, NULL, 0, transfer->mime, error);
		} else {
			done(transfer->done_data, transfer->buf, transfer->size, transfer->mime, NULL);
		}
	}
	transfer_destroy(transfer);
}

static int handle_transfer_timeout(void *data) {
	struct transfer *transfer = data;
	if (transfer->own != NULL) {
		vd_log(VD_WARN, "vm=%s: a client did not take the pasted data in time",
			transfer->clipboard->server->vm);
		transfer_destroy(transfer);
	} else {
		read_finish(transfer, "the VM's application did not send its data in time");
	}
	return 0;
}

static int handle_write(int fd, uint32_t mask, void *data) {
	struct transfer *transfer = data;
	while (transfer->offset < transfer->own->size) {
		ssize_t n = write(fd, transfer->own->bytes + transfer->offset,
			transfer->own->size - transfer->offset);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return 0;
		}
		if (n <= 0) {
			break; // the reader went away
		}
		transfer->offset += (size_t)n;
	}
	transfer_destroy(transfer);
	return 0;
}

static int handle_read(int fd, uint32_t mask, void *data) {
	struct transfer *transfer = data;
	for (;;) {
		if (transfer->cap - transfer->size < READ_CHUNK) {
			size_t cap = transfer->cap + 4 * READ_CHUNK;
			uint8_t *buf = realloc(transfer->buf, cap);
			if (buf == NULL) {
				read_finish(transfer, "out of memory");
				return 0;
			}
			transfer->buf = buf;
			transfer->cap = cap;
		}
		ssize_t n = read(fd, transfer->buf + transfer->size, READ_CHUNK);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return 0;
		}
		if (n < 0) {
			read_finish(transfer, "reading the VM's data failed");
			return 0;
		}
		if (n == 0) {
			read_finish(transfer, NULL);
			return 0;
		}
		transfer->size += (size_t)n;
		if (transfer->size > transfer->max_size) {
			read_finish(transfer, "the data is larger than the limit");
			return 0;
		}
	}
}

static struct transfer *transfer_create(struct vd_clipboard *clipboard, int fd, bool writing,
		int timeout_ms) {
	struct transfer *transfer = calloc(1, sizeof(*transfer));
	if (transfer == NULL) {
		close(fd);
		return NULL;
	}
	transfer->clipboard = clipboard;
	transfer->fd = fd;
	wl_list_insert(&clipboard->transfers, &transfer->link);
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		transfer_destroy(transfer);
		return NULL;
	}
	struct wl_event_loop *loop = clipboard->server->loop;
	transfer->fd_source = wl_event_loop_add_fd(loop, fd,
		writing ? WL_EVENT_WRITABLE : WL_EVENT_READABLE,
		writing ? handle_write : handle_read, transfer);
	transfer->timer = wl_event_loop_add_timer(loop, handle_transfer_timeout, transfer);
	if (transfer->fd_source == NULL || transfer->timer == NULL) {
		transfer_destroy(transfer);
		return NULL;
	}
	wl_event_source_timer_update(transfer->timer, timeout_ms);
	return transfer;
}

bool clipboard_handle_receive(struct vd_hook_ctx *ctx) {
	struct vd_clipboard *clipboard = clipboard_of(ctx->session);
	struct offer *offer = ctx->object->impl == &offer_impl ? ctx->object->data : NULL;
	const char *mime = ctx->msg->args[0].str.data;
	int fd = ctx->fds[0];
	ctx->fds[0] = -1;
	if (offer == NULL) {
		close(fd);
		return false;
	}
	struct selection *sel = &clipboard->selections[offer->type];
	if (offer->generation != sel->generation) {
		close(fd); // an old offer: the reader sees an empty transfer
		return false;
	}
	if (sel->source != NULL) {
		/* the source's client writes straight into the reader's pipe */
		vd_session_event(sel->source->session, sel->source->object,
			protocols[offer->type].source_send, "sh", mime, fd);
		return false;
	}
	bool offered = false;
	for (size_t i = 0; sel->own != NULL && i < sel->own->mime_count; i++) {
		offered = offered || strcmp(sel->own->mimes[i], mime) == 0;
	}
	if (!offered) {
		close(fd);
		return false;
	}
	struct transfer *transfer = transfer_create(clipboard, fd, true, WRITE_TIMEOUT_MS);
	if (transfer != NULL) {
		transfer->own = sel->own;
		sel->own->refs++;
	}
	return false;
}

/* Focus (proxy/focus.c tells) */

void clipboard_note_serial(struct vd_session *session, uint32_t serial) {
	focus_note_serial(session, serial);
}

void clipboard_focus_in(struct vd_session *session) {
	struct vd_clipboard *clipboard = clipboard_of(session);
	/* as a compositor would: the focused client learns the selection */
	struct device *device;
	wl_list_for_each(device, &clipboard->devices, link) {
		if (device->session == session) {
			send_selection_to(clipboard, device);
		}
	}
	if (clipboard->focused_sessions++ == 0) {
		server_focus_changed(session->server, true);
	}
}

void clipboard_focus_out(struct vd_session *session) {
	struct vd_clipboard *clipboard = clipboard_of(session);
	assert(clipboard->focused_sessions > 0);
	if (--clipboard->focused_sessions == 0) {
		server_focus_changed(session->server, false);
	}
}

bool clipboard_has_focus(const struct vd_clipboard *clipboard) {
	return clipboard->focused_sessions > 0;
}

/* The global clipboard's side */

const char *const *clipboard_mimes(struct vd_clipboard *clipboard, enum vd_selection_type type,
		size_t *count) {
	struct selection *sel = &clipboard->selections[type];
	if (sel->source != NULL) {
		*count = sel->source->mime_count;
		return (const char *const *)sel->source->mimes;
	}
	if (sel->own != NULL) {
		*count = sel->own->mime_count;
		return (const char *const *)sel->own->mimes;
	}
	*count = 0;
	return NULL;
}

bool clipboard_read(struct vd_clipboard *clipboard, enum vd_selection_type type,
		const char *const *mimes, size_t mime_count, size_t max_size, int timeout_ms,
		vd_clipboard_read_done done, void *data) {
	struct selection *sel = &clipboard->selections[type];
	size_t have_count;
	const char *const *have = clipboard_mimes(clipboard, type, &have_count);
	const char *mime = NULL;
	for (size_t i = 0; i < mime_count && mime == NULL; i++) {
		for (size_t j = 0; j < have_count; j++) {
			if (strcmp(mimes[i], have[j]) == 0) {
				mime = have[j];
				break;
			}
		}
	}
	if (mime == NULL) {
		return false;
	}
	if (sel->own != NULL) {
		if (sel->own->size > max_size) {
			done(data, NULL, 0, mime, "the data is larger than the limit");
		} else {
			done(data, sel->own->bytes, sel->own->size, mime, NULL);
		}
		return true;
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		return false;
	}
	struct transfer *transfer = transfer_create(clipboard, fds[0], false, timeout_ms);
	if (transfer == NULL) {
		close(fds[1]);
		return false;
	}
	transfer->max_size = max_size;
	transfer->mime = strdup(mime);
	transfer->done = done;
	transfer->done_data = data;
	if (!vd_session_event(sel->source->session, sel->source->object,
			protocols[type].source_send, "sh", mime, fds[1])) {
		read_finish(transfer, "the VM's application is gone");
	}
	return true;
}

bool clipboard_set_data(struct vd_clipboard *clipboard, enum vd_selection_type type,
		const char *const *mimes, size_t mime_count, const uint8_t *bytes, size_t size) {
	if (mime_count == 0 || mime_count > VD_CLIPBOARD_MAX_MIMES) {
		return false;
	}
	struct own_data *own = calloc(1, sizeof(*own) + size);
	if (own == NULL) {
		return false;
	}
	own->refs = 1;
	own->size = size;
	memcpy(own->bytes, bytes, size);
	for (size_t i = 0; i < mime_count; i++) {
		if (!vd_mime_valid(mimes[i], strlen(mimes[i])) ||
				(own->mimes[own->mime_count] = strdup(mimes[i])) == NULL) {
			own_data_unref(own);
			return false;
		}
		own->mime_count++;
	}
	set_selection(clipboard, type, NULL, own);
	return true;
}

/* Lifetime */

struct vd_clipboard *clipboard_create(struct vd_server *server) {
	struct vd_clipboard *clipboard = calloc(1, sizeof(*clipboard));
	if (clipboard == NULL) {
		return NULL;
	}
	clipboard->server = server;
	wl_list_init(&clipboard->devices);
	wl_list_init(&clipboard->transfers);
	return clipboard;
}

void clipboard_session_gone(struct vd_clipboard *clipboard, struct vd_session *session) {
	focus_session_finish(session);
}

void clipboard_destroy(struct vd_clipboard *clipboard) {
	if (clipboard == NULL) {
		return;
	}
	struct transfer *transfer, *tmp;
	wl_list_for_each_safe(transfer, tmp, &clipboard->transfers, link) {
		if (transfer->own == NULL) {
			read_finish(transfer, "the proxy is stopping");
		} else {
			transfer_destroy(transfer);
		}
	}
	for (int i = 0; i < VD_SELECTION_COUNT; i++) {
		own_data_unref(clipboard->selections[i].own);
	}
	free(clipboard);
}
