#define LOG_TAG "menu-writer"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "host/menu-writer-private.h"
#include "host/menu.h"
#include "host/sandbox-menu-writer.h"
#include "host/vmconf.h"
#include "protocols/helper.h"
#include "protocols/link-conn.h"
#include "protocols/log.h"

/*
 * The menu writer process (menu-writer.h): one link to hostd, a snapshot
 * per VM being sent, and host/menu.c to write the files. Everything it is
 * sent was decoded by the link codec against the host set's rules (VM
 * names, desktop IDs, text, raw RGBA that matches its size); menu.c checks
 * names again where it builds paths.
 */

/* Snapshots open at once (hostd sends one VM's at a time, mostly). */
#define MAX_OPEN 32

struct open_snapshot {
	char vm[VD_VM_NAME_MAX + 1];
	struct vd_menu_snapshot *snapshot;
};

struct writer {
	const struct menu_writer_options *options;
	struct vd_menu *menu;
	struct open_snapshot open[MAX_OPEN];
	bool quit;
};

/* The VM definitions, as hostd reads them (their warnings are hostd's to log). */
static size_t load_definitions(const struct writer *w, struct vd_vmconf **confs) {
	const char *dirs[2];
	for (size_t i = 0; i < w->options->nconfig_dirs; i++) {
		dirs[i] = w->options->config_dirs[i];
	}
	enum vd_log_level level = vd_log_get_level();
	vd_log_set_level(VD_SILENT);
	size_t n = vd_vmconf_load_dirs(dirs, w->options->nconfig_dirs, confs);
	vd_log_set_level(level);
	return n;
}

static struct open_snapshot *find_open(struct writer *w, const char *vm) {
	for (size_t i = 0; i < MAX_OPEN; i++) {
		if (w->open[i].snapshot != NULL && strcmp(w->open[i].vm, vm) == 0) {
			return &w->open[i];
		}
	}
	return NULL;
}

static void drop(struct open_snapshot *o) {
	vd_menu_snapshot_abort(o->snapshot);
	o->snapshot = NULL;
}

static void handle_begin(struct writer *w, const char *vm) {
	struct open_snapshot *o = find_open(w, vm);
	if (o != NULL) {
		drop(o); // a new list replaces the one that never ended
	}
	for (size_t i = 0; o == NULL && i < MAX_OPEN; i++) {
		if (w->open[i].snapshot == NULL) {
			o = &w->open[i];
		}
	}
	if (o == NULL) {
		vd_log(VD_WARN, "vm=%s: %d VMs' menus are being written: this one is not", vm,
			MAX_OPEN);
		return;
	}
	struct vd_vmconf *confs = NULL;
	size_t n = load_definitions(w, &confs);
	const struct vd_vmconf *conf = NULL;
	for (size_t i = 0; i < n && conf == NULL; i++) {
		if (strcmp(confs[i].name, vm) == 0) {
			conf = &confs[i];
		}
	}
	if (conf == NULL) {
		vd_log(VD_WARN, "vm=%s: no such VM is defined: its menu is not written", vm);
	} else {
		o->snapshot = vd_menu_snapshot_begin(w->menu, vm, conf->color);
		snprintf(o->vm, sizeof(o->vm), "%s", vm);
	}
	free(confs);
}

static void handle_app(struct writer *w, const struct vd_link_menu_app *m) {
	struct open_snapshot *o = find_open(w, m->vm);
	if (o == NULL) {
		return; // refused at MENU_BEGIN (logged)
	}
	const struct vd_link_app app = {
		.id = m->id,
		.name = m->name,
		.generic_name = m->generic_name,
		.comment = m->comment,
		.categories = m->categories,
		.icon_name = m->icon_name,
		.wm_class = m->wm_class,
		.icon_width = m->icon_width,
		.icon_height = m->icon_height,
		.icon = m->icon,
		.icon_len = m->icon_len,
	};
	char err[PATH_MAX + 128];
	if (!vd_menu_snapshot_add(o->snapshot, &app, err, sizeof(err))) {
		vd_log(VD_WARN, "vm=%s app refused: %s: %s", m->vm, m->id, err);
	}
}

static void send_done(struct vd_link_conn *conn, bool changed) {
	struct vd_link_msg msg = {.type = VD_LINK_MENU_DONE};
	msg.body.menu_done.changed = changed;
	vd_link_conn_send(conn, &msg);
}

static void handle_end(struct writer *w, struct vd_link_conn *conn, const char *vm) {
	struct open_snapshot *o = find_open(w, vm);
	if (o == NULL) {
		return;
	}
	vd_menu_snapshot_commit(o->snapshot); // frees it
	o->snapshot = NULL;
	send_done(conn, true);
}

static void handle_prune(struct writer *w, struct vd_link_conn *conn) {
	struct vd_vmconf *confs = NULL;
	size_t n = load_definitions(w, &confs);
	char **names = calloc(n + 1, sizeof(char *));
	if (names != NULL) {
		for (size_t i = 0; i < n; i++) {
			names[i] = confs[i].name;
		}
		if (vd_menu_prune(w->menu, names, n) > 0) {
			send_done(conn, true);
		}
	}
	free(names);
	free(confs);
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct writer *w = vd_link_conn_data(conn);
	switch (msg->type) {
	case VD_LINK_MENU_BEGIN:
		handle_begin(w, msg->body.menu_begin.vm);
		break;
	case VD_LINK_MENU_APP:
		handle_app(w, &msg->body.menu_app);
		break;
	case VD_LINK_MENU_END:
		handle_end(w, conn, msg->body.menu_end.vm);
		break;
	case VD_LINK_MENU_ABORT: {
		struct open_snapshot *o = find_open(w, msg->body.menu_abort.vm);
		if (o != NULL) {
			drop(o);
		}
		break;
	}
	case VD_LINK_MENU_PRUNE:
		handle_prune(w, conn);
		break;
	default:
		vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: unexpected %s",
			vd_link_type_name(&vd_link_host, msg->type));
		break;
	}
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct writer *w = vd_link_conn_data(conn);
	vd_log(VD_DEBUG, "hostd's link closed (%s): the menu writer ends", reason);
	w->quit = true;
}

static const struct vd_link_conn_impl writer_impl = {
	.message = handle_message,
	.closed = handle_closed,
};

/* Serves hostd's link on fd from loop (tests/fuzz/fuzz-menu-writer.c: without a process). */
static struct vd_link_conn *menu_writer_attach(struct writer *w, struct wl_event_loop *loop,
		int fd) {
	struct vd_link_conn_config link = {.set = &vd_link_host, .role = VD_LINK_ROLE_SERVER,
		.caps = VD_LINK_CAP_MENU, .software = "vmdesk-hostd menu writer"};
	return vd_link_conn_create(loop, fd, &link, &writer_impl, w);
}

/* Closes the link and drops the snapshots still open. */
static void menu_writer_detach_conn(struct writer *w, struct vd_link_conn *conn) {
	vd_link_conn_destroy(conn);
	for (size_t i = 0; i < MAX_OPEN; i++) {
		if (w->open[i].snapshot != NULL) {
			drop(&w->open[i]);
		}
	}
}

_Noreturn void menu_writer_main(int fd, const struct menu_writer_options *options) {
	// it owns its socket, and nothing else of hostd; it ends when hostd closes its end
	vd_helper_detach(&fd, 1);
	prctl(PR_SET_NAME, "vmdesk-menu"); // last (tests/sandbox/shim.c waits for it)
	static struct writer w;
	w.options = options;
	w.menu = vd_menu_create(options->cli_path[0] != '\0' ? options->cli_path : NULL);
	/* a loop of its own (a new epoll: hostd's stays hostd's) */
	struct wl_event_loop *loop = wl_event_loop_create();
	if (w.menu == NULL || loop == NULL) {
		vd_log(VD_ERROR, "the menu writer cannot start");
		_exit(1);
	}
	const char *dirs[VD_MENU_DIRS];
	size_t ndirs = vd_menu_make_dirs(w.menu, dirs);
	/* startup is done: from here on only what sandbox-menu-writer.c allows */
	if (options->seccomp == VD_SECCOMP_ENFORCE) {
		menu_writer_sandbox_confine_files(dirs, ndirs, options);
	}
	if (!vd_sandbox_enter(menu_writer_sandbox_policy(), options->seccomp)) {
		_exit(1);
	}
	struct vd_link_conn *conn = menu_writer_attach(&w, loop, fd);
	if (conn == NULL) {
		_exit(1);
	}
	while (!w.quit) {
		if (wl_event_loop_dispatch(loop, -1) < 0 && errno != EINTR) {
			_exit(1);
		}
	}
	menu_writer_detach_conn(&w, conn); // what it staged of a list that never ended goes
	_exit(0);
}
