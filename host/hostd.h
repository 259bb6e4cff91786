#ifndef HOST_HOSTD_H
#define HOST_HOSTD_H

/*
 * vmdesk-hostd's parts: hostd.c (main loop, VM definitions, main),
 * hostd-vm.c (the agent channel of each VM) and hostd-control.c (the vmdesk
 * CLI's requests). One daemon state, h.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "host/clipboard/clipboard.h"
#include "host/menu.h"
#include "host/vmconf.h"
#include "protocols/agent-conn.h"
#include "protocols/agent-wire.h"
#include "protocols/transport.h"

#define MAX_CLIENTS 64
#define VM_MAX_QUEUE (4u * 1024u * 1024u) // a guest not reading more than this is dropped
#define CLIENT_MAX_QUEUE (16u * 1024u * 1024u)
#define RETRY_MIN_MS 100
/* A channel that stayed up this long starts the next retries from RETRY_MIN_MS again. */
#define STABLE_CHANNEL_MS 10000
/* App snapshots: a burst of SNAPSHOT_BURST, then one per SNAPSHOT_REFILL_MS. */
#define SNAPSHOT_BURST 10
#define SNAPSHOT_REFILL_MS 5000
/* Acknowledge a run's output (letting the guest send more) while its vmdesk keeps up. */
#define CLIENT_ACK_QUEUE (1024u * 1024u)

enum vm_state {
	VM_NO_AGENT,
	VM_CONFIG_ERROR,
	VM_WAITING, // for the next attempt
	VM_DIALING,
	VM_HELLO, // connected, waiting for the guest's HELLO
	VM_READY,
};


struct vm {
	struct vd_vmconf conf;
	enum vm_state state;
	struct vd_dial dial;
	struct vd_agent_conn conn;
	struct vd_backoff backoff;
	uint64_t retry_at;
	uint64_t hello_deadline;
	char last_error[256];
	uint64_t connected_at;
	unsigned connects;
	uint32_t caps;
	char software[VD_AGENT_MAX_SOFTWARE + 1];
	bool idle_known, idle;
	uint32_t idle_seconds;
	uint64_t idle_reported_at;
	uint32_t next_id;
	/* the app list: ids and names of the last complete snapshot */
	char **app_ids, **app_names;
	size_t napps;
	bool apps_known;
	/* snapshot in progress */
	bool in_snapshot;
	uint32_t snap_count, snap_received, snap_refused;
	double snap_tokens; // app snapshots allowed now (refilled over time, kept across connections)
	uint64_t snap_tokens_at;
	char **snap_ids, **snap_names;
	size_t snap_n;
};

struct client;

struct request {
	struct request *next;
	struct client *client;
	struct vm *vm;
	uint32_t id;
	bool wait;
	bool started;
	uint64_t deadline; // for RUN_STARTED
	uint64_t pending_ack; // output forwarded, not yet acknowledged to the guest
};

struct client {
	struct vd_agent_conn conn;
	struct request *req;
	bool done; // answered; closes once flushed
};

struct hostd {
	struct vm *vms;
	size_t nvms;
	struct client *clients[MAX_CLIENTS];
	int nclients;
	struct request *requests;
	int listen_fd;
	int signal_fd;
	char socket_path[VD_ADDR_PATH_MAX];
	struct vd_menu menu;
	bool menu_enabled;
	int connect_timeout_ms;
	uint32_t retry_max_ms;
	int request_timeout_ms;
	bool quit;
	bool clipboard_enabled; // run the global clipboard (--no-clipboard: off)
	struct vd_gclip *gclip; // may be NULL
};

/* The daemon's state (host/hostd.c). */
extern struct hostd h;

/* hostd-control.c */
void client_error(struct client *client, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void strv_free(char **v, size_t n);
char *xstrdup(const char *s);
struct vm *find_vm(const char *name);
void client_send(struct client *client, const struct vd_agent_msg *msg);
void client_text(struct client *client, const char *text);
void request_destroy(struct request *req);
struct request *find_request(struct vm *vm, uint32_t id);
void client_destroy(struct client *client);
struct vm *client_vm(struct client *client, const char *name);
bool vm_check_ready(struct client *client, struct vm *vm);
void client_run(struct client *client, struct vm *vm, const struct vd_agent_msg *msg);
void client_status(struct client *client, struct vm *vm);
void client_list(struct client *client);
void client_apps(struct client *client, struct vm *vm);
void client_handle(struct client *client, const struct vd_agent_msg *msg);
void client_readable(struct client *client);
void accept_client(void);

/* hostd-vm.c */
void vm_protocol_error(struct vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vm_snapshot_clear(struct vm *vm);
void vm_schedule_retry(struct vm *vm);
void vm_disconnect(struct vm *vm, const char *why);
bool vm_send(struct vm *vm, const struct vd_agent_msg *msg);
void vm_connected(struct vm *vm, int fd);
void vm_dial(struct vm *vm);
void vm_dial_step(struct vm *vm);
void vm_handle_hello(struct vm *vm, const struct vd_agent_msg *msg);
void vm_handle_app(struct vm *vm, const struct vd_agent_msg *msg);
void vm_commit_apps(struct vm *vm);
void vm_forward(struct vm *vm, const struct vd_agent_msg *msg);
bool vm_handle(struct vm *vm, const struct vd_agent_msg *msg);
void vm_readable(struct vm *vm);

#endif
