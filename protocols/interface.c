#include <stdlib.h>
#include <string.h>

#include "protocols/interface.h"

static int compare_name(const void *key, const void *elem) {
	const struct vd_interface *const *iface = elem;
	return strcmp(key, (*iface)->name);
}

const struct vd_interface *vd_interface_find(const char *name) {
	const struct vd_interface *const *found = bsearch(name, vd_interfaces,
		vd_interface_count, sizeof(vd_interfaces[0]), compare_name);
	return found ? *found : NULL;
}
