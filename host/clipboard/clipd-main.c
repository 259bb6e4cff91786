#define LOG_TAG "main"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "host/clipboard/clipboard.h"
#include "protocols/clip-link.h"
#include "protocols/log.h"
#include "protocols/number.h"

/*
 * vmdesk-clipd: the global clipboard module (host/clipboard/clipboard.h)
 * alone, in a poll() loop of its own. vmdesk-hostd runs the same module.
 */

static const char usage[] =
	"Usage: vmdesk-clipd [options]\n"
	"\n"
	"Holds the global clipboard of vmdesk: proxies connect to it, vmdesk-clip\n"
	"copies and pastes through it.\n"
	"\n"
	"  --socket PATH      listen here (default $XDG_RUNTIME_DIR/vmdesk/clipboard.sock)\n"
	"  --policy FILE      per-pair policy (default\n"
	"                     $XDG_CONFIG_HOME/vmdesk/clipboard.policy)\n"
	"  --display DISPLAY  the host compositor, for the host clipboard through wlr\n"
	"                     data-control (default $WAYLAND_DISPLAY; 'none': no host side)\n"
	"  --max-size BYTES   largest copy (default 1048576, at most 2097152)\n"
	"  --timeout-ms N     how long a domain may take to hand over its data\n"
	"                     (default 2000)\n"
	"  --keep             keep the global clipboard after a paste\n"
	"  --no-notify        no desktop notifications (only log lines)\n"
	"  --log-level LEVEL  error, warn, info or debug (default info)\n"
	"  -h, --help         show this help\n"
	"  -V, --version      show the version\n";

enum {
	OPT_SOCKET = 256,
	OPT_POLICY,
	OPT_DISPLAY,
	OPT_MAX_SIZE,
	OPT_TIMEOUT,
	OPT_KEEP,
	OPT_NO_NOTIFY,
	OPT_LOG_LEVEL,
};

static int usage_error(const char *msg, const char *arg) {
	fprintf(stderr, "vmdesk-clipd: %s%s\nTry 'vmdesk-clipd --help' for more information.\n",
		msg, arg ? arg : "");
	return 2;
}

int main(int argc, char *argv[]) {
	static const struct option options[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "display", required_argument, NULL, OPT_DISPLAY },
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "no-notify", no_argument, NULL, OPT_NO_NOTIFY },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct vd_gclip_config config;
	gclip_config_defaults(&config);
	config.runtime_dir = getenv("XDG_RUNTIME_DIR");
	enum vd_log_level level = VD_INFO;
	long long n;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", options, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			config.socket_path = optarg;
			break;
		case OPT_POLICY:
			config.policy_path = optarg;
			break;
		case OPT_DISPLAY:
			config.host_display = strcmp(optarg, "none") == 0 ? "" : optarg;
			break;
		case OPT_MAX_SIZE:
			if (!vd_parse_number(optarg, 1, VD_CLIP_MAX_DATA, &n)) {
				return usage_error("--max-size wants bytes from 1 to 2097152, not ",
					optarg);
			}
			config.max_size = (size_t)n;
			break;
		case OPT_TIMEOUT:
			if (!vd_parse_number(optarg, 10, 600000, &n)) {
				return usage_error("--timeout-ms wants 10 to 600000, not ", optarg);
			}
			config.timeout_ms = (int)n;
			break;
		case OPT_KEEP:
			config.clear_after_paste = false;
			break;
		case OPT_NO_NOTIFY:
			config.notifications = false;
			break;
		case OPT_LOG_LEVEL:
			if (!vd_log_parse_level(optarg, &level)) {
				return usage_error("unknown log level ", optarg);
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("vmdesk-clipd %s\n", VD_VERSION);
			return 0;
		case ':':
			return usage_error("option needs an argument: ", argv[optind - 1]);
		default:
			return usage_error("unknown option ", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		return usage_error("unexpected argument ", argv[optind]);
	}
	vd_log_init("vmdesk-clipd", level);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		vd_log_errno(VD_ERROR, "signalfd");
		return 1;
	}
	struct vd_gclip *gclip = gclip_create_with(&config);
	if (gclip == NULL) {
		close(sfd);
		return 1;
	}
	struct pollfd pfds[VD_GCLIP_MAX_FDS + 1];
	bool running = true;
	while (running) {
		pfds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		int count = gclip_pollfds(gclip, pfds + 1, VD_GCLIP_MAX_FDS);
		int ready = poll(pfds, (nfds_t)count + 1, gclip_timeout_ms(gclip));
		if (ready < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "poll");
			break;
		}
		if (ready > 0 && (pfds[0].revents & POLLIN)) {
			running = false;
		}
		if (ready < 0) {
			for (int i = 1; i <= count; i++) {
				pfds[i].revents = 0;
			}
		}
		gclip_dispatch(gclip, pfds + 1, count);
	}
	vd_log(VD_INFO, "stopping");
	gclip_destroy(gclip);
	close(sfd);
	return 0;
}
