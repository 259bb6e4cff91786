#ifndef HOST_CLIPBOARD_CLIPBOARD_PRIVATE_H
#define HOST_CLIPBOARD_CLIPBOARD_PRIVATE_H

/*
 * The global clipboard's state, shared by its three files: clipboard.c (the
 * module: setup, the policy file, the host compositor), clipboard-peers.c
 * (the clipboard socket's peers: the proxies and the commands) and
 * clipboard-ops.c (the entry and the operations on it: copy, paste, show).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <wayland-server-core.h>

#include "host/clipboard/clipboard.h"
#include "host/clipboard/host-selection.h"
#include "host/clipboard/notify.h"
#include "host/clipboard/policy.h"
#include "protocols/link-conn.h"
#include "protocols/listen.h"
#include "protocols/names.h"
#include "protocols/text.h"

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

/* clipboard.c */
/* (Re)loads the policy file if it changed (force: always). Returns whether it is usable. */
bool gclip_reload_policy(struct vd_gclip *gclip, bool force);

/* clipboard-peers.c */
bool gclip_peer_send(struct peer *peer, const struct vd_link_msg *msg);
/* Answers a command (NULL: it left) and closes its connection. */
void gclip_reply_cli(struct peer *cli, uint8_t status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The linked proxy of VM name, or NULL. */
struct peer *gclip_find_proxy(struct vd_gclip *gclip, const char *name);
/* The VM whose proxy last reported keyboard focus, else the host. */
const char *gclip_reported_focus(struct vd_gclip *gclip);
int gclip_peer_handle_accept(int fd, uint32_t mask, void *data);
/* Frees every peer (the module goes). */
void gclip_peers_finish(struct vd_gclip *gclip);

/* clipboard-ops.c */
void gclip_entry_wipe(struct vd_gclip *gclip);
/* A command connection's one command. */
void gclip_op_command(struct peer *peer, const struct vd_link_clip_command *command);
/* The operation under way ends: with a copy's data, a paste's result, or a failure. */
void gclip_op_finish_copy(struct vd_gclip *gclip, uint8_t status, const uint8_t *bytes,
	size_t size, const char *mime, const char *error);
void gclip_op_finish_paste(struct vd_gclip *gclip, uint8_t status, const char *error);
void gclip_op_fail(struct vd_gclip *gclip, uint8_t status, const char *error);
int gclip_op_handle_timeout(void *data);

#endif
