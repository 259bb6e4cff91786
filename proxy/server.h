#ifndef PROXY_SERVER_H
#define PROXY_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "decoration/color.h"
#include "proxy/session.h"

/*
 * The proxy of one VM: a listening socket, the upstream compositor's
 * address, the VM's policy and limits, and the sessions of its clients.
 */

struct vd_policy;

struct vd_server {
	struct wl_event_loop *loop;
	const char *vm;
	struct vd_color color;
	char upstream_path[108];
	struct vd_policy *policy;
	struct vd_limits limits;
	bool trace;
	bool frames; // draw frames (--no-frames turns them off)

	struct vd_hook_registry *hooks; // every session's, unless its creator gives others
	struct wl_list sessions; // vd_session.link
	uint64_t next_serial;
	struct vd_clipboard *clipboard; // the VM's selections
	uint32_t windows; // xdg_toplevels of all its clients (reported to hostd)

	int listen_fd;
	struct wl_event_source *listen_source;
	char *socket_path; // NULL when the socket was handed to us
	char *lock_path;
	int lock_fd;
};

/*
 * Resolves a WAYLAND_DISPLAY-style name: absolute, or under
 * $XDG_RUNTIME_DIR. Returns false with a reason in err.
 */
bool vd_server_resolve_display(const char *display, char *path, size_t path_size, char *err,
	size_t err_size);

bool vd_server_init(struct vd_server *server, struct wl_event_loop *loop);
/* A new connection to the compositor (non-blocking), or -1 with errno. */
int vd_server_connect_upstream(struct vd_server *server);
/* Binds and listens on path (with a lock file beside it). */
bool vd_server_listen(struct vd_server *server, const char *path);
/* Serves an already listening socket (socket activation). */
bool vd_server_adopt(struct vd_server *server, int fd);
void vd_server_finish(struct vd_server *server);
/* One of the VM's windows got or lost keyboard focus. */
void server_focus_changed(struct vd_server *server, bool focused);
/* A window of the VM came (+1) or went (-1). */
void server_windows_changed(struct vd_server *server, int delta);

#endif
