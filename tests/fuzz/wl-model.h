#ifndef TESTS_FUZZ_WL_MODEL_H
#define TESTS_FUZZ_WL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/interface.h"

/*
 * What one peer of the proxy knows of its side of a connection, for
 * fuzz-proxy: the objects it may name (in creation order, so that "the
 * k-th wl_surface" stays the same surface when messages are inserted after
 * it), their IDs, and a few things a real peer would remember (the last
 * input serials, the globals shown). The fake client keeps one of the
 * client's ID space, the fake compositor one of the compositor's.
 */

/* IDs tracked: client range [1, FZ_MODEL_IDS), server range
 * [0xff000000, 0xff000000 + FZ_MODEL_IDS); others are not followed. */
#define FZ_MODEL_IDS 8192
#define FZ_SERVER_ID 0xff000000u
#define FZ_SERIALS 16
#define FZ_GLOBALS 64

enum fz_role {
	FZ_ROLE_NONE,
	FZ_ROLE_TOPLEVEL,
	FZ_ROLE_POPUP,
};

struct fz_object {
	uint32_t id;
	const struct vd_interface *interface;
	uint32_t version;
	bool alive; // its owner may use it
	bool freed; // its ID is free again (no longer in the map)
	/* the fake compositor's view of roles */
	uint32_t surface; // xdg_surface, wl_callback (frame): its wl_surface
	uint32_t role_object; // xdg_surface: its toplevel or popup
	enum fz_role role;
	bool configured;
	bool frame_pending; // wl_callback of wl_surface.frame, not yet done
	bool deleted; // the compositor deleted it while its peer could still name it
};

struct fz_global {
	uint32_t name;
	char interface[64];
	uint32_t version;
	bool removed;
};

struct fz_model {
	struct fz_object *list; // in creation order
	size_t count, cap;
	uint32_t client_map[FZ_MODEL_IDS]; // index in list + 1; 0: free
	uint32_t server_map[FZ_MODEL_IDS];
	uint32_t serials[FZ_SERIALS]; // newest first
	size_t serial_count;
	struct fz_global globals[FZ_GLOBALS]; // the client's: what its registries showed
	size_t global_count;
};

void fz_model_init(struct fz_model *model);
/* Forgets everything (keeps the memory). */
void fz_model_reset(struct fz_model *model);
void fz_model_finish(struct fz_model *model);

/* The object with that ID in the map (alive or a zombie), or NULL. */
struct fz_object *fz_model_get(struct fz_model *model, uint32_t id);
/* A new object at id (replaces what the map had there); NULL if id is not tracked. */
struct fz_object *fz_model_add(struct fz_model *model, uint32_t id,
	const struct vd_interface *interface, uint32_t version);
/* Its owner destroyed it: no longer alive, its ID still taken. */
void fz_model_kill(struct fz_model *model, uint32_t id);
/* Its ID is free again. */
void fz_model_free_id(struct fz_model *model, uint32_t id);
/*
 * The compositor sent delete_id for it on its own (libwayland-server frees
 * the ID then): its ID is free for a new object, and until one comes the
 * object stays in the map, deleted, for requests already on their way.
 */
void fz_model_delete(struct fz_model *model, uint32_t id);
/* The lowest free ID of a range (libwayland: a free slot or one past the end). */
uint32_t fz_model_alloc(struct fz_model *model, bool server);
/*
 * The k-th (mod their number) live object of interface, in creation order;
 * interface NULL: of any. NULL if there is none.
 */
struct fz_object *fz_model_select(struct fz_model *model, const struct vd_interface *interface,
	uint32_t k);

void fz_model_note_serial(struct fz_model *model, uint32_t serial);
/* The k-th newest serial, 0 if none. */
uint32_t fz_model_serial(const struct fz_model *model, uint32_t k);

#endif
