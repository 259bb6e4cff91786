#ifndef HOST_LAUNCHER_PRIVATE_H
#define HOST_LAUNCHER_PRIVATE_H

/* The inside of the launcher, shared by launcher.c and launcher-status.c. */

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "host/launcher.h"
#include "host/vmconf.h"
#include "protocols/names.h"

/* One VM the launcher has heard of: its machine (if it ever ran here) and its windows. */
struct entry {
	struct wl_list link; // vd_launcher.entries
	char name[VD_VM_NAME_MAX + 1];
	struct vd_machine *machine; // NULL: never started nor found running
	struct vd_vmconf *started_conf; // the definition at the start (NULL: found running)
	bool windows_known;
	uint32_t windows;
	uint64_t windows_zero_since;
	uint64_t running_since; // when the machine became running (vd_now_ms), 0: not running
	char idle_note[160];
};

enum op_kind {
	OP_START,
	OP_STOP,
};

struct vd_launcher_op {
	struct wl_list link; // vd_launcher.ops
	struct vd_launcher *launcher;
	enum op_kind kind;
	char name[VD_VM_NAME_MAX + 1];
	bool no_wait;
	bool announced;
	uint32_t timeout_s;
	vd_launcher_event event; // NULL once detached
	void *data;
	struct wl_event_source *timer;
};

struct vd_launcher {
	struct vd_launcher_config config;
	struct wl_list entries; // entry.link
	size_t nentries;
	struct wl_list ops; // vd_launcher_op.link
	struct wl_event_source *sync_idle;
	struct wl_event_source *idle_timer;
	bool syncing;
	void (*shutdown_done)(void *data);
	void *shutdown_data;
};

/* The entry of VM name, or NULL. */
struct entry *launcher_find_entry(struct vd_launcher *launcher, const char *name);
/* VM name's definition, or NULL. */
const struct vd_vmconf *launcher_find_conf(struct vd_launcher *launcher, const char *name);

#endif
