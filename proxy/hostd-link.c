#define LOG_TAG "hostd-link"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "protocols/backoff.h"
#include "protocols/clock.h"
#include "protocols/link-conn.h"
#include "protocols/log.h"
#include "protocols/names.h"
#include "protocols/text.h"
#include "protocols/transport.h"
#include "proxy/clipboard.h"
#include "proxy/hostd-link.h"
#include "proxy/server.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 10000
/* Two of the largest frames, then the link is considered stuck. */
#define MAX_QUEUE (2 * VD_LINK_MAX_CLIP_DATA + (256u << 10))

struct copy_request {
	struct vd_hostd_link *link; // NULL once the link is gone
	uint64_t generation; // of the connection that asked
	uint32_t id;
	struct wl_list link_node; // vd_hostd_link.requests
};

struct vd_hostd_link {
	struct vd_server *server;
	struct vd_addr addr;
	struct vd_dialer *dialer;
	struct vd_link_conn *conn; // NULL while not connected
	uint64_t generation;
	struct wl_event_source *retry_timer;
	struct vd_backoff backoff;
	bool warned; // about the socket being missing
	char refused[512]; // why the global clipboard refused us (said once)
	bool refused_now; // this connection was refused
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
	wl_event_source_timer_update(link->retry_timer, (int)vd_backoff_next(&link->backoff));
}

static bool send_msg(struct vd_hostd_link *link, const struct vd_link_msg *msg) {
	return link->conn != NULL && vd_link_conn_send(link->conn, msg);
}

static void send_copy_reply(struct vd_hostd_link *link, uint32_t id, uint8_t status,
		const char *mime, const uint8_t *bytes, size_t size, const char *text) {
	struct vd_link_msg msg = {.type = VD_LINK_CLIP_COPY_REPLY, .id = id};
	msg.body.clip_copy_reply = (struct vd_link_clip_copy_reply){.status = status, .mime = "",
		.text = text};
	if (status == VD_LINK_CLIP_STATUS_OK) {
		msg.body.clip_copy_reply.mime = mime;
		msg.body.clip_copy_reply.data = bytes;
		msg.body.clip_copy_reply.data_len = (uint32_t)size;
	}
	send_msg(link, &msg);
}

static uint8_t status_of_error(const char *error) {
	if (strstr(error, "limit") != NULL) {
		return VD_LINK_CLIP_STATUS_TOO_LARGE;
	}
	if (strstr(error, "in time") != NULL) {
		return VD_LINK_CLIP_STATUS_TIMEOUT;
	}
	return VD_LINK_CLIP_STATUS_FAILED;
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
	char text[1024];
	if (error != NULL) {
		vd_log(VD_WARN, "vm=%s: copy to the global clipboard refused: %s", vm, error);
		snprintf(text, sizeof(text), "%s", error);
		if (!vd_text_valid(text, strlen(text), VD_TEXT_NEWLINES)) {
			snprintf(text, sizeof(text), "the VM's application did not deliver");
		}
		send_copy_reply(link, req->id, status_of_error(error), NULL, NULL, 0, text);
	} else if (mime == NULL || !vd_mime_is_text(mime)) {
		send_copy_reply(link, req->id, VD_LINK_CLIP_STATUS_FAILED, NULL, NULL, 0,
			"internal error");
	} else if (vd_mime_is_utf8(mime) && !vd_utf8_valid(bytes, size)) {
		vd_log(VD_WARN, "vm=%s: copy to the global clipboard refused: invalid UTF-8 "
			"in %s data", vm, mime);
		send_copy_reply(link, req->id, VD_LINK_CLIP_STATUS_INVALID, NULL, NULL, 0,
			"the data is not valid UTF-8");
	} else {
		vd_log(VD_INFO, "vm=%s: %zu bytes of %s to the global clipboard", vm, size, mime);
		send_copy_reply(link, req->id, VD_LINK_CLIP_STATUS_OK, mime, bytes, size, "");
	}
	free(req);
}

/* Only the text types the global clipboard moves, in the order asked. */
static size_t text_mimes(uint32_t count, const char **in, const char **out) {
	size_t n = 0;
	for (uint32_t i = 0; i < count && n < VD_LINK_MAX_MIMES; i++) {
		if (vd_mime_is_text(in[i])) {
			out[n++] = in[i];
		}
	}
	return n;
}

static void handle_copy_request(struct vd_hostd_link *link, const struct vd_link_msg *msg) {
	const struct vd_link_clip_copy_request *request = &msg->body.clip_copy_request;
	const char *mimes[VD_LINK_MAX_MIMES];
	size_t count = text_mimes(request->mimes_count, request->mimes, mimes);
	struct copy_request *req = calloc(1, sizeof(*req));
	if (req == NULL) {
		send_copy_reply(link, msg->id, VD_LINK_CLIP_STATUS_FAILED, NULL, NULL, 0,
			"out of memory");
		return;
	}
	req->link = link;
	req->generation = link->generation;
	req->id = msg->id;
	wl_list_insert(&link->requests, &req->link_node);
	if (count == 0 || !clipboard_read(link->server->clipboard, VD_SELECTION_CLIPBOARD,
			mimes, count, request->max_size, (int)request->timeout_ms, handle_read_done, req)) {
		wl_list_remove(&req->link_node);
		free(req);
		size_t have = 0;
		clipboard_mimes(link->server->clipboard, VD_SELECTION_CLIPBOARD, &have);
		send_copy_reply(link, msg->id, VD_LINK_CLIP_STATUS_EMPTY, NULL, NULL, 0,
			have == 0 ? "the VM's clipboard is empty" : "the VM's clipboard holds no text");
	}
}

static void handle_paste_request(struct vd_hostd_link *link, const struct vd_link_msg *msg) {
	const struct vd_link_clip_paste_request *request = &msg->body.clip_paste_request;
	const char *mimes[VD_LINK_MAX_MIMES];
	size_t count = text_mimes(request->mimes_count, request->mimes, mimes);
	struct vd_link_msg reply = {.type = VD_LINK_CLIP_PASTE_REPLY, .id = msg->id};
	reply.body.clip_paste_reply = (struct vd_link_clip_paste_reply){
		.status = VD_LINK_CLIP_STATUS_OK, .text = ""};
	if (count == 0) {
		reply.body.clip_paste_reply.status = VD_LINK_CLIP_STATUS_INVALID;
		reply.body.clip_paste_reply.text = "no text type to paste";
	} else if (!clipboard_set_data(link->server->clipboard, VD_SELECTION_CLIPBOARD, mimes,
			count, request->data, request->data_len)) {
		reply.body.clip_paste_reply.status = VD_LINK_CLIP_STATUS_FAILED;
		reply.body.clip_paste_reply.text = "the proxy could not set the selection";
	} else {
		vd_log(VD_INFO, "vm=%s: %u bytes from the global clipboard", link->server->vm,
			request->data_len);
	}
	send_msg(link, &reply);
}

static void send_focus(struct vd_hostd_link *link, bool focused) {
	struct vd_link_msg msg = {.type = VD_LINK_CLIP_FOCUS};
	msg.body.clip_focus.focused = focused;
	send_msg(link, &msg);
}

static void send_windows(struct vd_hostd_link *link) {
	if (link->conn == NULL || !vd_link_conn_ready(link->conn) ||
			!(vd_link_conn_caps(link->conn) & VD_LINK_CAP_WINDOWS)) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_VM_WINDOWS};
	msg.body.vm_windows.count = link->server->windows;
	send_msg(link, &msg);
}

static void handle_ready(struct vd_link_conn *conn) {
	struct vd_hostd_link *link = vd_link_conn_data(conn);
	vd_log(VD_INFO, "vm=%s: linked to the global clipboard (%s)", link->server->vm,
		vd_link_conn_peer_software(conn));
	vd_backoff_connected(&link->backoff, vd_now_ms());
	send_windows(link);
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct vd_hostd_link *link = vd_link_conn_data(conn);
	switch (msg->type) {
	case VD_LINK_CLIP_COPY_REQUEST:
		handle_copy_request(link, msg);
		return;
	case VD_LINK_CLIP_PASTE_REQUEST:
		handle_paste_request(link, msg);
		return;
	case VD_LINK_ERROR:
		if (msg->body.error.code == VD_LINK_ERROR_CODE_BUSY ||
				msg->body.error.code == VD_LINK_ERROR_CODE_DENIED) {
			/* a reason that lasts: say it once, and ask again only now and then */
			if (strcmp(link->refused, msg->body.error.message) != 0) {
				vd_log(VD_WARN, "vm=%s: the global clipboard refuses this proxy: %s "
					"(asking again every %d s)", link->server->vm, msg->body.error.message,
					BACKOFF_MAX_MS / 1000);
				snprintf(link->refused, sizeof(link->refused), "%s", msg->body.error.message);
			}
			link->refused_now = true;
			vd_backoff_max(&link->backoff);
		} else {
			vd_log(VD_WARN, "vm=%s: the global clipboard reports: %s", link->server->vm,
				msg->body.error.message);
		}
		return;
	default:
		return; // the set's roles keep anything else out
	}
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct vd_hostd_link *link = vd_link_conn_data(conn);
	bool refused = link->refused_now;
	if (!refused) {
		vd_log(VD_WARN, "vm=%s: global clipboard link closed: %s", link->server->vm,
			reason ? reason : "the global clipboard went away");
		link->refused[0] = '\0'; // a later refusal is news again
	}
	vd_link_conn_destroy(conn);
	link->conn = NULL;
	link->generation++;
	vd_backoff_disconnected(&link->backoff, vd_now_ms());
	if (refused) {
		vd_backoff_max(&link->backoff);
	}
	schedule_retry(link);
}

static const struct vd_link_conn_impl link_impl = {
	.ready = handle_ready,
	.message = handle_message,
	.closed = handle_closed,
};

static void handle_dialed(void *data, int fd, const char *err) {
	struct vd_hostd_link *link = data;
	link->dialer = NULL;
	if (fd < 0) {
		if (!link->warned) {
			vd_log(VD_INFO, "vm=%s: no global clipboard at %s (%s); retrying quietly",
				link->server->vm, link->addr.path, err);
			link->warned = true;
		}
		schedule_retry(link);
		return;
	}
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-proxy %s", VD_VERSION);
	struct vd_link_conn_config config = {.set = &vd_link_host, .role = VD_LINK_ROLE_CLIENT,
		.caps = VD_LINK_CAP_CLIPBOARD | VD_LINK_CAP_WINDOWS, .software = software,
		.max_queue = MAX_QUEUE,
		.hello_timeout_ms = 10000};
	link->conn = vd_link_conn_create(link->server->loop, fd, &config, &link_impl, link);
	if (link->conn == NULL) {
		schedule_retry(link);
		return;
	}
	link->warned = false;
	link->refused_now = false;
	struct vd_link_msg join = {.type = VD_LINK_CLIP_JOIN};
	join.body.clip_join.vm = link->server->vm;
	if (send_msg(link, &join)) {
		send_focus(link, clipboard_has_focus(link->server->clipboard));
	}
}

static int handle_retry(void *data) {
	struct vd_hostd_link *link = data;
	if (link->conn != NULL || link->dialer != NULL) {
		return 0;
	}
	link->dialer = vd_dial(link->server->loop, &link->addr, 5000, handle_dialed, link);
	if (link->dialer == NULL) {
		schedule_retry(link);
	}
	return 0;
}

struct vd_hostd_link *hostd_link_create(struct vd_server *server, const char *path) {
	if (!vd_vm_name_valid(server->vm, strlen(server->vm))) {
		vd_log(VD_ERROR, "vm=%s: this name cannot join the global clipboard", server->vm);
		return NULL;
	}
	struct vd_hostd_link *link = calloc(1, sizeof(*link));
	if (link == NULL) {
		return NULL;
	}
	link->addr.kind = VD_ADDR_UNIX;
	if (strlen(path) >= sizeof(link->addr.path)) {
		vd_log(VD_ERROR, "global clipboard socket path %s is too long", path);
		free(link);
		return NULL;
	}
	snprintf(link->addr.path, sizeof(link->addr.path), "%s", path);
	link->server = server;
	vd_backoff_init(&link->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, STABLE_MS);
	wl_list_init(&link->requests);
	link->retry_timer = wl_event_loop_add_timer(server->loop, handle_retry, link);
	if (link->retry_timer == NULL) {
		free(link);
		return NULL;
	}
	wl_list_insert(&links, &link->link);
	wl_event_source_timer_update(link->retry_timer, 1); // now, from the loop
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
	vd_dialer_cancel(link->dialer);
	vd_link_conn_destroy(link->conn);
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

void hostd_link_windows_changed(struct vd_server *server) {
	struct vd_hostd_link *link;
	wl_list_for_each(link, &links, link) {
		if (link->server == server) {
			send_windows(link);
		}
	}
}
