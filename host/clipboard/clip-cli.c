#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/cli-link.h"
#include "host/clipboard/clip-cli.h"
#include "protocols/names.h"

/*
 * vmdesk-clip copy|paste|show|clear [DOMAIN]: asks the global clipboard
 * (vmdesk-hostd or vmdesk-clipd) over its socket and prints the answer.
 */

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_NO_DAEMON 3
#define REPLY_TIMEOUT_MS 30000

static const char usage[] =
	"Usage: vmdesk-clip [--socket PATH] COMMAND [DOMAIN]\n"
	"\n"
	"Commands:\n"
	"  copy    copy the focused domain's clipboard (a VM whose window has the\n"
	"          keyboard focus, else the host) into the global clipboard\n"
	"  paste   set the focused domain's clipboard from the global clipboard,\n"
	"          then empty the global clipboard (unless configured otherwise)\n"
	"  show    what the global clipboard holds (size, type, source, age)\n"
	"  clear   empty the global clipboard\n"
	"DOMAIN (a VM name or 'host') names the domain instead of the focused one.\n"
	"\n"
	"  --socket PATH  the clipboard socket (default\n"
	"                 $XDG_RUNTIME_DIR/vmdesk/clipboard.sock)\n"
	"  -h, --help     show this help\n"
	"\n"
	"Exit status: 0 done; 1 refused or failed (the reason is on stderr);\n"
	"2 bad arguments; 3 no global clipboard running.\n";

static int usage_error(const char *msg, const char *arg) {
	fprintf(stderr, "vmdesk-clip: %s%s\nTry 'vmdesk-clip --help' for more information.\n",
		msg, arg ? arg : "");
	return EXIT_USAGE;
}

struct command {
	struct vd_cli_link cli;
	struct vd_link_msg msg;
};

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct command *cmd = vd_link_conn_data(conn);
	if (msg->type == VD_LINK_CLIP_COMMAND_REPLY) {
		const struct vd_link_clip_command_reply *reply = &msg->body.clip_command_reply;
		if (reply->status == VD_LINK_CLIP_STATUS_OK) {
			printf("%s\n", reply->text);
			vd_cli_link_finish(&cmd->cli, 0);
		} else {
			fprintf(stderr, "vmdesk-clip: %s\n", reply->text);
			vd_cli_link_finish(&cmd->cli, EXIT_REFUSED);
		}
	} else if (msg->type == VD_LINK_ERROR) {
		fprintf(stderr, "vmdesk-clip: %s\n", msg->body.error.message);
		vd_cli_link_finish(&cmd->cli, EXIT_NO_DAEMON);
	}
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct command *cmd = vd_link_conn_data(conn);
	if (!cmd->cli.done) {
		fprintf(stderr, "vmdesk-clip: bad answer from the global clipboard: %s\n",
			reason ? reason : "connection closed");
		vd_cli_link_finish(&cmd->cli, EXIT_NO_DAEMON);
	}
}

static const struct vd_link_conn_impl command_impl = {
	.message = handle_message,
	.closed = handle_closed,
};

static void handle_connected(struct vd_cli_link *cli) {
	struct command *cmd = cli->data;
	vd_link_conn_send(cli->conn, &cmd->msg);
}

static int handle_timeout(void *data) {
	struct command *cmd = data;
	fprintf(stderr, "vmdesk-clip: the global clipboard did not answer\n");
	vd_cli_link_finish(&cmd->cli, EXIT_NO_DAEMON);
	return 0;
}

int vd_clip_cli_main(int argc, char *argv[]) {
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *socket_path = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case ':':
			return usage_error("option needs an argument: ", argv[optind - 1]);
		default:
			return usage_error("unknown option ", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		return usage_error("which command? copy, paste, show or clear", NULL);
	}
	static const char *const names[] = { NULL, "copy", "paste", "show", "clear" };
	static struct command cmd;
	cmd.msg.type = VD_LINK_CLIP_COMMAND;
	for (uint8_t i = VD_LINK_CLIP_OP_COPY; i <= VD_LINK_CLIP_OP_CLEAR; i++) {
		if (strcmp(argv[optind], names[i]) == 0) {
			cmd.msg.body.clip_command.command = i;
		}
	}
	if (cmd.msg.body.clip_command.command == 0) {
		return usage_error("unknown command ", argv[optind]);
	}
	cmd.msg.body.clip_command.domain = "";
	if (optind + 1 < argc) {
		const char *domain = argv[optind + 1];
		if (!vd_domain_name_valid(domain, strlen(domain)) || optind + 2 < argc) {
			return usage_error("invalid domain (a VM name or 'host') ", domain);
		}
		cmd.msg.body.clip_command.domain = domain;
	}
	char path[PATH_MAX];
	if (socket_path != NULL) {
		snprintf(path, sizeof(path), "%s", socket_path);
	} else {
		const char *runtime = getenv("XDG_RUNTIME_DIR");
		if (runtime == NULL || runtime[0] != '/') {
			return usage_error("XDG_RUNTIME_DIR is not set; use --socket PATH", NULL);
		}
		snprintf(path, sizeof(path), "%s/vmdesk/clipboard.sock", runtime);
	}
	cmd.cli.loop = wl_event_loop_create();
	if (cmd.cli.loop == NULL) {
		return EXIT_REFUSED;
	}
	char what[PATH_MAX + 32];
	snprintf(what, sizeof(what), "the global clipboard at %s", path);
	cmd.cli.program = "vmdesk-clip";
	cmd.cli.what = what;
	cmd.cli.connected = handle_connected;
	cmd.cli.impl = &command_impl;
	cmd.cli.data = &cmd;
	struct wl_event_source *timer = wl_event_loop_add_timer(cmd.cli.loop, handle_timeout, &cmd);
	if (timer != NULL) {
		wl_event_source_timer_update(timer, REPLY_TIMEOUT_MS);
	}
	int status = EXIT_NO_DAEMON;
	if (vd_cli_link_start(&cmd.cli, path, VD_LINK_CAP_CLIPBOARD, EXIT_NO_DAEMON)) {
		status = vd_cli_link_run(&cmd.cli);
	}
	if (timer != NULL) {
		wl_event_source_remove(timer);
	}
	wl_event_loop_destroy(cmd.cli.loop);
	return status;
}
