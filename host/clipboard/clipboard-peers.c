#define LOG_TAG "clipboard"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/clipboard/clipboard-private.h"
#include "protocols/log.h"
#include "protocols/transport.h"

/* ---- peers ---- */

bool gclip_peer_send(struct peer *peer, const struct vd_link_msg *msg) {
	return vd_link_conn_send(peer->conn, msg);
}

void gclip_reply_cli(struct peer *cli, uint8_t status, const char *fmt, ...) {
	if (cli == NULL) {
		return;
	}
	char text[MAX_TEXT + 1];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	/* text from a domain was checked on the way in; make sure anyway */
	if (!vd_text_valid(text, strlen(text), VD_TEXT_NEWLINES)) {
		snprintf(text, sizeof(text), "(unprintable message)");
	}
	struct vd_link_msg msg = {.type = VD_LINK_CLIP_COMMAND_REPLY};
	msg.body.clip_command_reply = (struct vd_link_clip_command_reply){.status = status,
		.text = text};
	gclip_peer_send(cli, &msg);
	vd_link_conn_close(cli->conn);
}

struct peer *gclip_find_proxy(struct vd_gclip *gclip, const char *name) {
	struct peer *p;
	wl_list_for_each(p, &gclip->peers, link) {
		if (p->kind == PEER_PROXY && !vd_link_conn_closing(p->conn) &&
				strcmp(p->name, name) == 0) {
			return p;
		}
	}
	return NULL;
}

/* The VM whose proxy last reported keyboard focus, else the host. */
const char *gclip_reported_focus(struct vd_gclip *gclip) {
	struct peer *best = NULL, *p;
	wl_list_for_each(p, &gclip->peers, link) {
		if (p->kind == PEER_PROXY && !vd_link_conn_closing(p->conn) && p->focused &&
				(best == NULL || p->focus_seq > best->focus_seq)) {
			best = p;
		}
	}
	return best != NULL ? best->name : VD_HOST_DOMAIN;
}

static void handle_join(struct peer *peer, const struct vd_link_clip_join *join) {
	struct vd_gclip *gclip = peer->gclip;
	struct peer *other = gclip_find_proxy(gclip, join->vm);
	if (other != NULL) {
		vd_log(VD_WARN, "vm=%s: refusing a second vmdesk-proxy (pid %d): pid %d is linked",
			join->vm, (int)peer->pid, (int)other->pid);
		vd_link_conn_fail(peer->conn, VD_LINK_ERROR_CODE_BUSY, "a vmdesk-proxy for VM %s is "
			"already linked to the global clipboard (pid %d)", join->vm, (int)other->pid);
		return;
	}
	peer->kind = PEER_PROXY;
	snprintf(peer->name, sizeof(peer->name), "%s", join->vm);
	vd_log(VD_INFO, "vm=%s joined the global clipboard (pid %d)", peer->name, (int)peer->pid);
}

static void handle_proxy_msg(struct peer *peer, const struct vd_link_msg *msg) {
	struct vd_gclip *gclip = peer->gclip;
	switch (msg->type) {
	case VD_LINK_CLIP_FOCUS:
		peer->focused = msg->body.clip_focus.focused != 0;
		if (peer->focused) {
			peer->focus_seq = ++gclip->focus_counter;
		}
		vd_log(VD_DEBUG, "vm=%s: focus %s", peer->name, peer->focused ? "in" : "out");
		return;
	case VD_LINK_CLIP_COPY_REPLY: {
		const struct vd_link_clip_copy_reply *reply = &msg->body.clip_copy_reply;
		if (gclip->op.kind != OP_COPY || msg->id != gclip->op.id ||
				strcmp(gclip->op.domain, peer->name) != 0) {
			vd_log(VD_WARN, "vm=%s: a copy reply nobody waits for was dropped", peer->name);
			return;
		}
		gclip_op_finish_copy(gclip, reply->status, reply->data, reply->data_len, reply->mime,
			reply->text[0] != '\0' ? reply->text : NULL);
		return;
	}
	case VD_LINK_CLIP_PASTE_REPLY: {
		const struct vd_link_clip_paste_reply *reply = &msg->body.clip_paste_reply;
		if (gclip->op.kind != OP_PASTE || msg->id != gclip->op.id ||
				strcmp(gclip->op.domain, peer->name) != 0) {
			vd_log(VD_WARN, "vm=%s: a paste reply nobody waits for was dropped", peer->name);
			return;
		}
		gclip_op_finish_paste(gclip, reply->status, reply->text[0] != '\0' ? reply->text : NULL);
		return;
	}
	case VD_LINK_VM_WINDOWS:
		peer->windows = msg->body.vm_windows.count;
		if (gclip->config.vm_windows != NULL) {
			gclip->config.vm_windows(gclip->config.vm_windows_data, peer->name, peer->windows);
		}
		return;
	default:
		vd_link_conn_fail(peer->conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: unexpected %s from a proxy",
			vd_link_type_name(&vd_link_host, msg->type));
	}
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct peer *peer = vd_link_conn_data(conn);
	if (msg->type == VD_LINK_ERROR) {
		vd_link_conn_close(conn);
		return;
	}
	switch (peer->kind) {
	case PEER_NEW:
		wl_event_source_timer_update(peer->timer, 0);
		if (msg->type == VD_LINK_CLIP_JOIN) {
			handle_join(peer, &msg->body.clip_join);
		} else if (msg->type == VD_LINK_CLIP_COMMAND) {
			gclip_op_command(peer, &msg->body.clip_command);
		} else {
			vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL,
				"protocol error: it did not start with CLIP_JOIN or CLIP_COMMAND");
		}
		return;
	case PEER_PROXY:
		handle_proxy_msg(peer, msg);
		return;
	case PEER_CLI:
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: a command connection sends one command");
		return;
	}
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct peer *peer = vd_link_conn_data(conn);
	struct vd_gclip *gclip = peer->gclip;
	if (reason != NULL && peer->kind != PEER_CLI) {
		vd_log(VD_WARN, "%s%s disconnected: %s", peer->kind == PEER_PROXY ? "vm=" : "a client",
			peer->kind == PEER_PROXY ? peer->name : "", reason);
	} else if (peer->kind == PEER_PROXY) {
		vd_log(VD_INFO, "vm=%s left the global clipboard", peer->name);
	}
	if (gclip->op.cli == peer) {
		gclip->op.cli = NULL;
	}
	if (peer->kind == PEER_PROXY && peer->windows > 0 && gclip->config.vm_windows != NULL) {
		gclip->config.vm_windows(gclip->config.vm_windows_data, peer->name, 0);
	}
	wl_list_remove(&peer->link);
	gclip->peer_count--;
	if (peer->kind == PEER_PROXY && gclip->op.kind != OP_NONE &&
			strcmp(gclip->op.domain, peer->name) == 0) {
		gclip_op_fail(gclip, VD_LINK_CLIP_STATUS_UNAVAILABLE, "the VM's proxy went away");
	}
	vd_link_conn_destroy(conn);
	wl_event_source_remove(peer->timer);
	free(peer);
}

static const struct vd_link_conn_impl peer_impl = {
	.message = handle_message,
	.closed = handle_closed,
};

static int handle_peer_silent(void *data) {
	struct peer *peer = data;
	vd_link_conn_fail(peer->conn, VD_LINK_ERROR_CODE_TIMEOUT, "it said nothing");
	return 0;
}

int gclip_peer_handle_accept(int fd, uint32_t mask, void *data) {
	struct vd_gclip *gclip = data;
	for (;;) {
		int cfd = vd_transport_accept(fd);
		if (cfd < 0) {
			return 0;
		}
		struct ucred cred = {0};
		socklen_t len = sizeof(cred);
		bool uid_ok = getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
			(cred.uid == getuid() || cred.uid == 0);
		if (gclip->peer_count >= MAX_PEERS || !uid_ok) {
			vd_log(VD_WARN, "clipboard connection refused (%s)",
				gclip->peer_count >= MAX_PEERS ? "too many" : "another user");
			close(cfd);
			continue;
		}
		struct peer *peer = calloc(1, sizeof(*peer));
		if (peer == NULL) {
			close(cfd);
			return 0;
		}
		peer->gclip = gclip;
		peer->pid = cred.pid;
		peer->timer = wl_event_loop_add_timer(gclip->loop, handle_peer_silent, peer);
		char software[64];
		snprintf(software, sizeof(software), "vmdesk global clipboard %s", VD_VERSION);
		struct vd_link_conn_config config = {.set = &vd_link_host, .role = VD_LINK_ROLE_SERVER,
			.caps = VD_LINK_CAP_CLIPBOARD |
				(gclip->config.vm_windows != NULL ? VD_LINK_CAP_WINDOWS : 0),
			.software = software, .max_queue = PEER_MAX_QUEUE,
			.hello_timeout_ms = HELLO_TIMEOUT_MS};
		peer->conn = peer->timer != NULL ?
			vd_link_conn_create(gclip->loop, cfd, &config, &peer_impl, peer) : NULL;
		if (peer->conn == NULL) {
			if (peer->timer != NULL) {
				wl_event_source_remove(peer->timer);
			} else {
				close(cfd);
			}
			free(peer);
			return 0;
		}
		wl_event_source_timer_update(peer->timer, HELLO_TIMEOUT_MS);
		wl_list_insert(&gclip->peers, &peer->link);
		gclip->peer_count++;
	}
}

void gclip_peers_finish(struct vd_gclip *gclip) {
	struct peer *peer, *tmp;
	wl_list_for_each_safe(peer, tmp, &gclip->peers, link) {
		vd_link_conn_destroy(peer->conn);
		wl_event_source_remove(peer->timer);
		wl_list_remove(&peer->link);
		free(peer);
	}
}
