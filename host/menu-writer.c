#define LOG_TAG "menu"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/child.h"
#include "host/menu-writer-private.h"
#include "host/menu-writer.h"
#include "host/menu.h"
#include "protocols/helper.h"
#include "protocols/link-conn.h"
#include "protocols/log.h"
#include "protocols/names.h"

/*
 * hostd's end of its menu writer (menu-writer.h): forks it, sends it the
 * snapshots, and runs update-desktop-database when it says it changed files.
 */

/* Icons queued to the writer beyond this are dropped (the entry goes on without one). */
#define MAX_QUEUED_ICONS (32u * 1024u * 1024u)
#define MAX_QUEUE (MAX_QUEUED_ICONS + 16u * 1024u * 1024u)
/* How long the writer has to end once its link closed before it is killed:
 * it ends as soon as it reads the end of its link, after the entry it is
 * writing (an icon takes milliseconds). One stuck cannot hold hostd. */
#define END_TIMEOUT_MS 2000

struct vd_menu_writer {
	struct vd_children *children; // NULL: update-desktop-database is not run
	struct vd_link_conn *conn; // NULL: the writer is gone
	pid_t pid;
	int pidfd; // -1: none (reaping waits without a bound)
	char apps_dir[PATH_MAX];
	/* update-desktop-database, run without waiting for it */
	struct vd_child db;
	bool db_again; // another change came while it ran
	bool warned_queue;
};

static void update_database(struct vd_menu_writer *writer);

static void handle_db_exited(struct vd_child *child, void *data) {
	struct vd_menu_writer *writer = data;
	if (child->status != 0) {
		vd_log(VD_WARN, "update-desktop-database %s", child->how);
	}
	if (writer->db_again) {
		writer->db_again = false;
		update_database(writer);
	}
}

static void update_database(struct vd_menu_writer *writer) {
	if (vd_child_running(&writer->db)) {
		writer->db_again = true; // once more when the running one ends
		return;
	}
	if (writer->children == NULL) {
		return;
	}
	for (size_t i = 0; i < VD_MENU_DB_PROGRAMS; i++) {
		if (access(vd_menu_db_programs[i], X_OK) != 0) {
			continue;
		}
		char *argv[] = {(char *)vd_menu_db_programs[i], "-q", writer->apps_dir, NULL};
		char err[256];
		if (!vd_child_spawn(&writer->db, writer->children, argv, -1, handle_db_exited, writer,
				err, sizeof(err))) {
			vd_log(VD_WARN, "%s", err);
		}
		return;
	}
}

static void handle_message(struct vd_link_conn *conn, const struct vd_link_msg *msg) {
	struct vd_menu_writer *writer = vd_link_conn_data(conn);
	if (msg->type == VD_LINK_MENU_DONE) {
		if (msg->body.menu_done.changed) {
			update_database(writer);
		}
		return;
	}
	vd_link_conn_fail(conn, VD_LINK_ERROR_CODE_PROTOCOL, "protocol error: unexpected %s",
		vd_link_type_name(&vd_link_host, msg->type));
}

/* Reaps the writer, which ends with its link (at once: it has nothing else to do). */
static void reap(struct vd_menu_writer *writer, char *how, size_t size) {
	vd_helper_reap(writer->pid, &writer->pidfd, END_TIMEOUT_MS, how, size);
	writer->pid = 0;
}

static void handle_closed(struct vd_link_conn *conn, const char *reason) {
	struct vd_menu_writer *writer = vd_link_conn_data(conn);
	pid_t pid = writer->pid;
	char how[128];
	reap(writer, how, sizeof(how));
	vd_log(VD_ERROR, "the menu writer (pid %d) is gone (%s; %s): menu entries are no longer "
		"updated", (int)pid, reason != NULL ? reason : "its link closed", how);
	vd_link_conn_destroy(conn);
	writer->conn = NULL;
}

static const struct vd_link_conn_impl writer_impl = {
	.message = handle_message,
	.closed = handle_closed,
};

static void options_fill(struct menu_writer_options *o, const struct vd_menu_writer_config *c) {
	snprintf(o->cli_path, sizeof(o->cli_path), "%s", c->cli_path != NULL ? c->cli_path : "");
	o->nconfig_dirs = 0;
	for (size_t i = 0; i < c->nconfig_dirs && i < 2; i++) {
		snprintf(o->config_dirs[o->nconfig_dirs++], sizeof(o->config_dirs[0]), "%s",
			c->config_dirs[i]);
	}
	o->seccomp = c->seccomp;
}

struct vd_menu_writer *vd_menu_writer_create(struct wl_event_loop *loop,
		struct vd_children *children, const struct vd_menu_writer_config *config) {
	struct vd_menu_writer *writer = calloc(1, sizeof(*writer));
	static struct menu_writer_options options;
	int sv[2] = {-1, -1};
	if (writer == NULL) {
		return NULL;
	}
	writer->pidfd = -1;
	if (!vd_menu_apps_dir(writer->apps_dir, sizeof(writer->apps_dir))) {
		vd_log(VD_WARN, "no XDG_DATA_HOME/HOME: menu integration disabled");
		goto fail;
	}
	options_fill(&options, config);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		vd_log_errno(VD_ERROR, "cannot make the menu writer's socket");
		goto fail;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		vd_log_errno(VD_ERROR, "cannot fork the menu writer");
		goto fail;
	}
	if (pid == 0) {
		menu_writer_main(sv[1], &options);
	}
	close(sv[1]);
	sv[1] = -1;
	writer->pid = pid;
	writer->pidfd = vd_helper_pidfd(pid);
	writer->children = children;
	vd_child_init(&writer->db);
	char software[64];
	snprintf(software, sizeof(software), "vmdesk-hostd %s", VD_VERSION);
	struct vd_link_conn_config link = {.set = &vd_link_host, .role = VD_LINK_ROLE_CLIENT,
		.caps = VD_LINK_CAP_MENU, .software = software, .max_queue = MAX_QUEUE};
	writer->conn = vd_link_conn_create(loop, sv[0], &link, &writer_impl, writer);
	if (writer->conn == NULL) {
		vd_menu_writer_destroy(writer);
		return NULL;
	}
	vd_log(VD_DEBUG, "menu writer started (pid %d)", (int)pid);
	return writer;

fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0) {
			close(sv[i]);
		}
	}
	free(writer);
	return NULL;
}

void vd_menu_writer_destroy(struct vd_menu_writer *writer) {
	if (writer == NULL) {
		return;
	}
	vd_link_conn_destroy(writer->conn);
	vd_child_finish(&writer->db); // it runs on: it is quick
	if (writer->pid > 0) {
		// it ends at the end of its link: reap it
		char how[128];
		reap(writer, how, sizeof(how));
		vd_log(VD_DEBUG, "the menu writer %s", how);
	}
	free(writer);
}

pid_t vd_menu_writer_pid(const struct vd_menu_writer *writer) {
	// (0 once it ended)
	return writer->pid;
}

static void send_vm(struct vd_menu_writer *writer, uint16_t type, const char *vm) {
	if (writer->conn == NULL) {
		return;
	}
	struct vd_link_msg msg = {.type = type};
	/* menu_begin, menu_end and menu_abort are one shape: {vm} */
	msg.body.menu_begin.vm = vm;
	vd_link_conn_send(writer->conn, &msg);
}

void vd_menu_writer_begin(struct vd_menu_writer *writer, const char *vm) {
	writer->warned_queue = false;
	send_vm(writer, VD_LINK_MENU_BEGIN, vm);
}

void vd_menu_writer_add(struct vd_menu_writer *writer, const char *vm,
		const struct vd_link_app *app) {
	if (writer->conn == NULL) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_MENU_APP};
	struct vd_link_menu_app *m = &msg.body.menu_app;
	m->vm = vm;
	m->id = app->id;
	m->name = app->name;
	m->generic_name = app->generic_name;
	m->comment = app->comment;
	m->categories = app->categories;
	m->icon_name = app->icon_name;
	m->wm_class = app->wm_class;
	if (vd_link_conn_queued(writer->conn) + app->icon_len <= MAX_QUEUED_ICONS) {
		m->icon_width = app->icon_width;
		m->icon_height = app->icon_height;
		m->icon = app->icon;
		m->icon_len = app->icon_len;
	} else if (!writer->warned_queue) {
		vd_log(VD_WARN, "vm=%s: the menu writer is %u MiB behind: the rest of the icons are "
			"dropped", vm, MAX_QUEUED_ICONS >> 20);
		writer->warned_queue = true;
	}
	vd_link_conn_send(writer->conn, &msg);
}

void vd_menu_writer_commit(struct vd_menu_writer *writer, const char *vm) {
	send_vm(writer, VD_LINK_MENU_END, vm);
}

void vd_menu_writer_abort(struct vd_menu_writer *writer, const char *vm) {
	send_vm(writer, VD_LINK_MENU_ABORT, vm);
}

void vd_menu_writer_prune(struct vd_menu_writer *writer) {
	if (writer->conn == NULL) {
		return;
	}
	struct vd_link_msg msg = {.type = VD_LINK_MENU_PRUNE};
	vd_link_conn_send(writer->conn, &msg);
}
