#ifndef PROXY_HOSTD_LINK_H
#define PROXY_HOSTD_LINK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The proxy's link to the global clipboard (vmdesk-hostd's clipboard
 * socket, a host link: protocols/link.md). It says who the VM is and when its
 * windows get or lose keyboard focus, answers COPY_REQUEST from the VM's
 * selection (text types only, size limit and timeout of the request, UTF-8
 * checked) and PASTE_REQUEST by setting the VM's selection to data the proxy
 * serves itself. While the socket is missing or the daemon is down, it
 * retries with a backoff from an event loop timer; nothing ever blocks.
 */

struct vd_server;
struct vd_hostd_link;

/* $XDG_RUNTIME_DIR/vmdesk/clipboard.sock; false if it does not fit or the
 * variable is unset. */
bool hostd_link_default_path(char *path, size_t size);

struct vd_hostd_link *hostd_link_create(struct vd_server *server, const char *path);
void hostd_link_destroy(struct vd_hostd_link *link);
/* Tells the global clipboard (if the server has a link). */
void hostd_link_focus_changed(struct vd_server *server, bool focused);
/* Tells vmdesk-hostd the VM's window count (server->windows), for its idle shutdown. */
void hostd_link_windows_changed(struct vd_server *server);

#endif
