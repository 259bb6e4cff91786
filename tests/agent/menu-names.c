#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/menu.h"

/*
 * menu-names NAME...: the menu's side of the VM name rule. For each name,
 * stages and commits a snapshot of one app into the menu under
 * $XDG_DATA_HOME and $XDG_CONFIG_HOME; prints "NAME ok" or "NAME refused"
 * per line. tests/agent/test-agent-names.py compares it with the proxy, the
 * VM definitions and the clipboard link.
 */

int main(int argc, char *argv[]) {
	struct wl_event_loop *loop = wl_event_loop_create();
	struct vd_menu *menu = vd_menu_create("/usr/bin/vmdesk");
	if (menu == NULL) {
		fprintf(stderr, "menu-names: no XDG directories\n");
		return 1;
	}
	struct vd_color color = {0x33, 0x99, 0x33};
	struct vd_link_app app = {.id = "names-test.desktop", .name = "Names", .generic_name = "",
		.comment = "", .categories = "", .icon_name = "", .wm_class = ""};
	for (int i = 1; i < argc; i++) {
		struct vd_menu_snapshot *snapshot = vd_menu_snapshot_begin(menu, argv[i], color);
		char err[512];
		bool ok = snapshot != NULL && vd_menu_snapshot_add(snapshot, &app, err, sizeof(err));
		if (ok) {
			vd_menu_snapshot_commit(snapshot);
		} else {
			vd_menu_snapshot_abort(snapshot);
		}
		printf("%s %s\n", argv[i], ok ? "ok" : "refused");
	}
	vd_menu_destroy(menu);
	wl_event_loop_destroy(loop);
	return 0;
}
