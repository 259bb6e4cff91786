#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/wl-model.h"

void fz_model_init(struct fz_model *model) {
	memset(model, 0, sizeof(*model));
}

static uint32_t *slot(struct fz_model *model, uint32_t id) {
	if (id >= FZ_SERVER_ID) {
		uint32_t index = id - FZ_SERVER_ID;
		return index < FZ_MODEL_IDS ? &model->server_map[index] : NULL;
	}
	return id > 0 && id < FZ_MODEL_IDS ? &model->client_map[id] : NULL;
}

void fz_model_reset(struct fz_model *model) {
	for (size_t i = 0; i < model->count; i++) {
		uint32_t *s = slot(model, model->list[i].id);
		if (s != NULL) {
			*s = 0;
		}
	}
	model->count = 0;
	model->serial_count = 0;
	model->global_count = 0;
}

void fz_model_finish(struct fz_model *model) {
	free(model->list);
	model->list = NULL;
	model->count = model->cap = 0;
}

struct fz_object *fz_model_get(struct fz_model *model, uint32_t id) {
	uint32_t *s = slot(model, id);
	return s != NULL && *s != 0 ? &model->list[*s - 1] : NULL;
}

struct fz_object *fz_model_add(struct fz_model *model, uint32_t id,
		const struct vd_interface *interface, uint32_t version) {
	uint32_t *s = slot(model, id);
	if (s == NULL) {
		return NULL;
	}
	if (*s != 0) {
		struct fz_object *old = &model->list[*s - 1];
		old->alive = false;
		old->freed = true;
	}
	if (model->count == model->cap) {
		size_t cap = model->cap ? model->cap * 2 : 256;
		struct fz_object *list = realloc(model->list, cap * sizeof(*list));
		if (list == NULL) {
			abort();
		}
		model->list = list;
		model->cap = cap;
	}
	struct fz_object *object = &model->list[model->count++];
	*object = (struct fz_object){.id = id, .interface = interface, .version = version,
		.alive = true};
	*s = (uint32_t)model->count;
	return object;
}

void fz_model_kill(struct fz_model *model, uint32_t id) {
	struct fz_object *object = fz_model_get(model, id);
	if (object != NULL) {
		object->alive = false;
	}
}

void fz_model_free_id(struct fz_model *model, uint32_t id) {
	uint32_t *s = slot(model, id);
	if (s != NULL && *s != 0) {
		model->list[*s - 1].alive = false;
		model->list[*s - 1].freed = true;
		*s = 0;
	}
}

void fz_model_delete(struct fz_model *model, uint32_t id) {
	struct fz_object *object = fz_model_get(model, id);
	if (object != NULL) {
		object->alive = false;
		object->freed = true;
		object->deleted = true;
	}
}

uint32_t fz_model_alloc(struct fz_model *model, bool server) {
	if (server) {
		for (uint32_t i = 0; i < FZ_MODEL_IDS; i++) {
			if (model->server_map[i] == 0) {
				return FZ_SERVER_ID + i;
			}
		}
		return 0;
	}
	for (uint32_t id = 2; id < FZ_MODEL_IDS; id++) {
		if (model->client_map[id] == 0) {
			return id;
		}
	}
	return 0;
}

struct fz_object *fz_model_select(struct fz_model *model, const struct vd_interface *interface,
		uint32_t k) {
	size_t n = 0;
	for (size_t i = 0; i < model->count; i++) {
		const struct fz_object *o = &model->list[i];
		n += o->alive && (interface == NULL || o->interface == interface);
	}
	if (n == 0) {
		return NULL;
	}
	size_t want = k % n;
	for (size_t i = 0; i < model->count; i++) {
		struct fz_object *o = &model->list[i];
		if (o->alive && (interface == NULL || o->interface == interface) && want-- == 0) {
			return o;
		}
	}
	return NULL;
}

void fz_model_note_serial(struct fz_model *model, uint32_t serial) {
	memmove(&model->serials[1], &model->serials[0], (FZ_SERIALS - 1) * sizeof(uint32_t));
	model->serials[0] = serial;
	if (model->serial_count < FZ_SERIALS) {
		model->serial_count++;
	}
}

uint32_t fz_model_serial(const struct fz_model *model, uint32_t k) {
	return model->serial_count == 0 ? 0 : model->serials[k % model->serial_count];
}
