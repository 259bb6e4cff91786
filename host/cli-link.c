#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/cli-link.h"
#include "protocols/transport.h"

struct dial_state {
	struct vd_cli_link *cli;
	uint32_t caps;
	int failure_status;
	char path[VD_ADDR_PATH_MAX];
};

static struct dial_state dial_state;

static void handle_dialed(void *data, int fd, const char *err) {
	struct dial_state *st = data;
	struct vd_cli_link *cli = st->cli;
	if (fd < 0) {
		fprintf(stderr, "%s: cannot reach %s: %s (is it running?)\n", cli->program, cli->what,
			err);
		vd_cli_link_finish(cli, st->failure_status);
		return;
	}
	char software[64];
	snprintf(software, sizeof(software), "%s %s", cli->program, VD_VERSION);
	struct vd_link_conn_config config = {.set = &vd_link_host, .role = VD_LINK_ROLE_CLIENT,
		.caps = st->caps, .software = software, .hello_timeout_ms = 30000};
	cli->conn = vd_link_conn_create(cli->loop, fd, &config, cli->impl, cli);
	if (cli->conn == NULL) {
		fprintf(stderr, "%s: out of memory\n", cli->program);
		vd_cli_link_finish(cli, st->failure_status);
		return;
	}
	cli->connected(cli);
}

bool vd_cli_link_start(struct vd_cli_link *cli, const char *path, uint32_t caps,
		int failure_status) {
	struct vd_addr addr = {.kind = VD_ADDR_UNIX};
	if (strlen(path) >= sizeof(addr.path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", cli->program, path);
		return false;
	}
	snprintf(addr.path, sizeof(addr.path), "%s", path);
	dial_state = (struct dial_state){.cli = cli, .caps = caps, .failure_status = failure_status};
	if (vd_dial(cli->loop, &addr, 5000, handle_dialed, &dial_state) == NULL) {
		fprintf(stderr, "%s: out of memory\n", cli->program);
		return false;
	}
	return true;
}

void vd_cli_link_finish(struct vd_cli_link *cli, int status) {
	if (!cli->done) {
		cli->done = true;
		cli->status = status;
	}
}

int vd_cli_link_run(struct vd_cli_link *cli) {
	for (;;) {
		/*
		 * wl_event_loop_dispatch runs the idle callbacks first and then waits:
		 * one that ended the command (a dial that failed at once) must not be
		 * followed by a wait for nothing.
		 */
		wl_event_loop_dispatch_idle(cli->loop);
		if (cli->done) {
			break;
		}
		if (wl_event_loop_dispatch(cli->loop, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "%s: event loop: %s\n", cli->program, strerror(errno));
			cli->status = 125;
			break;
		}
	}
	vd_link_conn_destroy(cli->conn);
	cli->conn = NULL;
	return cli->status;
}
