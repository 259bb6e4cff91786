#include <stdlib.h>
#include <string.h>

#include "protocols/wire.h"
#include "proxy/wl/object-map.h"

/* The largest range we ever index: a bound on memory (8 MiB of pointers). */
#define MAX_RANGE_COUNT (1u << 20)

void vd_object_map_init(struct vd_object_map *map, bool alloc_client, bool alloc_server) {
	*map = (struct vd_object_map){0};
	map->client.allocating = alloc_client;
	map->server.allocating = alloc_server;
}

static void range_finish(struct vd_id_range *range) {
	free(range->entries);
	free(range->free_ids);
	*range = (struct vd_id_range){0};
}

void vd_object_map_finish(struct vd_object_map *map) {
	range_finish(&map->client);
	range_finish(&map->server);
}

static struct vd_id_range *range_of(const struct vd_object_map *map, uint32_t id,
		uint32_t *index) {
	if (id >= VD_WIRE_SERVER_ID_START) {
		*index = id - VD_WIRE_SERVER_ID_START;
		return (struct vd_id_range *)&map->server;
	}
	*index = id - 1;
	return (struct vd_id_range *)&map->client;
}

static uint32_t id_of(bool server, uint32_t index) {
	return server ? VD_WIRE_SERVER_ID_START + index : index + 1;
}

bool vd_object_map_can_insert(const struct vd_object_map *map, uint32_t id) {
	if (id == 0) {
		return false;
	}
	uint32_t index;
	const struct vd_id_range *range = range_of(map, id, &index);
	if (index > range->count || index >= MAX_RANGE_COUNT) {
		return false;
	}
	return index == range->count || range->entries[index] == NULL;
}

static bool range_grow(struct vd_id_range *range) {
	if (range->count < range->cap) {
		return true;
	}
	uint32_t cap = range->cap ? range->cap * 2 : 64;
	struct vd_object **entries = realloc(range->entries, cap * sizeof(*entries));
	if (entries == NULL) {
		return false;
	}
	range->entries = entries;
	range->cap = cap;
	return true;
}

static bool push_free(struct vd_id_range *range, uint32_t index) {
	if (range->free_count == range->free_cap) {
		uint32_t cap = range->free_cap ? range->free_cap * 2 : 64;
		uint32_t *ids = realloc(range->free_ids, cap * sizeof(*ids));
		if (ids == NULL) {
			return false;
		}
		range->free_ids = ids;
		range->free_cap = cap;
	}
	range->free_ids[range->free_count++] = index;
	return true;
}

bool vd_object_map_insert(struct vd_object_map *map, uint32_t id, struct vd_object *object) {
	uint32_t index;
	struct vd_id_range *range = range_of(map, id, &index);
	if (index == range->count) {
		if (!range_grow(range)) {
			return false;
		}
		range->count++;
	}
	range->entries[index] = object;
	return true;
}

uint32_t vd_object_map_alloc(struct vd_object_map *map, bool server, struct vd_object *object) {
	struct vd_id_range *range = server ? &map->server : &map->client;
	while (range->free_count > 0) {
		uint32_t index = range->free_ids[--range->free_count];
		if (range->entries[index] == NULL) {
			range->entries[index] = object;
			return id_of(server, index);
		}
	}
	if (range->count >= MAX_RANGE_COUNT || !range_grow(range)) {
		return 0;
	}
	uint32_t index = range->count++;
	range->entries[index] = object;
	return id_of(server, index);
}

void vd_object_map_remove(struct vd_object_map *map, uint32_t id) {
	uint32_t index;
	struct vd_id_range *range = range_of(map, id, &index);
	if (index >= range->count || range->entries[index] == NULL) {
		return;
	}
	/* like libwayland, never shrink: the peer may still count on the end */
	range->entries[index] = NULL;
	if (range->allocating && !push_free(range, index)) {
		/* out of memory: the slot is never handed out again */
		return;
	}
}

void vd_object_map_for_each(const struct vd_object_map *map,
		void (*func)(struct vd_object *object, uint32_t id, void *data), void *data) {
	const struct vd_id_range *ranges[] = { &map->client, &map->server };
	for (int r = 0; r < 2; r++) {
		for (uint32_t i = 0; i < ranges[r]->count; i++) {
			struct vd_object *object = ranges[r]->entries[i];
			if (object != NULL) {
				func(object, id_of(r == 1, i), data);
			}
		}
	}
}
