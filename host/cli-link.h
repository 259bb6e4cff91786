#ifndef HOST_CLI_LINK_H
#define HOST_CLI_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/link-conn.h"

/*
 * The commands' side of a host link (vmdesk, vmdesk-clip): dial a daemon's
 * Unix socket, shake hands as a client, and run an event loop until the
 * command is done. Everything a command waits for (the daemon, its stdin,
 * signals, a time limit) is an event on that one loop.
 */

struct vd_cli_link {
	struct wl_event_loop *loop;
	struct vd_link_conn *conn; // NULL until connected
	const char *program; // for messages
	const char *what; // "vmdesk-hostd at PATH"
	bool done;
	int status; // the exit status once done
	/* connected: send the request (the conn is set) */
	void (*connected)(struct vd_cli_link *cli);
	const struct vd_link_conn_impl *impl; // messages and the end of the link
	void *data;
};

/* Starts dialing path; connected() runs from the loop. False (message printed) on failure. */
bool vd_cli_link_start(struct vd_cli_link *cli, const char *path, uint32_t caps,
	int failure_status);
/* Runs the loop until done; returns the status. Frees the link. */
int vd_cli_link_run(struct vd_cli_link *cli);
/* Ends the command with status (also from inside handlers). */
void vd_cli_link_finish(struct vd_cli_link *cli, int status);

#endif
