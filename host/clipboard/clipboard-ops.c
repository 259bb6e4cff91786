#define LOG_TAG "clipboard"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/clipboard/clipboard-private.h"
#include "protocols/log.h"

static const char *status_name(uint8_t status) {
	static const char *const names[] = {"ok", "empty", "denied", "too large", "invalid",
		"timeout", "unavailable", "failed"};
	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}

/*
 * The domain copy and paste are for, or NULL with the reason in why: see
 * clipboard.h. A window the compositor shows as a VM's, whose proxy is not
 * linked, is nobody's: never the host's.
 */
static const char *focused_domain(struct vd_gclip *gclip, char *why, size_t why_size) {
	if (host_selection_tracks_focus(gclip->host)) {
		const char *app_id = host_selection_focused_app_id(gclip->host);
		if (app_id != NULL && strncmp(app_id, "vmdesk.", 7) == 0) {
			const char *vm = app_id + 7;
			const char *dot = strchr(vm, '.');
			size_t len = dot != NULL ? (size_t)(dot - vm) : strlen(vm);
			char name[VD_VM_NAME_MAX + 1] = "";
			if (vd_vm_name_valid(vm, len)) {
				memcpy(name, vm, len);
				name[len] = '\0';
				struct peer *proxy = gclip_find_proxy(gclip, name);
				if (proxy != NULL) {
					return proxy->name;
				}
			}
			snprintf(why, why_size, "the focused window belongs to VM %s, whose vmdesk-proxy "
				"is not linked to the global clipboard (started with --hostd none, or "
				"refused as a second proxy of the VM)", name[0] ? name : "(unknown)");
			return NULL;
		}
		if (app_id != NULL && app_id[0] != '\0') {
			return VD_HOST_DOMAIN; // the compositor says: a host window
		}
	}
	return gclip_reported_focus(gclip);
}

/* ---- the entry ---- */

void gclip_entry_wipe(struct vd_gclip *gclip) {
	struct entry *entry = &gclip->entry;
	if (entry->data != NULL) {
		explicit_bzero(entry->data, entry->size);
		free(entry->data);
	}
	*entry = (struct entry){0};
}

static bool entry_store(struct vd_gclip *gclip, const char *source, const char *mime,
		const uint8_t *bytes, size_t size) {
	uint8_t *copy = malloc(size ? size : 1);
	if (copy == NULL) {
		return false;
	}
	memcpy(copy, bytes, size);
	gclip_entry_wipe(gclip); // never keep a tail of older data (QSB-11)
	struct entry *entry = &gclip->entry;
	entry->valid = true;
	entry->data = copy;
	entry->size = size;
	snprintf(entry->mime, sizeof(entry->mime), "%s", mime);
	snprintf(entry->source, sizeof(entry->source), "%s", source);
	entry->time = time(NULL);
	return true;
}

/* The MIME types to offer for the entry: every text type for valid UTF-8,
 * else only the type it came as. */
static size_t entry_mimes(struct vd_gclip *gclip, const char **mimes) {
	struct entry *entry = &gclip->entry;
	if (vd_utf8_valid(entry->data, entry->size)) {
		for (size_t i = 0; i < vd_text_mime_count; i++) {
			mimes[i] = vd_text_mimes[i];
		}
		return vd_text_mime_count;
	}
	mimes[0] = entry->mime;
	return 1;
}

/* ---- operations ---- */

static void op_end(struct vd_gclip *gclip) {
	gclip->op = (struct op){.kind = OP_NONE};
	wl_event_source_timer_update(gclip->op_timer, 0);
}

static void op_start(struct vd_gclip *gclip, enum op_kind kind, struct peer *cli,
		const char *domain) {
	gclip->op = (struct op){.kind = kind, .id = ++gclip->next_id, .cli = cli};
	snprintf(gclip->op.domain, sizeof(gclip->op.domain), "%s", domain);
	wl_event_source_timer_update(gclip->op_timer, gclip->timeout_ms + PROXY_GRACE_MS);
}

void gclip_op_finish_copy(struct vd_gclip *gclip, uint8_t status, const uint8_t *bytes,
		size_t size, const char *mime, const char *error) {
	char domain[VD_VM_NAME_MAX + 1];
	snprintf(domain, sizeof(domain), "%s", gclip->op.domain);
	struct peer *cli = gclip->op.cli;
	op_end(gclip);
	if (status == VD_LINK_CLIP_STATUS_OK) {
		if (mime == NULL || !vd_mime_is_text(mime)) {
			status = VD_LINK_CLIP_STATUS_INVALID;
			error = "not a text type";
		} else if (size > gclip->max_size) {
			status = VD_LINK_CLIP_STATUS_TOO_LARGE;
			error = "the data is larger than the limit";
		} else if (vd_mime_is_utf8(mime) && !vd_utf8_valid(bytes, size)) {
			status = VD_LINK_CLIP_STATUS_INVALID;
			error = "the data is not valid UTF-8";
		} else if (!vd_text_data_safe(mime, bytes, size)) {
			status = VD_LINK_CLIP_STATUS_INVALID;
			error = "the text holds control characters (escape sequences, NUL)";
		} else if (size == 0) {
			status = VD_LINK_CLIP_STATUS_EMPTY;
			error = "the clipboard is empty";
		}
	}
	if (status == VD_LINK_CLIP_STATUS_OK && !entry_store(gclip, domain, mime, bytes, size)) {
		status = VD_LINK_CLIP_STATUS_FAILED;
		error = "out of memory";
	}
	char summary[128];
	if (status == VD_LINK_CLIP_STATUS_OK) {
		snprintf(summary, sizeof(summary), "Copied %zu bytes from %s", size, domain);
		clip_notify_send(gclip->notify, false, summary,
			"to the global clipboard. Paste with Ctrl+Shift+V.");
		gclip_reply_cli(cli, status, "%s to the global clipboard (%s)", summary, mime);
		return;
	}
	/* A copy that failed leaves nothing stale behind (as in Qubes). */
	gclip_entry_wipe(gclip);
	char why[MAX_TEXT + 64];
	if (status == VD_LINK_CLIP_STATUS_TOO_LARGE) {
		snprintf(why, sizeof(why), "%s (the limit is %zu bytes)", error, gclip->max_size);
	} else {
		snprintf(why, sizeof(why), "%s", error ? error : status_name(status));
	}
	snprintf(summary, sizeof(summary), "Copy from %s refused", domain);
	clip_notify_send(gclip->notify, status != VD_LINK_CLIP_STATUS_EMPTY, summary, why);
	gclip_reply_cli(cli, status, "%s: %s; the global clipboard is now empty", summary, why);
}

void gclip_op_finish_paste(struct vd_gclip *gclip, uint8_t status, const char *error) {
	char domain[VD_VM_NAME_MAX + 1];
	snprintf(domain, sizeof(domain), "%s", gclip->op.domain);
	struct peer *cli = gclip->op.cli;
	size_t size = gclip->op.size;
	op_end(gclip);
	char summary[128];
	if (status != VD_LINK_CLIP_STATUS_OK) {
		snprintf(summary, sizeof(summary), "Paste into %s failed", domain);
		clip_notify_send(gclip->notify, true, summary, error ? error : "");
		gclip_reply_cli(cli, status, "%s: %s", summary, error ? error : status_name(status));
		return;
	}
	char source[VD_VM_NAME_MAX + 1];
	snprintf(source, sizeof(source), "%s", gclip->entry.source);
	snprintf(summary, sizeof(summary), "Pasted into %s", domain);
	char body[256];
	snprintf(body, sizeof(body), "%zu bytes from %s.%s Paste there as usual.", size, source,
		gclip->clear_after_paste ? " The global clipboard is now empty." : "");
	if (gclip->clear_after_paste) {
		gclip_entry_wipe(gclip);
	}
	clip_notify_send(gclip->notify, false, summary, body);
	gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_OK, "Pasted %zu bytes from %s into %s%s", size, source,
		domain, gclip->clear_after_paste ? "; the global clipboard is now empty" : "");
}

void gclip_op_fail(struct vd_gclip *gclip, uint8_t status, const char *error) {
	if (gclip->op.kind == OP_COPY) {
		if (strcmp(gclip->op.domain, VD_HOST_DOMAIN) == 0) {
			host_selection_cancel_read(gclip->host);
		}
		gclip_op_finish_copy(gclip, status, NULL, 0, NULL, error);
	} else if (gclip->op.kind == OP_PASTE) {
		gclip_op_finish_paste(gclip, status, error);
	}
}

int gclip_op_handle_timeout(void *data) {
	gclip_op_fail(data, VD_LINK_CLIP_STATUS_TIMEOUT, "the domain did not answer in time");
	return 0;
}

static void handle_host_read(void *data, uint8_t status, const uint8_t *bytes, size_t size,
		const char *mime, const char *error) {
	struct vd_gclip *gclip = data;
	if (gclip->op.kind == OP_COPY && strcmp(gclip->op.domain, VD_HOST_DOMAIN) == 0) {
		gclip_op_finish_copy(gclip, status, bytes, size, mime, error);
	}
}

/* A domain named on the command line that has no linked proxy: say which case it is. */
static void reply_no_proxy(struct vd_gclip *gclip, struct peer *cli, const char *domain) {
	if (gclip->config.vm_exists != NULL &&
			!gclip->config.vm_exists(gclip->config.vm_exists_data, domain)) {
		gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_UNAVAILABLE, "no such VM: %s", domain);
	} else {
		gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_UNAVAILABLE, "VM %s is not connected to the global "
			"clipboard (no vmdesk-proxy of it is linked)", domain);
	}
}

static void start_copy(struct vd_gclip *gclip, struct peer *cli, const char *domain) {
	if (strcmp(domain, VD_HOST_DOMAIN) == 0) {
		const char *reason;
		if (!host_selection_alive(gclip->host)) {
			gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_UNAVAILABLE, "The host clipboard is not "
				"reachable (no compositor with wlr data-control)");
			return;
		}
		op_start(gclip, OP_COPY, cli, domain);
		if (!host_selection_read(gclip->host, vd_text_mimes, vd_text_mime_count,
				gclip->max_size, gclip->timeout_ms, handle_host_read, gclip, &reason)) {
			gclip_op_finish_copy(gclip, VD_LINK_CLIP_STATUS_EMPTY, NULL, 0, NULL, reason);
		}
		return;
	}
	struct peer *proxy = gclip_find_proxy(gclip, domain);
	if (proxy == NULL) {
		reply_no_proxy(gclip, cli, domain);
		return;
	}
	op_start(gclip, OP_COPY, cli, domain);
	struct vd_link_msg msg = {.type = VD_LINK_CLIP_COPY_REQUEST, .id = gclip->op.id};
	msg.body.clip_copy_request = (struct vd_link_clip_copy_request){
		.max_size = (uint32_t)gclip->max_size, .timeout_ms = (uint32_t)gclip->timeout_ms,
		.mimes_count = (uint32_t)vd_text_mime_count, .mimes = (const char **)vd_text_mimes};
	if (!gclip_peer_send(proxy, &msg)) {
		gclip_op_finish_copy(gclip, VD_LINK_CLIP_STATUS_FAILED, NULL, 0, NULL,
			"the VM's proxy does not read");
	}
}

static void start_paste(struct vd_gclip *gclip, struct peer *cli, const char *domain) {
	bool host = strcmp(domain, VD_HOST_DOMAIN) == 0;
	struct peer *proxy = host ? NULL : gclip_find_proxy(gclip, domain);
	if (!host && proxy == NULL) {
		reply_no_proxy(gclip, cli, domain);
		return;
	}
	if (!gclip->entry.valid) {
		gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_EMPTY, "The global clipboard is empty: copy first");
		return;
	}
	const char *source = gclip->entry.source;
	char summary[128];
	if (!gclip_reload_policy(gclip, false)) {
		snprintf(summary, sizeof(summary), "Paste into %s refused", domain);
		clip_notify_send(gclip->notify, true, summary, gclip->policy_err);
		gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_DENIED, "%s: the clipboard policy is broken: %s",
			summary, gclip->policy_err);
		return;
	}
	int line;
	if (!clip_policy_allows(&gclip->policy, source, domain, &line)) {
		char body[PATH_MAX + 128];
		snprintf(summary, sizeof(summary), "Pasting from %s into %s is denied", source, domain);
		snprintf(body, sizeof(body), "by %s:%d", gclip->policy_path, line);
		clip_notify_send(gclip->notify, true, summary, body);
		gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_DENIED, "%s %s", summary, body);
		return;
	}
	const char *mimes[VD_LINK_MAX_MIMES];
	size_t count = entry_mimes(gclip, mimes);
	op_start(gclip, OP_PASTE, cli, domain);
	gclip->op.size = gclip->entry.size;
	if (host) {
		if (!host_selection_alive(gclip->host)) {
			gclip_op_finish_paste(gclip, VD_LINK_CLIP_STATUS_UNAVAILABLE, "the host clipboard is not "
				"reachable (no compositor with wlr data-control)");
		} else if (!host_selection_set(gclip->host, mimes, count, gclip->entry.data,
				gclip->entry.size)) {
			gclip_op_finish_paste(gclip, VD_LINK_CLIP_STATUS_FAILED, "setting the host clipboard failed");
		} else {
			gclip_op_finish_paste(gclip, VD_LINK_CLIP_STATUS_OK, NULL);
		}
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_CLIP_PASTE_REQUEST, .id = gclip->op.id};
	msg.body.clip_paste_request = (struct vd_link_clip_paste_request){
		.mimes_count = (uint32_t)count, .mimes = mimes, .data = gclip->entry.data,
		.data_len = (uint32_t)gclip->entry.size};
	if (!gclip_peer_send(proxy, &msg)) {
		gclip_op_finish_paste(gclip, VD_LINK_CLIP_STATUS_FAILED, "the VM's proxy does not read");
	}
}

static void show(struct vd_gclip *gclip, struct peer *cli) {
	char vms[MAX_TEXT / 2] = "";
	size_t len = 0;
	struct peer *p;
	wl_list_for_each(p, &gclip->peers, link) {
		if (p->kind == PEER_PROXY && !vd_link_conn_closing(p->conn)) {
			int n = snprintf(vms + len, sizeof(vms) - len, "%s%s", len ? " " : "", p->name);
			if (n < 0 || (size_t)n >= sizeof(vms) - len) {
				break;
			}
			len += (size_t)n;
		}
	}
	char why[512];
	const char *focus = focused_domain(gclip, why, sizeof(why));
	const char *host = host_selection_alive(gclip->host) ? "yes" : "no";
	struct entry *entry = &gclip->entry;
	if (!entry->valid) {
		gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_OK, "global clipboard: empty\nfocus: %s\n"
			"keyboard focus: %s\nvms: %s\nhost clipboard: %s", focus ? focus : "(none)",
			gclip_reported_focus(gclip), vms, host);
		return;
	}
	long long age = (long long)(time(NULL) - entry->time);
	gclip_reply_cli(cli, VD_LINK_CLIP_STATUS_OK, "global clipboard: %zu bytes from %s\nsource: %s\n"
		"size: %zu\nmime: %s\nage: %llds\nfocus: %s\nkeyboard focus: %s\nvms: %s\n"
		"host clipboard: %s", entry->size, entry->source, entry->source, entry->size,
		entry->mime, age, focus ? focus : "(none)", gclip_reported_focus(gclip), vms, host);
}

void gclip_op_command(struct peer *peer, const struct vd_link_clip_command *command) {
	struct vd_gclip *gclip = peer->gclip;
	peer->kind = PEER_CLI;
	if (gclip->op.kind != OP_NONE) {
		/* A late answer to the old request is dropped (QSB-13). */
		gclip_op_fail(gclip, VD_LINK_CLIP_STATUS_FAILED, "superseded by a newer command");
	}
	gclip_reload_policy(gclip, false);
	if (command->command == VD_LINK_CLIP_OP_SHOW) {
		show(gclip, peer);
		return;
	}
	if (command->command == VD_LINK_CLIP_OP_CLEAR) {
		gclip_entry_wipe(gclip);
		vd_log(VD_INFO, "global clipboard cleared");
		gclip_reply_cli(peer, VD_LINK_CLIP_STATUS_OK, "The global clipboard is cleared");
		return;
	}
	bool copy = command->command == VD_LINK_CLIP_OP_COPY;
	const char *domain = command->domain;
	char why[512];
	if (domain[0] == '\0') {
		domain = focused_domain(gclip, why, sizeof(why));
		if (domain == NULL) {
			vd_log(VD_WARN, "%s refused: %s", copy ? "copy" : "paste", why);
			gclip_reply_cli(peer, VD_LINK_CLIP_STATUS_UNAVAILABLE, "%s refused: %s",
				copy ? "Copy" : "Paste", why);
			return;
		}
	}
	vd_log(VD_INFO, "%s %s", copy ? "copy from" : "paste into", domain);
	if (copy) {
		start_copy(gclip, peer, domain);
	} else {
		start_paste(gclip, peer, domain);
	}
}
