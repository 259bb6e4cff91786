#ifndef PROXY_WL_HOOKS_H
#define PROXY_WL_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/interface.h"
#include "protocols/wire.h"

/*
 * Hooks: functions run for a message of an interface, by opcode. A
 * registry is built by its user (one per proxy, or per kind of session; a
 * tracker has its own) from tables of struct vd_hook, and costs one lookup
 * per message whatever the number of hooks. Several hooks may share an
 * opcode: they run in the order they were added.
 */

struct vd_object;
struct vd_session;
struct vd_tracker;

/* What a hook sees of one message. Pre-hooks return false to drop it (an
 * error was posted if needed); a false stops the hooks after it. */
struct vd_hook_ctx {
	/* who dispatches: vmdesk-proxy's session (proxy/session.h) or a
	 * tracker (proxy/wl/tracker.h), as the registry's user knows */
	union {
		struct vd_session *session;
		struct vd_tracker *tracker;
	};
	struct vd_object *object; // the sender (requests) or the target (events)
	struct vd_wire_message *msg;
	uint8_t *data; // the message as it will be sent; may be patched in place
	int *fds; // msg->fd_count of them; a hook may take one (and put -1)
	/* request pre-hooks of messages without object arguments may
	 * replace the message (the sender ID is filled in) */
	uint8_t *replacement;
	uint32_t replacement_size;
	/* post-hooks: the objects the message created, and whether the
	 * request went on (else it was dropped or served locally) */
	struct vd_object *new_objects[4];
	uint32_t new_object_count;
	bool forwarded;
};

typedef bool (*vd_hook_func)(struct vd_hook_ctx *ctx);

enum vd_hook_kind {
	VD_HOOK_GATE, // every request of the interface, before its own hooks (opcode unused)
	VD_HOOK_REQUEST, // before a request is passed on
	VD_HOOK_REQUEST_POST, // after it, its new objects created
	VD_HOOK_EVENT, // before an event is passed on
	VD_HOOK_EVENT_POST, // after it
	VD_HOOK_KIND_COUNT,
};

struct vd_hook {
	const struct vd_interface *interface;
	uint16_t opcode; // VD_<INTERFACE>_REQUEST_<NAME> or _EVENT_<NAME>
	vd_hook_func func;
};

/* The hooks of one interface: per kind, per opcode, a NULL-terminated list
 * (NULL: none). */
struct vd_interface_hooks {
	vd_hook_func **kinds[VD_HOOK_KIND_COUNT]; // [kind][opcode]; gates use [0]
};

struct vd_hook_registry {
	struct vd_interface_hooks *interfaces; // [vd_interface_count]
};

struct vd_hook_registry *vd_hook_registry_create(void);
void vd_hook_registry_destroy(struct vd_hook_registry *registry);
/* Adds count hooks of one kind; false on out of memory. */
bool vd_hook_registry_add(struct vd_hook_registry *registry, enum vd_hook_kind kind,
	const struct vd_hook *hooks, size_t count);

static inline const struct vd_interface_hooks *vd_hook_registry_get(
		const struct vd_hook_registry *registry, const struct vd_interface *interface) {
	return &registry->interfaces[interface->index];
}

/* The hooks of kind for opcode (for gates, any opcode), or NULL. */
static inline vd_hook_func *vd_interface_hooks_find(const struct vd_interface_hooks *hooks,
		enum vd_hook_kind kind, uint16_t opcode) {
	vd_hook_func **table = hooks->kinds[kind];
	if (table == NULL) {
		return NULL;
	}
	return table[kind == VD_HOOK_GATE ? 0 : opcode];
}

static inline vd_hook_func *vd_hook_registry_find(const struct vd_hook_registry *registry,
		const struct vd_interface *interface, enum vd_hook_kind kind, uint16_t opcode) {
	return vd_interface_hooks_find(vd_hook_registry_get(registry, interface), kind, opcode);
}

/* Runs a list from vd_hook_registry_find; false as soon as one says false. */
static inline bool vd_hooks_run(vd_hook_func *hooks, struct vd_hook_ctx *ctx) {
	for (; hooks != NULL && *hooks != NULL; hooks++) {
		if (!(*hooks)(ctx)) {
			return false;
		}
	}
	return true;
}

/* Runs every hook of a list (post-hooks: what they return is ignored). */
static inline void vd_hooks_run_all(vd_hook_func *hooks, struct vd_hook_ctx *ctx) {
	for (; hooks != NULL && *hooks != NULL; hooks++) {
		(*hooks)(ctx);
	}
}

#endif
