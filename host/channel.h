#ifndef HOST_CHANNEL_H
#define HOST_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <wayland-server-core.h>

#include "host/vmconf.h"
#include "protocols/link.h"

/*
 * The agent channel of one VM (vmdesk-hostd's agent module): dials the
 * VM's vmdesk-guestd at the address of its definition, redials with the
 * backoff, speaks the guest link (protocols/link.md) as role host, runs
 * programs for requesters, keeps the VM's application list and hands its
 * snapshots to the menu, and reports idleness. A VM is known only by the
 * address hostd dialled, never by what its guest says.
 */

struct vd_menu_writer;
struct vd_channel;
struct vd_run;

/*
 * A module that rides on the VMs' links (notifications, tray): told when a
 * VM's link is up (capabilities negotiated) and down, and handed the guest's
 * messages of its capabilities. Called from the link's handlers: it may send
 * (vd_channel_send) but never destroys the channel.
 */
struct vd_channel_module {
	uint32_t caps; // the capabilities it serves (VD_LINK_CAP_*)
	void (*up)(void *data, struct vd_channel *channel);
	void (*message)(void *data, struct vd_channel *channel, const struct vd_link_msg *msg);
	void (*down)(void *data, struct vd_channel *channel);
	void *data;
};

#define VD_CHANNEL_MAX_MODULES 4

struct vd_channel_config {
	struct wl_event_loop *loop;
	struct vd_channel_module modules[VD_CHANNEL_MAX_MODULES];
	size_t nmodules;
	struct vd_menu_writer *menu; // may be NULL: no menu entries
	int connect_timeout_ms; // connect and handshake
	uint32_t retry_max_ms;
	int request_timeout_ms; // for RUN_STARTED
	/*
	 * Optional: the channel connected or dropped, its runs or its guest's
	 * idleness changed (the launcher's idle shutdown and agent waits).
	 * Called from the channel's handlers: do not destroy the channel here.
	 */
	void (*changed)(void *data, struct vd_channel *channel);
	void *changed_data;
};

enum vd_channel_state {
	VD_CHANNEL_VM_STOPPED, // a VM vmdesk starts, not running: nothing to dial
	VD_CHANNEL_NO_AGENT,
	VD_CHANNEL_CONFIG_ERROR,
	VD_CHANNEL_WAITING, // for the next attempt
	VD_CHANNEL_DIALING,
	VD_CHANNEL_HELLO, // connected, waiting for the guest's HELLO
	VD_CHANNEL_READY,
};

/* A VM vmdesk starts (conf->machine.defined) begins in VD_CHANNEL_VM_STOPPED. */
struct vd_channel *vd_channel_create(const struct vd_channel_config *config,
	const struct vd_vmconf *conf);
/* Fails its runs ("the VM was removed") and drops the link. Accepts NULL. */
void vd_channel_destroy(struct vd_channel *channel);
const struct vd_vmconf *vd_channel_conf(const struct vd_channel *channel);
enum vd_channel_state vd_channel_state(const struct vd_channel *channel);
const char *vd_channel_state_name(enum vd_channel_state state);
/* Writes "key: value" lines: the channel, its guest, apps and idleness. */
void vd_channel_status(const struct vd_channel *channel, FILE *out);
/* Writes "ID<TAB>Name" lines of the last complete application list. */
void vd_channel_apps(const struct vd_channel *channel, FILE *out);

/* Whether the link is up and both ends use cap (VD_LINK_CAP_*). */
bool vd_channel_has_cap(const struct vd_channel *channel, uint32_t cap);
/* Queues msg to the guest; false if the link is down or closing (see vd_link_conn_send). */
bool vd_channel_send(struct vd_channel *channel, const struct vd_link_msg *msg);
/* Ends the link with a protocol error (the channel redials later). */
void vd_channel_fail(struct vd_channel *channel, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A VM vmdesk starts: where its agent listens while it runs (from the VMM's
 * plan), or NULL once it stopped (runs fail, the link drops). serial: the
 * address is the host end of a virtio-serial port (protocols/link-conn.h's
 * serial carrier). Setting the address it has already changes nothing.
 */
void vd_channel_set_agent(struct vd_channel *channel, const struct vd_addr *addr, bool serial);
/* The address the channel dials ("" when none). */
const char *vd_channel_agent_str(const struct vd_channel *channel);
/* Runs waiting for a start or an exit (programs the host waits for). */
size_t vd_channel_runs(const struct vd_channel *channel);
/* True if the guest said it runs no program; *since: since when (vd_now_ms clock). */
bool vd_channel_guest_idle(const struct vd_channel *channel, uint64_t *since);

/*
 * Runs a program: request is a RUN or RUN_APP message of the guest set (its
 * id is set here). event() gets what the guest sends about it, as guest
 * set messages: RUN_STARTED, RUN_OUTPUT, RUN_INPUT_ACK, then RUN_EXIT; or
 * ERROR (also when the channel drops or the guest does not answer in
 * time). After RUN_EXIT, ERROR, or RUN_STARTED of a run without WAIT, the
 * run is over: it is freed when event() returns. Returns NULL with an error
 * code and message if the run cannot start (event() is not called then).
 */
typedef void (*vd_run_event)(void *data, const struct vd_link_msg *msg);
struct vd_run *vd_channel_run(struct vd_channel *channel, const struct vd_link_msg *request,
	vd_run_event event, void *data, uint32_t *code, char *err, size_t err_size);
void vd_run_signal(struct vd_run *run, uint32_t signo);
/* Passes input on (flow control: the requester waits for RUN_INPUT_ACK). */
void vd_run_input(struct vd_run *run, const uint8_t *data, uint32_t len, bool eof);
/* The requester has passed on bytes of output: the guest may send more. */
void vd_run_ack(struct vd_run *run, uint32_t bytes);
/* The requester is gone: a waited-for program gets SIGHUP, and no more events. */
void vd_run_detach(struct vd_run *run);

#endif
