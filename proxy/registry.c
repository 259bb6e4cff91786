#define LOG_TAG "registry"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/policy.h"
#include "proxy/server.h"
#include "proxy/session.h"

/*
 * Globals: the client sees only what the VM's policy allows, at the lowest
 * of the policy's, the compositor's and our tables' versions, under names of
 * our own. The compositor's names never reach the client.
 */

#define MAX_GLOBALS 4096

static struct vd_global *find_by_upstream(struct vd_session *session, uint32_t upstream_name) {
	for (size_t i = 0; i < session->global_count; i++) {
		if (session->globals[i].upstream_name == upstream_name) {
			return &session->globals[i];
		}
	}
	return NULL;
}

static struct vd_global *add_global(struct vd_session *session) {
	if (session->global_count == session->global_cap) {
		size_t cap = session->global_cap ? session->global_cap * 2 : 64;
		if (cap > MAX_GLOBALS) {
			return NULL;
		}
		struct vd_global *globals = realloc(session->globals, cap * sizeof(*globals));
		if (globals == NULL) {
			return NULL;
		}
		session->globals = globals;
		session->global_cap = cap;
	}
	struct vd_global *global = &session->globals[session->global_count++];
	*global = (struct vd_global){0};
	return global;
}

static uint32_t min_u32(uint32_t a, uint32_t b) {
	return a < b ? a : b;
}

bool registry_handle_global(struct vd_hook_ctx *ctx) {
	struct vd_session *session = ctx->session;
	const struct vd_wire_message *msg = ctx->msg;
	uint32_t upstream_name = msg->args[0].u;
	const char *name = msg->args[1].str.data;
	uint32_t version = msg->args[2].u;

	struct vd_global *global = find_by_upstream(session, upstream_name);
	if (global == NULL) {
		global = add_global(session);
		if (global == NULL) {
			vd_session_upstream_error(session, "too many globals");
			return false;
		}
		global->upstream_name = upstream_name;
		const struct vd_interface *interface = vd_interface_find(name);
		uint32_t allowed = vd_policy_max_version(session->server->policy, name);
		if (interface != NULL && allowed > 0 && version > 0) {
			global->interface = interface;
			global->version = min_u32(min_u32(allowed, version), interface->version);
			global->name = ++session->global_names;
			vd_log(VD_DEBUG, "vm=%s: global %s v%u shown as name %u v%u",
				session->server->vm, name, version, global->name, global->version);
		} else {
			vd_log(VD_DEBUG, "vm=%s: global %s v%u hidden", session->server->vm, name,
				version);
		}
	}
	if (global->interface == NULL || global->removed) {
		return false;
	}
	vd_wire_put_u32(ctx->data, msg->args[0].offset, global->name);
	vd_wire_put_u32(ctx->data, msg->args[2].offset, global->version);
	return true;
}

bool registry_handle_global_remove(struct vd_hook_ctx *ctx) {
	struct vd_global *global = find_by_upstream(ctx->session, ctx->msg->args[0].u);
	if (global == NULL || global->interface == NULL || global->removed) {
		return false;
	}
	global->removed = true;
	vd_wire_put_u32(ctx->data, ctx->msg->args[0].offset, global->name);
	return true;
}

bool registry_handle_bind(struct vd_hook_ctx *ctx) {
	struct vd_session *session = ctx->session;
	const struct vd_wire_message *msg = ctx->msg;
	uint32_t name = msg->args[0].u;
	const struct vd_wire_arg *new_id = &msg->args[1];
	struct vd_global *global = NULL;
	for (size_t i = 0; i < session->global_count; i++) {
		if (session->globals[i].interface != NULL && session->globals[i].name == name) {
			global = &session->globals[i];
			break;
		}
	}
	if (global == NULL) {
		vd_session_client_error(session, ctx->object->client_id,
			VD_WL_DISPLAY_ERROR_INVALID_OBJECT, "invalid global %s (%u)",
			new_id->new_interface, name);
		return false;
	}
	if (strcmp(new_id->new_interface, global->interface->name) != 0) {
		vd_session_client_error(session, ctx->object->client_id,
			VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid interface for global %u: have %s, wanted %s", name,
			new_id->new_interface, global->interface->name);
		return false;
	}
	if (new_id->new_version == 0 || new_id->new_version > global->version) {
		vd_session_client_error(session, ctx->object->client_id,
			VD_WL_DISPLAY_ERROR_INVALID_OBJECT,
			"invalid version for global %s (%u): have %u, wanted %u",
			global->interface->name, name, new_id->new_version, global->version);
		return false;
	}
	vd_wire_put_u32(ctx->data, msg->args[0].offset, global->upstream_name);
	return true;
}

void registry_finish(struct vd_session *session) {
	free(session->globals);
	session->globals = NULL;
	session->global_count = session->global_cap = 0;
}
