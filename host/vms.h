#ifndef HOST_VMS_H
#define HOST_VMS_H

#include <stdbool.h>
#include <stddef.h>

#include "host/channel.h"

/*
 * The VMs vmdesk-hostd knows: one agent channel per VM definition
 * (host/vmconf.h). It reloads the definitions on vd_vms_reload (SIGHUP)
 * and when a definition directory changes (inotify), touching only the VMs
 * whose definition changed: a new VM gets a channel, a removed one loses
 * its channel and its menu entries, a changed one gets a new channel; the
 * others keep theirs.
 */

struct vd_menu_writer;
struct vd_vms;

/* dirs: definition directories, later ones overriding earlier ones. */
struct vd_vms *vd_vms_create(const struct vd_channel_config *config, const char *const *dirs,
	size_t ndirs);
void vd_vms_destroy(struct vd_vms *vms);
void vd_vms_reload(struct vd_vms *vms);
/* reloaded() runs after each reload (not from vd_vms_create). */
void vd_vms_set_listener(struct vd_vms *vms, void (*reloaded)(void *data), void *data);
/* NULL: no VM of that name. */
struct vd_channel *vd_vms_find(struct vd_vms *vms, const char *name);
size_t vd_vms_count(const struct vd_vms *vms);
/* The VMs sorted by name. */
struct vd_channel *vd_vms_at(struct vd_vms *vms, size_t i);

#endif
