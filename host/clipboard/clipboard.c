#define LOG_TAG "clipboard"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/clipboard/clipboard.h"
#include "host/clipboard/host-selection.h"
#include "host/clipboard/notify.h"
#include "host/clipboard/policy.h"
#include "protocols/link-conn.h"
#include "protocols/listen.h"
#include "protocols/log.h"
#include "protocols/names.h"
#include "protocols/text.h"
#include "protocols/transport.h"

#define MAX_PEERS 64
#define PEER_MAX_QUEUE (2 * VD_LINK_MAX_CLIP_DATA + (256u << 10))
#define HELLO_TIMEOUT_MS 5000
/* How long past its own timeout a proxy may take to answer. */
#define PROXY_GRACE_MS 3000
#define HOST_RETRY_MS 5000
#define MAX_TEXT 4096

enum peer_kind {
	PEER_NEW, // until it joins as a proxy or sends a command
	PEER_PROXY,
	PEER_CLI,
};

struct peer {
	struct vd_gclip *gclip;
	struct wl_list link; // vd_gclip.peers
	struct vd_link_conn *conn;
	enum peer_kind kind;
	pid_t pid;
	char name[VD_VM_NAME_MAX + 1]; // a proxy's VM
	bool focused;
	uint64_t focus_seq;
	uint32_t windows; // a proxy's last VM_WINDOWS
	struct wl_event_source *timer; // PEER_NEW: it must say something
};

enum op_kind {
	OP_NONE,
	OP_COPY,
	OP_PASTE,
};

struct op {
	enum op_kind kind;
	uint32_t id;
	struct peer *cli; // NULL once it left
	char domain[VD_VM_NAME_MAX + 1];
	size_t size; // pasting
};

struct entry {
	bool valid;
	uint8_t *data;
	size_t size;
	char mime[VD_MIME_MAX + 1];
	char source[VD_VM_NAME_MAX + 1];
	time_t time;
};

struct vd_gclip {
	struct vd_gclip_config config;
	struct wl_event_loop *loop;
	char *policy_path;
	char *host_display; // NULL: find one; "": none
	struct vd_listener listener;
	struct wl_event_source *listen_source;

	struct wl_list peers; // peer.link
	size_t peer_count;
	uint64_t focus_counter;
	uint32_t next_id;
	struct op op;
	struct wl_event_source *op_timer;
	struct entry entry;

	struct vd_host_selection *host;
	struct wl_event_source *host_timer; // (re)connecting
	bool host_warned;
	struct vd_clip_notify *notify;

	struct vd_clip_policy policy;
	bool policy_ok;
	char policy_err[512];
	struct stat policy_stat;
	bool policy_exists;
	/* the settings in force: the config's, or the policy file's */
	size_t max_size;
	int timeout_ms;
	bool clear_after_paste;
};

void gclip_config_defaults(struct vd_gclip_config *config) {
	*config = (struct vd_gclip_config){
		.max_size = 1u << 20,
		.timeout_ms = 2000,
		.clear_after_paste = true,
		.notifications = true,
	};
}

static const char *status_name(uint8_t status) {
	static const char *const names[] = {"ok", "empty", "denied", "too large", "invalid",
		"timeout", "unavailable", "failed"};
	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}

/* ---- the policy ---- */

static void apply_settings(struct vd_gclip *gclip) {
	gclip->max_size = gclip->config.max_size;
	gclip->timeout_ms = gclip->config.timeout_ms;
	gclip->clear_after_paste = gclip->config.clear_after_paste;
	if (gclip->policy_ok) {
		if (gclip->policy.max_size >= 0) {
			gclip->max_size = (size_t)gclip->policy.max_size;
		}
		if (gclip->policy.timeout_ms >= 0) {
			gclip->timeout_ms = gclip->policy.timeout_ms;
		}
		if (gclip->policy.clear_after_paste >= 0) {
			gclip->clear_after_paste = gclip->policy.clear_after_paste;
		}
	}
}

static bool same_stat(const struct stat *a, const struct stat *b) {
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* (Re)loads the policy file if it changed. A broken file denies every paste
 * until it is fixed. Returns policy_ok. */
static bool reload_policy(struct vd_gclip *gclip, bool force) {
	struct stat st;
	bool exists = stat(gclip->policy_path, &st) == 0;
	if (!force && exists == gclip->policy_exists &&
			(!exists || same_stat(&st, &gclip->policy_stat))) {
		return gclip->policy_ok;
	}
	gclip->policy_exists = exists;
	if (exists) {
		gclip->policy_stat = st;
	}
	clip_policy_finish(&gclip->policy);
	gclip->policy_ok = clip_policy_load(&gclip->policy, gclip->policy_path,
		gclip->policy_err, sizeof(gclip->policy_err));
	if (!gclip->policy_ok) {
		vd_log(VD_ERROR, "clipboard policy: %s (pasting is refused until it is fixed)",
			gclip->policy_err);
	} else if (!force) {
		vd_log(VD_INFO, "clipboard policy %s reloaded (%zu rules)", gclip->policy_path,
			gclip->policy.rule_count);
	}
	apply_settings(gclip);
	return gclip->policy_ok;
}

/* ---- peers ---- */

static bool peer_send(struct peer *peer, const struct vd_link_msg *msg) {
	return vd_link_conn_send(peer->conn, msg);
}

static void reply_cli(struct peer *cli, uint8_t status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_cli(struct peer *cli, uint8_t status, const char *fmt, ...) {
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
	peer_send(cli, &msg);
	vd_link_conn_close(cli->conn);
}

static struct peer *find_proxy(struct vd_gclip *gclip, const char *name) {
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
static const char *reported_focus(struct vd_gclip *gclip) {
	struct peer *best = NULL, *p;
	wl_list_for_each(p, &gclip->peers, link) {
		if (p->kind == PEER_PROXY && !vd_link_conn_closing(p->conn) && p->focused &&
				(best == NULL || p->focus_seq > best->focus_seq)) {
			best = p;
		}
	}
	return best != NULL ? best->name : VD_HOST_DOMAIN;
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
				struct peer *proxy = find_proxy(gclip, name);
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
	return reported_focus(gclip);
}

/* ---- the entry ---- */

static void entry_wipe(struct vd_gclip *gclip) {
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
	entry_wipe(gclip); // never keep a tail of older data (QSB-11)
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

static void finish_copy(struct vd_gclip *gclip, uint8_t status, const uint8_t *bytes,
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
		reply_cli(cli, status, "%s to the global clipboard (%s)", summary, mime);
		return;
	}
	/* A copy that failed leaves nothing stale behind (as in Qubes). */
	entry_wipe(gclip);
	char why[MAX_TEXT + 64];
	if (status == VD_LINK_CLIP_STATUS_TOO_LARGE) {
		snprintf(why, sizeof(why), "%s (the limit is %zu bytes)", error, gclip->max_size);
	} else {
		snprintf(why, sizeof(why), "%s", error ? error : status_name(status));
	}
	snprintf(summary, sizeof(summary), "Copy from %s refused", domain);
	clip_notify_send(gclip->notify, status != VD_LINK_CLIP_STATUS_EMPTY, summary, why);
	reply_cli(cli, status, "%s: %s; the global clipboard is now empty", summary, why);
}

static void finish_paste(struct vd_gclip *gclip, uint8_t status, const char *error) {
	char domain[VD_VM_NAME_MAX + 1];
	snprintf(domain, sizeof(domain), "%s", gclip->op.domain);
	struct peer *cli = gclip->op.cli;
	size_t size = gclip->op.size;
	op_end(gclip);
	char summary[128];
	if (status != VD_LINK_CLIP_STATUS_OK) {
		snprintf(summary, sizeof(summary), "Paste into %s failed", domain);
		clip_notify_send(gclip->notify, true, summary, error ? error : "");
		reply_cli(cli, status, "%s: %s", summary, error ? error : status_name(status));
		return;
	}
	char source[VD_VM_NAME_MAX + 1];
	snprintf(source, sizeof(source), "%s", gclip->entry.source);
	snprintf(summary, sizeof(summary), "Pasted into %s", domain);
	char body[256];
	snprintf(body, sizeof(body), "%zu bytes from %s.%s Paste there as usual.", size, source,
		gclip->clear_after_paste ? " The global clipboard is now empty." : "");
	if (gclip->clear_after_paste) {
		entry_wipe(gclip);
	}
	clip_notify_send(gclip->notify, false, summary, body);
	reply_cli(cli, VD_LINK_CLIP_STATUS_OK, "Pasted %zu bytes from %s into %s%s", size, source,
		domain, gclip->clear_after_paste ? "; the global clipboard is now empty" : "");
}

static void fail_op(struct vd_gclip *gclip, uint8_t status, const char *error) {
	if (gclip->op.kind == OP_COPY) {
		if (strcmp(gclip->op.domain, VD_HOST_DOMAIN) == 0) {
			host_selection_cancel_read(gclip->host);
		}
		finish_copy(gclip, status, NULL, 0, NULL, error);
	} else if (gclip->op.kind == OP_PASTE) {
		finish_paste(gclip, status, error);
	}
}

static int handle_op_timeout(void *data) {
	fail_op(data, VD_LINK_CLIP_STATUS_TIMEOUT, "the domain did not answer in time");
	return 0;
}

static void handle_host_read(void *data, uint8_t status, const uint8_t *bytes, size_t size,
		const char *mime, const char *error) {
	struct vd_gclip *gclip = data;
	if (gclip->op.kind == OP_COPY && strcmp(gclip->op.domain, VD_HOST_DOMAIN) == 0) {
		finish_copy(gclip, status, bytes, size, mime, error);
	}
}

/* A domain named on the command line that has no linked proxy: say which case it is. */
static void reply_no_proxy(struct vd_gclip *gclip, struct peer *cli, const char *domain) {
	if (gclip->config.vm_exists != NULL &&
			!gclip->config.vm_exists(gclip->config.vm_exists_data, domain)) {
		reply_cli(cli, VD_LINK_CLIP_STATUS_UNAVAILABLE, "no such VM: %s", domain);
	} else {
		reply_cli(cli, VD_LINK_CLIP_STATUS_UNAVAILABLE, "VM %s is not connected to the global "
			"clipboard (no vmdesk-proxy of it is linked)", domain);
	}
}

static void start_copy(struct vd_gclip *gclip, struct peer *cli, const char *domain) {
	if (strcmp(domain, VD_HOST_DOMAIN) == 0) {
		const char *reason;
		if (!host_selection_alive(gclip->host)) {
			reply_cli(cli, VD_LINK_CLIP_STATUS_UNAVAILABLE, "The host clipboard is not "
				"reachable (no compositor with wlr data-control)");
			return;
		}
		op_start(gclip, OP_COPY, cli, domain);
		if (!host_selection_read(gclip->host, vd_text_mimes, vd_text_mime_count,
				gclip->max_size, gclip->timeout_ms, handle_host_read, gclip, &reason)) {
			finish_copy(gclip, VD_LINK_CLIP_STATUS_EMPTY, NULL, 0, NULL, reason);
		}
		return;
	}
	struct peer *proxy = find_proxy(gclip, domain);
	if (proxy == NULL) {
		reply_no_proxy(gclip, cli, domain);
		return;
	}
	op_start(gclip, OP_COPY, cli, domain);
	struct vd_link_msg msg = {.type = VD_LINK_CLIP_COPY_REQUEST, .id = gclip->op.id};
	msg.body.clip_copy_request = (struct vd_link_clip_copy_request){
		.max_size = (uint32_t)gclip->max_size, .timeout_ms = (uint32_t)gclip->timeout_ms,
		.mimes_count = (uint32_t)vd_text_mime_count, .mimes = (const char **)vd_text_mimes};
	if (!peer_send(proxy, &msg)) {
		finish_copy(gclip, VD_LINK_CLIP_STATUS_FAILED, NULL, 0, NULL,
			"the VM's proxy does not read");
	}
}

static void start_paste(struct vd_gclip *gclip, struct peer *cli, const char *domain) {
	bool host = strcmp(domain, VD_HOST_DOMAIN) == 0;
	struct peer *proxy = host ? NULL : find_proxy(gclip, domain);
	if (!host && proxy == NULL) {
		reply_no_proxy(gclip, cli, domain);
		return;
	}
	if (!gclip->entry.valid) {
		reply_cli(cli, VD_LINK_CLIP_STATUS_EMPTY, "The global clipboard is empty: copy first");
		return;
	}
	const char *source = gclip->entry.source;
	char summary[128];
	if (!reload_policy(gclip, false)) {
		snprintf(summary, sizeof(summary), "Paste into %s refused", domain);
		clip_notify_send(gclip->notify, true, summary, gclip->policy_err);
		reply_cli(cli, VD_LINK_CLIP_STATUS_DENIED, "%s: the clipboard policy is broken: %s",
			summary, gclip->policy_err);
		return;
	}
	int line;
	if (!clip_policy_allows(&gclip->policy, source, domain, &line)) {
		char body[PATH_MAX + 128];
		snprintf(summary, sizeof(summary), "Pasting from %s into %s is denied", source, domain);
		snprintf(body, sizeof(body), "by %s:%d", gclip->policy_path, line);
		clip_notify_send(gclip->notify, true, summary, body);
		reply_cli(cli, VD_LINK_CLIP_STATUS_DENIED, "%s %s", summary, body);
		return;
	}
	const char *mimes[VD_LINK_MAX_MIMES];
	size_t count = entry_mimes(gclip, mimes);
	op_start(gclip, OP_PASTE, cli, domain);
	gclip->op.size = gclip->entry.size;
	if (host) {
		if (!host_selection_alive(gclip->host)) {
			finish_paste(gclip, VD_LINK_CLIP_STATUS_UNAVAILABLE, "the host clipboard is not "
				"reachable (no compositor with wlr data-control)");
		} else if (!host_selection_set(gclip->host, mimes, count, gclip->entry.data,
				gclip->entry.size)) {
			finish_paste(gclip, VD_LINK_CLIP_STATUS_FAILED, "setting the host clipboard failed");
		} else {
			finish_paste(gclip, VD_LINK_CLIP_STATUS_OK, NULL);
		}
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_CLIP_PASTE_REQUEST, .id = gclip->op.id};
	msg.body.clip_paste_request = (struct vd_link_clip_paste_request){
		.mimes_count = (uint32_t)count, .mimes = mimes, .data = gclip->entry.data,
		.data_len = (uint32_t)gclip->entry.size};
	if (!peer_send(proxy, &msg)) {
		finish_paste(gclip, VD_LINK_CLIP_STATUS_FAILED, "the VM's proxy does not read");
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
		reply_cli(cli, VD_LINK_CLIP_STATUS_OK, "global clipboard: empty\nfocus: %s\n"
			"keyboard focus: %s\nvms: %s\nhost clipboard: %s", focus ? focus : "(none)",
			reported_focus(gclip), vms, host);
		return;
	}
	long long age = (long long)(time(NULL) - entry->time);
	reply_cli(cli, VD_LINK_CLIP_STATUS_OK, "global clipboard: %zu bytes from %s\nsource: %s\n"
		"size: %zu\nmime: %s\nage: %llds\nfocus: %s\nkeyboard focus: %s\nvms: %s\n"
		"host clipboard: %s", entry->size, entry->source, entry->source, entry->size,
		entry->mime, age, focus ? focus : "(none)", reported_focus(gclip), vms, host);
}

static void handle_command(struct peer *peer, const struct vd_link_clip_command *command) {
	struct vd_gclip *gclip = peer->gclip;
	peer->kind = PEER_CLI;
	if (gclip->op.kind != OP_NONE) {
		/* A late answer to the old request is dropped (QSB-13). */
		fail_op(gclip, VD_LINK_CLIP_STATUS_FAILED, "superseded by a newer command");
	}
	reload_policy(gclip, false);
	if (command->command == VD_LINK_CLIP_OP_SHOW) {
		show(gclip, peer);
		return;
	}
	if (command->command == VD_LINK_CLIP_OP_CLEAR) {
		entry_wipe(gclip);
		vd_log(VD_INFO, "global clipboard cleared");
		reply_cli(peer, VD_LINK_CLIP_STATUS_OK, "The global clipboard is cleared");
		return;
	}
	bool copy = command->command == VD_LINK_CLIP_OP_COPY;
	const char *domain = command->domain;
	char why[512];
	if (domain[0] == '\0') {
		domain = focused_domain(gclip, why, sizeof(why));
		if (domain == NULL) {
			vd_log(VD_WARN, "%s refused: %s", copy ? "copy" : "paste", why);
			reply_cli(peer, VD_LINK_CLIP_STATUS_UNAVAILABLE, "%s refused: %s",
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

static void handle_join(struct peer *peer, const struct vd_link_clip_join *join) {
	struct vd_gclip *gclip = peer->gclip;
	struct peer *other = find_proxy(gclip, join->vm);
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
		finish_copy(gclip, reply->status, reply->data, reply->data_len, reply->mime,
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
		finish_paste(gclip, reply->status, reply->text[0] != '\0' ? reply->text : NULL);
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
			handle_command(peer, &msg->body.clip_command);
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
		fail_op(gclip, VD_LINK_CLIP_STATUS_UNAVAILABLE, "the VM's proxy went away");
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

static int handle_accept(int fd, uint32_t mask, void *data) {
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

/* ---- the host compositor ---- */

static void connect_host(struct vd_gclip *gclip);

static void handle_host_lost(void *data) {
	struct vd_gclip *gclip = data;
	if (gclip->op.kind != OP_NONE && strcmp(gclip->op.domain, VD_HOST_DOMAIN) == 0) {
		fail_op(gclip, VD_LINK_CLIP_STATUS_UNAVAILABLE, "the host compositor went away");
	}
	host_selection_destroy(gclip->host);
	gclip->host = NULL;
	gclip->host_warned = false;
	wl_event_source_timer_update(gclip->host_timer, HOST_RETRY_MS);
}

/* The first wayland-N socket of the runtime directory, for a hostd started before the
 * compositor: the user manager's environment may not have WAYLAND_DISPLAY yet. */
static bool find_display(const char *runtime_dir, char *out, size_t size) {
	if (runtime_dir == NULL || runtime_dir[0] != '/') {
		return false;
	}
	DIR *d = opendir(runtime_dir);
	if (d == NULL) {
		return false;
	}
	bool found = false;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t len = strlen(name);
		if (strncmp(name, "wayland-", 8) != 0 || len <= 8 ||
				strspn(name + 8, "0123456789") != len - 8) {
			continue;
		}
		if (!found || strcmp(name, out) < 0) {
			snprintf(out, size, "%s", name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static void connect_host(struct vd_gclip *gclip) {
	char found[64];
	const char *display = gclip->host_display;
	if (display == NULL) {
		const char *env = getenv("WAYLAND_DISPLAY");
		if (env != NULL && env[0] != '\0') {
			display = env;
		} else if (find_display(gclip->config.runtime_dir, found, sizeof(found))) {
			display = found;
		}
	}
	if (display != NULL) {
		gclip->host = host_selection_create(gclip->loop, display, handle_host_lost, gclip);
	}
	if (gclip->host == NULL) {
		if (!gclip->host_warned) {
			vd_log(VD_INFO, "no host compositor%s%s yet: the host joins the global clipboard "
				"when one is there", display ? " at " : "", display ? display : "");
			gclip->host_warned = true;
		}
		wl_event_source_timer_update(gclip->host_timer, HOST_RETRY_MS);
	} else {
		vd_log(VD_INFO, "connected to the host compositor %s", display);
	}
}

static int handle_host_timer(void *data) {
	struct vd_gclip *gclip = data;
	if (gclip->host == NULL) {
		connect_host(gclip);
	}
	return 0;
}

/* ---- setup ---- */

static char *default_policy_path(void) {
	const char *config = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char path[PATH_MAX];
	int n;
	if (config != NULL && config[0] == '/') {
		n = snprintf(path, sizeof(path), "%s/vmdesk/clipboard.policy", config);
	} else if (home != NULL && home[0] == '/') {
		n = snprintf(path, sizeof(path), "%s/.config/vmdesk/clipboard.policy", home);
	} else {
		n = snprintf(path, sizeof(path), "/etc/vmdesk/clipboard.policy");
	}
	return n > 0 && (size_t)n < sizeof(path) ? strdup(path) : NULL;
}

static bool make_socket(struct vd_gclip *gclip, const struct vd_gclip_config *config) {
	char path[PATH_MAX];
	if (config->socket_path != NULL) {
		snprintf(path, sizeof(path), "%s", config->socket_path);
	} else {
		if (config->runtime_dir == NULL || config->runtime_dir[0] != '/') {
			vd_log(VD_ERROR, "no runtime directory for the clipboard socket "
				"(XDG_RUNTIME_DIR)");
			return false;
		}
		snprintf(path, sizeof(path), "%s/vmdesk", config->runtime_dir);
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			vd_log_errno(VD_ERROR, "cannot create %s", path);
			return false;
		}
		snprintf(path, sizeof(path), "%s/vmdesk/clipboard.sock", config->runtime_dir);
	}
	char err[512];
	if (!vd_listen_unix(&gclip->listener, path, err, sizeof(err))) {
		vd_log(VD_ERROR, "global clipboard: %s", err);
		return false;
	}
	gclip->listen_source = wl_event_loop_add_fd(gclip->loop, gclip->listener.fd,
		WL_EVENT_READABLE, handle_accept, gclip);
	return gclip->listen_source != NULL;
}

struct vd_gclip *gclip_create(const struct vd_gclip_config *config) {
	struct vd_gclip *gclip = calloc(1, sizeof(*gclip));
	if (gclip == NULL) {
		return NULL;
	}
	gclip->config = *config;
	gclip->config.socket_path = NULL;
	gclip->config.policy_path = NULL;
	gclip->config.host_display = NULL;
	if (gclip->config.max_size > VD_LINK_MAX_CLIP_DATA) {
		gclip->config.max_size = VD_LINK_MAX_CLIP_DATA;
	}
	gclip->loop = config->loop;
	vd_listener_init(&gclip->listener);
	wl_list_init(&gclip->peers);
	gclip->op_timer = wl_event_loop_add_timer(gclip->loop, handle_op_timeout, gclip);
	gclip->host_timer = wl_event_loop_add_timer(gclip->loop, handle_host_timer, gclip);
	gclip->policy_path = config->policy_path != NULL ? strdup(config->policy_path) :
		default_policy_path();
	if (gclip->op_timer == NULL || gclip->host_timer == NULL || gclip->policy_path == NULL) {
		goto error;
	}
	if (!reload_policy(gclip, true)) {
		goto error;
	}
	if (!make_socket(gclip, config)) {
		goto error;
	}
	signal(SIGPIPE, SIG_IGN);
	if (config->host_display != NULL) {
		gclip->host_display = strdup(config->host_display);
		if (gclip->host_display == NULL) {
			goto error;
		}
	}
	if (gclip->host_display != NULL && gclip->host_display[0] == '\0') {
		vd_log(VD_INFO, "no host compositor: the host takes no part in the global clipboard");
	} else {
		connect_host(gclip);
	}
	if (config->notifications) {
		gclip->notify = clip_notify_create(gclip->loop);
	}
	vd_log(VD_INFO, "global clipboard on %s (policy %s, limit %zu bytes)",
		gclip->listener.path, gclip->policy_path, gclip->max_size);
	return gclip;

error:
	gclip_destroy(gclip);
	return NULL;
}

void gclip_destroy(struct vd_gclip *gclip) {
	if (gclip == NULL) {
		return;
	}
	struct peer *peer, *tmp;
	wl_list_for_each_safe(peer, tmp, &gclip->peers, link) {
		vd_link_conn_destroy(peer->conn);
		wl_event_source_remove(peer->timer);
		wl_list_remove(&peer->link);
		free(peer);
	}
	if (gclip->listen_source != NULL) {
		wl_event_source_remove(gclip->listen_source);
	}
	vd_listener_finish(&gclip->listener);
	host_selection_destroy(gclip->host);
	clip_notify_destroy(gclip->notify);
	entry_wipe(gclip);
	clip_policy_finish(&gclip->policy);
	if (gclip->op_timer != NULL) {
		wl_event_source_remove(gclip->op_timer);
	}
	if (gclip->host_timer != NULL) {
		wl_event_source_remove(gclip->host_timer);
	}
	free(gclip->policy_path);
	free(gclip->host_display);
	free(gclip);
}
