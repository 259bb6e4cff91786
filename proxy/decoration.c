#define LOG_TAG "decoration"

#include <stdlib.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/policy.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * Who decorates. The proxy draws every window's frame, so:
 *
 * - toward the compositor, each framed toplevel negotiates client-side
 *   decoration through a zxdg_toplevel_decoration_v1 of the proxy's own
 *   (sway and KWin then draw no border or title bar of their own), whatever
 *   the VM's client asks;
 * - toward the VM's clients, the proxy itself serves
 *   zxdg_decoration_manager_v1 and org_kde_kwin_server_decoration_manager
 *   (the compositor's are hidden) and always answers server-side, so that
 *   toolkits (Qt through the first, GTK through the second) draw no title
 *   bar and no shadows of their own.
 *
 * With --no-frames nothing of this happens: the compositor's globals pass.
 */

#define SERVED_VERSION 1

bool decoration_served_interface(const struct vd_server *server, const char *interface) {
	return server->frames && (strcmp(interface, "zxdg_decoration_manager_v1") == 0 ||
		strcmp(interface, "org_kde_kwin_server_decoration_manager") == 0);
}

/* Toward the compositor */

static void own_decoration_event(struct vd_session *session, struct vd_object *object,
		const struct vd_wire_message *msg, const int *fds) {
	/* configure: whatever the compositor answers, the frame is drawn */
}

/* The compositor destroyed it (wlroots does, with the toplevel's surface). */
static void own_decoration_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_toplevel *toplevel = object->data;
	if (toplevel != NULL && toplevel->decoration == object) {
		toplevel->decoration = NULL;
	}
}

static const struct vd_object_impl own_decoration_impl = {
	.event = own_decoration_event,
	.gone = own_decoration_gone,
};

void decoration_toplevel_created(struct vd_session *session, struct vd_toplevel *toplevel) {
	struct vd_object *manager = session->shell->decoration_manager;
	if (manager == NULL || toplevel->decoration != NULL) {
		return;
	}
	toplevel->decoration = vd_session_new_object(session, &vd_iface_zxdg_toplevel_decoration_v1,
		1, &own_decoration_impl, toplevel);
	if (toplevel->decoration == NULL) {
		return;
	}
	vd_session_request(session, manager,
		VD_ZXDG_DECORATION_MANAGER_V1_REQUEST_GET_TOPLEVEL_DECORATION, "no",
		toplevel->decoration, toplevel->object);
	vd_session_request(session, toplevel->decoration,
		VD_ZXDG_TOPLEVEL_DECORATION_V1_REQUEST_SET_MODE, "u",
		VD_ZXDG_TOPLEVEL_DECORATION_V1_MODE_CLIENT_SIDE);
}

void decoration_toplevel_destroyed(struct vd_session *session, struct vd_toplevel *toplevel) {
	vd_session_destroy_object(session, toplevel->decoration,
		VD_ZXDG_TOPLEVEL_DECORATION_V1_REQUEST_DESTROY);
	toplevel->decoration = NULL;
	if (toplevel->client_decoration != NULL) {
		toplevel->client_decoration->data = NULL;
		toplevel->client_decoration = NULL;
	}
}

/* Toward the client: the served globals */

static void assign_names(struct vd_session *session) {
	struct vd_shell *shell = session->shell;
	if (shell->served_globals) {
		return;
	}
	shell->served_globals = true;
	const struct vd_server *server = session->server;
	if (!server->frames) {
		return;
	}
	if (vd_policy_max_version(server->policy, "zxdg_decoration_manager_v1") > 0) {
		shell->xdg_decoration_name = ++session->global_names;
	}
	if (vd_policy_max_version(server->policy, "org_kde_kwin_server_decoration_manager") > 0) {
		shell->kde_decoration_name = ++session->global_names;
	}
}

bool decoration_handle_get_registry_done(struct vd_hook_ctx *ctx) {
	struct vd_session *session = ctx->session;
	struct vd_object *registry = ctx->new_objects[0];
	assign_names(session);
	struct vd_shell *shell = session->shell;
	if (shell->xdg_decoration_name != 0) {
		vd_session_event(session, registry, VD_WL_REGISTRY_EVENT_GLOBAL, "usu",
			shell->xdg_decoration_name, vd_iface_zxdg_decoration_manager_v1.name,
			SERVED_VERSION);
	}
	if (shell->kde_decoration_name != 0) {
		vd_session_event(session, registry, VD_WL_REGISTRY_EVENT_GLOBAL, "usu",
			shell->kde_decoration_name, vd_iface_org_kde_kwin_server_decoration_manager.name,
			SERVED_VERSION);
	}
	return true;
}

static const struct vd_interface *served_interface(struct vd_session *session, uint32_t name) {
	struct vd_shell *shell = session->shell;
	if (name != 0 && name == shell->xdg_decoration_name) {
		return &vd_iface_zxdg_decoration_manager_v1;
	}
	if (name != 0 && name == shell->kde_decoration_name) {
		return &vd_iface_org_kde_kwin_server_decoration_manager;
	}
	return NULL;
}

bool decoration_bind(struct vd_hook_ctx *ctx, uint32_t name) {
	const struct vd_interface *interface = served_interface(ctx->session, name);
	if (interface == NULL) {
		return false;
	}
	const struct vd_wire_arg *new_id = &ctx->msg->args[1];
	if (strcmp(new_id->new_interface, interface->name) != 0 || new_id->new_version == 0 ||
			new_id->new_version > SERVED_VERSION) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_WL_DISPLAY_ERROR_INVALID_OBJECT, "invalid bind of global %u (%s v%u)", name,
			interface->name, SERVED_VERSION);
	}
	return true;
}

static const struct vd_object_impl manager_impl = { 0 };
static const struct vd_object_impl kde_manager_impl = { 0 };

bool decoration_handle_bind_done(struct vd_hook_ctx *ctx) {
	const struct vd_interface *interface = served_interface(ctx->session, ctx->msg->args[0].u);
	if (interface == NULL || ctx->forwarded || ctx->new_object_count == 0) {
		return true;
	}
	struct vd_object *object = ctx->new_objects[0];
	if (interface == &vd_iface_zxdg_decoration_manager_v1) {
		object->impl = &manager_impl;
	} else {
		object->impl = &kde_manager_impl;
		vd_session_event(ctx->session, object,
			VD_ORG_KDE_KWIN_SERVER_DECORATION_MANAGER_EVENT_DEFAULT_MODE, "u",
			VD_ORG_KDE_KWIN_SERVER_DECORATION_MANAGER_MODE_SERVER);
	}
	return true;
}

/* zxdg_decoration_manager_v1, served */

static void client_decoration_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_toplevel *toplevel = object->data;
	if (toplevel != NULL && toplevel->client_decoration == object) {
		toplevel->client_decoration = NULL;
	}
	object->data = NULL;
}

static const struct vd_object_impl client_decoration_impl = {
	.gone = client_decoration_gone,
};

bool decoration_manager_handle_get_toplevel_decoration(struct vd_hook_ctx *ctx) {
	struct vd_object *object = vd_session_client_object(ctx->session, ctx->msg->args[1].id);
	struct vd_toplevel *toplevel = object != NULL ? xdg_toplevel_from(object) : NULL;
	if (toplevel != NULL && toplevel->client_decoration != NULL) {
		vd_session_client_error(ctx->session, ctx->object->client_id,
			VD_ZXDG_TOPLEVEL_DECORATION_V1_ERROR_ALREADY_CONSTRUCTED,
			"xdg_toplevel@%u already has a decoration object", ctx->msg->args[1].id);
	}
	return false; // served here
}

static void send_server_side(struct vd_session *session, struct vd_object *decoration) {
	vd_session_event(session, decoration, VD_ZXDG_TOPLEVEL_DECORATION_V1_EVENT_CONFIGURE, "u",
		VD_ZXDG_TOPLEVEL_DECORATION_V1_MODE_SERVER_SIDE);
}

bool decoration_manager_handle_get_toplevel_decoration_done(struct vd_hook_ctx *ctx) {
	if (ctx->object->impl != &manager_impl || ctx->new_object_count == 0) {
		return true;
	}
	struct vd_object *object = ctx->new_objects[0];
	struct vd_object *top = vd_session_client_object(ctx->session, ctx->msg->args[1].id);
	struct vd_toplevel *toplevel = top != NULL ? xdg_toplevel_from(top) : NULL;
	object->impl = &client_decoration_impl;
	object->data = toplevel;
	if (toplevel != NULL) {
		toplevel->client_decoration = object;
	}
	send_server_side(ctx->session, object);
	return true;
}

bool decoration_handle_set_mode(struct vd_hook_ctx *ctx) {
	if (ctx->object->impl == &client_decoration_impl) {
		send_server_side(ctx->session, ctx->object); // whatever was asked
	}
	return false;
}

/* org_kde_kwin_server_decoration_manager, served */

static const struct vd_object_impl kde_decoration_impl = { 0 };

bool kde_decoration_manager_handle_create_done(struct vd_hook_ctx *ctx) {
	if (ctx->object->impl != &kde_manager_impl || ctx->new_object_count == 0) {
		return true;
	}
	struct vd_object *object = ctx->new_objects[0];
	object->impl = &kde_decoration_impl;
	vd_session_event(ctx->session, object, VD_ORG_KDE_KWIN_SERVER_DECORATION_EVENT_MODE, "u",
		VD_ORG_KDE_KWIN_SERVER_DECORATION_MODE_SERVER);
	return true;
}

bool kde_decoration_handle_request_mode(struct vd_hook_ctx *ctx) {
	if (ctx->object->impl == &kde_decoration_impl) {
		vd_session_event(ctx->session, ctx->object, VD_ORG_KDE_KWIN_SERVER_DECORATION_EVENT_MODE,
			"u", VD_ORG_KDE_KWIN_SERVER_DECORATION_MODE_SERVER);
	}
	return false;
}
