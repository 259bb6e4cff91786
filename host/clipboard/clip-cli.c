#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host/clipboard/clip-cli.h"
#include "protocols/clip-link.h"

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

static int64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	struct vd_clip_msg *msg = calloc(1, sizeof(*msg));
	if (msg == NULL) {
		return EXIT_REFUSED;
	}
	msg->type = VD_CLIP_COMMAND;
	for (uint8_t i = VD_CLIP_CMD_COPY; i <= VD_CLIP_CMD_CLEAR; i++) {
		if (strcmp(argv[optind], names[i]) == 0) {
			msg->value = i;
		}
	}
	if (msg->value == 0) {
		free(msg);
		return usage_error("unknown command ", argv[optind]);
	}
	if (optind + 1 < argc) {
		if (!clip_link_name_valid(argv[optind + 1]) || optind + 2 < argc) {
			free(msg);
			return usage_error("invalid domain ", argv[optind + 1]);
		}
		snprintf(msg->name, sizeof(msg->name), "%s", argv[optind + 1]);
	}

	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int n;
	if (socket_path != NULL) {
		n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
	} else {
		const char *runtime = getenv("XDG_RUNTIME_DIR");
		if (runtime == NULL || runtime[0] != '/') {
			free(msg);
			return usage_error("XDG_RUNTIME_DIR is not set; use --socket PATH", NULL);
		}
		n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/vmdesk/clipboard.sock",
			runtime);
	}
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path)) {
		free(msg);
		return usage_error("socket path too long", NULL);
	}
	int status = EXIT_NO_DAEMON;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		fprintf(stderr, "vmdesk-clip: no global clipboard at %s (%s): is vmdesk-hostd "
			"running?\n", addr.sun_path, strerror(errno));
		goto out;
	}
	struct vd_clip_conn conn;
	clip_conn_init(&conn, fd, VD_CLIP_MAX_PAYLOAD);
	fd = -1;
	char err[256];
	if (!clip_conn_send(&conn, msg)) {
		fprintf(stderr, "vmdesk-clip: cannot encode the command\n");
		status = EXIT_REFUSED;
		goto out_conn;
	}
	int64_t deadline = now_ms() + REPLY_TIMEOUT_MS;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			fprintf(stderr, "vmdesk-clip: the global clipboard did not answer\n");
			status = EXIT_NO_DAEMON;
			goto out_conn;
		}
		struct pollfd pfd = { .fd = conn.fd,
			.events = POLLIN | (clip_conn_wants_write(&conn) ? POLLOUT : 0) };
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			break;
		}
		if ((pfd.revents & POLLOUT) && !clip_conn_flush(&conn)) {
			break;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			continue;
		}
		int r = clip_conn_read(&conn, err, sizeof(err));
		if (r > 0) {
			r = clip_conn_next(&conn, msg, err, sizeof(err));
			if (r == 0) {
				continue;
			}
		}
		if (r <= 0) {
			fprintf(stderr, "vmdesk-clip: bad answer from the global clipboard: %s\n",
				r == 0 ? "connection closed" : err);
			status = EXIT_NO_DAEMON;
			goto out_conn;
		}
		if (msg->type != VD_CLIP_COMMAND_REPLY) {
			fprintf(stderr, "vmdesk-clip: unexpected %s from the global clipboard\n",
				clip_link_type_name(msg->type));
			status = EXIT_NO_DAEMON;
			goto out_conn;
		}
		if (msg->value == VD_CLIP_OK) {
			printf("%s\n", msg->text);
			status = 0;
		} else {
			fprintf(stderr, "vmdesk-clip: %s\n", msg->text);
			status = EXIT_REFUSED;
		}
		goto out_conn;
	}
	fprintf(stderr, "vmdesk-clip: lost the global clipboard: %s\n", strerror(errno));
out_conn:
	clip_conn_finish(&conn);
out:
	if (fd >= 0) {
		close(fd);
	}
	free(msg);
	return status;
}
