#define LOG_TAG "shell"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoration/title.h"
#include "protocols/log.h"
#include "proxy/policy.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * xdg-shell and wl_surface tracking. Titles become "[vm] title", app IDs
 * "vmdesk.vm.app_id"; a toplevel's window geometry grows by its frame and
 * the compositor's configure sizes shrink by it, so the compositor places
 * the framed window and the client draws inside the frame.
 */

#define XDG_TOPLEVEL_SET_MAXIMIZED 9
#define XDG_TOPLEVEL_UNSET_MAXIMIZED 10
#define XDG_TOPLEVEL_STATE_FULLSCREEN 2
#define MAX_SIZE 32767

/* Replacement messages are built here (single-threaded). */
static uint8_t replacement[VD_WIRE_MAX_MESSAGE_SIZE];

/* Own globals */

static void registry_event(struct vd_session *session, struct vd_object *object,
		const struct vd_wire_message *msg, const int *fds) {
	struct vd_shell *shell = session->shell;
	if (msg->header.opcode != 0) {
		return; // global_remove: ours stay bound until the session ends
	}
	uint32_t name = msg->args[0].u;
	const char *interface = msg->args[1].str.data;
	uint32_t version = msg->args[2].u;
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
	}
	if (slot == NULL || *slot != NULL) {
		return;
	}
	if (version < want) {
		want = version;
	}
	*slot = vd_session_new_object(session, iface, want, NULL, NULL);
	if (*slot != NULL) {
		/* wl_registry.bind(name, interface, version, new_id) */
		vd_session_request(session, shell->registry, 0, "usun", name, iface->name, want,
			*slot);
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
	/* wl_display.get_registry */
	return vd_session_request(session, display, 1, "n", shell->registry);
}

void shell_session_finish(struct vd_session *session) {
	free(session->shell);
	session->shell = NULL;
}

/* Surfaces */

static void surface_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_surface *surface = object->data;
	if (surface->xdg != NULL) {
		surface->xdg->surface = NULL;
	}
	free(surface);
	object->data = NULL;
}

static const struct vd_object_impl surface_impl = {
	.gone = surface_gone,
};

static struct vd_surface *surface_from(struct vd_object *object) {
	return object != NULL && object->impl == &surface_impl ? object->data : NULL;
}

bool compositor_handle_create_surface(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_surface *surface = calloc(1, sizeof(*surface));
	if (surface == NULL) {
		return true; // an untracked surface only misses its frame
	}
	surface->object = object;
	surface->scale = surface->pending_scale = 1;
	surface->viewport_width = surface->viewport_height = -1;
	object->impl = &surface_impl;
	object->data = surface;
	return true;
}

bool shm_pool_handle_create_buffer_done(struct vd_hook_ctx *ctx) {
	struct vd_object *buffer = ctx->new_objects[0];
	buffer->buffer.width = ctx->msg->args[2].i;
	buffer->buffer.height = ctx->msg->args[3].i;
	return true;
}

bool dmabuf_params_handle_create(struct vd_hook_ctx *ctx) {
	/* the size waits on the params object for the created event */
	ctx->object->buffer.width = ctx->msg->args[0].i;
	ctx->object->buffer.height = ctx->msg->args[1].i;
	return true;
}

bool dmabuf_params_handle_create_immed(struct vd_hook_ctx *ctx) {
	struct vd_object *buffer = ctx->new_objects[0];
	buffer->buffer.width = ctx->msg->args[1].i;
	buffer->buffer.height = ctx->msg->args[2].i;
	return true;
}

bool dmabuf_params_handle_created(struct vd_hook_ctx *ctx) {
	if (ctx->new_object_count > 0) {
		ctx->new_objects[0]->buffer = ctx->object->buffer;
	}
	return true;
}

bool surface_handle_attach(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface == NULL) {
		return true;
	}
	struct vd_object *buffer = vd_session_client_object(ctx->session, ctx->msg->args[0].id);
	surface->pending_attach = true;
	surface->pending_width = buffer != NULL ? buffer->buffer.width : 0;
	surface->pending_height = buffer != NULL ? buffer->buffer.height : 0;
	return true;
}

bool surface_handle_set_buffer_scale(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface != NULL && ctx->msg->args[0].i > 0) {
		surface->pending_scale = ctx->msg->args[0].i;
	}
	return true;
}

/* A viewport remembers its surface by client ID: the surface may go first. */
bool viewporter_handle_get_viewport(struct vd_hook_ctx *ctx) {
	struct vd_object *viewport = ctx->new_objects[0];
	viewport->data = (void *)(uintptr_t)ctx->msg->args[1].id;
	return true;
}

bool viewport_handle_set_destination(struct vd_hook_ctx *ctx) {
	uint32_t surface_id = (uint32_t)(uintptr_t)ctx->object->data;
	struct vd_surface *surface =
		surface_from(vd_session_client_object(ctx->session, surface_id));
	if (surface != NULL) {
		int32_t w = ctx->msg->args[0].i, h = ctx->msg->args[1].i;
		surface->viewport_width = w > 0 ? w : -1;
		surface->viewport_height = h > 0 ? h : -1;
	}
	return true;
}

bool surface_handle_commit(struct vd_hook_ctx *ctx) {
	struct vd_surface *surface = surface_from(ctx->object);
	if (surface == NULL) {
		return true;
	}
	if (surface->pending_attach) {
		surface->buffer_width = surface->pending_width;
		surface->buffer_height = surface->pending_height;
		surface->pending_attach = false;
	}
	surface->scale = surface->pending_scale;
	if (surface->viewport_width > 0) {
		surface->width = surface->viewport_width;
		surface->height = surface->viewport_height;
	} else {
		surface->width = surface->buffer_width / surface->scale;
		surface->height = surface->buffer_height / surface->scale;
	}
	if (surface->xdg != NULL && surface->xdg->frame != NULL) {
		/* queued before the client's commit, which applies it */
		frame_update(surface->xdg->frame);
	}
	return true;
}

bool subcompositor_handle_get_subsurface(struct vd_hook_ctx *ctx) {
	struct vd_surface *parent =
		surface_from(vd_session_client_object(ctx->session, ctx->msg->args[2].id));
	if (parent != NULL && parent->xdg != NULL && parent->xdg->frame != NULL) {
		/* new subsurfaces go on top: put the frame back above them */
		struct vd_object *child = vd_session_client_object(ctx->session,
			ctx->msg->args[1].id);
		if (child != NULL) {
			frame_raise(parent->xdg->frame, child);
		}
	}
	return true;
}

/* xdg_surface */

static void xdg_surface_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_xdg_surface *xdg = object->data;
	frame_destroy(xdg->frame);
	if (xdg->surface != NULL) {
		xdg->surface->xdg = NULL;
	}
	if (xdg->toplevel != NULL) {
		xdg->toplevel->xdg = NULL;
	}
	free(xdg);
	object->data = NULL;
}

static const struct vd_object_impl xdg_surface_impl = {
	.gone = xdg_surface_gone,
};

static struct vd_xdg_surface *xdg_surface_from(struct vd_object *object) {
	return object != NULL && object->impl == &xdg_surface_impl ? object->data : NULL;
}

bool xdg_wm_base_handle_get_xdg_surface(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct vd_surface *surface =
		surface_from(vd_session_client_object(ctx->session, ctx->msg->args[1].id));
	struct vd_xdg_surface *xdg = calloc(1, sizeof(*xdg));
	if (xdg == NULL) {
		return true;
	}
	xdg->object = object;
	xdg->surface = surface;
	if (surface != NULL) {
		surface->xdg = xdg;
	}
	object->impl = &xdg_surface_impl;
	object->data = xdg;
	return true;
}

bool xdg_surface_handle_set_window_geometry(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	if (xdg == NULL) {
		return true;
	}
	const struct vd_wire_message *msg = ctx->msg;
	int32_t x = msg->args[0].i, y = msg->args[1].i;
	int32_t w = msg->args[2].i, h = msg->args[3].i;
	if (w <= 0 || h <= 0 || w > MAX_SIZE || h > MAX_SIZE || x < -MAX_SIZE ||
			x > MAX_SIZE || y < -MAX_SIZE || y > MAX_SIZE) {
		/* xdg_surface.error.invalid_size */
		vd_session_client_error(ctx->session, ctx->object->client_id, 5,
			"invalid window geometry %dx%d%+d%+d", w, h, x, y);
		return false;
	}
	xdg->has_geometry = true;
	xdg->x = x;
	xdg->y = y;
	xdg->width = w;
	xdg->height = h;
	if (xdg->toplevel != NULL && xdg->frame != NULL && !xdg->toplevel->fullscreen) {
		int32_t left, top, right, bottom;
		frame_extents(&left, &top, &right, &bottom);
		vd_wire_put_u32(ctx->data, msg->args[0].offset, (uint32_t)(x - left));
		vd_wire_put_u32(ctx->data, msg->args[1].offset, (uint32_t)(y - top));
		vd_wire_put_u32(ctx->data, msg->args[2].offset, (uint32_t)(w + left + right));
		vd_wire_put_u32(ctx->data, msg->args[3].offset, (uint32_t)(h + top + bottom));
	}
	return true;
}

bool xdg_surface_handle_get_popup(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	if (ctx->forwarded && ctx->session->server->frames && xdg != NULL &&
			xdg->frame == NULL) {
		xdg->frame = frame_create(ctx->session, xdg, true);
	}
	return true;
}

/* xdg_toplevel */

static void toplevel_gone(struct vd_session *session, struct vd_object *object) {
	struct vd_toplevel *toplevel = object->data;
	if (toplevel->xdg != NULL) {
		toplevel->xdg->toplevel = NULL;
		frame_destroy(toplevel->xdg->frame);
		toplevel->xdg->frame = NULL;
	}
	free(toplevel->title);
	free(toplevel);
	object->data = NULL;
}

static const struct vd_object_impl toplevel_impl = {
	.gone = toplevel_gone,
};

static struct vd_toplevel *toplevel_from(struct vd_object *object) {
	return object != NULL && object->impl == &toplevel_impl ? object->data : NULL;
}

bool xdg_surface_handle_get_toplevel(struct vd_hook_ctx *ctx) {
	struct vd_xdg_surface *xdg = xdg_surface_from(ctx->object);
	struct vd_object *object = ctx->new_objects[0];
	struct vd_toplevel *toplevel = calloc(1, sizeof(*toplevel));
	if (toplevel == NULL) {
		return true;
	}
	toplevel->object = object;
	toplevel->xdg = xdg;
	object->impl = &toplevel_impl;
	object->data = toplevel;
	/* every window reads "[vm]" even if it never sets a title */
	char *title = vd_title_format(ctx->session->server->vm, NULL);
	if (title != NULL) {
		vd_session_request(ctx->session, object, 2, "s", title);
		free(title);
	}
	if (xdg != NULL) {
		xdg->toplevel = toplevel;
		if (ctx->forwarded && ctx->session->server->frames && xdg->frame == NULL) {
			xdg->frame = frame_create(ctx->session, xdg, false);
		}
	}
	return true;
}

/* Replaces the message with one string argument. */
static bool replace_with_string(struct vd_hook_ctx *ctx, const char *str) {
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, replacement, 0, ctx->msg->header.opcode);
	vd_wire_writer_put_string(&writer, str);
	if (!vd_wire_writer_finish(&writer)) {
		return false;
	}
	ctx->replacement = replacement;
	ctx->replacement_size = writer.size;
	return true;
}

bool xdg_toplevel_handle_set_title(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	const char *vm = ctx->session->server->vm;
	char *title = vd_title_format(vm, ctx->msg->args[0].str.data);
	if (title == NULL || !replace_with_string(ctx, title)) {
		free(title);
		return false;
	}
	free(title);
	if (toplevel != NULL) {
		free(toplevel->title);
		toplevel->title = vd_title_sanitize(ctx->msg->args[0].str.data,
			VD_TITLE_MAX_BYTES);
		if (toplevel->xdg != NULL && toplevel->xdg->frame != NULL) {
			frame_set_title(toplevel->xdg->frame, toplevel->title);
		}
	}
	return true;
}

bool xdg_toplevel_handle_set_app_id(struct vd_hook_ctx *ctx) {
	char *app_id = vd_app_id_format(ctx->session->server->vm, ctx->msg->args[0].str.data);
	bool ok = app_id != NULL && replace_with_string(ctx, app_id);
	free(app_id);
	return ok;
}

static bool grow_size(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel == NULL || toplevel->xdg == NULL || toplevel->xdg->frame == NULL) {
		return true;
	}
	int32_t left, top, right, bottom;
	frame_extents(&left, &top, &right, &bottom);
	const struct vd_wire_message *msg = ctx->msg;
	int32_t w = msg->args[0].i, h = msg->args[1].i;
	if (w > 0 && w <= MAX_SIZE) {
		vd_wire_put_u32(ctx->data, msg->args[0].offset, (uint32_t)(w + left + right));
	}
	if (h > 0 && h <= MAX_SIZE) {
		vd_wire_put_u32(ctx->data, msg->args[1].offset, (uint32_t)(h + top + bottom));
	}
	return true;
}

bool xdg_toplevel_handle_set_max_size(struct vd_hook_ctx *ctx) {
	return grow_size(ctx);
}

bool xdg_toplevel_handle_set_min_size(struct vd_hook_ctx *ctx) {
	return grow_size(ctx);
}

static bool replace_with_empty(struct vd_hook_ctx *ctx, uint16_t opcode) {
	struct vd_wire_writer writer;
	vd_wire_writer_init(&writer, replacement, 0, opcode);
	vd_wire_writer_finish(&writer);
	ctx->replacement = replacement;
	ctx->replacement_size = writer.size;
	return true;
}

bool xdg_toplevel_handle_set_fullscreen(struct vd_hook_ctx *ctx) {
	if (ctx->session->server->policy->allow_fullscreen) {
		return true;
	}
	/* a fullscreen window could paint a fake desktop without a frame:
	 * maximize it instead, frame visible */
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel != NULL) {
		toplevel->fullscreen_requested = true;
	}
	vd_log(VD_DEBUG, "vm=%s: fullscreen request turned into maximize",
		ctx->session->server->vm);
	return replace_with_empty(ctx, XDG_TOPLEVEL_SET_MAXIMIZED);
}

bool xdg_toplevel_handle_unset_fullscreen(struct vd_hook_ctx *ctx) {
	if (ctx->session->server->policy->allow_fullscreen) {
		return true;
	}
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel == NULL || !toplevel->fullscreen_requested) {
		return false; // it never was fullscreen: nothing to undo
	}
	toplevel->fullscreen_requested = false;
	return replace_with_empty(ctx, XDG_TOPLEVEL_UNSET_MAXIMIZED);
}

static bool states_have(const struct vd_wire_arg *states, uint32_t state) {
	const uint8_t *data = states->array.data;
	for (uint32_t off = 0; off + 4 <= states->array.size; off += 4) {
		uint32_t v;
		memcpy(&v, data + off, sizeof(v));
		if (v == state) {
			return true;
		}
	}
	return false;
}

static void shrink_size(struct vd_hook_ctx *ctx, int width_arg, int height_arg) {
	int32_t left, top, right, bottom;
	frame_extents(&left, &top, &right, &bottom);
	const struct vd_wire_message *msg = ctx->msg;
	int32_t w = msg->args[width_arg].i, h = msg->args[height_arg].i;
	if (w > 0) {
		w = w - left - right > 1 ? w - left - right : 1;
		vd_wire_put_u32(ctx->data, msg->args[width_arg].offset, (uint32_t)w);
	}
	if (h > 0) {
		h = h - top - bottom > 1 ? h - top - bottom : 1;
		vd_wire_put_u32(ctx->data, msg->args[height_arg].offset, (uint32_t)h);
	}
}

bool xdg_toplevel_handle_configure(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel == NULL || toplevel->xdg == NULL || toplevel->xdg->frame == NULL) {
		return true;
	}
	bool fullscreen = states_have(&ctx->msg->args[2], XDG_TOPLEVEL_STATE_FULLSCREEN);
	toplevel->fullscreen = fullscreen;
	frame_set_hidden(toplevel->xdg->frame, fullscreen);
	if (!fullscreen) {
		shrink_size(ctx, 0, 1);
	}
	return true;
}

bool xdg_toplevel_handle_configure_bounds(struct vd_hook_ctx *ctx) {
	struct vd_toplevel *toplevel = toplevel_from(ctx->object);
	if (toplevel != NULL && toplevel->xdg != NULL && toplevel->xdg->frame != NULL) {
		shrink_size(ctx, 0, 1);
	}
	return true;
}
