#ifndef PROXY_WL_OBJECT_H
#define PROXY_WL_OBJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-util.h>

#include "protocols/interface.h"

/*
 * A protocol object as the library tracks it: its interface and version,
 * its ID on each side, and what the library's users attach to it. The rules
 * for its lifetime are in proxy/wl/vd-wl.h.
 */

enum vd_object_flags {
	/* the client destroyed it (request or destructor event); its client
	 * ID stays reserved until the server confirms with delete_id */
	VD_OBJECT_CLIENT_GONE = 1 << 0,
	/* no server counterpart (the server deleted it first, or it was
	 * created on such an object): requests to it are dropped */
	VD_OBJECT_UPSTREAM_GONE = 1 << 1,
	/* the client already got delete_id for it */
	VD_OBJECT_DELETE_ID_SENT = 1 << 2,
	/* created by the proxy; never visible to the client */
	VD_OBJECT_PROXY_OWNED = 1 << 3,
	/* destroyed: in no map any more, freed when the dispatch ends */
	VD_OBJECT_DEAD = 1 << 4,
};

struct vd_object;
/* The owner's behaviour (vmdesk-proxy: proxy/session.h); the library never
 * calls it. */
struct vd_object_impl;

/*
 * Behaviour attached to an object by any number of users, at most one per
 * impl: a user embeds the addon in its own state and finds it again with
 * vd_object_addon_find (wlroots' wlr_addon).
 */
struct vd_object_addon;

struct vd_object_addon_impl {
	const char *name;
	/* The object is gone for the client, or its owner ends: free what
	 * hangs off it (the addon is already detached). Called once. */
	void (*destroy)(struct vd_object_addon *addon);
};

struct vd_object_addon {
	const struct vd_object_addon_impl *impl;
	struct vd_object *object;
	struct wl_list link; // vd_object.addons
};

struct vd_object {
	const struct vd_interface *interface;
	uint32_t version;
	uint32_t client_id; // 0: not visible to the client
	uint32_t upstream_id; // 0: no server counterpart
	uint32_t flags; // enum vd_object_flags
	const struct vd_object_impl *impl; // the owner's; may be NULL
	void *data; // the impl's
	struct wl_list addons; // vd_object_addon.link
	struct {
		int32_t width, height; // wl_buffer: its size, 0 if unknown (proxy/surface.c)
	} buffer;
	struct wl_list dead_link; // vd_objects.dead, once VD_OBJECT_DEAD (else unset)
};

/*
 * The objects of one owner (a proxy session, a tracker): how many are live,
 * and those destroyed during a dispatch, freed when it ends.
 */
struct vd_objects {
	uint32_t count; // created and not yet destroyed
	uint32_t dispatching; // depth of the dispatches running: frees wait
	struct wl_list dead; // vd_object.dead_link
};

void vd_objects_init(struct vd_objects *objects);
/* Frees the dead; the live ones are the owner's to destroy first. */
void vd_objects_finish(struct vd_objects *objects);
/* A dispatch begins or ends; the outermost end frees the dead. */
static inline void vd_objects_dispatch_begin(struct vd_objects *objects) {
	objects->dispatching++;
}
void vd_objects_free_dead(struct vd_objects *objects);
static inline void vd_objects_dispatch_end(struct vd_objects *objects) {
	/* (wl_list_empty is not inline: a call per message) */
	if (--objects->dispatching == 0 && objects->dead.next != &objects->dead) {
		vd_objects_free_dead(objects);
	}
}

/* A new object in no map yet, or NULL (out of memory). */
struct vd_object *vd_object_create(struct vd_objects *objects,
	const struct vd_interface *interface, uint32_t version);
/*
 * Destroys an object the caller has removed from every map: its addons are
 * destroyed, then it is freed, at once or (during a dispatch) when the
 * dispatch ends. Its owner's impl is the owner's business, before this.
 */
void vd_object_destroy(struct vd_objects *objects, struct vd_object *object);

/* Attaches addon to object; no other addon of that impl may be attached. */
void vd_object_addon_init(struct vd_object_addon *addon, struct vd_object *object,
	const struct vd_object_addon_impl *impl);
/* Detaches an addon without calling its destroy. */
void vd_object_addon_finish(struct vd_object_addon *addon);
/* The object's addon of that impl, or NULL. */
struct vd_object_addon *vd_object_addon_find(const struct vd_object *object,
	const struct vd_object_addon_impl *impl);
/* Destroys every addon (the most recent first); new ones may be attached
 * from a destroy callback and are destroyed too. */
void vd_object_addons_destroy_all(struct vd_object *object);
static inline void vd_object_addons_destroy(struct vd_object *object) {
	if (object->addons.next != &object->addons) {
		vd_object_addons_destroy_all(object);
	}
}

#endif
