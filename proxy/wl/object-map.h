#ifndef PROXY_WL_OBJECT_MAP_H
#define PROXY_WL_OBJECT_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "protocols/wire.h"

/*
 * An ID space of one side of a Wayland connection: the client range
 * [1, 0xff000000) and the server range [0xff000000, 0xffffffff]. Entries
 * are dense arrays, as in libwayland: a new ID is either a free slot or the
 * next one past the end, which is exactly what libwayland accepts.
 */

struct vd_object;

struct vd_id_range {
	struct vd_object **entries;
	uint32_t count, cap;
	bool allocating; // we choose the IDs here (else the peer does)
	uint32_t *free_ids; // allocating only: freed slots
	uint32_t free_count, free_cap;
};

struct vd_object_map {
	struct vd_id_range client, server;
};

/* alloc_client/alloc_server: which range this side allocates in. */
void vd_object_map_init(struct vd_object_map *map, bool alloc_client, bool alloc_server);
void vd_object_map_finish(struct vd_object_map *map);

/* The object at id, or NULL (inline: several lookups per message). */
static inline struct vd_object *vd_object_map_get(const struct vd_object_map *map,
		uint32_t id) {
	const struct vd_id_range *range;
	uint32_t index;
	if (id >= VD_WIRE_SERVER_ID_START) {
		range = &map->server;
		index = id - VD_WIRE_SERVER_ID_START;
	} else {
		range = &map->client;
		index = id - 1; // id 0: UINT32_MAX, never < count
	}
	return index < range->count ? range->entries[index] : NULL;
}
/*
 * Whether a peer may create id now: unused, and at most one past the end of
 * its range (libwayland's rule).
 */
bool vd_object_map_can_insert(const struct vd_object_map *map, uint32_t id);
/* Inserts at id (checked with vd_object_map_can_insert first). */
bool vd_object_map_insert(struct vd_object_map *map, uint32_t id, struct vd_object *object);
/* Allocates a free id in the client (server == false) or server range. 0 on failure. */
uint32_t vd_object_map_alloc(struct vd_object_map *map, bool server, struct vd_object *object);
void vd_object_map_remove(struct vd_object_map *map, uint32_t id);
/* Calls func for every ID in use, in both ranges (func may remove that ID). */
void vd_object_map_for_each(const struct vd_object_map *map,
	void (*func)(struct vd_object *object, uint32_t id, void *data), void *data);

#endif
