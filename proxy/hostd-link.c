#define LOG_TAG "hostd-link"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/clip-link.h"
#include "protocols/log.h"
#include "proxy/clipboard.h"
#include "proxy/hostd-link.h"
#include "proxy/server.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* Two of the largest frames, then the link is considered stuck. */
#define OUT_MAX (2 * VD_CLIP_MAX_PAYLOAD + (64u << 10))

struct copy_request {
	struct vd_hostd_link *link; // NULL once the link is gone
	uint64_t generation; // of the connection that asked
	uint32_t id;
	struct wl_list link_node; // vd_hostd_link.requests
};

struct vd_hostd_link {
	struct vd_server *server;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct vd_clip_conn conn; // fd -1 while disconnected
	uint64_t generation;
	struct wl_event_source *fd_source;
	struct wl_event_source *retry_timer;
	int backoff_ms;
	bool warned; // about the socket being missing
	struct wl_list requests; // copy_request.link_node
	struct wl_list link; // links
};

/* One proxy serves one VM, but nothing here assumes it. */
static struct wl_list links = { &links, &links };

bool hostd_link_default_path(char *path, size_t size) {
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	if (runtime == NULL || runtime[0] != '/') {
		return false;
	}
	int n = snprintf(path, size, "%s/vmdesk/clipboard.sock", runtime);
	return n > 0 && (size_t)n < size;
}

static void schedule_retry(struct vd_hostd_link *link) {
	wl_event_source_timer_update(link->retry_timer, link->backoff_ms);
	link->backoff_ms *= 2;
	if (link->backoff_ms > BACKOFF_MAX_MS) {
		link->backoff_ms = BACKOFF_MAX_MS;
	}
}

static void disconnect(struct vd_hostd_link *link, const char *reason) {
	if (link->conn.fd < 0) {
		return;
	}
	if (reason != NULL) {
		vd_log(VD_WARN, "vm=%s: global clipboard link closed: %s", link->server->vm, reason);
	}
	wl_event_source_remove(link->fd_source);
	link->fd_source = NULL;
	clip_conn_finish(&link->conn);
	link->generation++;
	link->backoff_ms = BACKOFF_MIN_MS;
	schedule_retry(link);
}

static void update_mask(struct vd_hostd_link *link) {
	uint32_t mask = WL_EVENT_READABLE;
	if (clip_conn_wants_write(&link->conn)) {
		mask |= WL_EVENT_WRITABLE;
	}
	wl_event_source_fd_update(link->fd_source, mask);
}

static bool send_msg(struct vd_hostd_link *link, const struct vd_clip_msg *msg) {
	if (link->conn.fd < 0) {
		return false;
	}
	if (!clip_conn_send(&link->conn, msg)) {
		disconnect(link, "the global clipboard does not read its messages");
		return false;
	}
	if (!clip_conn_flush(&link->conn)) {
		disconnect(link, strerror(errno));
		return false;
	}
	update_mask(link);
	return true;
}

static uint8_t status_of_error(const char *error) {
	if (strstr(error, "limit") != NULL) {
		return VD_CLIP_TOO_LARGE;
	}
	if (strstr(error, "in time") != NULL) {
		return VD_CLIP_TIMEOUT;
	}
	return VD_CLIP_FAILED;
}

static void send_copy_reply(struct vd_hostd_link *link, uint32_t id, uint8_t status,
		const char *mime, const uint8_t *bytes, size_t size, const char *text) {
	struct vd_clip_msg *msg = calloc(1, sizeof(*msg));
	if (msg == NULL) {
		disconnect(link, "out of memory");
		return;
	}
	msg->type = VD_CLIP_COPY_REPLY;
	msg->id = id;
	msg->value = status;
	if (status == VD_CLIP_OK) {
		snprintf(msg->mime, sizeof(msg->mime), "%s", mime);
		msg->data = bytes;
		msg->size = size;
	}
	snprintf(msg->text, sizeof(msg->text), "%s", text);
	send_msg(link, msg);
	free(msg);
}

static void handle_read_done(void *data, const uint8_t *bytes, size_t size, const char *mime,
		const char *error) {
	struct copy_request *req = data;
	struct vd_hostd_link *link = req->link;
	wl_list_remove(&req->link_node);
	if (link == NULL || link->generation != req->generation) {
		free(req); // asked by a link or a connection that is gone
		return;
	}
	const char *vm = link->server->vm;
	if (error != NULL) {
		vd_log(VD_WARN, "vm=%s: copy to the global clipboard refused: %s", vm, error);
		send_copy_reply(link, req->id, status_of_error(error), NULL, NULL, 0, error);
	} else if (mime == NULL || !clip_link_text_mime(mime)) {
		send_copy_reply(link, req->id, VD_CLIP_FAILED, NULL, NULL, 0, "internal error");
	} else if (clip_link_utf8_mime(mime) && !clip_link_utf8_valid(bytes, size)) {
		vd_log(VD_WARN, "vm=%s: copy to the global clipboard refused: invalid UTF-8 "
			"in %s data", vm, mime);
		send_copy_reply(link, req->id, VD_CLIP_INVALID, NULL, NULL, 0,
			"the data is not valid UTF-8");
	} else {
		vd_log(VD_INFO, "vm=%s: %zu bytes of %s to the global clipboard", vm, size, mime);
		send_copy_reply(link, req->id, VD_CLIP_OK, mime, bytes, size, "");
	}
	free(req);
}

static void handle_copy_request(struct vd_hostd_link *link, const struct vd_clip_msg *msg) {
	/* Only the text types the global clipboard moves, in the order asked. */
	const char *mimes[VD_CLIP_MAX_MIMES];
	size_t count = 0;
	for (size_t i = 0; i < msg->mime_count; i++) {
		if (clip_link_text_mime(msg->mimes[i])) {
			mimes[count++] = msg->mimes[i];
		}
	}
	struct copy_request *req = calloc(1, sizeof(*req));
	if (req == NULL) {
		send_copy_reply(link, msg->id, VD_CLIP_FAILED, NULL, NULL, 0, "out of memory");
		return;
	}
	req->link = link;
	req->generation = link->generation;
	req->id = msg->id;
	wl_list_insert(&link->requests, &req->link_node);
	if (count == 0 || !clipboard_read(link->server->clipboard, VD_SELECTION_CLIPBOARD,
			mimes, count, msg->max_size, (int)msg->timeout_ms, handle_read_done, req)) {
		wl_list_remove(&req->link_node);
		free(req);
		size_t have = 0;
		clipboard_mimes(link->server->clipboard, VD_SELECTION_CLIPBOARD, &have);
		send_copy_reply(link, msg->id, VD_CLIP_EMPTY, NULL, NULL, 0,
			have == 0 ? "the VM's clipboard is empty" :
			"the VM's clipboard holds no text");
	}
}

static void handle_paste_request(struct vd_hostd_link *link, const struct vd_clip_msg *msg) {
	const char *mimes[VD_CLIP_MAX_MIMES];
	size_t count = 0;
	for (size_t i = 0; i < msg->mime_count; i++) {
		if (clip_link_text_mime(msg->mimes[i])) {
			mimes[count++] = msg->mimes[i];
		}
	}
	struct vd_clip_msg reply = { .type = VD_CLIP_PASTE_REPLY, .id = msg->id };
	if (count == 0) {
		reply.value = VD_CLIP_INVALID;
		snprintf(reply.text, sizeof(reply.text), "no text type to paste");
	} else if (!clipboard_set_data(link->server->clipboard, VD_SELECTION_CLIPBOARD, mimes,
			count, msg->data, msg->size)) {
		reply.value = VD_CLIP_FAILED;
		snprintf(reply.text, sizeof(reply.text), "the proxy could not set the selection");
	} else {
		vd_log(VD_INFO, "vm=%s: %zu bytes from the global clipboard", link->server->vm,
			msg->size);
		reply.value = VD_CLIP_OK;
	}
	send_msg(link, &reply);
}

static int handle_fd(int fd, uint32_t mask, void *data) {
	struct vd_hostd_link *link = data;
	char err[256];
	if (mask & WL_EVENT_WRITABLE) {
		if (!clip_conn_flush(&link->conn)) {
			disconnect(link, strerror(errno));
			return 0;
		}
		update_mask(link);
	}
	if (!(mask & (WL_EVENT_READABLE | WL_EVENT_HANGUP | WL_EVENT_ERROR))) {
		return 0;
	}
	struct vd_clip_msg *msg = malloc(sizeof(*msg));
	if (msg == NULL) {
		disconnect(link, "out of memory");
		return 0;
	}
	uint64_t generation = link->generation;
	while (link->generation == generation) {
		int r = clip_conn_read(&link->conn, err, sizeof(err));
		if (r < 0) {
			disconnect(link, err);
			break;
		}
		if (r == 0) {
			disconnect(link, "the global clipboard went away");
			break;
		}
		r = clip_conn_next(&link->conn, msg, err, sizeof(err));
		if (r == 0) {
			break;
		}
		if (r < 0) {
			disconnect(link, err);
			break;
		}
		switch (msg->type) {
		case VD_CLIP_COPY_REQUEST:
			handle_copy_request(link, msg);
			break;
		case VD_CLIP_PASTE_REQUEST:
			handle_paste_request(link, msg);
			break;
		default:
			snprintf(err, sizeof(err), "unexpected %s message",
				clip_link_type_name(msg->type));
			disconnect(link, err);
			break;
		}
	}
	free(msg);
	return 0;
}

static void send_focus(struct vd_hostd_link *link, bool focused) {
	struct vd_clip_msg msg = { .type = VD_CLIP_FOCUS, .value = focused };
	send_msg(link, &msg);
}

static int handle_retry(void *data) {
	struct vd_hostd_link *link = data;
	if (link->conn.fd >= 0) {
		return 0;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		schedule_retry(link);
		return 0;
	}
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	memcpy(addr.sun_path, link->path, sizeof(link->path));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 && errno != EINPROGRESS) {
		if (!link->warned) {
			vd_log(VD_INFO, "vm=%s: no global clipboard at %s (%s); retrying quietly",
				link->server->vm, link->path, strerror(errno));
			link->warned = true;
		}
		close(fd);
		schedule_retry(link);
		return 0;
	}
	clip_conn_init(&link->conn, fd, OUT_MAX);
	link->fd_source = wl_event_loop_add_fd(link->server->loop, fd, WL_EVENT_READABLE,
		handle_fd, link);
	if (link->fd_source == NULL) {
		clip_conn_finish(&link->conn);
		schedule_retry(link);
		return 0;
	}
	vd_log(VD_INFO, "vm=%s: connected to the global clipboard at %s", link->server->vm,
		link->path);
	link->warned = false;
	struct vd_clip_msg hello = { .type = VD_CLIP_HELLO, .version = VD_CLIP_LINK_VERSION };
	snprintf(hello.name, sizeof(hello.name), "%s", link->server->vm);
	if (send_msg(link, &hello)) {
		send_focus(link, clipboard_has_focus(link->server->clipboard));
	}
	return 0;
}

struct vd_hostd_link *hostd_link_create(struct vd_server *server, const char *path) {
	if (!clip_link_name_valid(server->vm) || strcmp(server->vm, "host") == 0) {
		vd_log(VD_ERROR, "vm=%s: this name cannot join the global clipboard", server->vm);
		return NULL;
	}
	struct vd_hostd_link *link = calloc(1, sizeof(*link));
	if (link == NULL) {
		return NULL;
	}
	if (strlen(path) >= sizeof(link->path)) {
		vd_log(VD_ERROR, "global clipboard socket path %s is too long", path);
		free(link);
		return NULL;
	}
	snprintf(link->path, sizeof(link->path), "%s", path);
	link->server = server;
	link->conn.fd = -1;
	link->backoff_ms = BACKOFF_MIN_MS;
	wl_list_init(&link->requests);
	link->retry_timer = wl_event_loop_add_timer(server->loop, handle_retry, link);
	if (link->retry_timer == NULL) {
		free(link);
		return NULL;
	}
	wl_list_insert(&links, &link->link);
	handle_retry(link);
	return link;
}

void hostd_link_destroy(struct vd_hostd_link *link) {
	if (link == NULL) {
		return;
	}
	/* Reads still running finish later: they must not find us. */
	struct copy_request *req, *tmp;
	wl_list_for_each_safe(req, tmp, &link->requests, link_node) {
		req->link = NULL;
		wl_list_remove(&req->link_node);
		wl_list_init(&req->link_node);
	}
	if (link->fd_source != NULL) {
		wl_event_source_remove(link->fd_source);
	}
	clip_conn_finish(&link->conn);
	wl_event_source_remove(link->retry_timer);
	wl_list_remove(&link->link);
	free(link);
}

void hostd_link_focus_changed(struct vd_server *server, bool focused) {
	struct vd_hostd_link *link;
	wl_list_for_each(link, &links, link) {
		if (link->server == server) {
			send_focus(link, focused);
		}
	}
}
