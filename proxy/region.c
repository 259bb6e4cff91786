#define LOG_TAG "region"

#include <stdlib.h>
#include <string.h>

#include "protocols/log.h"
#include "proxy/server.h"
#include "proxy/shell.h"

/*
 * wl_region contents. The proxy crops framed surfaces, which moves their
 * origin: an input region the client sets is in its own coordinates and
 * reaches the compositor translated, as a region of the proxy's own built
 * from the rectangles recorded here. A region with more rectangles than
 * REGION_MAX_OPS is no longer recorded and counts as infinite (the whole
 * surface takes input: the safe side for a crop, which confines it anyway).
 */

#define REGION_MAX_OPS 256

struct region_op {
	bool add;
	int32_t x, y, width, height;
};

struct vd_region_ops {
	uint32_t count;
	struct region_op ops[];
};

struct region {
	bool overflow;
	uint32_t count, cap;
	struct region_op *ops;
};

static void region_gone(struct vd_session *session, struct vd_object *object) {
	struct region *region = object->data;
	free(region->ops);
	free(region);
	object->data = NULL;
}

static const struct vd_object_impl region_impl = {
	.gone = region_gone,
};

bool compositor_handle_create_region(struct vd_hook_ctx *ctx) {
	struct vd_object *object = ctx->new_objects[0];
	struct region *region = calloc(1, sizeof(*region));
	if (region == NULL) {
		return true; // an unknown region counts as infinite
	}
	object->impl = &region_impl;
	object->data = region;
	return true;
}

static bool region_record(struct vd_hook_ctx *ctx, bool add) {
	struct region *region = ctx->object->impl == &region_impl ? ctx->object->data : NULL;
	if (region == NULL || region->overflow) {
		return true;
	}
	if (region->count == region->cap) {
		uint32_t cap = region->cap ? region->cap * 2 : 4;
		struct region_op *ops = cap <= REGION_MAX_OPS ?
			realloc(region->ops, cap * sizeof(*ops)) : NULL;
		if (ops == NULL) {
			region->overflow = true;
			return true;
		}
		region->ops = ops;
		region->cap = cap;
	}
	const struct vd_wire_message *msg = ctx->msg;
	region->ops[region->count++] = (struct region_op){ add, msg->args[0].i, msg->args[1].i,
		msg->args[2].i, msg->args[3].i };
	return true;
}

bool region_handle_add(struct vd_hook_ctx *ctx) {
	return region_record(ctx, true);
}

bool region_handle_subtract(struct vd_hook_ctx *ctx) {
	return region_record(ctx, false);
}

struct vd_region_ops *region_copy(struct vd_object *object) {
	struct region *region = object != NULL && object->impl == &region_impl ?
		object->data : NULL;
	if (region == NULL || region->overflow) {
		return NULL;
	}
	struct vd_region_ops *ops = malloc(sizeof(*ops) + region->count * sizeof(ops->ops[0]));
	if (ops == NULL) {
		return NULL;
	}
	ops->count = region->count;
	if (region->count > 0) {
		memcpy(ops->ops, region->ops, region->count * sizeof(ops->ops[0]));
	}
	return ops;
}

void region_ops_free(struct vd_region_ops *ops) {
	free(ops);
}

static int32_t clamp_add(int32_t a, int32_t b) {
	int64_t v = (int64_t)a + b;
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

struct vd_object *region_create_own(struct vd_session *session,
		const struct vd_region_ops *ops, int32_t dx, int32_t dy) {
	struct vd_shell *shell = session->shell;
	struct vd_object *region = vd_session_new_object(session, &vd_iface_wl_region, 1, NULL,
		NULL);
	if (region == NULL) {
		return NULL;
	}
	vd_session_request(session, shell->compositor, VD_WL_COMPOSITOR_REQUEST_CREATE_REGION,
		"n", region);
	for (uint32_t i = 0; ops != NULL && i < ops->count; i++) {
		const struct region_op *op = &ops->ops[i];
		vd_session_request(session, region,
			op->add ? VD_WL_REGION_REQUEST_ADD : VD_WL_REGION_REQUEST_SUBTRACT, "iiii",
			clamp_add(op->x, dx), clamp_add(op->y, dy), op->width, op->height);
	}
	return region;
}

void region_destroy_own(struct vd_session *session, struct vd_object *region) {
	vd_session_destroy_object(session, region, VD_WL_REGION_REQUEST_DESTROY);
}
