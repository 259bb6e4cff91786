#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/wl/endpoint.h"

void vd_endpoint_init(struct vd_endpoint *endpoint, const struct vd_endpoint_impl *impl) {
	*endpoint = (struct vd_endpoint){ .impl = impl };
}

bool vd_endpoint_attach(struct vd_endpoint *endpoint, size_t max_fds, size_t out_limit,
		vd_endpoint_ready_func ready, void *data) {
	assert(endpoint->ready == NULL);
	if (!vd_connection_init(&endpoint->conn, max_fds, out_limit)) {
		return false;
	}
	endpoint->ready = ready;
	endpoint->ready_data = data;
	/* the transport is watched from here on (mask was 0) */
	endpoint->mask = WL_EVENT_READABLE;
	return endpoint->impl->watch(endpoint, WL_EVENT_READABLE);
}

void vd_endpoint_destroy(struct vd_endpoint *endpoint) {
	if (endpoint == NULL) {
		return;
	}
	vd_connection_finish(&endpoint->conn);
	endpoint->impl->destroy(endpoint);
}
