#include "protocols/link-mux.h"

static void schedule(struct vd_mux *mux);

static void pump(struct vd_mux *mux) {
	if (mux->pumping) {
		return; // a produce() woke a source: the loop below takes it
	}
	mux->pumping = true;
	/* a bounded number of turns per call: the rest come from the next idle */
	int turns = 1024;
	while (turns-- > 0 && mux->conn != NULL && !wl_list_empty(&mux->ready) &&
			!vd_link_conn_closing(mux->conn) &&
			vd_link_conn_queued(mux->conn) < mux->high_water) {
		struct vd_mux_source *source = wl_container_of(mux->ready.next, source, link);
		wl_list_remove(&source->link);
		wl_list_init(&source->link);
		source->queued = false;
		if (source->produce(source, mux->conn, mux->quantum) && !source->queued) {
			/* the back of the circle */
			wl_list_insert(mux->ready.prev, &source->link);
			source->queued = true;
		}
	}
	mux->pumping = false;
	if (turns < 0 && !wl_list_empty(&mux->ready)) {
		schedule(mux);
	}
}

static void handle_idle(void *data) {
	struct vd_mux *mux = data;
	mux->idle = NULL; // the loop removes it
	pump(mux);
}

static void schedule(struct vd_mux *mux) {
	if (mux->idle == NULL && mux->conn != NULL && !mux->pumping) {
		mux->idle = wl_event_loop_add_idle(mux->loop, handle_idle, mux);
	}
}

void vd_mux_init(struct vd_mux *mux, struct wl_event_loop *loop, size_t high_water,
		size_t quantum) {
	*mux = (struct vd_mux){.loop = loop, .high_water = high_water, .quantum = quantum};
	wl_list_init(&mux->ready);
}

void vd_mux_finish(struct vd_mux *mux) {
	if (mux->idle != NULL) {
		wl_event_source_remove(mux->idle);
		mux->idle = NULL;
	}
	struct vd_mux_source *source, *tmp;
	wl_list_for_each_safe(source, tmp, &mux->ready, link) {
		wl_list_remove(&source->link);
		wl_list_init(&source->link);
		source->queued = false;
	}
	mux->conn = NULL;
}

void vd_mux_set_conn(struct vd_mux *mux, struct vd_link_conn *conn) {
	mux->conn = conn;
	if (conn == NULL && mux->idle != NULL) {
		wl_event_source_remove(mux->idle);
		mux->idle = NULL;
	}
	if (conn != NULL && !wl_list_empty(&mux->ready)) {
		schedule(mux);
	}
}

void vd_mux_drained(struct vd_mux *mux) {
	if (!wl_list_empty(&mux->ready)) {
		pump(mux);
	}
}

void vd_mux_source_init(struct vd_mux_source *source, struct vd_mux *mux,
		vd_mux_produce_func produce) {
	*source = (struct vd_mux_source){.mux = mux, .produce = produce};
	wl_list_init(&source->link);
}

void vd_mux_wake(struct vd_mux_source *source) {
	if (source->queued) {
		return;
	}
	wl_list_insert(source->mux->ready.prev, &source->link);
	source->queued = true;
	schedule(source->mux);
}

void vd_mux_remove(struct vd_mux_source *source) {
	if (source->queued) {
		wl_list_remove(&source->link);
		wl_list_init(&source->link);
		source->queued = false;
	}
}
