#define LOG_TAG "clipboard"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/clipboard/clipboard-private.h"
#include "protocols/log.h"

void gclip_config_defaults(struct vd_gclip_config *config) {
	*config = (struct vd_gclip_config){
		.max_size = 1u << 20,
		.timeout_ms = 2000,
		.clear_after_paste = true,
		.notifications = true,
	};
}

/* ---- the policy ---- */

static void apply_settings(struct vd_gclip *gclip) {
	gclip->max_size = gclip->config.max_size;
	gclip->timeout_ms = gclip->config.timeout_ms;
	gclip->clear_after_paste = gclip->config.clear_after_paste;
	if (gclip->policy_ok) {
		if (gclip->policy.max_size >= 0) {
			gclip->max_size = (size_t)gclip->policy.max_size;
		}
		if (gclip->policy.timeout_ms >= 0) {
			gclip->timeout_ms = gclip->policy.timeout_ms;
		}
		if (gclip->policy.clear_after_paste >= 0) {
			gclip->clear_after_paste = gclip->policy.clear_after_paste;
		}
	}
}

static bool same_stat(const struct stat *a, const struct stat *b) {
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* (Re)loads the policy file if it changed. A broken file denies every paste
 * until it is fixed. Returns policy_ok. */
bool gclip_reload_policy(struct vd_gclip *gclip, bool force) {
	struct stat st;
	bool exists = stat(gclip->policy_path, &st) == 0;
	if (!force && exists == gclip->policy_exists &&
			(!exists || same_stat(&st, &gclip->policy_stat))) {
		return gclip->policy_ok;
	}
	gclip->policy_exists = exists;
	if (exists) {
		gclip->policy_stat = st;
	}
	clip_policy_finish(&gclip->policy);
	gclip->policy_ok = clip_policy_load(&gclip->policy, gclip->policy_path,
		gclip->policy_err, sizeof(gclip->policy_err));
	if (!gclip->policy_ok) {
		vd_log(VD_ERROR, "clipboard policy: %s (pasting is refused until it is fixed)",
			gclip->policy_err);
	} else if (!force) {
		vd_log(VD_INFO, "clipboard policy %s reloaded (%zu rules)", gclip->policy_path,
			gclip->policy.rule_count);
	}
	apply_settings(gclip);
	return gclip->policy_ok;
}

/* ---- the host compositor ---- */

static void connect_host(struct vd_gclip *gclip);

static void handle_host_lost(void *data) {
	struct vd_gclip *gclip = data;
	if (gclip->op.kind != OP_NONE && strcmp(gclip->op.domain, VD_HOST_DOMAIN) == 0) {
		gclip_op_fail(gclip, VD_LINK_CLIP_STATUS_UNAVAILABLE, "the host compositor went away");
	}
	host_selection_destroy(gclip->host);
	gclip->host = NULL;
	gclip->host_warned = false;
	wl_event_source_timer_update(gclip->host_timer, HOST_RETRY_MS);
}

/* The first wayland-N socket of the runtime directory, for a hostd started before the
 * compositor: the user manager's environment may not have WAYLAND_DISPLAY yet. */
static bool find_display(const char *runtime_dir, char *out, size_t size) {
	if (runtime_dir == NULL || runtime_dir[0] != '/') {
		return false;
	}
	DIR *d = opendir(runtime_dir);
	if (d == NULL) {
		return false;
	}
	bool found = false;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t len = strlen(name);
		if (strncmp(name, "wayland-", 8) != 0 || len <= 8 ||
				strspn(name + 8, "0123456789") != len - 8) {
			continue;
		}
		if (!found || strcmp(name, out) < 0) {
			snprintf(out, size, "%s", name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static void connect_host(struct vd_gclip *gclip) {
	char found[64];
	const char *display = gclip->host_display;
	if (display == NULL) {
		const char *env = getenv("WAYLAND_DISPLAY");
		if (env != NULL && env[0] != '\0') {
			display = env;
		} else if (find_display(gclip->config.runtime_dir, found, sizeof(found))) {
			display = found;
		}
	}
	if (display != NULL) {
		gclip->host = host_selection_create(gclip->loop, display, handle_host_lost, gclip);
	}
	if (gclip->host == NULL) {
		if (!gclip->host_warned) {
			vd_log(VD_INFO, "no host compositor%s%s yet: the host joins the global clipboard "
				"when one is there", display ? " at " : "", display ? display : "");
			gclip->host_warned = true;
		}
		wl_event_source_timer_update(gclip->host_timer, HOST_RETRY_MS);
	} else {
		vd_log(VD_INFO, "connected to the host compositor %s", display);
	}
}

static int handle_host_timer(void *data) {
	struct vd_gclip *gclip = data;
	if (gclip->host == NULL) {
		connect_host(gclip);
	}
	return 0;
}

/* ---- setup ---- */

static char *default_policy_path(void) {
	const char *config = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char path[PATH_MAX];
	int n;
	if (config != NULL && config[0] == '/') {
		n = snprintf(path, sizeof(path), "%s/vmdesk/clipboard.policy", config);
	} else if (home != NULL && home[0] == '/') {
		n = snprintf(path, sizeof(path), "%s/.config/vmdesk/clipboard.policy", home);
	} else {
		n = snprintf(path, sizeof(path), "/etc/vmdesk/clipboard.policy");
	}
	return n > 0 && (size_t)n < sizeof(path) ? strdup(path) : NULL;
}

static bool make_socket(struct vd_gclip *gclip, const struct vd_gclip_config *config) {
	char path[PATH_MAX];
	if (config->socket_path != NULL) {
		snprintf(path, sizeof(path), "%s", config->socket_path);
	} else {
		if (config->runtime_dir == NULL || config->runtime_dir[0] != '/') {
			vd_log(VD_ERROR, "no runtime directory for the clipboard socket "
				"(XDG_RUNTIME_DIR)");
			return false;
		}
		snprintf(path, sizeof(path), "%s/vmdesk", config->runtime_dir);
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			vd_log_errno(VD_ERROR, "cannot create %s", path);
			return false;
		}
		snprintf(path, sizeof(path), "%s/vmdesk/clipboard.sock", config->runtime_dir);
	}
	char err[512];
	if (!vd_listen_unix(&gclip->listener, path, err, sizeof(err))) {
		vd_log(VD_ERROR, "global clipboard: %s", err);
		return false;
	}
	gclip->listen_source = wl_event_loop_add_fd(gclip->loop, gclip->listener.fd,
		WL_EVENT_READABLE, gclip_peer_handle_accept, gclip);
	return gclip->listen_source != NULL;
}

struct vd_gclip *gclip_create(const struct vd_gclip_config *config) {
	struct vd_gclip *gclip = calloc(1, sizeof(*gclip));
	if (gclip == NULL) {
		return NULL;
	}
	gclip->config = *config;
	gclip->config.socket_path = NULL;
	gclip->config.policy_path = NULL;
	gclip->config.host_display = NULL;
	if (gclip->config.max_size > VD_LINK_MAX_CLIP_DATA) {
		gclip->config.max_size = VD_LINK_MAX_CLIP_DATA;
	}
	gclip->loop = config->loop;
	vd_listener_init(&gclip->listener);
	wl_list_init(&gclip->peers);
	gclip->op_timer = wl_event_loop_add_timer(gclip->loop, gclip_op_handle_timeout, gclip);
	gclip->host_timer = wl_event_loop_add_timer(gclip->loop, handle_host_timer, gclip);
	gclip->policy_path = config->policy_path != NULL ? strdup(config->policy_path) :
		default_policy_path();
	if (gclip->op_timer == NULL || gclip->host_timer == NULL || gclip->policy_path == NULL) {
		goto error;
	}
	if (!gclip_reload_policy(gclip, true)) {
		goto error;
	}
	if (!make_socket(gclip, config)) {
		goto error;
	}
	signal(SIGPIPE, SIG_IGN);
	if (config->host_display != NULL) {
		gclip->host_display = strdup(config->host_display);
		if (gclip->host_display == NULL) {
			goto error;
		}
	}
	if (gclip->host_display != NULL && gclip->host_display[0] == '\0') {
		vd_log(VD_INFO, "no host compositor: the host takes no part in the global clipboard");
	} else {
		connect_host(gclip);
	}
	if (config->notifications) {
		gclip->notify = clip_notify_create(gclip->loop);
	}
	vd_log(VD_INFO, "global clipboard on %s (policy %s, limit %zu bytes)",
		gclip->listener.path, gclip->policy_path, gclip->max_size);
	return gclip;

error:
	gclip_destroy(gclip);
	return NULL;
}

const char *gclip_socket_path(const struct vd_gclip *gclip) {
	return gclip->listener.path;
}

const char *gclip_policy_path(const struct vd_gclip *gclip) {
	return gclip->policy_path;
}

void gclip_destroy(struct vd_gclip *gclip) {
	if (gclip == NULL) {
		return;
	}
	gclip_peers_finish(gclip);
	if (gclip->listen_source != NULL) {
		wl_event_source_remove(gclip->listen_source);
	}
	vd_listener_finish(&gclip->listener);
	host_selection_destroy(gclip->host);
	clip_notify_destroy(gclip->notify);
	gclip_entry_wipe(gclip);
	clip_policy_finish(&gclip->policy);
	if (gclip->op_timer != NULL) {
		wl_event_source_remove(gclip->op_timer);
	}
	if (gclip->host_timer != NULL) {
		wl_event_source_remove(gclip->host_timer);
	}
	free(gclip->policy_path);
	free(gclip->host_display);
	free(gclip);
}
