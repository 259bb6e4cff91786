#define LOG_TAG "main"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wayland-server-core.h>

#include "host/clipboard/clipboard.h"
#include "protocols/link.h"
#include "protocols/log.h"
#include "protocols/number.h"
#include "host/clipboard/sandbox-clipd.h"

/*
 * vmdesk-clipd: the global clipboard module (host/clipboard/clipboard.h)
 * alone, on an event loop of its own. vmdesk-hostd runs the same module.
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
	"                     data-control (default $WAYLAND_DISPLAY, else the first\n"
	"                     wayland-N that appears; 'none': no host side)\n"
	"  --max-size BYTES   largest copy (default 1048576, at most 2097152)\n"
	"  --timeout-ms N     how long a domain may take to hand over its data\n"
	"                     (default 2000)\n"
	"  --keep             keep the global clipboard after a paste\n"
	"  --no-notify        no desktop notifications (only log lines)\n"
	"  --log-level LEVEL  error, warn, info or debug (default info)\n"
	VD_SECCOMP_USAGE
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
	OPT_SECCOMP,
};

static int usage_error(const char *msg, const char *arg) {
	fprintf(stderr, "vmdesk-clipd: %s%s\nTry 'vmdesk-clipd --help' for more information.\n",
		msg, arg ? arg : "");
	return 2;
}

static int handle_quit(int signo, void *data) {
	*(bool *)data = true;
	return 0;
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
		{ "seccomp", required_argument, NULL, OPT_SECCOMP },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct vd_gclip_config config;
	gclip_config_defaults(&config);
	config.runtime_dir = getenv("XDG_RUNTIME_DIR");
	enum vd_log_level level = VD_INFO;
	enum vd_seccomp_mode seccomp = VD_SECCOMP_ENFORCE;
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
			if (!vd_parse_number(optarg, 1, VD_LINK_MAX_CLIP_DATA, &n)) {
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
		case OPT_SECCOMP:
			if (!vd_seccomp_parse_mode(optarg, &seccomp)) {
				return usage_error("--seccomp wants enforce, log or off, not ", optarg);
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

	struct wl_event_loop *loop = wl_event_loop_create();
	if (loop == NULL) {
		return 1;
	}
	bool quit = false;
	struct wl_event_source *term = wl_event_loop_add_signal(loop, SIGTERM, handle_quit, &quit);
	struct wl_event_source *intr = wl_event_loop_add_signal(loop, SIGINT, handle_quit, &quit);
	config.loop = loop;
	struct vd_gclip *gclip = gclip_create(&config);
	int status = gclip != NULL ? 0 : 1;
	/* startup is done: from here on only what sandbox-clipd.c allows */
	if (gclip != NULL && seccomp == VD_SECCOMP_ENFORCE) {
		clipd_sandbox_confine_files(gclip_socket_path(gclip), gclip_policy_path(gclip));
	}
	if (gclip != NULL && !vd_sandbox_enter(&clipd_sandbox_policy, seccomp)) {
		gclip_destroy(gclip);
		gclip = NULL;
		status = 1;
	}
	while (gclip != NULL && !quit) {
		if (wl_event_loop_dispatch(loop, -1) < 0 && errno != EINTR) {
			vd_log_errno(VD_ERROR, "event loop");
			status = 1;
			break;
		}
	}
	if (gclip != NULL) {
		vd_log(VD_INFO, "stopping");
	}
	gclip_destroy(gclip);
	if (term != NULL) {
		wl_event_source_remove(term);
	}
	if (intr != NULL) {
		wl_event_source_remove(intr);
	}
	wl_event_loop_destroy(loop);
	return status;
}
