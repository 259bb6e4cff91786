#define LOG_TAG "vms"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "host/menu-writer.h"
#include "host/vms.h"
#include "protocols/log.h"

/* Changes come in bursts (an editor's save is several events): reload once after them. */
#define RELOAD_DELAY_MS 200
#define MAX_DIRS 4

struct vd_vms {
	struct vd_channel_config config;
	char *dirs[MAX_DIRS];
	size_t ndirs;
	struct vd_channel **channels; // sorted by name
	size_t count;
	int inotify_fd;
	struct wl_event_source *inotify_source;
	struct wl_event_source *reload_timer;
	void (*reloaded)(void *data);
	void *reloaded_data;
};

static void watch_dirs(struct vd_vms *vms) {
	if (vms->inotify_fd < 0) {
		return;
	}
	for (size_t i = 0; i < vms->ndirs; i++) {
		inotify_add_watch(vms->inotify_fd, vms->dirs[i], IN_CREATE | IN_DELETE | IN_MOVED_FROM |
			IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR);
		/* the directory may not exist yet: its parent tells when it comes */
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", vms->dirs[i]);
		char *slash = strrchr(parent, '/');
		if (slash != NULL && slash != parent) {
			*slash = '\0';
			inotify_add_watch(vms->inotify_fd, parent, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
		}
	}
}

/* The writer prunes by the definitions, as it reads them itself. */
static void prune_menu(struct vd_vms *vms) {
	if (vms->config.menu != NULL) {
		vd_menu_writer_prune(vms->config.menu);
	}
}

/* Loads the definitions; keeps the channel of every VM whose definition did not change. */
static void load(struct vd_vms *vms, bool first) {
	struct vd_vmconf *confs;
	size_t count = vd_vmconf_load_dirs((const char *const *)vms->dirs, vms->ndirs, &confs);
	struct vd_channel **channels = calloc(count ? count : 1, sizeof(*channels));
	if (channels == NULL) {
		free(confs);
		return;
	}
	size_t added = 0, changed = 0, removed = 0;
	for (size_t i = 0; i < count; i++) {
		struct vd_channel *old = NULL;
		for (size_t k = 0; k < vms->count; k++) {
			if (vms->channels[k] != NULL &&
					strcmp(vd_channel_conf(vms->channels[k])->name, confs[i].name) == 0) {
				old = vms->channels[k];
				vms->channels[k] = NULL;
				break;
			}
		}
		if (old != NULL && vd_vmconf_equal(vd_channel_conf(old), &confs[i])) {
			channels[i] = old;
			continue;
		}
		if (old != NULL) {
			vd_log(VD_INFO, "vm=%s: definition changed", confs[i].name);
			vd_channel_destroy(old);
			changed++;
		} else if (!first) {
			vd_log(VD_INFO, "vm=%s: new definition", confs[i].name);
			added++;
		}
		channels[i] = vd_channel_create(&vms->config, &confs[i]);
		if (channels[i] == NULL) {
			abort();
		}
	}
	for (size_t k = 0; k < vms->count; k++) {
		if (vms->channels[k] != NULL) {
			vd_log(VD_INFO, "vm=%s: definition removed", vd_channel_conf(vms->channels[k])->name);
			vd_channel_destroy(vms->channels[k]);
			removed++;
		}
	}
	free(vms->channels);
	free(confs);
	vms->channels = channels;
	vms->count = count;
	if (!first) {
		vd_log(VD_INFO, "VM definitions reloaded: %zu VMs (%zu new, %zu changed, %zu removed)",
			count, added, changed, removed);
	}
	if (first || removed > 0) {
		prune_menu(vms);
	}
	if (!first && vms->reloaded != NULL) {
		vms->reloaded(vms->reloaded_data);
	}
}

void vd_vms_set_listener(struct vd_vms *vms, void (*reloaded)(void *data), void *data) {
	vms->reloaded = reloaded;
	vms->reloaded_data = data;
}

void vd_vms_reload(struct vd_vms *vms) {
	watch_dirs(vms);
	load(vms, false);
}

static int handle_reload_timer(void *data) {
	vd_vms_reload(data);
	return 0;
}

static int handle_inotify(int fd, uint32_t mask, void *data) {
	struct vd_vms *vms = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(fd, buf, sizeof(buf)) > 0) {
		/* any change: reload shortly, once */
	}
	wl_event_source_timer_update(vms->reload_timer, RELOAD_DELAY_MS);
	return 0;
}

struct vd_vms *vd_vms_create(const struct vd_channel_config *config, const char *const *dirs,
		size_t ndirs) {
	struct vd_vms *vms = calloc(1, sizeof(*vms));
	if (vms == NULL) {
		return NULL;
	}
	vms->config = *config;
	vms->inotify_fd = -1;
	for (size_t i = 0; i < ndirs && i < MAX_DIRS; i++) {
		vms->dirs[vms->ndirs] = strdup(dirs[i]);
		if (vms->dirs[vms->ndirs] == NULL) {
			vd_vms_destroy(vms);
			return NULL;
		}
		vms->ndirs++;
	}
	vms->reload_timer = wl_event_loop_add_timer(config->loop, handle_reload_timer, vms);
	vms->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (vms->inotify_fd >= 0) {
		vms->inotify_source = wl_event_loop_add_fd(config->loop, vms->inotify_fd,
			WL_EVENT_READABLE, handle_inotify, vms);
	} else {
		vd_log_errno(VD_WARN, "inotify: VM definitions are reloaded on SIGHUP only");
	}
	if (vms->reload_timer == NULL) {
		vd_vms_destroy(vms);
		return NULL;
	}
	watch_dirs(vms);
	load(vms, true);
	return vms;
}

void vd_vms_destroy(struct vd_vms *vms) {
	if (vms == NULL) {
		return;
	}
	for (size_t i = 0; i < vms->count; i++) {
		vd_channel_destroy(vms->channels[i]);
	}
	free(vms->channels);
	if (vms->inotify_source != NULL) {
		wl_event_source_remove(vms->inotify_source);
	}
	if (vms->inotify_fd >= 0) {
		close(vms->inotify_fd);
	}
	if (vms->reload_timer != NULL) {
		wl_event_source_remove(vms->reload_timer);
	}
	for (size_t i = 0; i < vms->ndirs; i++) {
		free(vms->dirs[i]);
	}
	free(vms);
}

struct vd_channel *vd_vms_find(struct vd_vms *vms, const char *name) {
	for (size_t i = 0; i < vms->count; i++) {
		if (strcmp(vd_channel_conf(vms->channels[i])->name, name) == 0) {
			return vms->channels[i];
		}
	}
	return NULL;
}

size_t vd_vms_count(const struct vd_vms *vms) {
	return vms->count;
}

struct vd_channel *vd_vms_at(struct vd_vms *vms, size_t i) {
	return vms->channels[i];
}
