#ifndef TESTS_FUZZ_HOSTD_PEERS_H
#define TESTS_FUZZ_HOSTD_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/record.h"

/*
 * The host's side of fuzz-hostd-modules: a private dbus-daemon (one per
 * process, killed at exit and with the process) and, each on a libdbus
 * connection of its own, the peers vmdesk-hostd's notification and tray
 * modules talk to:
 *   - the server: org.freedesktop.Notifications (GetCapabilities, Notify,
 *     CloseNotification), answering Notify as it is told (ids, errors, id 0,
 *     a reused id, held until answered), emitting ActionInvoked and
 *     NotificationClosed, releasing and taking its name again;
 *   - the panel: org.kde.StatusNotifierWatcher (RegisterStatusNotifierItem)
 *     and the tray host that calls the registered items and their menus.
 * Everything they get from hostd is checked: the Notify calls (the VM's
 * name, prefix and hints, the image's geometry, replaces_id naming a
 * notification of the same VM), every reply to the panel's calls by the
 * signature and values its method has (layouts, properties, pixmaps, PNG
 * icons), the items' signals. A finding aborts with a line on stderr.
 */

/* The VMs whose names may appear (the server checks Notify against them). */
#define HP_MAX_VMS 2

/* Starts the daemon in dir and connects the peers; false if it cannot. */
bool hp_start(const char *dir, const char *const vm_names[HP_MAX_VMS]);
void hp_stop(void);
const char *hp_address(void);
/* The peers' fds, for poll (HP_FDS of them). */
#define HP_FDS 2
int hp_fd(size_t k);

/* Reads and handles what the peers got; returns the count of messages but ping replies. */
size_t hp_read(void);
/* Each peer pings name (a connection of hostd): a barrier, see fuzz-hostd-modules.c. */
void hp_ping(const char *name);
size_t hp_pings_left(void);
/* A digest of what the peers got (types, members, signatures): FUZZ_TRACE. */
uint64_t hp_digest(void);
/* Unique names on the bus (ListNames, blocking): the end of an input waits for hostd's to go. */
size_t hp_connections(void);
/* GetCapabilities answered so far (the notification module waits for one). */
uint32_t hp_caps_answered(void);

/* A new input: the server's table and modes start again. */
void hp_input_begin(void);
/*
 * The input is over (hostd has left the channels and the bus is quiet): held
 * calls dropped; the server and the watcher own their names again with the
 * default capabilities if an input changed them. True if the server was
 * restarted (hostd asks for its capabilities again).
 */
bool hp_input_end(void);

/* ---- what records make the peers do ---- */

enum hp_server_mode {
	HP_ANSWER, // a new id (the same one when replacing one that exists)
	HP_ERROR, // an error reply
	HP_ZERO, // id 0
	HP_REUSE, // the id it gave last, whatever was asked
	HP_HOLD, // no answer until hp_server_answer
	HP_MODE_COUNT,
};

/* ActionInvoked(note, key): note SEL k (the k-th shown) or an exact id; key SMALL k: its k-th. */
void hp_server_action(const struct fz_value *note, const struct fz_value *key);
/* NotificationClosed(note, reason). */
void hp_server_closed(const struct fz_value *note, const struct fz_value *reason);
/* The panel, not the server, says ActionInvoked (hostd must not pass it on). */
void hp_spoof_action(const struct fz_value *note);
void hp_server_mode(uint32_t mode);
void hp_server_answer(void);
/* Releases the name and (unless gone) takes it again, with caps (bits of hp_caps). */
void hp_server_restart(uint32_t caps, bool gone);

/* The panel calls item (SEL k: the k-th registered; SPECIAL k: one that went) with method m. */
void hp_panel_call(const struct fz_value *item, uint32_t method, const struct fz_value *a,
	const struct fz_value *b, const struct fz_value *c);
/* The watcher releases its name and (unless gone) takes it again. */
void hp_watcher_restart(bool gone);

/* The key hp_spoof_action sends: a guest that hears of it is a finding. */
#define HP_SPOOFED_KEY "spoofed-key"

#endif
