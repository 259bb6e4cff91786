#include <assert.h>
#include <stdlib.h>

#include "proxy/wl/object.h"

void vd_objects_init(struct vd_objects *objects) {
	*objects = (struct vd_objects){0};
	wl_list_init(&objects->dead);
}

void vd_objects_free_dead(struct vd_objects *objects) {
	struct vd_object *object, *tmp;
	wl_list_for_each_safe(object, tmp, &objects->dead, dead_link) {
		free(object);
	}
	wl_list_init(&objects->dead);
}

void vd_objects_finish(struct vd_objects *objects) {
	assert(objects->dispatching == 0);
	vd_objects_free_dead(objects);
}

struct vd_object *vd_object_create(struct vd_objects *objects,
		const struct vd_interface *interface, uint32_t version) {
	struct vd_object *object = calloc(1, sizeof(*object));
	if (object == NULL) {
		return NULL;
	}
	object->interface = interface;
	object->version = version;
	/* wl_list_init is a call into libwayland: one object per round trip */
	object->addons.prev = object->addons.next = &object->addons;
	objects->count++;
	return object;
}

void vd_object_destroy(struct vd_objects *objects, struct vd_object *object) {
	assert(!(object->flags & VD_OBJECT_DEAD));
	vd_object_addons_destroy(object);
	object->flags |= VD_OBJECT_DEAD;
	objects->count--;
	if (objects->dispatching > 0) {
		wl_list_insert(&objects->dead, &object->dead_link);
	} else {
		free(object);
	}
}

void vd_object_addon_init(struct vd_object_addon *addon, struct vd_object *object,
		const struct vd_object_addon_impl *impl) {
	assert(vd_object_addon_find(object, impl) == NULL);
	addon->impl = impl;
	addon->object = object;
	wl_list_insert(&object->addons, &addon->link);
}

void vd_object_addon_finish(struct vd_object_addon *addon) {
	wl_list_remove(&addon->link);
	wl_list_init(&addon->link);
	addon->object = NULL;
}

struct vd_object_addon *vd_object_addon_find(const struct vd_object *object,
		const struct vd_object_addon_impl *impl) {
	struct vd_object_addon *addon;
	wl_list_for_each(addon, &object->addons, link) {
		if (addon->impl == impl) {
			return addon;
		}
	}
	return NULL;
}

void vd_object_addons_destroy_all(struct vd_object *object) {
	while (!wl_list_empty(&object->addons)) {
		struct vd_object_addon *addon =
			wl_container_of(object->addons.next, addon, link);
		/* detached, but addon->object stays set for the callback */
		wl_list_remove(&addon->link);
		wl_list_init(&addon->link);
		if (addon->impl->destroy != NULL) {
			addon->impl->destroy(addon);
		}
	}
}
