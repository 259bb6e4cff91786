#define LOG_TAG "channel"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/channel-private.h"
#include "host/menu-writer.h"
#include "protocols/backoff.h"
#include "protocols/clock.h"
#include "protocols/link-conn.h"
#include "protocols/log.h"
#include "protocols/rate.h"
#include "protocols/transport.h"

#define RETRY_MIN_MS 100
/* A channel that stayed up this long starts the next retries from RETRY_MIN_MS again. */
#define STABLE_CHANNEL_MS 10000
/* A guest not reading more than this is dropped. */
#define MAX_QUEUE (4u * 1024u * 1024u)
/* App snapshots: a burst of SNAPSHOT_BURST, then one per SNAPSHOT_REFILL_MS. */
#define SNAPSHOT_BURST 10
#define SNAPSHOT_REFILL_MS 5000

static const char *const state_names[] = {
	[VD_CHANNEL_VM_STOPPED] = "VM not running",
	[VD_CHANNEL_NO_AGENT] = "no agent configured",
	[VD_CHANNEL_CONFIG_ERROR] = "configuration error",
	[VD_CHANNEL_WAITING] = "disconnected",
	[VD_CHANNEL_DIALING] = "connecting",
	[VD_CHANNEL_HELLO] = "handshake",
	[VD_CHANNEL_READY] = "connected",
};

const char *vd_channel_state_name(enum vd_channel_state state) {
	return state_names[state];
}

static char *xstrdup(const char *s) {
	char *d = strdup(s);
	if (d == NULL) {
		abort();
	}
	return d;
}

static void app_list_clear(struct app_list *list) {
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].id);
		free(list->items[i].name);
	}
	free(list->items);
	*list = (struct app_list){0};
}

static void app_list_add(struct app_list *list, const char *id, const char *name) {
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 32;
		struct app *items = realloc(list->items, list->cap * sizeof(*items));
		if (items == NULL) {
			abort();
		}
		list->items = items;
	}
	list->items[list->count++] = (struct app){xstrdup(id), xstrdup(name)};
}

static bool app_list_has(const struct app_list *list, const char *id) {
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->items[i].id, id) == 0) {
			return true;
		}
	}
	return false;
}

bool channel_has_app(const struct vd_channel *channel, const char *id) {
	return app_list_has(&channel->apps, id);
}

/* Tells the owner that the channel changed (status, runs, apps). */
void channel_notify(struct vd_channel *channel) {
	if (channel->config.changed != NULL) {
		channel->config.changed(channel->config.changed_data, channel);
	}
}

bool channel_send_msg(struct vd_channel *channel, const struct vd_link_msg *msg) {
	return channel->conn != NULL && vd_link_conn_send(channel->conn, msg);
}

bool vd_channel_send(struct vd_channel *channel, const struct vd_link_msg *msg) {
	return channel->state == VD_CHANNEL_READY && channel_send_msg(channel, msg);
}

bool vd_channel_has_cap(const struct vd_channel *channel, uint32_t cap) {
	return channel->state == VD_CHANNEL_READY && channel->conn != NULL &&
		(vd_link_conn_caps(channel->conn) & cap) == cap;
}

void vd_channel_fail(struct vd_channel *channel, const char *fmt, ...) {
	if (channel->conn == NULL) {
		return;
	}
	char text[512];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	vd_link_conn_fail(channel->conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: %s", text);
}

/* The modules whose capabilities the link uses hear that it is up or down. */
static void modules_up(struct vd_channel *channel) {
	for (size_t i = 0; i < channel->config.nmodules; i++) {
		const struct vd_channel_module *m = &channel->config.modules[i];
		if (vd_channel_has_cap(channel, m->caps)) {
			m->up(m->data, channel);
		}
	}
}

static void modules_down(struct vd_channel *channel) {
	if (channel->state != VD_CHANNEL_READY || channel->conn == NULL) {
		return;
	}
	for (size_t i = 0; i < channel->config.nmodules; i++) {
		const struct vd_channel_module *m = &channel->config.modules[i];
		if (vd_channel_has_cap(channel, m->caps)) {
			m->down(m->data, channel);
		}
	}
}


/* ---- application lists ---- */

static void snapshot_clear(struct vd_channel *channel) {
	app_list_clear(&channel->snap);
	if (channel->menu_open) {
		vd_menu_writer_abort(channel->config.menu, channel->conf.name);
		channel->menu_open = false;
	}
	channel->in_snapshot = false;
}

static void refuse_app(struct vd_channel *channel, const char *why) {
	vd_log(VD_WARN, "vm=%s app refused: %s", channel->conf.name, why);
	channel->snap_refused++;
}

static void handle_apps_begin(struct vd_channel *channel, const struct vd_link_apps_begin *m) {
	if (channel->in_snapshot) {
		vd_link_conn_fail(channel->conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: APPS_BEGIN inside a snapshot");
		return;
	}
	if (!vd_rate_take(&channel->snap_rate, vd_now_ms())) {
		vd_link_conn_fail(channel->conn, VD_LINK_ERROR_CODE_LIMIT,
			"protocol error: app lists sent too often (burst %d, then one per %d s)",
			SNAPSHOT_BURST, SNAPSHOT_REFILL_MS / 1000);
		return;
	}
	channel->in_snapshot = true;
	channel->snap_count = m->count;
	channel->snap_received = 0;
	channel->snap_refused = 0;
	if (channel->config.menu != NULL) {
		vd_menu_writer_begin(channel->config.menu, channel->conf.name);
		channel->menu_open = true;
	}
}

static bool snapshot_takes_app(struct vd_channel *channel) {
	if (!channel->in_snapshot || channel->snap_received >= channel->snap_count) {
		vd_link_conn_fail(channel->conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: APP outside a snapshot or beyond its announced count");
		return false;
	}
	channel->snap_received++;
	return true;
}

static void handle_app(struct vd_channel *channel, const struct vd_link_app *app) {
	if (!snapshot_takes_app(channel)) {
		return;
	}
	if (app_list_has(&channel->snap, app->id)) {
		char why[300];
		snprintf(why, sizeof(why), "duplicate desktop ID %s", app->id);
		refuse_app(channel, why);
		return;
	}
	if (channel->menu_open) {
		vd_menu_writer_add(channel->config.menu, channel->conf.name, app);
	}
	app_list_add(&channel->snap, app->id, app->name);
}

static void handle_apps_end(struct vd_channel *channel) {
	if (!channel->in_snapshot || channel->snap_received != channel->snap_count) {
		vd_link_conn_fail(channel->conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: APPS_END after %u of %u apps", channel->snap_received,
			channel->snap_count);
		return;
	}
	app_list_clear(&channel->apps);
	channel->apps = channel->snap;
	channel->snap = (struct app_list){0};
	channel->apps_known = true;
	channel->in_snapshot = false;
	if (channel->menu_open) {
		vd_menu_writer_commit(channel->config.menu, channel->conf.name);
		channel->menu_open = false;
	}
	vd_log(VD_INFO, "vm=%s: %zu applications (%u refused)", channel->conf.name,
		channel->apps.count, channel->snap_refused);
}

/* ---- the link ---- */

static void schedule_retry(struct vd_channel *channel) {
	uint32_t delay = vd_backoff_next(&channel->backoff);
	channel->retry_at = vd_now_ms() + delay;
	channel->state = VD_CHANNEL_WAITING;
	wl_event_source_timer_update(channel->retry_timer, (int)delay);
}

static void handle_ready(struct vd_link_conn *conn) {
	struct vd_channel *channel = vd_link_conn_data(conn);
	channel->state = VD_CHANNEL_READY;
	channel->connected_at = vd_now_ms();
	channel->connects++;
	channel->last_error[0] = '\0';
	vd_backoff_connected(&channel->backoff, channel->connected_at);
	uint32_t caps = vd_link_conn_caps(conn);
	vd_log(VD_INFO, "vm=%s connected: %s, protocol %u, capabilities:%s%s%s%s%s%s",
		channel->conf.name, vd_link_conn_peer_software(conn), VD_LINK_VERSION,
		caps & VD_LINK_CAP_RUN ? " run" : "", caps & VD_LINK_CAP_APPS ? " apps" : "",
		caps & VD_LINK_CAP_IDLE ? " idle" : "", caps & VD_LINK_CAP_NOTIFY ? " notify" : "",
		caps & VD_LINK_CAP_TRAY ? " tray" : "", caps == 0 ? " none" : "");
	modules_up(channel);
	channel_notify(channel);
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct vd_channel *channel = vd_link_conn_data(conn);
	switch (msg->type) {
	case VD_LINK_ERROR:
		if (msg->id == 0) {
			vd_log(VD_WARN, "vm=%s guest reports error %u: %s", channel->conf.name,
				msg->body.error.code, msg->body.error.message);
			return;
		}
		channel_handle_run_message(channel, msg);
		return;
	case VD_LINK_RUN_STARTED:
	case VD_LINK_RUN_OUTPUT:
	case VD_LINK_RUN_EXIT:
	case VD_LINK_RUN_INPUT_ACK:
		channel_handle_run_message(channel, msg);
		return;
	case VD_LINK_APPS_BEGIN:
		handle_apps_begin(channel, &msg->body.apps_begin);
		return;
	case VD_LINK_APP:
		handle_app(channel, &msg->body.app);
		return;
	case VD_LINK_APPS_END:
		handle_apps_end(channel);
		return;
	case VD_LINK_IDLE:
		if (!channel->idle_known || channel->idle != msg->body.idle.idle) {
			vd_log(VD_INFO, "vm=%s %s", channel->conf.name,
				msg->body.idle.idle ? "idle" : "busy");
		}
		channel->idle_known = true;
		channel->idle = msg->body.idle.idle;
		channel->idle_seconds = msg->body.idle.seconds;
		channel->idle_reported_at = vd_now_ms();
		channel_notify(channel);
		return;
	default:
		break;
	}
	/* the codec let it through, so its capability is in use: its module takes it */
	const struct vd_link_message *desc = vd_link_set_find(&vd_link_guest, msg->type);
	for (size_t i = 0; desc != NULL && desc->cap != 0 && i < channel->config.nmodules; i++) {
		const struct vd_channel_module *m = &channel->config.modules[i];
		if (m->caps & desc->cap) {
			m->message(m->data, channel, msg);
			return;
		}
	}
}

/* A frame that does not decode: one bad APP is refused alone, anything else ends the link. */
static bool handle_refused(struct vd_link_conn *conn, const struct vd_link_header *header,
		const char *err) {
	struct vd_channel *channel = vd_link_conn_data(conn);
	if (header->type != VD_LINK_APP || !channel->in_snapshot ||
			channel->snap_received >= channel->snap_count) {
		return false;
	}
	channel->snap_received++;
	refuse_app(channel, err);
	return true;
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct vd_channel *channel = vd_link_conn_data(conn);
	const char *why = reason != NULL ? reason : "the guest closed the channel";
	if (strncmp(why, "protocol error: ", 16) == 0) {
		vd_log(VD_WARN, "vm=%s %s", channel->conf.name, why);
	} else if (strstr(why, "does not read") != NULL) {
		vd_log(VD_WARN, "vm=%s guest is not reading: %s", channel->conf.name, why);
	}
	vd_log(VD_INFO, "vm=%s disconnected: %s", channel->conf.name, why);
	/* why may live in the link: keep it before the link goes */
	snprintf(channel->last_error, sizeof(channel->last_error), "%s", why);
	modules_down(channel);
	vd_link_conn_destroy(conn);
	channel->conn = NULL;
	char text[400];
	snprintf(text, sizeof(text), "the agent channel closed during the command (%s)",
		channel->last_error);
	channel_fail_runs(channel, VD_LINK_ERROR_CODE_DISCONNECTED, text);
	snapshot_clear(channel);
	channel->idle_known = false;
	/* only a channel that worked for a while earns quick retries */
	vd_backoff_disconnected(&channel->backoff, vd_now_ms());
	schedule_retry(channel);
	channel_notify(channel);
}

static const struct vd_link_conn_impl link_impl = {
	.ready = handle_ready,
	.message = handle_message,
	.refused = handle_refused,
	.closed = handle_closed,
};

static void handle_dialed(void *data, int fd, const char *err) {
	struct vd_channel *channel = data;
	channel->dialer = NULL;
	if (fd < 0) {
		if (strcmp(channel->last_error, err) != 0) {
			vd_log(VD_INFO, "vm=%s: %s", channel->conf.name, err);
		}
		snprintf(channel->last_error, sizeof(channel->last_error), "%s", err);
		schedule_retry(channel);
		return;
	}
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-hostd %s", VD_VERSION);
	uint32_t caps = VD_LINK_CAP_RUN | VD_LINK_CAP_APPS | VD_LINK_CAP_IDLE;
	for (size_t i = 0; i < channel->config.nmodules; i++) {
		caps |= channel->config.modules[i].caps;
	}
	if (!channel->conf.tray) {
		caps &= ~(uint32_t)VD_LINK_CAP_TRAY;
	}
	struct vd_link_conn_config config = {
		.set = &vd_link_guest,
		.role = VD_LINK_ROLE_HOST,
		.caps = caps,
		.software = software,
		.max_queue = MAX_QUEUE,
		.hello_timeout_ms = channel->config.connect_timeout_ms,
		/* a virtio-serial port: HELLO again until the guest's agent answers */
		.carrier = channel->serial ? VD_LINK_CARRIER_SERIAL : VD_LINK_CARRIER_STREAM,
	};
	channel->conn = vd_link_conn_create(channel->config.loop, fd, &config, &link_impl, channel);
	if (channel->conn == NULL) {
		snprintf(channel->last_error, sizeof(channel->last_error), "out of memory");
		schedule_retry(channel);
		return;
	}
	channel->state = VD_CHANNEL_HELLO;
}

static int handle_retry(void *data) {
	struct vd_channel *channel = data;
	if (channel->state != VD_CHANNEL_WAITING) {
		return 0;
	}
	channel->state = VD_CHANNEL_DIALING;
	channel->dialer = vd_dial(channel->config.loop, &channel->agent,
		channel->config.connect_timeout_ms, handle_dialed, channel);
	if (channel->dialer == NULL) {
		schedule_retry(channel);
	}
	return 0;
}

struct vd_channel *vd_channel_create(const struct vd_channel_config *config,
		const struct vd_vmconf *conf) {
	struct vd_channel *channel = calloc(1, sizeof(*channel));
	if (channel == NULL) {
		return NULL;
	}
	channel->config = *config;
	channel->conf = *conf;
	wl_list_init(&channel->runs);
	vd_backoff_init(&channel->backoff, RETRY_MIN_MS, config->retry_max_ms, STABLE_CHANNEL_MS);
	vd_rate_init(&channel->snap_rate, SNAPSHOT_BURST, SNAPSHOT_REFILL_MS, vd_now_ms());
	channel->retry_timer = wl_event_loop_add_timer(config->loop, handle_retry, channel);
	if (channel->retry_timer == NULL) {
		free(channel);
		return NULL;
	}
	if (conf->error[0] != '\0') {
		channel->state = VD_CHANNEL_CONFIG_ERROR;
	} else if (conf->machine.defined) {
		channel->state = VD_CHANNEL_VM_STOPPED;
	} else if (!conf->has_agent) {
		channel->state = VD_CHANNEL_NO_AGENT;
	} else {
		channel->has_agent = true;
		channel->agent = conf->agent;
		vd_addr_format(&conf->agent, channel->agent_str, sizeof(channel->agent_str));
		channel->state = VD_CHANNEL_WAITING;
		wl_event_source_timer_update(channel->retry_timer, 1); // now, from the loop
	}
	vd_log(VD_INFO, "vm=%s agent %s (%s)", conf->name, conf->machine.defined ?
		"from the VMM while it runs" : conf->has_agent ? conf->agent_str : "none", conf->path);
	return channel;
}

static bool addr_equal(const struct vd_addr *a, const struct vd_addr *b) {
	return a->kind == b->kind && a->cid == b->cid && a->port == b->port &&
		strcmp(a->path, b->path) == 0;
}

void vd_channel_set_agent(struct vd_channel *channel, const struct vd_addr *addr, bool serial) {
	if (channel->state == VD_CHANNEL_CONFIG_ERROR || !channel->conf.machine.defined) {
		return;
	}
	if (addr != NULL && channel->has_agent && channel->serial == serial &&
			addr_equal(addr, &channel->agent)) {
		return;
	}
	if (addr == NULL && !channel->has_agent) {
		return;
	}
	/* a new address, or none: the old link and what hung on it go */
	vd_dialer_cancel(channel->dialer);
	channel->dialer = NULL;
	if (channel->conn != NULL) {
		vd_link_conn_destroy(channel->conn);
		channel->conn = NULL;
	}
	channel_fail_runs(channel, VD_LINK_ERROR_CODE_DISCONNECTED, addr != NULL ?
		"the VM's agent moved" : "the VM stopped");
	snapshot_clear(channel);
	channel->idle_known = false;
	channel->last_error[0] = '\0';
	wl_event_source_timer_update(channel->retry_timer, 0);
	vd_backoff_reset(&channel->backoff);
	if (addr == NULL) {
		channel->has_agent = false;
		channel->agent_str[0] = '\0';
		channel->state = VD_CHANNEL_VM_STOPPED;
		vd_log(VD_INFO, "vm=%s: the VM stopped: no agent to dial", channel->conf.name);
	} else {
		channel->has_agent = true;
		channel->agent = *addr;
		channel->serial = serial;
		vd_addr_format(addr, channel->agent_str, sizeof(channel->agent_str));
		channel->state = VD_CHANNEL_WAITING;
		vd_log(VD_INFO, "vm=%s: dialling the agent at %s%s", channel->conf.name,
			channel->agent_str, serial ? " (virtio-serial)" : "");
		wl_event_source_timer_update(channel->retry_timer, 1);
	}
	channel_notify(channel);
}

const char *vd_channel_agent_str(const struct vd_channel *channel) {
	return channel->agent_str;
}

size_t vd_channel_runs(const struct vd_channel *channel) {
	return (size_t)wl_list_length(&channel->runs);
}

bool vd_channel_guest_idle(const struct vd_channel *channel, uint64_t *since) {
	if (channel->state != VD_CHANNEL_READY || !channel->idle_known || !channel->idle) {
		return false;
	}
	uint64_t ago = (uint64_t)channel->idle_seconds * 1000;
	*since = channel->idle_reported_at > ago ? channel->idle_reported_at - ago : 0;
	return true;
}

void vd_channel_destroy(struct vd_channel *channel) {
	if (channel == NULL) {
		return;
	}
	channel->config.changed = NULL; // nobody hears of a channel going away through it
	channel_fail_runs(channel, VD_LINK_ERROR_CODE_NO_VM, "the VM's definition is gone");
	modules_down(channel);
	vd_dialer_cancel(channel->dialer);
	vd_link_conn_destroy(channel->conn);
	wl_event_source_remove(channel->retry_timer);
	if (channel->ack_idle != NULL) {
		wl_event_source_remove(channel->ack_idle);
	}
	snapshot_clear(channel);
	app_list_clear(&channel->apps);
	free(channel);
}

const struct vd_vmconf *vd_channel_conf(const struct vd_channel *channel) {
	return &channel->conf;
}

enum vd_channel_state vd_channel_state(const struct vd_channel *channel) {
	return channel->state;
}

void vd_channel_status(const struct vd_channel *channel, FILE *out) {
	const struct vd_vmconf *conf = &channel->conf;
	uint64_t now = vd_now_ms();
	fprintf(out, "vm: %s\nconfig: %s\ncolor: %s (#%02x%02x%02x)\n", conf->name, conf->path,
		conf->color_str, conf->color.r, conf->color.g, conf->color.b);
	if (conf->error[0] != '\0') {
		fprintf(out, "config error: %s\n", conf->error);
	}
	for (size_t i = 0; i < conf->nwarnings; i++) {
		fprintf(out, "config warning: %s\n", conf->warnings[i]);
	}
	fprintf(out, "agent: %s\nchannel: %s\n", channel->has_agent ? channel->agent_str : "(none)",
		state_names[channel->state]);
	if (channel->state == VD_CHANNEL_READY) {
		uint32_t caps = vd_link_conn_caps(channel->conn);
		fprintf(out, "connected for: %llu s\nguest agent: %s\nprotocol: %u\n"
			"capabilities:%s%s%s%s%s%s\n",
			(unsigned long long)((now - channel->connected_at) / 1000),
			vd_link_conn_peer_software(channel->conn), VD_LINK_VERSION,
			caps & VD_LINK_CAP_RUN ? " run" : "", caps & VD_LINK_CAP_APPS ? " apps" : "",
			caps & VD_LINK_CAP_IDLE ? " idle" : "",
			caps & VD_LINK_CAP_NOTIFY ? " notify" : "",
			caps & VD_LINK_CAP_TRAY ? " tray" : "", caps == 0 ? " none" : "");
	}
	if (channel->last_error[0] != '\0') {
		fprintf(out, "last error: %s\n", channel->last_error);
	}
	if (channel->state == VD_CHANNEL_WAITING) {
		fprintf(out, "next attempt in: %llu ms\n", (unsigned long long)(channel->retry_at > now ?
			channel->retry_at - now : 0));
	}
	fprintf(out, "connections: %u\n", channel->connects);
	if (channel->apps_known) {
		fprintf(out, "applications: %zu\n", channel->apps.count);
	}
	if (channel->idle_known) {
		fprintf(out, "idle: %s", channel->idle ? "yes" : "no");
		if (channel->idle) {
			fprintf(out, " (%llu s)", (unsigned long long)(channel->idle_seconds +
				(now - channel->idle_reported_at) / 1000));
		}
		fprintf(out, "\n");
	}
}

void vd_channel_apps(const struct vd_channel *channel, FILE *out) {
	for (size_t i = 0; i < channel->apps.count; i++) {
		fprintf(out, "%s\t%s\n", channel->apps.items[i].id, channel->apps.items[i].name);
	}
}
