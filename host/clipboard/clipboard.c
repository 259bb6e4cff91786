#define LOG_TAG "clipboard"

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
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host/clipboard/clipboard.h"
#include "host/clipboard/host-selection.h"
#include "host/clipboard/notify.h"
#include "host/clipboard/policy.h"
#include "protocols/clip-link.h"
#include "protocols/log.h"

#define MAX_PEERS 64
#define OUT_MAX (2 * VD_CLIP_MAX_PAYLOAD + (64u << 10))
#define HELLO_TIMEOUT_MS 5000
#define CLOSE_TIMEOUT_MS 5000
/* How long past its own timeout a proxy may take to answer. */
#define PROXY_GRACE_MS 3000
#define HOST_RETRY_MS 5000
#define HOST "host"

enum peer_kind {
	PEER_NEW,
	PEER_PROXY,
	PEER_CLI,
};

struct peer {
	struct vd_clip_conn conn;
	enum peer_kind kind;
	char name[VD_CLIP_MAX_NAME_LENGTH + 1];
	bool focused;
	uint64_t focus_seq;
	int64_t deadline; // -1: none
	bool closing; // close once the output is flushed
	bool dead; // to be freed after this dispatch
	struct peer *next;
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
	char domain[VD_CLIP_MAX_NAME_LENGTH + 1];
	int64_t deadline;
	size_t size; // pasting
};

struct entry {
	bool valid;
	uint8_t *data;
	size_t size;
	char mime[VD_CLIP_MAX_MIME_LENGTH + 1];
	char source[VD_CLIP_MAX_NAME_LENGTH + 1];
	time_t time;
};

struct vd_gclip {
	struct vd_gclip_config config;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *policy_path;
	char *host_display;
	int listen_fd;

	struct peer *peers;
	size_t peer_count;
	uint64_t focus_counter;
	uint32_t next_id;
	struct op op;
	struct entry entry;

	struct vd_host_selection *host;
	int64_t host_retry; // when to try the host compositor again (-1: never)
	int64_t host_next; // the host side's next timer (-1: none)
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

static int64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gclip_config_defaults(struct vd_gclip_config *config) {
	*config = (struct vd_gclip_config){
		.max_size = 1u << 20,
		.timeout_ms = 2000,
		.clear_after_paste = true,
		.notifications = true,
	};
}

/* Policy */

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

/* Peers */

static void peer_close(struct vd_gclip *gclip, struct peer *peer, const char *reason);

static void peer_send(struct vd_gclip *gclip, struct peer *peer, const struct vd_clip_msg *msg) {
	if (peer->dead) {
		return;
	}
	if (!clip_conn_send(&peer->conn, msg)) {
		peer_close(gclip, peer, "its messages pile up unread");
		return;
	}
	if (!clip_conn_flush(&peer->conn)) {
		peer_close(gclip, peer, strerror(errno));
	}
}

static void reply_cli(struct vd_gclip *gclip, struct peer *cli, uint8_t status,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void reply_cli(struct vd_gclip *gclip, struct peer *cli, uint8_t status,
		const char *fmt, ...) {
	if (cli == NULL || cli->dead) {
		return;
	}
	struct vd_clip_msg *msg = calloc(1, sizeof(*msg));
	if (msg == NULL) {
		peer_close(gclip, cli, "out of memory");
		return;
	}
	msg->type = VD_CLIP_COMMAND_REPLY;
	msg->value = status;
	va_list args;
	va_start(args, fmt);
	vsnprintf(msg->text, sizeof(msg->text), fmt, args);
	va_end(args);
	/* text from a domain was checked on the way in; make sure anyway */
	if (!clip_link_text_valid(msg->text)) {
		snprintf(msg->text, sizeof(msg->text), "(unprintable message)");
	}
	peer_send(gclip, cli, msg);
	free(msg);
	cli->closing = true;
	cli->deadline = now_ms() + CLOSE_TIMEOUT_MS;
}

static struct peer *find_proxy(struct vd_gclip *gclip, const char *name) {
	for (struct peer *p = gclip->peers; p != NULL; p = p->next) {
		if (!p->dead && p->kind == PEER_PROXY && strcmp(p->name, name) == 0) {
			return p;
		}
	}
	return NULL;
}

static const char *focused_domain(struct vd_gclip *gclip) {
	struct peer *best = NULL;
	for (struct peer *p = gclip->peers; p != NULL; p = p->next) {
		if (!p->dead && p->kind == PEER_PROXY && p->focused &&
				(best == NULL || p->focus_seq > best->focus_seq)) {
			best = p;
		}
	}
	return best != NULL ? best->name : HOST;
}

/* The entry */

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
	uint8_t *copy = malloc(size);
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
	if (clip_link_utf8_valid(entry->data, entry->size)) {
		for (size_t i = 0; i < vd_clip_text_mime_count; i++) {
			mimes[i] = vd_clip_text_mimes[i];
		}
		return vd_clip_text_mime_count;
	}
	mimes[0] = entry->mime;
	return 1;
}

/* Operations */

static void op_end(struct vd_gclip *gclip) {
	gclip->op = (struct op){ .kind = OP_NONE };
}

static void finish_copy(struct vd_gclip *gclip, uint8_t status, const uint8_t *bytes,
		size_t size, const char *mime, const char *error) {
	char domain[VD_CLIP_MAX_NAME_LENGTH + 1];
	snprintf(domain, sizeof(domain), "%s", gclip->op.domain);
	struct peer *cli = gclip->op.cli;
	op_end(gclip);
	char why[VD_CLIP_MAX_TEXT + 64] = "";
	if (status == VD_CLIP_OK) {
		if (mime == NULL || !clip_link_text_mime(mime)) {
			status = VD_CLIP_INVALID;
			error = "not a text type";
		} else if (size > gclip->max_size) {
			status = VD_CLIP_TOO_LARGE;
			error = "the data is larger than the limit";
		} else if (clip_link_utf8_mime(mime) && !clip_link_utf8_valid(bytes, size)) {
			status = VD_CLIP_INVALID;
			error = "the data is not valid UTF-8";
		} else if (!clip_link_data_safe(bytes, size, clip_link_utf8_mime(mime))) {
			status = VD_CLIP_INVALID;
			error = "the text holds control characters (escape sequences, NUL)";
		} else if (size == 0) {
			status = VD_CLIP_EMPTY;
			error = "the clipboard is empty";
		}
	}
	if (status == VD_CLIP_OK && !entry_store(gclip, domain, mime, bytes, size)) {
		status = VD_CLIP_FAILED;
		error = "out of memory";
	}
	if (status == VD_CLIP_OK) {
		char summary[128];
		snprintf(summary, sizeof(summary), "Copied %zu bytes from %s", size, domain);
		clip_notify_send(gclip->notify, false, summary,
			"to the global clipboard. Paste with Ctrl+Shift+V.");
		reply_cli(gclip, cli, VD_CLIP_OK, "%s to the global clipboard (%s)", summary, mime);
		return;
	}
	/* A copy that failed leaves nothing stale behind (as in Qubes). */
	entry_wipe(gclip);
	if (status == VD_CLIP_TOO_LARGE) {
		snprintf(why, sizeof(why), "%s (the limit is %zu bytes)", error, gclip->max_size);
	} else {
		snprintf(why, sizeof(why), "%s", error ? error : clip_link_status_name(status));
	}
	char summary[128];
	snprintf(summary, sizeof(summary), "Copy from %s refused", domain);
	clip_notify_send(gclip->notify, status != VD_CLIP_EMPTY, summary, why);
	reply_cli(gclip, cli, status, "%s: %s; the global clipboard is now empty", summary, why);
}

static void finish_paste(struct vd_gclip *gclip, uint8_t status, const char *error) {
	char domain[VD_CLIP_MAX_NAME_LENGTH + 1];
	snprintf(domain, sizeof(domain), "%s", gclip->op.domain);
	struct peer *cli = gclip->op.cli;
	size_t size = gclip->op.size;
	op_end(gclip);
	if (status != VD_CLIP_OK) {
		char summary[128];
		snprintf(summary, sizeof(summary), "Paste into %s failed", domain);
		clip_notify_send(gclip->notify, true, summary, error ? error : "");
		reply_cli(gclip, cli, status, "%s: %s", summary,
			error ? error : clip_link_status_name(status));
		return;
	}
	char source[VD_CLIP_MAX_NAME_LENGTH + 1];
	snprintf(source, sizeof(source), "%s", gclip->entry.source);
	char summary[128];
	snprintf(summary, sizeof(summary), "Pasted into %s", domain);
	char body[256];
	snprintf(body, sizeof(body), "%zu bytes from %s.%s Paste there as usual.", size, source,
		gclip->clear_after_paste ? " The global clipboard is now empty." : "");
	if (gclip->clear_after_paste) {
		entry_wipe(gclip);
	}
	clip_notify_send(gclip->notify, false, summary, body);
	reply_cli(gclip, cli, VD_CLIP_OK, "Pasted %zu bytes from %s into %s%s", size, source,
		domain, gclip->clear_after_paste ? "; the global clipboard is now empty" : "");
}

static void fail_op(struct vd_gclip *gclip, uint8_t status, const char *error) {
	if (gclip->op.kind == OP_COPY) {
		if (strcmp(gclip->op.domain, HOST) == 0) {
			host_selection_cancel_read(gclip->host);
		}
		finish_copy(gclip, status, NULL, 0, NULL, error);
	} else if (gclip->op.kind == OP_PASTE) {
		finish_paste(gclip, status, error);
	}
}

static void handle_host_read(void *data, uint8_t status, const uint8_t *bytes, size_t size,
		const char *mime, const char *error) {
	struct vd_gclip *gclip = data;
	if (gclip->op.kind == OP_COPY && strcmp(gclip->op.domain, HOST) == 0) {
		finish_copy(gclip, status, bytes, size, mime, error);
	}
}

static void start_copy(struct vd_gclip *gclip, struct peer *cli, const char *domain) {
	gclip->op = (struct op){ .kind = OP_COPY, .id = ++gclip->next_id, .cli = cli,
		.deadline = now_ms() + gclip->timeout_ms + PROXY_GRACE_MS };
	snprintf(gclip->op.domain, sizeof(gclip->op.domain), "%s", domain);
	if (strcmp(domain, HOST) == 0) {
		const char *reason;
		if (!host_selection_alive(gclip->host)) {
			op_end(gclip);
			reply_cli(gclip, cli, VD_CLIP_UNAVAILABLE, "The host clipboard is not "
				"reachable (no compositor with wlr data-control)");
			return;
		}
		if (!host_selection_read(gclip->host, vd_clip_text_mimes, vd_clip_text_mime_count,
				gclip->max_size, gclip->timeout_ms, now_ms(), handle_host_read, gclip,
				&reason)) {
			finish_copy(gclip, VD_CLIP_EMPTY, NULL, 0, NULL, reason);
		}
		return;
	}
	struct peer *proxy = find_proxy(gclip, domain);
	if (proxy == NULL) {
		op_end(gclip);
		reply_cli(gclip, cli, VD_CLIP_UNAVAILABLE, "No VM named %s is connected to the "
			"global clipboard", domain);
		return;
	}
	struct vd_clip_msg *msg = calloc(1, sizeof(*msg));
	if (msg == NULL) {
		finish_copy(gclip, VD_CLIP_FAILED, NULL, 0, NULL, "out of memory");
		return;
	}
	msg->type = VD_CLIP_COPY_REQUEST;
	msg->id = gclip->op.id;
	msg->max_size = (uint32_t)gclip->max_size;
	msg->timeout_ms = (uint32_t)gclip->timeout_ms;
	msg->mime_count = vd_clip_text_mime_count;
	for (size_t i = 0; i < vd_clip_text_mime_count; i++) {
		snprintf(msg->mimes[i], sizeof(msg->mimes[i]), "%s", vd_clip_text_mimes[i]);
	}
	peer_send(gclip, proxy, msg);
	free(msg);
}

static void start_paste(struct vd_gclip *gclip, struct peer *cli, const char *domain) {
	if (!gclip->entry.valid) {
		reply_cli(gclip, cli, VD_CLIP_EMPTY, "The global clipboard is empty: copy first");
		return;
	}
	const char *source = gclip->entry.source;
	if (!reload_policy(gclip, false)) {
		char summary[128];
		snprintf(summary, sizeof(summary), "Paste into %s refused", domain);
		clip_notify_send(gclip->notify, true, summary, gclip->policy_err);
		reply_cli(gclip, cli, VD_CLIP_DENIED, "%s: the clipboard policy is broken: %s",
			summary, gclip->policy_err);
		return;
	}
	int line;
	if (!clip_policy_allows(&gclip->policy, source, domain, &line)) {
		char summary[128], body[PATH_MAX + 128];
		snprintf(summary, sizeof(summary), "Pasting from %s into %s is denied", source,
			domain);
		snprintf(body, sizeof(body), "by %s:%d", gclip->policy_path, line);
		clip_notify_send(gclip->notify, true, summary, body);
		reply_cli(gclip, cli, VD_CLIP_DENIED, "%s %s", summary, body);
		return;
	}
	const char *mimes[VD_CLIP_MAX_MIMES];
	size_t count = entry_mimes(gclip, mimes);
	gclip->op = (struct op){ .kind = OP_PASTE, .id = ++gclip->next_id, .cli = cli,
		.deadline = now_ms() + gclip->timeout_ms + PROXY_GRACE_MS,
		.size = gclip->entry.size };
	snprintf(gclip->op.domain, sizeof(gclip->op.domain), "%s", domain);
	if (strcmp(domain, HOST) == 0) {
		if (!host_selection_alive(gclip->host)) {
			finish_paste(gclip, VD_CLIP_UNAVAILABLE, "the host clipboard is not reachable "
				"(no compositor with wlr data-control)");
		} else if (!host_selection_set(gclip->host, mimes, count, gclip->entry.data,
				gclip->entry.size)) {
			finish_paste(gclip, VD_CLIP_FAILED, "setting the host clipboard failed");
		} else {
			finish_paste(gclip, VD_CLIP_OK, NULL);
		}
		return;
	}
	struct peer *proxy = find_proxy(gclip, domain);
	if (proxy == NULL) {
		finish_paste(gclip, VD_CLIP_UNAVAILABLE, "that VM is not connected to the global "
			"clipboard");
		return;
	}
	struct vd_clip_msg *msg = calloc(1, sizeof(*msg));
	if (msg == NULL) {
		finish_paste(gclip, VD_CLIP_FAILED, "out of memory");
		return;
	}
	msg->type = VD_CLIP_PASTE_REQUEST;
	msg->id = gclip->op.id;
	msg->mime_count = count;
	for (size_t i = 0; i < count; i++) {
		snprintf(msg->mimes[i], sizeof(msg->mimes[i]), "%s", mimes[i]);
	}
	msg->data = gclip->entry.data;
	msg->size = gclip->entry.size;
	peer_send(gclip, proxy, msg);
	free(msg);
}

static void show(struct vd_gclip *gclip, struct peer *cli) {
	char vms[VD_CLIP_MAX_TEXT / 2] = "";
	size_t len = 0;
	for (struct peer *p = gclip->peers; p != NULL; p = p->next) {
		if (!p->dead && p->kind == PEER_PROXY) {
			int n = snprintf(vms + len, sizeof(vms) - len, "%s%s", len ? " " : "",
				p->name);
			if (n < 0 || (size_t)n >= sizeof(vms) - len) {
				break;
			}
			len += (size_t)n;
		}
	}
	const char *focus = focused_domain(gclip);
	const char *host = host_selection_alive(gclip->host) ? "yes" : "no";
	struct entry *entry = &gclip->entry;
	if (!entry->valid) {
		reply_cli(gclip, cli, VD_CLIP_OK, "global clipboard: empty\nfocus: %s\nvms: %s\n"
			"host clipboard: %s", focus, vms, host);
		return;
	}
	long long age = (long long)(time(NULL) - entry->time);
	reply_cli(gclip, cli, VD_CLIP_OK, "global clipboard: %zu bytes from %s\nsource: %s\n"
		"size: %zu\nmime: %s\nage: %llds\nfocus: %s\nvms: %s\nhost clipboard: %s",
		entry->size, entry->source, entry->source, entry->size, entry->mime, age, focus,
		vms, host);
}

static void handle_command(struct vd_gclip *gclip, struct peer *peer,
		const struct vd_clip_msg *msg) {
	peer->kind = PEER_CLI;
	peer->deadline = -1;
	if (gclip->op.kind != OP_NONE) {
		/* A late answer to the old request is dropped (QSB-13). */
		fail_op(gclip, VD_CLIP_FAILED, "superseded by a newer command");
	}
	const char *domain = msg->name[0] != '\0' ? msg->name : focused_domain(gclip);
	reload_policy(gclip, false);
	switch (msg->value) {
	case VD_CLIP_CMD_COPY:
		vd_log(VD_INFO, "copy from %s", domain);
		start_copy(gclip, peer, domain);
		break;
	case VD_CLIP_CMD_PASTE:
		vd_log(VD_INFO, "paste into %s", domain);
		start_paste(gclip, peer, domain);
		break;
	case VD_CLIP_CMD_SHOW:
		show(gclip, peer);
		break;
	case VD_CLIP_CMD_CLEAR:
		entry_wipe(gclip);
		vd_log(VD_INFO, "global clipboard cleared");
		reply_cli(gclip, peer, VD_CLIP_OK, "The global clipboard is cleared");
		break;
	}
}

static void handle_hello(struct vd_gclip *gclip, struct peer *peer,
		const struct vd_clip_msg *msg) {
	if (strcmp(msg->name, HOST) == 0) {
		peer_close(gclip, peer, "a VM cannot be called 'host'");
		return;
	}
	if (find_proxy(gclip, msg->name) != NULL) {
		peer_close(gclip, peer, "a proxy for this VM is already connected");
		return;
	}
	peer->kind = PEER_PROXY;
	peer->deadline = -1;
	snprintf(peer->name, sizeof(peer->name), "%s", msg->name);
	vd_log(VD_INFO, "vm=%s joined the global clipboard", peer->name);
}

static void handle_proxy_msg(struct vd_gclip *gclip, struct peer *peer,
		const struct vd_clip_msg *msg) {
	switch (msg->type) {
	case VD_CLIP_FOCUS:
		peer->focused = msg->value != 0;
		if (peer->focused) {
			peer->focus_seq = ++gclip->focus_counter;
		}
		vd_log(VD_DEBUG, "vm=%s: focus %s", peer->name, peer->focused ? "in" : "out");
		return;
	case VD_CLIP_COPY_REPLY:
		if (gclip->op.kind != OP_COPY || msg->id != gclip->op.id ||
				strcmp(gclip->op.domain, peer->name) != 0) {
			vd_log(VD_WARN, "vm=%s: a copy reply nobody waits for was dropped",
				peer->name);
			return;
		}
		finish_copy(gclip, msg->value, msg->data, msg->size, msg->mime,
			msg->text[0] != '\0' ? msg->text : NULL);
		return;
	case VD_CLIP_PASTE_REPLY:
		if (gclip->op.kind != OP_PASTE || msg->id != gclip->op.id ||
				strcmp(gclip->op.domain, peer->name) != 0) {
			vd_log(VD_WARN, "vm=%s: a paste reply nobody waits for was dropped",
				peer->name);
			return;
		}
		finish_paste(gclip, msg->value, msg->text[0] != '\0' ? msg->text : NULL);
		return;
	default:
		peer_close(gclip, peer, "unexpected message from a proxy");
	}
}

static void handle_msg(struct vd_gclip *gclip, struct peer *peer, const struct vd_clip_msg *msg) {
	switch (peer->kind) {
	case PEER_NEW:
		if (msg->type == VD_CLIP_HELLO) {
			handle_hello(gclip, peer, msg);
		} else if (msg->type == VD_CLIP_COMMAND) {
			handle_command(gclip, peer, msg);
		} else {
			peer_close(gclip, peer, "it did not start with HELLO or COMMAND");
		}
		return;
	case PEER_PROXY:
		handle_proxy_msg(gclip, peer, msg);
		return;
	case PEER_CLI:
		peer_close(gclip, peer, "a CLI sends one command");
		return;
	}
}

static void peer_close(struct vd_gclip *gclip, struct peer *peer, const char *reason) {
	if (peer->dead) {
		return;
	}
	peer->dead = true;
	if (reason != NULL) {
		vd_log(peer->kind == PEER_CLI && peer->closing ? VD_DEBUG : VD_WARN,
			"%s%s disconnected: %s", peer->kind == PEER_PROXY ? "vm=" : "a client",
			peer->kind == PEER_PROXY ? peer->name : "", reason);
	}
	if (gclip->op.cli == peer) {
		gclip->op.cli = NULL;
	}
	if (peer->kind == PEER_PROXY && gclip->op.kind != OP_NONE &&
			strcmp(gclip->op.domain, peer->name) == 0) {
		fail_op(gclip, VD_CLIP_UNAVAILABLE, "the VM's proxy went away");
	}
}

static void peer_read(struct vd_gclip *gclip, struct peer *peer) {
	char err[256];
	struct vd_clip_msg *msg = malloc(sizeof(*msg));
	if (msg == NULL) {
		peer_close(gclip, peer, "out of memory");
		return;
	}
	while (!peer->dead) {
		int r = clip_conn_read(&peer->conn, err, sizeof(err));
		if (r < 0) {
			peer_close(gclip, peer, err);
			break;
		}
		if (r == 0) {
			peer_close(gclip, peer, peer->kind == PEER_CLI ? NULL : "it closed the "
				"connection");
			break;
		}
		r = clip_conn_next(&peer->conn, msg, err, sizeof(err));
		if (r == 0) {
			break;
		}
		if (r < 0) {
			peer_close(gclip, peer, err);
			break;
		}
		handle_msg(gclip, peer, msg);
	}
	free(msg);
}

static void peer_free(struct vd_gclip *gclip, struct peer *peer) {
	clip_conn_finish(&peer->conn);
	free(peer);
	gclip->peer_count--;
}

static void reap_peers(struct vd_gclip *gclip) {
	struct peer **p = &gclip->peers;
	while (*p != NULL) {
		struct peer *peer = *p;
		if (peer->dead) {
			*p = peer->next;
			peer_free(gclip, peer);
		} else {
			p = &peer->next;
		}
	}
}

static bool peer_uid_ok(int fd) {
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		return false;
	}
	return cred.uid == getuid() || cred.uid == 0;
}

static void handle_accept(struct vd_gclip *gclip) {
	for (;;) {
		int fd = accept4(gclip->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				vd_log_errno(VD_WARN, "accept on the clipboard socket");
			}
			return;
		}
		if (gclip->peer_count >= MAX_PEERS || !peer_uid_ok(fd)) {
			vd_log(VD_WARN, "clipboard connection refused (%s)",
				gclip->peer_count >= MAX_PEERS ? "too many" : "another user");
			close(fd);
			continue;
		}
		struct peer *peer = calloc(1, sizeof(*peer));
		if (peer == NULL) {
			close(fd);
			return;
		}
		clip_conn_init(&peer->conn, fd, OUT_MAX);
		peer->kind = PEER_NEW;
		peer->deadline = now_ms() + HELLO_TIMEOUT_MS;
		peer->next = gclip->peers;
		gclip->peers = peer;
		gclip->peer_count++;
	}
}

/* Setup */

static bool make_socket(struct vd_gclip *gclip, const struct vd_gclip_config *config) {
	int n;
	if (config->socket_path != NULL) {
		n = snprintf(gclip->socket_path, sizeof(gclip->socket_path), "%s",
			config->socket_path);
	} else {
		if (config->runtime_dir == NULL || config->runtime_dir[0] != '/') {
			vd_log(VD_ERROR, "no runtime directory for the clipboard socket "
				"(XDG_RUNTIME_DIR)");
			return false;
		}
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/vmdesk", config->runtime_dir);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			vd_log_errno(VD_ERROR, "cannot create %s", dir);
			return false;
		}
		n = snprintf(gclip->socket_path, sizeof(gclip->socket_path), "%s/clipboard.sock",
			dir);
	}
	if (n < 0 || (size_t)n >= sizeof(gclip->socket_path)) {
		vd_log(VD_ERROR, "the clipboard socket path is too long");
		return false;
	}
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	memcpy(addr.sun_path, gclip->socket_path, sizeof(addr.sun_path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		vd_log_errno(VD_ERROR, "socket");
		return false;
	}
	/* Someone there already? Then it is not ours to take. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(probe);
		close(fd);
		vd_log(VD_ERROR, "a global clipboard already serves %s", gclip->socket_path);
		return false;
	}
	if (probe >= 0) {
		close(probe);
	}
	unlink(gclip->socket_path);
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r != 0 || chmod(gclip->socket_path, 0600) != 0 || listen(fd, 32) != 0) {
		vd_log_errno(VD_ERROR, "cannot listen on %s", gclip->socket_path);
		close(fd);
		return false;
	}
	gclip->listen_fd = fd;
	return true;
}

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

static void connect_host(struct vd_gclip *gclip) {
	gclip->host = host_selection_create(gclip->host_display);
	if (gclip->host != NULL) {
		vd_log(VD_INFO, "the host clipboard takes part through wlr data-control");
	}
	gclip->host_retry = gclip->host != NULL ? -1 : now_ms() + HOST_RETRY_MS;
}

struct vd_gclip *gclip_create_with(const struct vd_gclip_config *config) {
	struct vd_gclip *gclip = calloc(1, sizeof(*gclip));
	if (gclip == NULL) {
		return NULL;
	}
	gclip->config = *config;
	gclip->config.runtime_dir = NULL;
	gclip->config.socket_path = NULL;
	gclip->config.policy_path = NULL;
	gclip->config.host_display = NULL;
	if (gclip->config.max_size > VD_CLIP_MAX_DATA) {
		gclip->config.max_size = VD_CLIP_MAX_DATA;
	}
	gclip->listen_fd = -1;
	gclip->host_retry = -1;
	gclip->host_next = -1;
	gclip->policy_path = config->policy_path != NULL ? strdup(config->policy_path) :
		default_policy_path();
	if (gclip->policy_path == NULL) {
		goto error;
	}
	if (!reload_policy(gclip, true)) {
		goto error;
	}
	if (!make_socket(gclip, config)) {
		goto error;
	}
	signal(SIGPIPE, SIG_IGN);
	const char *display = config->host_display != NULL ? config->host_display :
		getenv("WAYLAND_DISPLAY");
	if (display != NULL && display[0] != '\0') {
		gclip->host_display = strdup(display);
		if (gclip->host_display == NULL) {
			goto error;
		}
		connect_host(gclip);
	} else {
		vd_log(VD_INFO, "no host compositor given: the host takes no part in the global "
			"clipboard");
	}
	if (config->notifications) {
		gclip->notify = clip_notify_create();
	}
	vd_log(VD_INFO, "global clipboard on %s (policy %s, limit %zu bytes)",
		gclip->socket_path, gclip->policy_path, gclip->max_size);
	return gclip;

error:
	gclip_destroy(gclip);
	return NULL;
}

struct vd_gclip *gclip_create(const char *runtime_dir) {
	struct vd_gclip_config config;
	gclip_config_defaults(&config);
	config.runtime_dir = runtime_dir;
	return gclip_create_with(&config);
}

void gclip_destroy(struct vd_gclip *gclip) {
	if (gclip == NULL) {
		return;
	}
	while (gclip->peers != NULL) {
		struct peer *peer = gclip->peers;
		gclip->peers = peer->next;
		peer_free(gclip, peer);
	}
	if (gclip->listen_fd >= 0) {
		close(gclip->listen_fd);
		unlink(gclip->socket_path);
	}
	host_selection_destroy(gclip->host);
	clip_notify_destroy(gclip->notify);
	entry_wipe(gclip);
	clip_policy_finish(&gclip->policy);
	free(gclip->policy_path);
	free(gclip->host_display);
	free(gclip);
}

/* The loop */

static void run_timers(struct vd_gclip *gclip) {
	int64_t now = now_ms();
	if (gclip->op.kind != OP_NONE && now >= gclip->op.deadline) {
		fail_op(gclip, VD_CLIP_TIMEOUT, "the domain did not answer in time");
	}
	for (struct peer *p = gclip->peers; p != NULL; p = p->next) {
		if (!p->dead && p->deadline >= 0 && now >= p->deadline) {
			peer_close(gclip, p, p->closing ? NULL : "it said nothing");
		}
	}
	if (gclip->host != NULL) {
		gclip->host_next = host_selection_timers(gclip->host, now);
		if (!host_selection_alive(gclip->host) && gclip->op.kind == OP_NONE) {
			host_selection_destroy(gclip->host);
			gclip->host = NULL;
			gclip->host_next = -1;
			gclip->host_retry = now + HOST_RETRY_MS;
		}
	} else if (gclip->host_retry >= 0 && now >= gclip->host_retry) {
		connect_host(gclip);
	}
	reap_peers(gclip);
}

int gclip_pollfds(struct vd_gclip *gclip, struct pollfd *pfds, int max) {
	run_timers(gclip);
	int n = 0;
	if (n < max) {
		pfds[n++] = (struct pollfd){ .fd = gclip->listen_fd, .events = POLLIN };
	}
	for (struct peer *p = gclip->peers; p != NULL && n < max; p = p->next) {
		short events = p->closing ? 0 : POLLIN;
		if (clip_conn_wants_write(&p->conn)) {
			events |= POLLOUT;
		}
		pfds[n++] = (struct pollfd){ .fd = p->conn.fd, .events = events };
	}
	if (gclip->host != NULL && n < max) {
		n += host_selection_pollfds(gclip->host, pfds + n, max - n);
	}
	int bus = clip_notify_fd(gclip->notify);
	if (bus >= 0 && n < max) {
		pfds[n++] = (struct pollfd){ .fd = bus, .events = POLLIN };
	}
	return n;
}

static void dispatch_one(struct vd_gclip *gclip, int fd, short revents) {
	if (fd == gclip->listen_fd) {
		handle_accept(gclip);
		return;
	}
	for (struct peer *p = gclip->peers; p != NULL; p = p->next) {
		if (p->dead || p->conn.fd != fd) {
			continue;
		}
		if (revents & POLLOUT) {
			if (!clip_conn_flush(&p->conn)) {
				peer_close(gclip, p, strerror(errno));
				return;
			}
		}
		if (p->closing) {
			if (!clip_conn_wants_write(&p->conn) || (revents & (POLLHUP | POLLERR))) {
				peer_close(gclip, p, NULL);
			}
			return;
		}
		if (revents & (POLLIN | POLLHUP | POLLERR)) {
			peer_read(gclip, p);
		}
		return;
	}
	if (gclip->host != NULL && host_selection_dispatch(gclip->host, fd, revents)) {
		return;
	}
	if (fd == clip_notify_fd(gclip->notify)) {
		clip_notify_dispatch(gclip->notify);
	}
}

void gclip_dispatch(struct vd_gclip *gclip, const struct pollfd *pfds, int n) {
	for (int i = 0; i < n; i++) {
		if (pfds[i].revents != 0 && pfds[i].fd >= 0) {
			dispatch_one(gclip, pfds[i].fd, pfds[i].revents);
		}
	}
	/* replies written while handling others: a CLI that got its answer */
	for (struct peer *p = gclip->peers; p != NULL; p = p->next) {
		if (!p->dead && p->closing && !clip_conn_wants_write(&p->conn)) {
			peer_close(gclip, p, NULL);
		}
	}
	run_timers(gclip);
}

int gclip_timeout_ms(struct vd_gclip *gclip) {
	int64_t next = -1;
	int64_t candidates[3] = { gclip->op.kind != OP_NONE ? gclip->op.deadline : -1,
		gclip->host_next, gclip->host == NULL ? gclip->host_retry : -1 };
	for (size_t i = 0; i < 3; i++) {
		if (candidates[i] >= 0 && (next < 0 || candidates[i] < next)) {
			next = candidates[i];
		}
	}
	for (struct peer *p = gclip->peers; p != NULL; p = p->next) {
		if (!p->dead && p->deadline >= 0 && (next < 0 || p->deadline < next)) {
			next = p->deadline;
		}
	}
	if (next < 0) {
		return -1;
	}
	int64_t wait = next - now_ms();
	return wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
}
