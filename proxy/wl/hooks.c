#include <assert.h>
#include <stdlib.h>

#include "proxy/wl/hooks.h"

struct vd_hook_registry *vd_hook_registry_create(void) {
	struct vd_hook_registry *registry = calloc(1, sizeof(*registry));
	if (registry == NULL) {
		return NULL;
	}
	registry->interfaces = calloc(vd_interface_count, sizeof(*registry->interfaces));
	if (registry->interfaces == NULL) {
		free(registry);
		return NULL;
	}
	return registry;
}

static size_t slot_count(const struct vd_interface *interface, enum vd_hook_kind kind) {
	switch (kind) {
	case VD_HOOK_GATE:
		return 1;
	case VD_HOOK_REQUEST:
	case VD_HOOK_REQUEST_POST:
		return interface->request_count;
	case VD_HOOK_EVENT:
	case VD_HOOK_EVENT_POST:
	case VD_HOOK_KIND_COUNT:
		break;
	}
	return interface->event_count;
}

void vd_hook_registry_destroy(struct vd_hook_registry *registry) {
	if (registry == NULL) {
		return;
	}
	for (size_t i = 0; i < vd_interface_count; i++) {
		struct vd_interface_hooks *entry = &registry->interfaces[i];
		for (int kind = 0; kind < VD_HOOK_KIND_COUNT; kind++) {
			vd_hook_func **table = entry->kinds[kind];
			if (table == NULL) {
				continue;
			}
			size_t n = slot_count(vd_interfaces[i], kind);
			for (size_t op = 0; op < n; op++) {
				free(table[op]);
			}
			free(table);
		}
	}
	free(registry->interfaces);
	free(registry);
}

/* Appends func to a NULL-terminated list. */
static bool append(vd_hook_func **list, vd_hook_func func) {
	size_t n = 0;
	while (*list != NULL && (*list)[n] != NULL) {
		n++;
	}
	vd_hook_func *grown = realloc(*list, (n + 2) * sizeof(*grown));
	if (grown == NULL) {
		return false;
	}
	grown[n] = func;
	grown[n + 1] = NULL;
	*list = grown;
	return true;
}

bool vd_hook_registry_add(struct vd_hook_registry *registry, enum vd_hook_kind kind,
		const struct vd_hook *hooks, size_t count) {
	for (size_t i = 0; i < count; i++) {
		const struct vd_interface *interface = hooks[i].interface;
		vd_hook_func ***table = &registry->interfaces[interface->index].kinds[kind];
		size_t n = slot_count(interface, kind);
		uint16_t opcode = kind == VD_HOOK_GATE ? 0 : hooks[i].opcode;
		assert(opcode < n);
		if (*table == NULL) {
			*table = calloc(n, sizeof(**table));
			if (*table == NULL) {
				return false;
			}
		}
		if (!append(&(*table)[opcode], hooks[i].func)) {
			return false;
		}
	}
	return true;
}
