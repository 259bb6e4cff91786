#define LOG_TAG "shell"

#include <stdlib.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/focus.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * The proxy's own globals on each client's compositor connection: the
 * wl_compositor, wl_subcompositor and wl_shm it draws frames with, the
 * wp_viewporter it crops windows with and the zxdg_decoration_manager_v1 it
 * declines the compositor's decorations with. They are bound on a registry
 * of the proxy's own, which the client never sees.
 */

static void registry_event(struct vd_session *session, struct vd_object *object,
		const struct vd_wire_message *msg, const int *fds) {
	struct vd_shell *shell = session->shell;
	if (msg->header.opcode == VD_WL_REGISTRY_EVENT_GLOBAL_REMOVE) {
		focus_handle_global_remove(session, msg->args[0].u);
		return; // the others stay bound until the session ends
	}
	if (msg->header.opcode != VD_WL_REGISTRY_EVENT_GLOBAL) {
		return;
	}
	uint32_t name = msg->args[0].u;
	const char *interface = msg->args[1].str.data;
	uint32_t version = msg->args[2].u;
	focus_handle_global(session, shell->registry, name, interface, version);
	struct vd_object **slot = NULL;
	const struct vd_interface *iface = NULL;
	uint32_t want = 1;
	if (strcmp(interface, "wl_compositor") == 0) {
		slot = &shell->compositor;
		iface = &vd_iface_wl_compositor;
		want = 4;
	} else if (strcmp(interface, "wl_subcompositor") == 0) {
		slot = &shell->subcompositor;
		iface = &vd_iface_wl_subcompositor;
	} else if (strcmp(interface, "wl_shm") == 0) {
		slot = &shell->shm;
		iface = &vd_iface_wl_shm;
	} else if (strcmp(interface, "wp_viewporter") == 0) {
		slot = &shell->viewporter;
		iface = &vd_iface_wp_viewporter;
	} else if (strcmp(interface, "zxdg_decoration_manager_v1") == 0 &&
			session->server->frames) {
		slot = &shell->decoration_manager;
		iface = &vd_iface_zxdg_decoration_manager_v1;
	}
	if (slot == NULL || *slot != NULL) {
		return;
	}
	if (version < want) {
		want = version;
	}
	*slot = vd_session_new_object(session, iface, want, NULL, NULL);
	if (*slot != NULL) {
		vd_session_request(session, shell->registry, VD_WL_REGISTRY_REQUEST_BIND, "usun",
			name, iface->name, want, *slot);
	}
}

static const struct vd_object_impl own_registry_impl = {
	.event = registry_event,
};

bool shell_session_init(struct vd_session *session) {
	struct vd_shell *shell = calloc(1, sizeof(*shell));
	if (shell == NULL) {
		return false;
	}
	session->shell = shell;
	struct vd_object *display = vd_object_map_get(&session->upstream_map, 1);
	shell->registry = vd_session_new_object(session, &vd_iface_wl_registry, 1,
		&own_registry_impl, NULL);
	if (shell->registry == NULL) {
		return false;
	}
	return vd_session_request(session, display, VD_WL_DISPLAY_REQUEST_GET_REGISTRY, "n",
		shell->registry);
}

void shell_session_finish(struct vd_session *session) {
	free(session->shell);
	session->shell = NULL;
}

