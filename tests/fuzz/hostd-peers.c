#include <dbus/dbus.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protocols/link.h"
#include "tests/fuzz/hostd-peer-checks.h"
#include "tests/fuzz/hostd-peers.h"

#define NOTIFY_NAME "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"
#define WATCHER "org.kde.StatusNotifierWatcher"
#define ITEM_IFACE "org.kde.StatusNotifierItem"
#define MENU_IFACE "com.canonical.dbusmenu"
#define MAX_NOTES 64
#define MAX_KEYS 8
#define MAX_ITEMS 40
#define MAX_GONE 4
#define MAX_PENDING 64
#define MAX_HELD 32

struct peer {
	DBusConnection *conn;
	dbus_uint32_t pings[MAX_PENDING];
	size_t npings;
};

/* A notification the server showed in this input. */
struct note {
	uint32_t id;
	int vm;
	char keys[MAX_KEYS][64];
	size_t nkeys;
};

/* An item registered with the watcher: its name and its connection. */
struct item {
	char service[128];
	char sender[64];
};

/* A call of the panel waiting for its answer. */
struct pending {
	dbus_uint32_t serial;
	uint32_t method;
};

/* hp_caps bits: what GetCapabilities lists */
static const char *const cap_names[] = {"actions", "body", "body-markup", "icon-static",
	"persistence", "sound", "body-hyperlinks"};
#define N_CAPS (sizeof(cap_names) / sizeof(cap_names[0]))
#define DEFAULT_CAPS 0x3f

static struct {
	char dir[128];
	char address[256];
	char conf_path[192];
	char socket_path[160];
	pid_t daemon;
	const char *vms[HP_MAX_VMS];
	struct peer server, panel;
	/* the server */
	struct note notes[MAX_NOTES];
	size_t nnotes;
	uint32_t next_id, last_id;
	uint32_t mode, caps;
	bool server_changed, watcher_changed, watcher_owned;
	uint32_t caps_answered;
	DBusMessage *held[MAX_HELD];
	size_t nheld;
	/* the panel */
	struct item items[MAX_ITEMS];
	size_t nitems;
	struct item gone[MAX_GONE];
	size_t ngone;
	struct pending pending[MAX_PENDING];
	size_t npending;
	struct hpc_ids menu_ids; // of the layouts the panel got
	uint64_t digests[2]; // the server's, the panel's (their order between them varies)
} hp;

const char *hp_address(void) {
	return hp.address;
}

int hp_fd(size_t k) {
	int fd = -1;
	dbus_connection_get_unix_fd(k == 0 ? hp.server.conn : hp.panel.conn, &fd);
	return fd;
}

uint32_t hp_caps_answered(void) {
	return hp.caps_answered;
}

/* ---- sending ---- */

static dbus_uint32_t peer_send(struct peer *peer, DBusMessage *msg) {
	dbus_uint32_t serial = 0;
	if (msg == NULL || !dbus_connection_send(peer->conn, msg, &serial)) {
		hpc_finding("a peer cannot send (out of memory)");
	}
	dbus_connection_flush(peer->conn);
	dbus_message_unref(msg);
	return serial;
}

static void reply_error(struct peer *peer, DBusMessage *call, const char *name) {
	if (!dbus_message_get_no_reply(call)) {
		peer_send(peer, dbus_message_new_error(call, name, "no"));
	}
}

void hp_ping(const char *name) {
	struct peer *peers[] = {&hp.server, &hp.panel};
	for (size_t i = 0; i < 2; i++) {
		if (peers[i]->npings == MAX_PENDING) {
			continue;
		}
		DBusMessage *msg = dbus_message_new_method_call(name, "/", DBUS_INTERFACE_PEER, "Ping");
		dbus_message_set_auto_start(msg, FALSE);
		peers[i]->pings[peers[i]->npings++] = peer_send(peers[i], msg);
	}
}

size_t hp_pings_left(void) {
	return hp.server.npings + hp.panel.npings;
}

static bool take_ping(struct peer *peer, dbus_uint32_t serial) {
	for (size_t i = 0; i < peer->npings; i++) {
		if (peer->pings[i] == serial) {
			peer->pings[i] = peer->pings[--peer->npings];
			return true;
		}
	}
	return false;
}

/* ---- the server ---- */

static struct note *note_by_id(uint32_t id) {
	for (size_t i = 0; i < hp.nnotes; i++) {
		if (hp.notes[i].id == id) {
			return &hp.notes[i];
		}
	}
	return NULL;
}

static void answer_notify(DBusMessage *call) {
	int vm;
	uint32_t replaces;
	DBusMessageIter actions, it;
	hpc_check_notify(hp.vms, call, &vm, &replaces, &actions);
	struct note *old = replaces != 0 ? note_by_id(replaces) : NULL;
	if (replaces != 0 && replaces > hp.last_id) {
		hpc_finding("Notify replaces %u, an id the server never gave", replaces);
	}
	if (old != NULL && old->vm != vm) {
		hpc_finding("%s replaces notification %u of %s", hp.vms[vm], replaces, hp.vms[old->vm]);
	}
	if (hp.mode == HP_HOLD && hp.nheld < MAX_HELD) {
		hp.held[hp.nheld++] = dbus_message_ref(call);
		return;
	}
	if (hp.mode == HP_ERROR || hp.mode == HP_HOLD) {
		reply_error(&hp.server, call, "org.freedesktop.Notifications.Error.Refused");
		return;
	}
	dbus_uint32_t id = hp.mode == HP_ZERO ? 0 : hp.mode == HP_REUSE && hp.last_id != 0 ?
		hp.last_id : old != NULL ? old->id : ++hp.next_id;
	hp.last_id = id > hp.last_id ? id : hp.last_id;
	struct note *note = id != 0 ? note_by_id(id) : NULL;
	if (id != 0 && note == NULL && hp.nnotes < MAX_NOTES) {
		note = &hp.notes[hp.nnotes++];
	}
	if (note != NULL) {
		note->id = id;
		note->vm = vm;
		note->nkeys = 0;
		dbus_message_iter_recurse(&actions, &it);
		for (; dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING;
				dbus_message_iter_next(&it)) {
			if (note->nkeys < MAX_KEYS) {
				snprintf(note->keys[note->nkeys++], sizeof(note->keys[0]), "%s",
					hpc_string(&it));
			}
			dbus_message_iter_next(&it); // the label
		}
	}
	DBusMessage *reply = dbus_message_new_method_return(call);
	dbus_message_append_args(reply, DBUS_TYPE_UINT32, &id, DBUS_TYPE_INVALID);
	peer_send(&hp.server, reply);
}

static void answer_caps(DBusMessage *call) {
	const char *names[N_CAPS];
	int n = 0;
	for (size_t i = 0; i < N_CAPS; i++) {
		if (hp.caps & (1u << i)) {
			names[n++] = cap_names[i];
		}
	}
	const char **p = names;
	DBusMessage *reply = dbus_message_new_method_return(call);
	dbus_message_append_args(reply, DBUS_TYPE_ARRAY, DBUS_TYPE_STRING, &p, n, DBUS_TYPE_INVALID);
	peer_send(&hp.server, reply);
	hp.caps_answered++;
}

static void server_call(DBusMessage *call) {
	if (dbus_message_is_method_call(call, NOTIFY_NAME, "Notify")) {
		answer_notify(call);
	} else if (dbus_message_is_method_call(call, NOTIFY_NAME, "GetCapabilities")) {
		answer_caps(call);
	} else if (dbus_message_is_method_call(call, NOTIFY_NAME, "CloseNotification")) {
		dbus_uint32_t id = 0;
		if (!dbus_message_get_args(call, NULL, DBUS_TYPE_UINT32, &id, DBUS_TYPE_INVALID) ||
				id == 0 || id > hp.last_id) {
			hpc_finding("CloseNotification(%u), an id the server never gave", id);
		}
		if (!dbus_message_get_no_reply(call)) {
			peer_send(&hp.server, dbus_message_new_method_return(call));
		}
	} else {
		reply_error(&hp.server, call, DBUS_ERROR_UNKNOWN_METHOD);
	}
}

/* ---- the panel ---- */

static void item_gone(size_t i) {
	hp.gone[hp.ngone++ % MAX_GONE] = hp.items[i];
	hp.items[i] = hp.items[--hp.nitems];
}

static void panel_call(DBusMessage *call) {
	const char *service;
	if (!dbus_message_is_method_call(call, WATCHER, "RegisterStatusNotifierItem")) {
		reply_error(&hp.panel, call, DBUS_ERROR_UNKNOWN_METHOD);
		return;
	}
	if (!dbus_message_get_args(call, NULL, DBUS_TYPE_STRING, &service, DBUS_TYPE_INVALID) ||
			strncmp(service, "org.kde.StatusNotifierItem-", 27) != 0) {
		hpc_finding("RegisterStatusNotifierItem with a bad name");
	}
	const char *sender = dbus_message_get_sender(call);
	size_t i = 0;
	while (i < hp.nitems && strcmp(hp.items[i].service, service) != 0) {
		i++;
	}
	if (i == hp.nitems && hp.nitems < MAX_ITEMS) {
		hp.nitems++;
	}
	if (i < MAX_ITEMS) {
		snprintf(hp.items[i].service, sizeof(hp.items[i].service), "%s", service);
		snprintf(hp.items[i].sender, sizeof(hp.items[i].sender), "%s", sender);
	}
	peer_send(&hp.panel, dbus_message_new_method_return(call));
}

/* An item whose connection or name went goes from the panel. */
static void panel_signal(DBusMessage *msg) {
	const char *name, *old_owner, *new_owner;
	if (dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged")) {
		if (dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING,
				&old_owner, DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID) &&
				new_owner[0] == '\0') {
			for (size_t i = 0; i < hp.nitems; i++) {
				if (strcmp(hp.items[i].service, name) == 0 ||
						strcmp(hp.items[i].sender, name) == 0) {
					item_gone(i);
					break;
				}
			}
		}
		return;
	}
}

static void digest(struct peer *peer, const char *s) {
	uint64_t *d = &hp.digests[peer == &hp.panel];
	for (; s != NULL && *s != '\0'; s++) {
		*d = (*d ^ (uint8_t)*s) * 0x100000001b3ull;
	}
	*d = (*d ^ 0xff) * 0x100000001b3ull;
}

uint64_t hp_digest(void) {
	return hp.digests[0] ^ (hp.digests[1] << 1 | hp.digests[1] >> 63);
}

/* One message a peer got; false if it was the answer to a ping. */
static bool handle(struct peer *peer, DBusMessage *msg) {
	int type = dbus_message_get_type(msg);
	bool reply = type == DBUS_MESSAGE_TYPE_METHOD_RETURN || type == DBUS_MESSAGE_TYPE_ERROR;
	dbus_uint32_t serial = dbus_message_get_reply_serial(msg);
	if (reply && take_ping(peer, serial)) {
		return false;
	}
	if (getenv("FUZZ_TRACE") != NULL && getenv("FUZZ_TRACE")[0] == '2') {
		fprintf(stderr, "trace %s %s %s %s %s\n", peer == &hp.server ? "server" : "panel",
			dbus_message_type_to_string(type), dbus_message_get_member(msg),
			dbus_message_get_error_name(msg), dbus_message_get_signature(msg));
	}
	digest(peer, dbus_message_type_to_string(type));
	digest(peer, dbus_message_get_member(msg));
	digest(peer, dbus_message_get_error_name(msg));
	digest(peer, dbus_message_get_signature(msg));
	if (reply) {
		for (size_t i = 0; peer == &hp.panel && i < hp.npending; i++) {
			if (hp.pending[i].serial == serial) {
				uint32_t method = hp.pending[i].method;
				hp.pending[i] = hp.pending[--hp.npending];
				hpc_check_reply(hp.vms, method, msg, &hp.menu_ids);
				break;
			}
		}
		return true;
	}
	if (type == DBUS_MESSAGE_TYPE_METHOD_CALL) {
		if (peer == &hp.server) {
			server_call(msg);
		} else {
			panel_call(msg);
		}
	} else if (type == DBUS_MESSAGE_TYPE_SIGNAL && peer == &hp.panel) {
		panel_signal(msg);
		hpc_check_signal(msg);
	}
	return true;
}

static size_t peer_read(struct peer *peer) {
	size_t n = 0;
	for (int i = 0; i < 256; i++) {
		DBusMessage *msg;
		while ((msg = dbus_connection_pop_message(peer->conn)) != NULL) {
			n += handle(peer, msg);
			dbus_message_unref(msg);
		}
		struct pollfd pfd = {.fd = -1, .events = POLLIN};
		dbus_connection_get_unix_fd(peer->conn, &pfd.fd);
		if (poll(&pfd, 1, 0) <= 0) {
			break;
		}
		if (!dbus_connection_read_write(peer->conn, 0)) {
			int status = 0;
			if (hp.daemon > 0 && waitpid(hp.daemon, &status, WNOHANG) == hp.daemon) {
				fprintf(stderr, "fuzz-hostd-modules: dbus-daemon ended: status 0x%x\n",
					(unsigned)status);
			}
			hpc_finding("the bus dropped the %s's connection", peer == &hp.server ? "server" :
				"panel");
		}
	}
	return n;
}

size_t hp_read(void) {
	return peer_read(&hp.server) + peer_read(&hp.panel);
}

size_t hp_connections(void) {
	DBusMessage *call = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS,
		DBUS_INTERFACE_DBUS, "ListNames");
	DBusError error;
	dbus_error_init(&error);
	DBusMessage *reply = call != NULL ? dbus_connection_send_with_reply_and_block(hp.panel.conn,
		call, 5000, &error) : NULL;
	if (call != NULL) {
		dbus_message_unref(call);
	}
	if (reply == NULL) {
		hpc_finding("ListNames: %s", error.message ? error.message : "out of memory");
	}
	DBusMessageIter args, it;
	size_t n = 0;
	dbus_message_iter_init(reply, &args);
	dbus_message_iter_recurse(&args, &it);
	for (; dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING; dbus_message_iter_next(&it)) {
		n += hpc_string(&it)[0] == ':';
	}
	dbus_message_unref(reply);
	return n;
}

/* ---- actions ---- */

static struct note *note_at(const struct fz_value *v, uint32_t *id) {
	if (v->cls == FZ_SEL && hp.nnotes > 0) {
		struct note *note = &hp.notes[fz_value_number(v) % hp.nnotes];
		*id = note->id;
		return note;
	}
	*id = (uint32_t)fz_value_number(v);
	return note_by_id(*id);
}

void hp_server_action(const struct fz_value *note_v, const struct fz_value *key_v) {
	uint32_t id;
	struct note *note = note_at(note_v, &id);
	const char *key = "default";
	char exact[256];
	if (key_v->cls == FZ_BYTES && key_v->len < sizeof(exact)) {
		memcpy(exact, key_v->bytes, key_v->len);
		exact[key_v->len] = '\0';
		if (dbus_validate_utf8(exact, NULL) && strlen(exact) == key_v->len) {
			key = exact;
		}
	} else if (note != NULL && note->nkeys > 0) {
		key = note->keys[fz_value_number(key_v) % note->nkeys];
	}
	DBusMessage *msg = dbus_message_new_signal(NOTIFY_PATH, NOTIFY_NAME, "ActionInvoked");
	dbus_message_append_args(msg, DBUS_TYPE_UINT32, &id, DBUS_TYPE_STRING, &key,
		DBUS_TYPE_INVALID);
	peer_send(&hp.server, msg);
}

void hp_server_closed(const struct fz_value *note_v, const struct fz_value *reason_v) {
	uint32_t id;
	note_at(note_v, &id);
	dbus_uint32_t reason = (uint32_t)fz_value_number(reason_v);
	DBusMessage *msg = dbus_message_new_signal(NOTIFY_PATH, NOTIFY_NAME, "NotificationClosed");
	dbus_message_append_args(msg, DBUS_TYPE_UINT32, &id, DBUS_TYPE_UINT32, &reason,
		DBUS_TYPE_INVALID);
	peer_send(&hp.server, msg);
}

void hp_spoof_action(const struct fz_value *note_v) {
	uint32_t id;
	note_at(note_v, &id);
	const char *key = HP_SPOOFED_KEY;
	DBusMessage *msg = dbus_message_new_signal(NOTIFY_PATH, NOTIFY_NAME, "ActionInvoked");
	dbus_message_append_args(msg, DBUS_TYPE_UINT32, &id, DBUS_TYPE_STRING, &key,
		DBUS_TYPE_INVALID);
	peer_send(&hp.panel, msg);
}

void hp_server_mode(uint32_t mode) {
	hp.mode = mode % HP_MODE_COUNT;
}

void hp_server_answer(void) {
	uint32_t mode = hp.mode;
	hp.mode = HP_ANSWER;
	for (size_t i = 0; i < hp.nheld; i++) {
		answer_notify(hp.held[i]);
		dbus_message_unref(hp.held[i]);
	}
	hp.nheld = 0;
	hp.mode = mode == HP_HOLD ? HP_ANSWER : mode;
}

static void own(struct peer *peer, const char *name, bool take) {
	DBusError error;
	dbus_error_init(&error);
	if (take) {
		dbus_bus_request_name(peer->conn, name, DBUS_NAME_FLAG_DO_NOT_QUEUE, &error);
	} else {
		dbus_bus_release_name(peer->conn, name, &error);
	}
	if (dbus_error_is_set(&error)) {
		hpc_finding("%s %s: %s", take ? "cannot own" : "cannot release", name, error.message);
	}
}

void hp_server_restart(uint32_t caps, bool gone) {
	own(&hp.server, NOTIFY_NAME, false);
	hp.caps = caps & ((1u << N_CAPS) - 1);
	if (!gone) {
		own(&hp.server, NOTIFY_NAME, true);
	}
	hp.server_changed = true;
}

void hp_watcher_restart(bool gone) {
	if (hp.watcher_owned) {
		own(&hp.panel, WATCHER, false);
	}
	hp.watcher_owned = !gone;
	if (!gone) {
		own(&hp.panel, WATCHER, true);
	}
	hp.watcher_changed = true;
}

void hp_panel_call(const struct fz_value *item_v, uint32_t method, const struct fz_value *a,
		const struct fz_value *b, const struct fz_value *c) {
	const struct item *item = NULL;
	if (item_v->cls == FZ_SPECIAL && hp.ngone > 0) {
		size_t n = hp.ngone < MAX_GONE ? hp.ngone : MAX_GONE;
		item = &hp.gone[item_v->p % n];
	} else if (hp.nitems > 0) {
		item = &hp.items[fz_value_number(item_v) % hp.nitems];
	}
	if (item == NULL || hp.npending == MAX_PENDING) {
		return;
	}
	/* by its name or by its connection, as hosts do */
	const char *dest = fz_value_number(c) & 2 ? item->sender : item->service;
	DBusMessage *msg = hpc_build_call(dest, method % M_COUNT, a, b, c, &hp.menu_ids);
	if (msg == NULL) {
		return;
	}
	hp.pending[hp.npending].method = method % M_COUNT;
	hp.pending[hp.npending++].serial = peer_send(&hp.panel, msg);
}

/* ---- the daemon and the peers ---- */

static bool write_file(const char *path, const char *text) {
	FILE *f = fopen(path, "we");
	if (f == NULL) {
		return false;
	}
	bool ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

static bool start_daemon(void) {
	char conf[1024];
	snprintf(conf, sizeof(conf),
		"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		"<busconfig>\n <type>session</type>\n <listen>unix:path=%s</listen>\n"
		" <auth>EXTERNAL</auth>\n <policy context=\"default\">\n"
		"  <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
		"  <allow eavesdrop=\"true\"/>\n  <allow own=\"*\"/>\n </policy>\n</busconfig>\n",
		hp.socket_path);
	if (!write_file(hp.conf_path, conf)) {
		return false;
	}
	pid_t parent = getpid();
	hp.daemon = fork();
	if (hp.daemon < 0) {
		return false;
	}
	if (hp.daemon == 0) {
		/* it goes with the fuzzer, however that ends */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(1);
		}
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(null, 0);
		dup2(null, 1);
		if (getenv("FUZZ_VERBOSE") == NULL) {
			dup2(null, 2); // FUZZ_VERBOSE=1: the daemon's complaints too
		}
		execlp("dbus-daemon", "dbus-daemon", "--config-file", hp.conf_path, "--nofork",
			(char *)NULL);
		_exit(127);
	}
	return true;
}

static bool peer_connect(struct peer *peer) {
	DBusError error;
	for (int i = 0; i < 500; i++) {
		dbus_error_init(&error);
		peer->conn = dbus_connection_open_private(hp.address, &error);
		if (peer->conn != NULL) {
			break;
		}
		dbus_error_free(&error);
		int status;
		if (waitpid(hp.daemon, &status, WNOHANG) == hp.daemon) {
			hp.daemon = 0;
			fprintf(stderr, "fuzz-hostd-modules: dbus-daemon exited\n");
			return false;
		}
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	if (peer->conn == NULL) {
		return false;
	}
	dbus_connection_set_exit_on_disconnect(peer->conn, FALSE);
	dbus_error_init(&error);
	if (!dbus_bus_register(peer->conn, &error)) {
		fprintf(stderr, "fuzz-hostd-modules: Hello: %s\n", error.message);
		dbus_error_free(&error);
		return false;
	}
	return true;
}

bool hp_start(const char *dir, const char *const vm_names[HP_MAX_VMS]) {
	snprintf(hp.dir, sizeof(hp.dir), "%s", dir);
	snprintf(hp.conf_path, sizeof(hp.conf_path), "%s/bus.conf", dir);
	snprintf(hp.socket_path, sizeof(hp.socket_path), "%s/bus", dir);
	snprintf(hp.address, sizeof(hp.address), "unix:path=%s", hp.socket_path);
	for (int i = 0; i < HP_MAX_VMS; i++) {
		hp.vms[i] = vm_names[i];
	}
	hp.caps = DEFAULT_CAPS;
	if (!start_daemon() || !peer_connect(&hp.server) || !peer_connect(&hp.panel)) {
		return false;
	}
	DBusError error;
	dbus_error_init(&error);
	dbus_bus_add_match(hp.panel.conn, "type='signal',sender='" DBUS_SERVICE_DBUS "',member="
		"'NameOwnerChanged'", &error);
	dbus_bus_add_match(hp.panel.conn, "type='signal',interface='" ITEM_IFACE "'", &error);
	dbus_bus_add_match(hp.panel.conn, "type='signal',interface='" MENU_IFACE "'", &error);
	if (dbus_error_is_set(&error)) {
		fprintf(stderr, "fuzz-hostd-modules: AddMatch: %s\n", error.message);
		dbus_error_free(&error);
		return false;
	}
	own(&hp.server, NOTIFY_NAME, true);
	own(&hp.panel, WATCHER, true);
	hp.watcher_owned = true;
	return true;
}

void hp_stop(void) {
	struct peer *peers[] = {&hp.server, &hp.panel};
	for (size_t i = 0; i < 2; i++) {
		if (peers[i]->conn != NULL) {
			dbus_connection_close(peers[i]->conn);
			dbus_connection_unref(peers[i]->conn);
			peers[i]->conn = NULL;
		}
	}
	if (hp.daemon > 0) {
		kill(hp.daemon, SIGTERM);
		waitpid(hp.daemon, NULL, 0);
		hp.daemon = 0;
	}
	unlink(hp.socket_path);
	unlink(hp.conf_path);
}

void hp_input_begin(void) {
	hp.digests[0] = hp.digests[1] = 0xcbf29ce484222325ull;
	hp.nnotes = 0;
	hp.mode = HP_ANSWER;
	hp.menu_ids.count = 0;
	hp.ngone = 0;
}

bool hp_input_end(void) {
	for (size_t i = 0; i < hp.nheld; i++) {
		dbus_message_unref(hp.held[i]);
	}
	hp.nheld = 0;
	hp.npending = 0;
	bool restarted = hp.server_changed;
	if (hp.server_changed) {
		hp_server_restart(DEFAULT_CAPS, false);
		hp.server_changed = false;
	}
	if (hp.watcher_changed && !hp.watcher_owned) {
		hp_watcher_restart(false);
	}
	hp.watcher_changed = false;
	return restarted;
}
