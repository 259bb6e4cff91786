#include <stdlib.h>
#include <string.h>

#include "host/clipboard/host-toplevels.h"
#include "wlr-foreign-toplevel-management-unstable-v1-client-protocol.h"

/* More than any desktop shows; a compositor past it is not followed further. */
#define MAX_TOPLEVELS 4096

struct toplevel {
	struct vd_host_toplevels *owner;
	struct zwlr_foreign_toplevel_handle_v1 *handle;
	char *app_id;
	bool activated, activated_pending;
	struct wl_list link; // vd_host_toplevels.toplevels
};

static void toplevel_destroy(struct toplevel *t) {
	t->owner->count--;
	zwlr_foreign_toplevel_handle_v1_destroy(t->handle);
	wl_list_remove(&t->link);
	free(t->app_id);
	free(t);
}

static void toplevel_handle_title(void *data, struct zwlr_foreign_toplevel_handle_v1 *handle,
		const char *title) {
}

static void toplevel_handle_app_id(void *data, struct zwlr_foreign_toplevel_handle_v1 *handle,
		const char *app_id) {
	struct toplevel *t = data;
	free(t->app_id);
	t->app_id = strdup(app_id);
}

static void toplevel_handle_output(void *data, struct zwlr_foreign_toplevel_handle_v1 *handle,
		struct wl_output *output) {
}

static void toplevel_handle_state(void *data, struct zwlr_foreign_toplevel_handle_v1 *handle,
		struct wl_array *state) {
	struct toplevel *t = data;
	t->activated_pending = false;
	uint32_t *entry;
	wl_array_for_each(entry, state) {
		if (*entry == ZWLR_FOREIGN_TOPLEVEL_HANDLE_V1_STATE_ACTIVATED) {
			t->activated_pending = true;
		}
	}
}

static void toplevel_handle_done(void *data, struct zwlr_foreign_toplevel_handle_v1 *handle) {
	struct toplevel *t = data;
	t->activated = t->activated_pending;
}

static void toplevel_handle_closed(void *data, struct zwlr_foreign_toplevel_handle_v1 *handle) {
	toplevel_destroy(data);
}

static void toplevel_handle_parent(void *data, struct zwlr_foreign_toplevel_handle_v1 *handle,
		struct zwlr_foreign_toplevel_handle_v1 *parent) {
}

static const struct zwlr_foreign_toplevel_handle_v1_listener toplevel_listener = {
	.title = toplevel_handle_title,
	.app_id = toplevel_handle_app_id,
	.output_enter = toplevel_handle_output,
	.output_leave = toplevel_handle_output,
	.state = toplevel_handle_state,
	.done = toplevel_handle_done,
	.closed = toplevel_handle_closed,
	.parent = toplevel_handle_parent,
};

static void manager_handle_toplevel(void *data,
		struct zwlr_foreign_toplevel_manager_v1 *manager,
		struct zwlr_foreign_toplevel_handle_v1 *handle) {
	struct vd_host_toplevels *toplevels = data;
	struct toplevel *t = toplevels->count < MAX_TOPLEVELS ? calloc(1, sizeof(*t)) : NULL;
	if (t == NULL) {
		zwlr_foreign_toplevel_handle_v1_destroy(handle);
		return;
	}
	t->owner = toplevels;
	t->handle = handle;
	wl_list_insert(&toplevels->toplevels, &t->link);
	toplevels->count++;
	zwlr_foreign_toplevel_handle_v1_add_listener(handle, &toplevel_listener, t);
}

static void manager_handle_finished(void *data,
		struct zwlr_foreign_toplevel_manager_v1 *manager) {
	struct vd_host_toplevels *toplevels = data;
	zwlr_foreign_toplevel_manager_v1_destroy(toplevels->manager);
	toplevels->manager = NULL;
}

static const struct zwlr_foreign_toplevel_manager_v1_listener manager_listener = {
	.toplevel = manager_handle_toplevel,
	.finished = manager_handle_finished,
};

void host_toplevels_init(struct vd_host_toplevels *toplevels) {
	*toplevels = (struct vd_host_toplevels){ 0 };
	wl_list_init(&toplevels->toplevels);
}

void host_toplevels_finish(struct vd_host_toplevels *toplevels) {
	struct toplevel *t, *tmp;
	wl_list_for_each_safe(t, tmp, &toplevels->toplevels, link) {
		toplevel_destroy(t);
	}
	if (toplevels->manager != NULL) {
		zwlr_foreign_toplevel_manager_v1_destroy(toplevels->manager);
		toplevels->manager = NULL;
	}
}

void host_toplevels_handle_global(struct vd_host_toplevels *toplevels,
		struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
	if (strcmp(interface, zwlr_foreign_toplevel_manager_v1_interface.name) != 0 ||
			toplevels->manager != NULL) {
		return;
	}
	toplevels->manager = wl_registry_bind(registry, name,
		&zwlr_foreign_toplevel_manager_v1_interface, version < 3 ? version : 3);
	zwlr_foreign_toplevel_manager_v1_add_listener(toplevels->manager, &manager_listener,
		toplevels);
}

bool host_toplevels_tracking(const struct vd_host_toplevels *toplevels) {
	return toplevels->manager != NULL;
}

const char *host_toplevels_activated_app_id(const struct vd_host_toplevels *toplevels) {
	struct toplevel *t;
	wl_list_for_each(t, &toplevels->toplevels, link) {
		if (t->activated) {
			return t->app_id != NULL ? t->app_id : "";
		}
	}
	return NULL;
}
