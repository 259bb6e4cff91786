#ifndef HOST_MENU_WRITER_H
#define HOST_MENU_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <wayland-server-core.h>

#include "protocols/link.h"
#include "protocols/sandbox.h"

/*
 * The menu writer: the one process that writes the host menu's files
 * (host/menu.h: entries, icons, submenus). vmdesk-hostd parses what the VMs
 * send, so a VM that took it over must not be able to write a desktop entry
 * of its own: the Exec line of one runs on the user's click, and hostd
 * could replace the user's own entries in the same directory. So hostd has
 * no access to those directories at all (Landlock). It forks the writer at
 * startup and hands it each VM's application list, already decoded, on a
 * link of the host set (cap menu: MENU_BEGIN, MENU_APP, MENU_END,
 * MENU_ABORT, MENU_PRUNE). The writer decodes every message again and
 * builds every file itself:
 *   - Exec is always "CLI run VM --app ID", CLI from hostd's command line
 *     at the fork, VM and ID checked by their one rule (protocols/names.h);
 *   - a VM's color, for the icons' border, and the list of VMs, for
 *     pruning, come from the VM definitions, which the writer reads itself
 *     (read-only to hostd too);
 *   - icons are drawn from checked raw RGBA and encoded here.
 * A compromised hostd can at most make the writer write entries that
 * start a defined VM's application by its ID, under that VM's name.
 *
 * The writer may change only the menu's four directories and read the VM
 * definitions (Landlock), and runs under its own seccomp list
 * (host/sandbox-menu-writer.c): no exec, no sockets, no signals. It ends
 * when hostd closes the link. update-desktop-database is still hostd's to
 * run, through its spawner, when the writer answers MENU_DONE.
 */

struct vd_children;
struct vd_menu_writer;

struct vd_menu_writer_config {
	const char *cli_path; // the vmdesk command of the Exec lines (NULL: "vmdesk")
	const char *const *config_dirs; // the VM definitions
	size_t nconfig_dirs;
	enum vd_seccomp_mode seccomp; // off: the writer confines nothing (a test's hostd)
};

/*
 * Forks the writer. children: what runs update-desktop-database (NULL:
 * nothing is run). NULL (logged) if the menu's directories cannot be
 * known ($XDG_DATA_HOME, $HOME) or the writer cannot start.
 */
struct vd_menu_writer *vd_menu_writer_create(struct wl_event_loop *loop,
	struct vd_children *children, const struct vd_menu_writer_config *config);
/* Closes the link (the writer ends) and reaps the writer; accepts NULL. */
void vd_menu_writer_destroy(struct vd_menu_writer *writer);
pid_t vd_menu_writer_pid(const struct vd_menu_writer *writer);

/*
 * A VM's snapshot: begin, one add per application (already checked by the
 * VM link's decoder), then commit or abort. Sent in order, without
 * waiting; a snapshot of a VM replaces its open one. What the writer
 * refuses, it logs.
 */
void vd_menu_writer_begin(struct vd_menu_writer *writer, const char *vm);
void vd_menu_writer_add(struct vd_menu_writer *writer, const char *vm,
	const struct vd_link_app *app);
void vd_menu_writer_commit(struct vd_menu_writer *writer, const char *vm);
void vd_menu_writer_abort(struct vd_menu_writer *writer, const char *vm);
/* Removes the entries of VMs the definitions no longer name. */
void vd_menu_writer_prune(struct vd_menu_writer *writer);

#endif
