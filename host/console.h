#ifndef HOST_CONSOLE_H
#define HOST_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

/*
 * A running VM's serial console, relayed to one `vmdesk console` at a time
 * (the launcher's console module), and logged. QEMU and cloud-hypervisor
 * listen on the console socket; crosvm connects to it instead, once, so
 * hostd listens before crosvm starts. Either way, with a log, hostd keeps
 * the connection for the VM's life and appends all of the output to the
 * log (hostd writes it, never the VMM: the VM's run directory is hostd's
 * to change, so a VMM that wrote a file there by name could be sent
 * anywhere by a symlink); without one, it connects while a client is
 * attached. Bytes pass unchanged both ways; nothing here parses them.
 */

struct vd_console;

struct vd_console_client {
	/* Bytes from the VM's console. */
	void (*output)(void *data, const uint8_t *bytes, size_t len);
	/* Input bytes written to the console (the client may send more). */
	void (*input_taken)(void *data, uint32_t bytes);
	/* The console is gone (the VM stopped, or the VMM closed it). */
	void (*ended)(void *data, const char *reason);
};

/*
 * host_listens: listen on socket_path now (crosvm); else connect to it now
 * with a log, or when a client attaches. log_path: where the console's
 * output goes ("" none).
 */
struct vd_console *vd_console_create(struct wl_event_loop *loop, const char *socket_path,
	bool host_listens, const char *log_path, char *err, size_t err_size);
/* Ends the attached client (ended() is called) and closes everything. Accepts NULL. */
void vd_console_destroy(struct vd_console *console, const char *reason);

/* False with err when a client is attached already or the console cannot be reached. */
bool vd_console_attach(struct vd_console *console, const struct vd_console_client *client,
	void *data, char *err, size_t err_size);
/* The client left; no more calls to it. */
void vd_console_detach(struct vd_console *console);
/* Queues input (at most a client's window, 1 MiB: more ends the client). */
void vd_console_input(struct vd_console *console, const uint8_t *bytes, size_t len);
/* Stops (or resumes) reading the console while the client cannot take more. */
void vd_console_pause(struct vd_console *console, bool paused);

#endif
