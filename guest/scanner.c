#define LOG_TAG "scanner"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/scanner.h"
#include "protocols/clock.h"
#include "protocols/log.h"

#define RESCAN_DELAY_MS 300

struct vd_scanner {
	struct wl_event_loop *loop;
	int icon_size;
	void (*done)(void *data, struct vd_guest_apps *apps);
	void *data;
	struct vd_guest_apps *last;

	int inotify_fd;
	struct wl_event_source *inotify_source;
	struct wl_event_source *delay; // RESCAN_DELAY_MS after a change

	/* the thread: one scan at a time */
	pthread_t thread;
	bool running;
	bool again; // a change came during the scan
	int event_fd; // the thread says it is done
	struct wl_event_source *event_source;
	struct vd_guest_apps *result; // written by the thread, read after join
	uint64_t started_at;
};

static void watch_dirs(struct vd_scanner *scanner) {
	if (scanner->inotify_fd < 0) {
		return;
	}
	size_t ndirs;
	char **dirs = vd_guest_data_dirs(&ndirs);
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
		IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF;
	for (size_t i = 0; i < ndirs; i++) {
		char path[4096];
		inotify_add_watch(scanner->inotify_fd, dirs[i], IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
		snprintf(path, sizeof(path), "%s/applications", dirs[i]);
		if (inotify_add_watch(scanner->inotify_fd, path, mask | IN_ONLYDIR) < 0) {
			continue;
		}
		/* one level of vendor subdirectories (e.g. applications/kde4) */
		DIR *d = opendir(path);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			char sub[4096 + 260];
			struct stat st;
			if (de->d_name[0] == '.') {
				continue;
			}
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
				inotify_add_watch(scanner->inotify_fd, sub, mask | IN_ONLYDIR);
			}
		}
		if (d != NULL) {
			closedir(d);
		}
	}
	vd_guest_data_dirs_free(dirs, ndirs);
}

static void *scan_thread(void *data) {
	struct vd_scanner *scanner = data;
	scanner->result = vd_guest_apps_scan(scanner->icon_size);
	uint64_t one = 1;
	if (write(scanner->event_fd, &one, sizeof(one)) < 0) {
		/* the eventfd cannot be full */
	}
	return NULL;
}

static void start_scan(struct vd_scanner *scanner) {
	if (scanner->running) {
		scanner->again = true;
		return;
	}
	scanner->result = NULL;
	scanner->started_at = vd_now_ms();
	if (pthread_create(&scanner->thread, NULL, scan_thread, scanner) != 0) {
		vd_log(VD_WARN, "cannot start a scan thread: scanning in the loop");
		scanner->result = vd_guest_apps_scan(scanner->icon_size);
		uint64_t one = 1;
		if (write(scanner->event_fd, &one, sizeof(one)) < 0) {
			/* see above */
		}
		return;
	}
	scanner->running = true;
}

static int handle_done(int fd, uint32_t mask, void *data) {
	struct vd_scanner *scanner = data;
	uint64_t count;
	if (read(fd, &count, sizeof(count)) != sizeof(count)) {
		return 0;
	}
	if (scanner->running) {
		pthread_join(scanner->thread, NULL);
		scanner->running = false;
	}
	struct vd_guest_apps *apps = scanner->result;
	scanner->result = NULL;
	watch_dirs(scanner); // new directories may have appeared
	if (apps != NULL) {
		vd_log(VD_INFO, "found %zu applications (%llu ms)", apps->count,
			(unsigned long long)(vd_now_ms() - scanner->started_at));
		if (scanner->last != NULL && vd_guest_apps_equal(scanner->last, apps)) {
			vd_guest_apps_unref(apps);
		} else {
			vd_guest_apps_unref(scanner->last);
			scanner->last = apps;
			scanner->done(scanner->data, apps);
		}
	}
	if (scanner->again) {
		scanner->again = false;
		wl_event_source_timer_update(scanner->delay, RESCAN_DELAY_MS);
	}
	return 0;
}

static int handle_delay(void *data) {
	start_scan(data);
	return 0;
}

static int handle_inotify(int fd, uint32_t mask, void *data) {
	struct vd_scanner *scanner = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(fd, buf, sizeof(buf)) > 0) {
		/* any change: rescan shortly, once */
	}
	wl_event_source_timer_update(scanner->delay, RESCAN_DELAY_MS);
	return 0;
}

struct vd_scanner *vd_scanner_create(struct wl_event_loop *loop, int icon_size,
		void (*done)(void *data, struct vd_guest_apps *apps), void *data) {
	struct vd_scanner *scanner = calloc(1, sizeof(*scanner));
	if (scanner == NULL) {
		return NULL;
	}
	scanner->loop = loop;
	scanner->icon_size = icon_size;
	scanner->done = done;
	scanner->data = data;
	scanner->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	scanner->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (scanner->inotify_fd < 0) {
		vd_log_errno(VD_WARN, "inotify: app list updates disabled");
	} else {
		scanner->inotify_source = wl_event_loop_add_fd(loop, scanner->inotify_fd,
			WL_EVENT_READABLE, handle_inotify, scanner);
	}
	scanner->delay = wl_event_loop_add_timer(loop, handle_delay, scanner);
	if (scanner->event_fd >= 0) {
		scanner->event_source = wl_event_loop_add_fd(loop, scanner->event_fd,
			WL_EVENT_READABLE, handle_done, scanner);
	}
	if (scanner->delay == NULL || scanner->event_source == NULL) {
		vd_scanner_destroy(scanner);
		return NULL;
	}
	watch_dirs(scanner);
	start_scan(scanner);
	return scanner;
}

void vd_scanner_destroy(struct vd_scanner *scanner) {
	if (scanner == NULL) {
		return;
	}
	if (scanner->running) {
		pthread_join(scanner->thread, NULL);
	}
	vd_guest_apps_unref(scanner->result);
	vd_guest_apps_unref(scanner->last);
	if (scanner->event_source != NULL) {
		wl_event_source_remove(scanner->event_source);
	}
	if (scanner->event_fd >= 0) {
		close(scanner->event_fd);
	}
	if (scanner->inotify_source != NULL) {
		wl_event_source_remove(scanner->inotify_source);
	}
	if (scanner->inotify_fd >= 0) {
		close(scanner->inotify_fd);
	}
	if (scanner->delay != NULL) {
		wl_event_source_remove(scanner->delay);
	}
	free(scanner);
}

void vd_scanner_request(struct vd_scanner *scanner) {
	wl_event_source_timer_update(scanner->delay, RESCAN_DELAY_MS);
}
