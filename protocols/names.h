#ifndef PROTOCOLS_NAMES_H
#define PROTOCOLS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Names every program agrees on (README, "One rule each").
 *
 * A VM name is [a-z][a-z0-9-]{0,31}, and not "host" (the global clipboard's
 * name for the host). Lower case only, so that no two VMs differ by case
 * alone (file systems and users may not tell them apart); a letter first
 * and no '.', '_' or '/', so that a name is at once a file name, a systemd
 * unit instance (vmdesk-proxy@NAME.service), a Wayland app id part
 * (vmdesk.NAME.app) and a menu file name (vmdesk.NAME.ID.desktop, where the
 * '.' after NAME makes the split unambiguous). D-Bus object path elements
 * allow only [A-Za-z0-9_]: there '-' becomes '_', one to one since names
 * hold no '_'.
 */

#define VD_VM_NAME_MAX 32
#define VD_HOST_DOMAIN "host"

bool vd_vm_name_valid(const char *name, size_t len);
/* A VM name, or "host". */
bool vd_domain_name_valid(const char *name, size_t len);
/* The D-Bus object path element of a valid VM name (out: VD_VM_NAME_MAX + 1 bytes). */
void vd_vm_name_dbus(const char *name, char *out);

/*
 * A desktop file ID as a guest may send it: 9..255 bytes of [A-Za-z0-9._-],
 * ending in ".desktop", not starting with '.' or '-', no "..".
 */
#define VD_DESKTOP_ID_MAX 255
bool vd_desktop_id_valid(const char *id, size_t len);

/*
 * A notification action key (Qubes' rule): 1..255 bytes, an ASCII letter,
 * then [A-Za-z0-9._:-] ("default", "app.open-file::42").
 */
#define VD_ACTION_KEY_MAX 255
bool vd_action_key_valid(const char *key, size_t len);

/*
 * A notification category (Qubes' rule): 1..64 bytes of [a-z.], a letter
 * first, no '.' last ("email.arrived").
 */
#define VD_NOTIFY_CATEGORY_MAX 64
bool vd_notify_category_valid(const char *category, size_t len);

/*
 * A guest image name (`vmdesk image build NAME`, `image = NAME`):
 * [A-Za-z0-9][A-Za-z0-9_-]{0,31}, a directory name under the images
 * directory. host/image/vmdesk-image's valid_name() is the same rule.
 */
#define VD_IMAGE_NAME_MAX 32
bool vd_image_name_valid(const char *name, size_t len);

#endif
