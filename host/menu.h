#ifndef HOST_MENU_H
#define HOST_MENU_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "decoration/color.h"
#include "protocols/link.h"

/*
 * Menu export: host menu entries for the applications a VM's guest lists
 * (XDG desktop entry and menu specs). For VM VM and guest desktop ID ID
 * (ID ends in .desktop):
 *   $XDG_DATA_HOME/applications/vmdesk.VM.ID
 *   $XDG_DATA_HOME/icons/hicolor/SxS/apps/vmdesk.VM.ID-without-.desktop.png
 *   $XDG_DATA_HOME/desktop-directories/vmdesk.VM.directory
 *   $XDG_CONFIG_HOME/menus/applications-merged/vmdesk.VM.menu
 * VM names hold no '.', so a file name says which VM it belongs to: no VM
 * can write another's entry. Every entry carries X-Vmdesk-VM and
 * X-Vmdesk-App, which decide ownership: an entry is only replaced or
 * removed by its own VM, and a file without them is never touched.
 *
 * A guest's list arrives as a snapshot (APPS_BEGIN, APP..., APPS_END):
 * entries are staged in memory, at most VD_MENU_MAX_STAGED bytes per VM, and
 * written only when the snapshot is complete; a snapshot that never ends
 * leaves nothing behind.
 */

#define VD_MENU_MAX_STAGED (16u * 1024u * 1024u)

struct vd_menu;
struct vd_menu_snapshot;

/*
 * Directories from $XDG_DATA_HOME / $XDG_CONFIG_HOME / $HOME; NULL without
 * them. cli_path: the vmdesk command of the Exec lines. In vmdesk-hostd
 * only its menu writer (host/menu-writer.h) has one.
 */
struct vd_menu *vd_menu_create(const char *cli_path);

/* Where the menu's entries go ($XDG_DATA_HOME/applications); false without a home. */
bool vd_menu_apps_dir(char *out, size_t size);
/* The update-desktop-database the menu runs over it ("PROGRAM -q DIR"): the first there. */
#define VD_MENU_DB_PROGRAMS 2
extern const char *const vd_menu_db_programs[VD_MENU_DB_PROGRAMS];
/*
 * Creates the directories the menu writes in (applications, icons/hicolor,
 * desktop-directories, menus/applications-merged) and puts those it could
 * make in dirs (VD_MENU_DIRS of them at most); returns their number. For
 * the Landlock rule set that confines hostd's writes (and reads) to them.
 */
#define VD_MENU_DIRS 4
size_t vd_menu_make_dirs(struct vd_menu *menu, const char **dirs);
void vd_menu_destroy(struct vd_menu *menu);

/* NULL if vm is not a valid VM name (or out of memory). */
struct vd_menu_snapshot *vd_menu_snapshot_begin(struct vd_menu *menu, const char *vm,
	struct vd_color color);
/*
 * Stages one application (already checked by the decoder): applies the
 * host's own rules, draws the icon with the VM's border. False with the
 * reason if the entry is refused; the snapshot goes on.
 */
bool vd_menu_snapshot_add(struct vd_menu_snapshot *snapshot, const struct vd_link_app *app,
	char *err, size_t err_size);
/* Writes the staged entries and the VM's submenu, removes its other entries; frees snapshot. */
void vd_menu_snapshot_commit(struct vd_menu_snapshot *snapshot);
/* Drops the staged entries; accepts NULL. */
void vd_menu_snapshot_abort(struct vd_menu_snapshot *snapshot);

/*
 * Removes every entry, icon and submenu of VMs not in vms (entries of older
 * versions too); returns the number of entries removed.
 */
size_t vd_menu_prune(struct vd_menu *menu, char **vms, size_t nvms);

/* Keeps the freedesktop main categories of a Categories value (";"-terminated). */
void vd_menu_filter_categories(const char *in, char *out, size_t size);

/* The bordered icon as a PNG of edge *size (16..256) from width x height RGBA. */
bool vd_menu_icon_png(const uint8_t *rgba, uint32_t width, uint32_t height, struct vd_color color,
	uint8_t **png, size_t *png_len, int *size);

#endif
