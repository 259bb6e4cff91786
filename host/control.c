#define LOG_TAG "control"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/channel.h"
#include "host/console.h"
#include "host/control.h"
#include "host/launcher.h"
#include "host/vms.h"
#include "protocols/link-conn.h"
#include "protocols/listen.h"
#include "protocols/log.h"
#include "protocols/transport.h"

#define MAX_CLIENTS 64
#define CLIENT_MAX_QUEUE (16u * 1024u * 1024u)
/* Acknowledge a run's output (letting the guest send more) while the command keeps up. */
#define CLIENT_ACK_QUEUE (1024u * 1024u)

struct vd_control {
	struct wl_event_loop *loop;
	struct vd_vms *vms;
	struct vd_launcher *launcher; // NULL: no VMs are started here
	struct vd_listener listener;
	struct wl_event_source *listen_source;
	struct wl_list clients; // client.link
	size_t nclients;
};

/* A run that waits for its VM to start: the request, copied. */
struct pending_run {
	bool app;
	char vm[VD_VM_NAME_MAX + 1];
	uint32_t flags;
	char *app_id;
	char **argv;
	uint32_t argc;
	struct vd_link_run_env *env;
	uint32_t envc;
};

struct client {
	struct vd_control *control;
	struct wl_list link; // vd_control.clients
	struct vd_link_conn *conn;
	struct vd_run *run; // NULL when there is none (or it ended)
	bool answered; // one request per connection
	bool run_waits; // the run streams output and an exit status
	uint32_t ack_pending; // output the command has not taken yet
	struct vd_launcher_op *op; // a start or stop in progress
	struct pending_run *pending; // a run waiting for op
	struct vd_console *console; // attached to a VM's console
};

/* ---- answers ---- */

static void reply_error(struct client *client, uint32_t code, const char *text) {
	struct vd_link_msg msg = {.type = VD_LINK_ERROR};
	msg.body.error = (struct vd_link_error){.code = code, .message = text};
	vd_link_conn_send(client->conn, &msg);
	vd_link_conn_close(client->conn);
}

static void reply_text(struct client *client, char *text) {
	struct vd_link_msg msg = {.type = VD_LINK_CTL_TEXT};
	msg.body.ctl_text.text = text != NULL ? text : "";
	vd_link_conn_send(client->conn, &msg);
	vd_link_conn_close(client->conn);
	free(text);
}

static struct vd_channel *find_vm(struct client *client, const char *name) {
	struct vd_channel *channel = vd_vms_find(client->control->vms, name);
	if (channel == NULL) {
		char text[128];
		snprintf(text, sizeof(text), "no VM named %s", name);
		reply_error(client, VD_LINK_ERROR_CODE_NO_VM, text);
	}
	return channel;
}

static void handle_list(struct client *client) {
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (out == NULL) {
		reply_error(client, VD_LINK_ERROR_CODE_INTERNAL, "out of memory");
		return;
	}
	struct vd_vms *vms = client->control->vms;
	for (size_t i = 0; i < vd_vms_count(vms); i++) {
		struct vd_channel *channel = vd_vms_at(vms, i);
		const struct vd_vmconf *conf = vd_channel_conf(channel);
		char state[32] = "-", pid[16] = "-", uptime[32] = "-", windows[16] = "-";
		if (client->control->launcher != NULL) {
			vd_launcher_list_fields(client->control->launcher, conf->name, state,
				sizeof(state), pid, sizeof(pid), uptime, sizeof(uptime), windows,
				sizeof(windows));
		}
		const char *agent = vd_channel_agent_str(channel);
		fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", conf->name, state, pid, uptime,
			windows, vd_channel_state_name(vd_channel_state(channel)), conf->color_str,
			agent[0] != '\0' ? agent : "-");
	}
	fclose(out);
	reply_text(client, text);
}

static void handle_about(struct client *client, const struct vd_link_msg *msg) {
	const char *vm = msg->type == VD_LINK_CTL_STATUS ? msg->body.ctl_status.vm :
		msg->body.ctl_apps.vm;
	struct vd_channel *channel = find_vm(client, vm);
	if (channel == NULL) {
		return;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (out == NULL) {
		reply_error(client, VD_LINK_ERROR_CODE_INTERNAL, "out of memory");
		return;
	}
	if (msg->type == VD_LINK_CTL_STATUS) {
		vd_channel_status(channel, out);
		if (client->control->launcher != NULL) {
			vd_launcher_status(client->control->launcher, vm, out);
		}
	} else {
		vd_channel_apps(channel, out);
	}
	fclose(out);
	reply_text(client, text);
}

/* ---- runs ---- */

static void send_acks(struct client *client) {
	if (client->run != NULL && client->ack_pending > 0 &&
			vd_link_conn_queued(client->conn) <= CLIENT_ACK_QUEUE) {
		vd_run_ack(client->run, client->ack_pending);
		client->ack_pending = 0;
	}
}

/* What the guest says about the run, passed on as the host set's CTL_* messages. */
static void handle_run_event(void *data, const struct vd_link_msg *msg) {
	struct client *client = data;
	struct vd_link_msg out = {0};
	bool last = false;
	switch (msg->type) {
	case VD_LINK_RUN_STARTED:
		out.type = VD_LINK_CTL_STARTED;
		out.body.ctl_started.pid = msg->body.run_started.pid;
		break;
	case VD_LINK_RUN_OUTPUT:
		out.type = VD_LINK_CTL_OUTPUT;
		out.body.ctl_output.stream = msg->body.run_output.stream;
		out.body.ctl_output.data = msg->body.run_output.data;
		out.body.ctl_output.data_len = msg->body.run_output.data_len;
		client->ack_pending += msg->body.run_output.data_len;
		break;
	case VD_LINK_RUN_INPUT_ACK:
		out.type = VD_LINK_CTL_INPUT_ACK;
		out.body.ctl_input_ack.bytes = msg->body.run_input_ack.bytes;
		break;
	case VD_LINK_RUN_EXIT:
		out.type = VD_LINK_CTL_EXIT;
		out.body.ctl_exit.kind = msg->body.run_exit.kind;
		out.body.ctl_exit.value = msg->body.run_exit.value;
		last = true;
		break;
	case VD_LINK_ERROR:
		out.type = VD_LINK_ERROR;
		out.body.error = msg->body.error;
		last = true;
		break;
	default:
		return;
	}
	if (last || (msg->type == VD_LINK_RUN_STARTED && !client->run_waits)) {
		client->run = NULL; // the channel frees it after this call
	}
	vd_link_conn_send(client->conn, &out);
	if (client->run == NULL) {
		vd_link_conn_close(client->conn);
	} else {
		send_acks(client);
	}
}

static bool start_then_run(struct client *client, const struct vd_link_msg *msg);

static void handle_run(struct client *client, const struct vd_link_msg *msg) {
	bool app = msg->type == VD_LINK_CTL_RUN_APP;
	const char *vm = app ? msg->body.ctl_run_app.vm : msg->body.ctl_run.vm;
	struct vd_channel *channel = find_vm(client, vm);
	if (channel == NULL) {
		return;
	}
	struct vd_launcher *launcher = client->control->launcher;
	if (launcher != NULL && vd_launcher_needs_start(launcher, vm)) {
		start_then_run(client, msg); // a stopped VM starts first (vmdesk run, a menu click)
		return;
	}
	struct vd_link_msg request = {.type = app ? VD_LINK_RUN_APP : VD_LINK_RUN};
	if (app) {
		request.body.run_app.flags = msg->body.ctl_run_app.flags;
		request.body.run_app.app_id = msg->body.ctl_run_app.app_id;
	} else {
		const struct vd_link_ctl_run *ctl = &msg->body.ctl_run;
		request.body.run = (struct vd_link_run){.flags = ctl->flags,
			.argv_count = ctl->argv_count, .argv = ctl->argv, .env_count = ctl->env_count,
			.env = ctl->env};
	}
	uint32_t flags = app ? request.body.run_app.flags : request.body.run.flags;
	client->run_waits = flags & VD_LINK_RUN_FLAGS_WAIT;
	uint32_t code;
	char err[1024];
	client->run = vd_channel_run(channel, &request, handle_run_event, client, &code, err,
		sizeof(err));
	if (client->run == NULL) {
		reply_error(client, code, err);
	}
}


/* ---- the launcher: start, stop, console ---- */

static void pending_free(struct pending_run *p) {
	if (p == NULL) {
		return;
	}
	free(p->app_id);
	for (uint32_t i = 0; i < p->argc; i++) {
		free(p->argv[i]);
	}
	free(p->argv);
	for (uint32_t i = 0; i < p->envc; i++) {
		free((char *)p->env[i].name);
		free((char *)p->env[i].value);
	}
	free(p->env);
	free(p);
}

static struct pending_run *pending_copy(const struct vd_link_msg *msg) {
	struct pending_run *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return NULL;
	}
	bool ok = true;
	p->app = msg->type == VD_LINK_CTL_RUN_APP;
	if (p->app) {
		snprintf(p->vm, sizeof(p->vm), "%s", msg->body.ctl_run_app.vm);
		p->flags = msg->body.ctl_run_app.flags;
		p->app_id = strdup(msg->body.ctl_run_app.app_id);
		ok = p->app_id != NULL;
	} else {
		const struct vd_link_ctl_run *run = &msg->body.ctl_run;
		snprintf(p->vm, sizeof(p->vm), "%s", run->vm);
		p->flags = run->flags;
		p->argv = calloc(run->argv_count, sizeof(char *));
		p->env = calloc(run->env_count ? run->env_count : 1, sizeof(*p->env));
		ok = p->argv != NULL && p->env != NULL;
		for (uint32_t i = 0; ok && i < run->argv_count; i++) {
			p->argv[i] = strdup(run->argv[i]);
			ok = p->argv[i] != NULL;
			p->argc += ok;
		}
		for (uint32_t i = 0; ok && i < run->env_count; i++) {
			p->env[i].name = strdup(run->env[i].name);
			p->env[i].value = strdup(run->env[i].value);
			ok = p->env[i].name != NULL && p->env[i].value != NULL;
			p->envc++;
		}
	}
	if (!ok) {
		pending_free(p);
		return NULL;
	}
	return p;
}

static void send_progress(struct client *client, const char *text) {
	struct vd_link_msg msg = {.type = VD_LINK_CTL_PROGRESS};
	msg.body.ctl_progress.text = text;
	vd_link_conn_send(client->conn, &msg);
}

static void handle_op_event(void *data, enum vd_launcher_event_kind kind, uint32_t code,
		const char *text) {
	struct client *client = data;
	if (kind == VD_LAUNCHER_PROGRESS) {
		send_progress(client, text);
		return;
	}
	client->op = NULL; // the launcher frees it after this call
	if (kind == VD_LAUNCHER_FAILED) {
		pending_free(client->pending);
		client->pending = NULL;
		reply_error(client, code, text);
		return;
	}
	if (client->pending == NULL) {
		char *line = NULL;
		if (asprintf(&line, "%s\n", text) < 0) {
			line = NULL;
		}
		reply_text(client, line);
		return;
	}
	/* the VM is up: the run it waited for goes ahead */
	struct pending_run *p = client->pending;
	client->pending = NULL;
	struct vd_link_msg msg = {.type = p->app ? VD_LINK_CTL_RUN_APP : VD_LINK_CTL_RUN};
	if (p->app) {
		msg.body.ctl_run_app = (struct vd_link_ctl_run_app){.vm = p->vm, .flags = p->flags,
			.app_id = p->app_id};
	} else {
		msg.body.ctl_run = (struct vd_link_ctl_run){.vm = p->vm, .flags = p->flags,
			.argv_count = p->argc, .argv = (const char **)p->argv, .env_count = p->envc,
			.env = p->env};
	}
	struct vd_channel *channel = vd_vms_find(client->control->vms, p->vm);
	if (channel == NULL || vd_channel_state(channel) != VD_CHANNEL_READY) {
		reply_error(client, VD_LINK_ERROR_CODE_NOT_CONNECTED, "the VM started, but its agent "
			"is not connected any more");
	} else {
		handle_run(client, &msg);
	}
	pending_free(p);
}

static bool start_then_run(struct client *client, const struct vd_link_msg *msg) {
	const char *vm = msg->type == VD_LINK_CTL_RUN_APP ? msg->body.ctl_run_app.vm :
		msg->body.ctl_run.vm;
	client->pending = pending_copy(msg);
	if (client->pending == NULL) {
		reply_error(client, VD_LINK_ERROR_CODE_INTERNAL, "out of memory");
		return false;
	}
	char text[160];
	snprintf(text, sizeof(text), "VM %s is not running: starting it", vm);
	send_progress(client, text);
	uint32_t code;
	char err[1024];
	client->op = vd_launcher_start(client->control->launcher, vm, false, 0, handle_op_event,
		client, &code, err, sizeof(err));
	if (client->op == NULL) {
		pending_free(client->pending);
		client->pending = NULL;
		reply_error(client, code, err);
		return false;
	}
	return true;
}

static void handle_start_stop(struct client *client, const struct vd_link_msg *msg) {
	struct vd_launcher *launcher = client->control->launcher;
	bool start = msg->type == VD_LINK_CTL_START;
	const char *vm = start ? msg->body.ctl_start.vm : msg->body.ctl_stop.vm;
	uint32_t code = VD_LINK_ERROR_CODE_UNSUPPORTED;
	char err[1024];
	if (launcher == NULL) {
		reply_error(client, code, "this vmdesk-hostd starts no VMs");
		return;
	}
	if (start && (msg->body.ctl_start.flags & VD_LINK_START_FLAGS_DRY_RUN)) {
		char *text = vd_launcher_dry_run(launcher, vm, &code, err, sizeof(err));
		if (text == NULL) {
			reply_error(client, code, err);
		} else {
			reply_text(client, text);
		}
		return;
	}
	if (start) {
		client->op = vd_launcher_start(launcher, vm,
			msg->body.ctl_start.flags & VD_LINK_START_FLAGS_NO_WAIT,
			msg->body.ctl_start.timeout_s, handle_op_event, client, &code, err, sizeof(err));
	} else {
		client->op = vd_launcher_stop(launcher, vm,
			msg->body.ctl_stop.flags & VD_LINK_STOP_FLAGS_FORCE, handle_op_event, client,
			&code, err, sizeof(err));
	}
	if (client->op == NULL) {
		reply_error(client, code, err);
	}
}

static void handle_console_output(void *data, const uint8_t *bytes, size_t len) {
	struct client *client = data;
	while (len > 0) {
		size_t n = len < VD_LINK_MAX_CHUNK ? len : VD_LINK_MAX_CHUNK;
		struct vd_link_msg msg = {.type = VD_LINK_CTL_OUTPUT};
		msg.body.ctl_output = (struct vd_link_ctl_output){.stream = VD_LINK_STREAM_STDOUT,
			.data = bytes, .data_len = (uint32_t)n};
		vd_link_conn_send(client->conn, &msg);
		bytes += n;
		len -= n;
	}
	if (vd_link_conn_queued(client->conn) > CLIENT_ACK_QUEUE && client->console != NULL) {
		vd_console_pause(client->console, true); // until the command took it (drained)
	}
}

static void handle_console_input_taken(void *data, uint32_t bytes) {
	struct client *client = data;
	struct vd_link_msg msg = {.type = VD_LINK_CTL_INPUT_ACK};
	msg.body.ctl_input_ack.bytes = bytes;
	vd_link_conn_send(client->conn, &msg);
}

static void handle_console_ended(void *data, const char *reason) {
	struct client *client = data;
	client->console = NULL;
	char text[300];
	snprintf(text, sizeof(text), "console closed: %s", reason);
	reply_error(client, VD_LINK_ERROR_CODE_DISCONNECTED, text);
}

static const struct vd_console_client console_client = {
	.output = handle_console_output,
	.input_taken = handle_console_input_taken,
	.ended = handle_console_ended,
};

static void handle_console(struct client *client, const char *vm) {
	uint32_t code = VD_LINK_ERROR_CODE_UNSUPPORTED;
	char err[512];
	struct vd_console *console = client->control->launcher == NULL ? NULL :
		vd_launcher_console(client->control->launcher, vm, &code, err, sizeof(err));
	if (client->control->launcher == NULL) {
		snprintf(err, sizeof(err), "this vmdesk-hostd starts no VMs");
	}
	if (console == NULL) {
		reply_error(client, code, err);
		return;
	}
	if (!vd_console_attach(console, &console_client, client, err, sizeof(err))) {
		reply_error(client, VD_LINK_ERROR_CODE_BUSY, err);
		return;
	}
	client->console = console;
	char text[128];
	snprintf(text, sizeof(text), "connected to the console of VM %s", vm);
	send_progress(client, text);
}

/* ---- clients ---- */

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct client *client = vd_link_conn_data(conn);
	switch (msg->type) {
	case VD_LINK_CTL_SIGNAL:
		if (client->run != NULL) {
			vd_run_signal(client->run, msg->body.ctl_signal.signo);
		}
		return;
	case VD_LINK_CTL_INPUT:
		if (client->console != NULL) {
			vd_console_input(client->console, msg->body.ctl_input.data,
				msg->body.ctl_input.data_len);
		} else if (client->run != NULL) {
			vd_run_input(client->run, msg->body.ctl_input.data, msg->body.ctl_input.data_len,
				msg->body.ctl_input.eof);
		}
		return;
	case VD_LINK_ERROR:
		vd_link_conn_close(conn);
		return;
	default:
		break;
	}
	if (client->answered) {
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL,
			"protocol error: one request per connection");
		return;
	}
	client->answered = true;
	switch (msg->type) {
	case VD_LINK_CTL_LIST:
		handle_list(client);
		break;
	case VD_LINK_CTL_STATUS:
	case VD_LINK_CTL_APPS:
		handle_about(client, msg);
		break;
	case VD_LINK_CTL_RUN:
	case VD_LINK_CTL_RUN_APP:
		handle_run(client, msg);
		break;
	case VD_LINK_CTL_START:
	case VD_LINK_CTL_STOP:
		handle_start_stop(client, msg);
		break;
	case VD_LINK_CTL_CONSOLE:
		handle_console(client, msg->body.ctl_console.vm);
		break;
	default:
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: unexpected %s",
			vd_link_type_name(&vd_link_host, msg->type));
		break;
	}
}

static void handle_drained(struct vd_link_conn *conn) {
	struct client *client = vd_link_conn_data(conn);
	send_acks(client);
	if (client->console != NULL) {
		vd_console_pause(client->console, false);
	}
}

/* Whatever the client had going: its run, its start or stop, its console. */
static void client_release(struct client *client) {
	if (client->run != NULL) {
		vd_run_detach(client->run);
		client->run = NULL;
	}
	if (client->op != NULL) {
		vd_launcher_op_detach(client->op);
		client->op = NULL;
	}
	pending_free(client->pending);
	client->pending = NULL;
	if (client->console != NULL) {
		vd_console_detach(client->console);
		client->console = NULL;
	}
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct client *client = vd_link_conn_data(conn);
	if (reason != NULL && strncmp(reason, "protocol error", 14) == 0) {
		vd_log(VD_WARN, "a vmdesk command: %s", reason);
	}
	client_release(client);
	vd_link_conn_destroy(conn);
	wl_list_remove(&client->link);
	client->control->nclients--;
	free(client);
}

static const struct vd_link_conn_impl client_impl = {
	.message = handle_message,
	.drained = handle_drained,
	.closed = handle_closed,
};

static const char *user_name(uid_t uid, char *buf, size_t size) {
	struct passwd *pw = getpwuid(uid);
	if (pw != NULL) {
		snprintf(buf, size, "%s", pw->pw_name);
	} else {
		snprintf(buf, size, "uid %u", (unsigned)uid);
	}
	return buf;
}

static int handle_accept(int fd, uint32_t mask, void *data) {
	struct vd_control *control = data;
	for (;;) {
		int cfd = vd_transport_accept(fd);
		if (cfd < 0) {
			return 0;
		}
		struct client *client = calloc(1, sizeof(*client));
		if (client == NULL) {
			close(cfd);
			return 0;
		}
		client->control = control;
		char software[64];
		snprintf(software, sizeof(software), "vmdesk-hostd %s", VD_VERSION);
		struct vd_link_conn_config config = {.set = &vd_link_host, .role = VD_LINK_ROLE_SERVER,
			.caps = VD_LINK_CAP_CONTROL, .software = software,
			.max_queue = CLIENT_MAX_QUEUE, .hello_timeout_ms = 10000};
		client->conn = vd_link_conn_create(control->loop, cfd, &config, &client_impl, client);
		if (client->conn == NULL) {
			free(client);
			return 0;
		}
		wl_list_insert(&control->clients, &client->link);
		control->nclients++;
		/* The socket lives in a 0700 directory; check the peer anyway, and say why. */
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
				cred.uid != getuid()) {
			char me[64], them[64];
			vd_log(VD_WARN, "refusing a control connection from another user (%s)",
				user_name(cred.uid, them, sizeof(them)));
			vd_link_conn_fail(client->conn, VD_LINK_ERROR_CODE_DENIED,
				"vmdesk-hostd of user %s serves only that user, not %s",
				user_name(getuid(), me, sizeof(me)), them);
		} else if (control->nclients > MAX_CLIENTS) {
			vd_link_conn_fail(client->conn, VD_LINK_ERROR_CODE_LIMIT,
				"too many vmdesk commands at once (%d)", MAX_CLIENTS);
		}
	}
}

struct vd_control *vd_control_create(struct wl_event_loop *loop, const char *socket_path,
		struct vd_vms *vms, char *err, size_t err_size) {
	struct vd_control *control = calloc(1, sizeof(*control));
	if (control == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	control->loop = loop;
	control->vms = vms;
	wl_list_init(&control->clients);
	if (!vd_listen_unix(&control->listener, socket_path, err, err_size)) {
		free(control);
		return NULL;
	}
	control->listen_source = wl_event_loop_add_fd(loop, control->listener.fd,
		WL_EVENT_READABLE, handle_accept, control);
	if (control->listen_source == NULL) {
		snprintf(err, err_size, "out of memory");
		vd_control_destroy(control);
		return NULL;
	}
	return control;
}

void vd_control_set_vms(struct vd_control *control, struct vd_vms *vms) {
	control->vms = vms;
}

void vd_control_set_launcher(struct vd_control *control, struct vd_launcher *launcher) {
	control->launcher = launcher;
}

void vd_control_destroy(struct vd_control *control) {
	if (control == NULL) {
		return;
	}
	struct client *client, *tmp;
	wl_list_for_each_safe(client, tmp, &control->clients, link) {
		client_release(client);
		vd_link_conn_destroy(client->conn);
		wl_list_remove(&client->link);
		free(client);
	}
	if (control->listen_source != NULL) {
		wl_event_source_remove(control->listen_source);
	}
	vd_listener_finish(&control->listener);
	free(control);
}
