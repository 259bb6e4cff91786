#ifndef HOST_MENU_H
#define HOST_MENU_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "decoration/color.h"
#include "protocols/agent-wire.h"

/*
 * Host menu entries for guest applications (XDG desktop entry and menu specs):
 *   $XDG_DATA_HOME/applications/vmdesk-VM-ID            (ID ends in .desktop)
 *   $XDG_DATA_HOME/icons/hicolor/SxS/apps/vmdesk-VM-ID.png (ID without .desktop)
 *   $XDG_DATA_HOME/desktop-directories/vmdesk-VM.directory
 *   $XDG_CONFIG_HOME/menus/applications-merged/vmdesk-VM.menu
 * Every entry carries X-Vmdesk-VM and X-Vmdesk-App, which is what decides
 * ownership: an entry is only replaced or removed by its own VM.
 */

struct vd_menu {
	char apps_dir[PATH_MAX];
	char icons_dir[PATH_MAX]; // .../icons/hicolor
	char directories_dir[PATH_MAX];
	char menus_dir[PATH_MAX];
	char exec[PATH_MAX]; // the vmdesk CLI, as written in Exec lines
};

/* Fills the directories from $XDG_DATA_HOME / $XDG_CONFIG_HOME / $HOME. */
bool vd_menu_init(struct vd_menu *menu, const char *cli_path);

/*
 * Writes (or replaces) the entry and icon of one guest application. The app
 * comes from the decoder; this applies the host's own rules on top.
 */
bool vd_menu_write_app(const struct vd_menu *menu, const char *vm, struct vd_color color,
	const struct vd_agent_app *app, char *err, size_t err_size);

/* Writes the VM's submenu and removes its entries whose ID is not in ids. */
void vd_menu_commit_vm(const struct vd_menu *menu, const char *vm, char **ids, size_t nids);

/* Removes every entry, icon and submenu of VMs not in vms. */
void vd_menu_prune(const struct vd_menu *menu, char **vms, size_t nvms);

/* Runs update-desktop-database on the applications directory, if installed. */
void vd_menu_update_database(const struct vd_menu *menu);

/* Keeps the freedesktop main categories of a Categories value (";"-terminated). */
void vd_menu_filter_categories(const char *in, char *out, size_t size);

#endif
