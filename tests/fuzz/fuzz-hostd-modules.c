/*
 * fuzz-hostd-modules: vmdesk-hostd's notification and tray modules
 * (host/notify*.c, host/tray*.c, decoration/icon.c), the host code that
 * turns what a guest sends into D-Bus objects and calls on the host's
 * session bus, under the fuzzer at the level of link frames and D-Bus
 * calls. Two fake guest agents (VMs "work" and "banking") each have an agent
 * channel (host/channel.c, compiled here to hand it a socket, as in
 * fuzz-hostd-channel) with both modules on it; the modules talk to a real
 * private dbus-daemon, on which the host's peers are played in process
 * (tests/fuzz/hostd-peers.h): a notification server and a panel (the
 * StatusNotifierWatcher and the tray host calling the items and menus).
 *
 * Whatever the guests send, every frame hostd sends them must decode as the
 * host's, and a guest may hear of its own notifications and items only (the
 * ids it sent); everything the server and the panel get must be well-formed
 * (hostd-peers.c); ASan, UBSan and LeakSanitizer watch the rest.
 *
 * The daemon, the peers and the two modules live for the process: the
 * notification module asks the server's capabilities once, and hostd refuses
 * notifications until it knows them. Each input has channels of its own
 * (a VM's state in the modules lives from its link's up to its down), the
 * server's table and modes start again, and the input ends with the
 * channels gone and the bus quiet (settle below), with the server and the
 * watcher back to their defaults if the input changed them. hostd's clock
 * (vd_now_ms) and its timers are virtual (--wrap): time moves only when a
 * record says, so rate limits, the tray's signal coalescing and D-Bus call
 * timeouts run the same way on every run of an input.
 *
 * FUZZ_TRACE=1 prints a digest of what the guests and the peers got after
 * each input: the same input must give the same digest alone, after others,
 * and in any order (how the independence of inputs was checked).
 *
 * Input: 4 header bytes, then records (tests/fuzz/record.h):
 *   [0] capabilities the work guest's HELLO offers (0: all)
 *   [1] the same for banking
 *   [2] bit 0: banking's definition says tray = no; bit 1: tray icons tinted
 *       (hostd's --tray-icons tint), not framed
 *   [3] reserved
 * Record kinds: low 2 bits the kind; bit 2: the guest (0 work, 1 banking);
 * bit 3: no settling after the record (the next one races what it started)
 *   0 GUEST    a frame of the guest: lg_build values (type, id, shape, fields);
 *              ids: SEL k names the guest's k-th id (work 1-8, banking 101-108)
 *   1 RAW      bytes as they are
 *   2 HOST     the host's side does something (enum action), then its values
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/channel.c"
#include "host/notify.h"
#include "host/tray.h"
#include "protocols/dbus.h"
#include "tests/fuzz/hostd-peers.h"
#include "tests/fuzz/link-gen.h"
#include "tests/fuzz/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum kind {
	K_GUEST,
	K_RAW,
	K_HOST,
	K_COUNT,
};

#define F_GUEST (1 << 2)
#define F_NO_SETTLE (1 << 3)

enum action {
	A_ACTION_INVOKED, // note (SEL k: the k-th the server showed; else an id), key
	A_CLOSED, // note, reason
	A_SPOOF, // note: the panel says ActionInvoked in the server's place
	A_SERVER_MODE, // enum hp_server_mode: how Notify is answered from now on
	A_SERVER_ANSWER, // the held Notify calls are answered
	A_SERVER_RESTART, // caps bits; bit 8: gone (the name released only)
	A_TRAY_CALL, // item, method (hostd-peers.c's enum method), its values a, b, c
	A_WATCHER_RESTART, // value 1: gone
	A_ADVANCE, // virtual ms (at most 30 s): due timers fire
	A_WAIT, // real ms, at most 2
	A_HANGUP, // the guest closes its end of the link
	A_RECONNECT, // the guest's channel again, on a new link
	A_STOP_READING, // value 0: the guest stops reading, else resumes
	A_COUNT,
};

#define MAX_GUESTS 2
#define MAX_IDS 16
#define MAX_SENT 256
#define MAX_BUSES 64
#define PUMP_ROUNDS 64
#define SETTLE_ROUNDS 12

static const char *const vm_names[MAX_GUESTS] = {"work", "banking"};
static const uint32_t guest_ids[MAX_GUESTS][8] = {
	{1, 2, 3, 4, 5, 6, 7, 8},
	{101, 102, 103, 104, 105, 106, 107, 108},
};

struct guest {
	struct vd_vmconf conf;
	struct vd_channel *channel; // NULL until the guest first acts
	int fd; // -1 once closed
	bool paused; // it does not read
	struct vd_link_reader reader; // what hostd sends, checked
	struct vd_link_reader mirror; // what the guest sent, for the ids it used
	bool mirror_broken; // its stream is no longer frames: no check of ids
	uint32_t sent[MAX_SENT]; // ids of the frames it sent
	size_t nsent;
	uint32_t caps; // offered in HELLO
};

/* A timer of the code under test, run on the virtual clock. */
struct timer {
	struct wl_event_source *source;
	wl_event_loop_timer_func_t func;
	void *data;
	uint64_t due; // 0: not armed
};

static struct {
	char dir[64];
	bool started;
	struct wl_event_loop *loop;
	struct vd_host_notify *notify;
	struct vd_host_tray *tray; // this input's (its mode is the header's)
	size_t connections; // on the bus between inputs: the peers and the notification module
	struct guest guests[MAX_GUESTS];
	uint64_t now; // the virtual clock
	struct timer *timers;
	size_t ntimers, timers_cap;
	struct vd_dbus *buses[MAX_BUSES]; // hostd's connections
	size_t nbuses;
	uint64_t activity; // what the peers got, but the barrier's pings
	uint64_t digest; // of what the guests got (FUZZ_TRACE)
} fz;

static uint64_t digest_bytes(const uint8_t *p, size_t len) {
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 0x100000001b3ull;
	}
	return h;
}

/* ---- the virtual clock and timers (--wrap) ---- */

uint64_t __wrap_vd_now_ms(void);
struct wl_event_source *__real_wl_event_loop_add_timer(struct wl_event_loop *loop,
	wl_event_loop_timer_func_t func, void *data);
struct wl_event_source *__wrap_wl_event_loop_add_timer(struct wl_event_loop *loop,
	wl_event_loop_timer_func_t func, void *data);
int __real_wl_event_source_timer_update(struct wl_event_source *source, int ms_delay);
int __wrap_wl_event_source_timer_update(struct wl_event_source *source, int ms_delay);
int __real_wl_event_source_remove(struct wl_event_source *source);
int __wrap_wl_event_source_remove(struct wl_event_source *source);
struct vd_dbus *__real_vd_dbus_connect(struct wl_event_loop *loop, const char *address,
	const struct vd_dbus_impl *impl, void *data, char *err, size_t err_size);
struct vd_dbus *__wrap_vd_dbus_connect(struct wl_event_loop *loop, const char *address,
	const struct vd_dbus_impl *impl, void *data, char *err, size_t err_size);
void __real_vd_dbus_destroy(struct vd_dbus *bus);
void __wrap_vd_dbus_destroy(struct vd_dbus *bus);

uint64_t __wrap_vd_now_ms(void) {
	return fz.now;
}

static struct timer *find_timer(struct wl_event_source *source) {
	for (size_t i = 0; i < fz.ntimers; i++) {
		if (fz.timers[i].source == source) {
			return &fz.timers[i];
		}
	}
	return NULL;
}

struct wl_event_source *__wrap_wl_event_loop_add_timer(struct wl_event_loop *loop,
		wl_event_loop_timer_func_t func, void *data) {
	struct wl_event_source *source = __real_wl_event_loop_add_timer(loop, func, data);
	if (source == NULL) {
		return NULL;
	}
	if (fz.ntimers == fz.timers_cap) {
		size_t cap = fz.timers_cap ? fz.timers_cap * 2 : 64;
		struct timer *timers = realloc(fz.timers, cap * sizeof(*timers));
		if (timers == NULL) {
			abort();
		}
		fz.timers = timers;
		fz.timers_cap = cap;
	}
	fz.timers[fz.ntimers++] = (struct timer){.source = source, .func = func, .data = data};
	return source;
}

int __wrap_wl_event_source_timer_update(struct wl_event_source *source, int ms_delay) {
	struct timer *timer = find_timer(source);
	if (timer == NULL) {
		return __real_wl_event_source_timer_update(source, ms_delay);
	}
	timer->due = ms_delay > 0 ? fz.now + (uint64_t)ms_delay : 0;
	return 0;
}

int __wrap_wl_event_source_remove(struct wl_event_source *source) {
	struct timer *timer = find_timer(source);
	if (timer != NULL) {
		*timer = fz.timers[--fz.ntimers];
	}
	return __real_wl_event_source_remove(source);
}

/* The clock moves on by ms; the timers due by then run, earliest first. */
static void advance(uint64_t ms) {
	fz.now += ms;
	for (int n = 0; n < 256; n++) {
		struct timer *first = NULL;
		for (size_t i = 0; i < fz.ntimers; i++) {
			struct timer *t = &fz.timers[i];
			if (t->due != 0 && t->due <= fz.now && (first == NULL || t->due < first->due)) {
				first = t;
			}
		}
		if (first == NULL) {
			return;
		}
		first->due = 0;
		first->func(first->data); // may add and remove timers
	}
}

/* hostd's D-Bus connections, for the barrier */
struct vd_dbus *__wrap_vd_dbus_connect(struct wl_event_loop *loop, const char *address,
		const struct vd_dbus_impl *impl, void *data, char *err, size_t err_size) {
	struct vd_dbus *bus = __real_vd_dbus_connect(loop, address, impl, data, err, err_size);
	if (bus != NULL && fz.nbuses < MAX_BUSES) {
		fz.buses[fz.nbuses++] = bus;
	}
	return bus;
}

void __wrap_vd_dbus_destroy(struct vd_dbus *bus) {
	for (size_t i = 0; bus != NULL && i < fz.nbuses; i++) {
		if (fz.buses[i] == bus) {
			fz.buses[i] = fz.buses[--fz.nbuses];
			break;
		}
	}
	__real_vd_dbus_destroy(bus);
}

/* ---- the guests ---- */

static bool sent_by(const struct guest *g, uint32_t id) {
	if (g->mirror_broken || g->nsent == MAX_SENT) {
		return true; // not known: no check
	}
	for (size_t i = 0; i < g->nsent; i++) {
		if (g->sent[i] == id) {
			return true;
		}
	}
	return false;
}

/* The ids of the frames in the guest's own stream (what hostd reads, as far as it is frames). */
static void mirror(struct guest *g, const uint8_t *p, size_t len) {
	while (len > 0 && !g->mirror_broken) {
		size_t space;
		uint8_t *to = vd_link_reader_space(&g->mirror, &space);
		if (to == NULL) {
			g->mirror_broken = true;
			return;
		}
		size_t n = len < space ? len : space;
		memcpy(to, p, n);
		vd_link_reader_commit(&g->mirror, n);
		p += n;
		len -= n;
		for (;;) {
			struct vd_link_header header;
			const uint8_t *payload;
			char err[256];
			enum vd_link_next next = vd_link_reader_next(&g->mirror, &header, &payload, err,
				sizeof(err));
			if (next == VD_LINK_NEXT_NONE) {
				break;
			}
			if (next == VD_LINK_NEXT_ERROR) {
				g->mirror_broken = true; // hostd ends such a link
				return;
			}
			if (!sent_by(g, header.id) && g->nsent < MAX_SENT) {
				g->sent[g->nsent++] = header.id;
			}
		}
	}
}

static void guest_read(struct guest *g);

/*
 * The guest writes: when the socket is full, hostd runs (and the guest
 * reads, unless it stopped) so that a large frame gets through whole; if
 * hostd takes nothing for a few rounds, the rest is lost.
 */
static void guest_write(struct guest *g, const void *data, size_t len) {
	const uint8_t *p = data;
	int stuck = 0;
	while (g->fd >= 0 && len > 0 && stuck < 4) {
		ssize_t n = send(g->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN) {
				return;
			}
			wl_event_loop_dispatch(fz.loop, 0);
			guest_read(g);
			stuck++;
			continue;
		}
		mirror(g, p, (size_t)n);
		stuck = 0;
		p += n;
		len -= (size_t)n;
	}
}

/* A frame hostd sent a guest: about the guest's own ids, never a spoofed action. */
static void handle_guest_frame(void *data, const struct vd_link_header *header,
		const uint8_t *payload, const struct vd_link_msg *msg) {
	struct guest *g = data;
	if (msg->type >= VD_LINK_NOTIFY) { // the modules' (HELLO has a random nonce)
		uint64_t h = digest_bytes(payload, header->length);
		h ^= (uint64_t)msg->type << 48 ^ header->id;
		fz.digest = (fz.digest ^ h) * 0x100000001b3ull;
	}
	bool about_own = msg->type != VD_LINK_NOTIFY_CLOSED &&
		msg->type != VD_LINK_NOTIFY_ACTION && msg->type != VD_LINK_TRAY_EVENT &&
		msg->type != VD_LINK_TRAY_MENU_EVENT;
	if (!about_own && !sent_by(g, header->id)) {
		fprintf(stderr, "fuzz-hostd-modules: %s heard of id %u (%s), which it never "
			"used\n", g->conf.name, header->id,
			vd_link_type_name(&vd_link_guest, msg->type));
		abort();
	}
	if (msg->type == VD_LINK_NOTIFY_ACTION &&
			strcmp(msg->body.notify_action.key, HP_SPOOFED_KEY) == 0) {
		fprintf(stderr, "fuzz-hostd-modules: an action not from the server reached "
			"%s\n", g->conf.name);
		abort();
	}
}

/* What hostd sent the guest: frames that decode as the host's, about the guest's own ids. */
static void guest_read(struct guest *g) {
	if (g->fd >= 0 && !g->paused) {
		lg_read_checked(g->fd, &g->reader, &vd_link_guest, VD_LINK_ROLE_HOST,
			"fuzz-hostd-modules: hostd", handle_guest_frame, g);
	}
}

static void guest_close(struct guest *g) {
	if (g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
	vd_link_reader_finish(&g->reader);
	vd_link_reader_finish(&g->mirror);
}

/* The guest's channel, its link handed over, and the guest's HELLO. */
static void guest_up(struct guest *g) {
	if (g->channel != NULL) {
		return;
	}
	struct vd_channel_config config = {
		.loop = fz.loop,
		.menu = NULL,
		.connect_timeout_ms = 10000,
		.retry_max_ms = 60000,
		.request_timeout_ms = 10000,
	};
	config.modules[0] = vd_host_notify_module(fz.notify);
	config.modules[1] = vd_host_tray_module(fz.tray);
	config.nmodules = 2;
	g->channel = vd_channel_create(&config, &g->conf);
	int sp[2];
	if (g->channel == NULL ||
			socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) != 0) {
		abort();
	}
	g->fd = sp[1];
	g->paused = false;
	g->mirror_broken = false;
	g->nsent = 0;
	vd_link_reader_init(&g->reader, vd_link_guest.max_frame);
	vd_link_reader_init(&g->mirror, vd_link_guest.max_frame);
	handle_dialed(g->channel, sp[0], NULL);
	struct vd_link_buf buf = {0};
	uint32_t offered = g->caps & VD_LINK_GUEST_CAPS_ALL ? g->caps & VD_LINK_GUEST_CAPS_ALL :
		VD_LINK_GUEST_CAPS_ALL;
	if (lg_hello(&vd_link_guest, VD_LINK_ROLE_GUEST, offered, 7, &buf)) {
		guest_write(g, buf.data, buf.len);
	}
	vd_link_buf_finish(&buf);
}

static void guest_down(struct guest *g) {
	vd_channel_destroy(g->channel); // the modules hear that its link is down
	g->channel = NULL;
	guest_close(g);
}

/* ---- running everything ---- */

static size_t poll_fds(struct pollfd *pfd) {
	size_t n = 0;
	pfd[n++] = (struct pollfd){.fd = wl_event_loop_get_fd(fz.loop), .events = POLLIN};
	for (size_t k = 0; k < HP_FDS; k++) {
		pfd[n++] = (struct pollfd){.fd = hp_fd(k), .events = POLLIN};
	}
	for (size_t k = 0; k < MAX_GUESTS; k++) {
		struct guest *g = &fz.guests[k];
		pfd[n++] = (struct pollfd){.fd = g->paused ? -1 : g->fd, .events = POLLIN};
	}
	return n;
}

/*
 * hostd, the guests and the peers run until none has anything ready (the
 * first poll waits up to timeout_ms). hostd's loop runs every round: libdbus
 * may hold read messages whose dispatch is an idle source, not a ready fd.
 */
static void pump(int timeout_ms) {
	for (int i = 0; i < PUMP_ROUNDS; i++) {
		wl_event_loop_dispatch(fz.loop, 0);
		fz.activity += hp_read();
		for (size_t k = 0; k < MAX_GUESTS; k++) {
			guest_read(&fz.guests[k]);
		}
		struct pollfd pfd[1 + HP_FDS + MAX_GUESTS];
		size_t n = poll_fds(pfd);
		if (poll(pfd, n, i == 0 ? timeout_ms : 0) <= 0) {
			return;
		}
	}
}

static bool buses_ready(void) {
	for (size_t i = 0; i < fz.nbuses; i++) {
		if (!vd_dbus_ready(fz.buses[i])) {
			return false;
		}
	}
	return true;
}

/*
 * Until nothing more happens: what a record started runs to its end before
 * the next record. The dbus-daemon is another process, so "nothing ready
 * now" is not "nothing on its way": each round ends with a barrier, a Ping
 * from both peers to each of hostd's connections (once they have said
 * Hello). The bus keeps the order of the messages between two connections,
 * and libdbus answers a Ping in its turn, so when the answers are back
 * each connection has handled what the peers sent before, and the peers
 * have what it sent before answering. A round in which the peers got
 * nothing but the answers ends it (what the guests get asks nothing of the
 * bus: they only read).
 */
static void settle(void) {
	for (int round = 0; round < SETTLE_ROUNDS; round++) {
		uint64_t before = fz.activity;
		pump(0);
		for (int i = 0; i < 1000 && !buses_ready(); i++) {
			pump(2); // a connection still authenticating
		}
		for (size_t i = 0; i < fz.nbuses; i++) {
			if (vd_dbus_ready(fz.buses[i])) {
				hp_ping(vd_dbus_unique_name(fz.buses[i]));
			}
		}
		for (int i = 0; i < 3000 && hp_pings_left() > 0; i++) {
			pump(10);
		}
		if (hp_pings_left() > 0) {
			fprintf(stderr, "fuzz-hostd-modules: the bus does not answer\n");
			abort();
		}
		if (fz.activity == before) {
			return;
		}
	}
}

/* ---- records ---- */

static void do_host(struct guest *g, struct fz_reader *r) {
	struct fz_value op, a, b, c, d, e;
	fz_take_value(r, &op);
	fz_take_value(r, &a);
	fz_take_value(r, &b);
	fz_take_value(r, &c);
	fz_take_value(r, &d);
	fz_take_value(r, &e);
	switch (fz_value_number(&op) % A_COUNT) {
	case A_ACTION_INVOKED:
		hp_server_action(&a, &b);
		break;
	case A_CLOSED:
		hp_server_closed(&a, &b);
		break;
	case A_SPOOF:
		hp_spoof_action(&a);
		break;
	case A_SERVER_MODE:
		hp_server_mode((uint32_t)fz_value_number(&a));
		break;
	case A_SERVER_ANSWER:
		hp_server_answer();
		break;
	case A_SERVER_RESTART: {
		uint64_t v = fz_value_number(&a);
		hp_server_restart((uint32_t)v, v & 0x100);
		break;
	}
	case A_TRAY_CALL:
		hp_panel_call(&a, (uint32_t)fz_value_number(&b), &c, &d, &e);
		break;
	case A_WATCHER_RESTART:
		hp_watcher_restart(fz_value_number(&a) & 1);
		break;
	case A_ADVANCE:
		advance(fz_value_number(&a) % 30001);
		break;
	case A_WAIT:
		wl_event_loop_dispatch(fz.loop, (int)(fz_value_number(&a) % 3));
		break;
	case A_HANGUP:
		if (g->fd >= 0) {
			close(g->fd);
			g->fd = -1;
		}
		break;
	case A_RECONNECT:
		guest_down(g);
		guest_up(g);
		break;
	case A_STOP_READING:
		g->paused = g->fd >= 0 && fz_value_number(&a) == 0;
		break;
	}
}

static void guest_frame(struct guest *g, struct fz_reader *r) {
	/* kept from frame to frame and input to input: a large frame's buffer is
	 * not allocated (and faulted in) again each time */
	static struct vd_link_buf buf;
	size_t k = (size_t)(g - fz.guests);
	struct lg_ids ids = {guest_ids[k], 8};
	uint16_t type;
	buf.len = buf.pos = 0;
	if (lg_build(&vd_link_guest, VD_LINK_ROLE_GUEST, r, &ids, &buf, &type)) {
		guest_write(g, buf.data, buf.len);
	}
}

static void remove_dir(void) {
	if (fz.started) {
		vd_host_notify_destroy(fz.notify);
		wl_event_loop_destroy(fz.loop);
		free(fz.timers);
		hp_stop();
	}
	rmdir(fz.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	(void)argc;
	(void)argv;
	/* FUZZ_VERBOSE=1: hostd's log */
	vd_log_init("fuzz-hostd-modules", getenv("FUZZ_VERBOSE") != NULL ? VD_DEBUG : VD_SILENT);
	/* as vmdesk-hostd's main: a write to a peer that left is EPIPE, not the end */
	signal(SIGPIPE, SIG_IGN);
	const char *tmp = getenv("TMPDIR");
	snprintf(fz.dir, sizeof(fz.dir), "%s/fuzz-hostd-modules.XXXXXX",
		tmp != NULL && tmp[0] == '/' && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fz.dir) == NULL) {
		perror("fuzz-hostd-modules: mkdtemp");
		abort();
	}
	atexit(remove_dir);
	if (!hp_start(fz.dir, vm_names)) {
		fprintf(stderr, "fuzz-hostd-modules: no dbus-daemon (tests/quickstart installs it)\n");
		abort();
	}
	fz.started = true;
	fz.now = 1000000;
	static const struct vd_color colors[MAX_GUESTS] = {{0xcc, 0x00, 0x00}, {0x33, 0x66, 0xff}};
	for (size_t k = 0; k < MAX_GUESTS; k++) {
		struct guest *g = &fz.guests[k];
		snprintf(g->conf.name, sizeof(g->conf.name), "%s", vm_names[k]);
		g->conf.color = colors[k];
		g->conf.tray = true;
		g->fd = -1;
	}
	fz.loop = wl_event_loop_create();
	struct vd_host_notify_config nconfig = {
		.loop = fz.loop,
		.bus_address = hp_address(),
		.burst = VD_HOST_NOTIFY_BURST,
		.interval_ms = VD_HOST_NOTIFY_INTERVAL_MS,
	};
	fz.notify = vd_host_notify_create(&nconfig);
	if (fz.loop == NULL || fz.notify == NULL) {
		abort();
	}
	/* hostd refuses notifications until the server has told what it does */
	for (int i = 0; i < 1000 && hp_caps_answered() == 0; i++) {
		pump(5);
	}
	if (hp_caps_answered() == 0) {
		fprintf(stderr, "fuzz-hostd-modules: the notification module never asked the server\n");
		abort();
	}
	settle();
	fz.connections = hp_connections();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (!fz.started) {
		LLVMFuzzerInitialize(NULL, NULL);
	}
	struct fz_reader input;
	fz_reader_init(&input, data, size);
	fz.guests[0].caps = fz_take_u8(&input);
	fz.guests[1].caps = fz_take_u8(&input);
	uint8_t flags = fz_take_u8(&input);
	fz.guests[1].conf.tray = !(flags & 1);
	(void)fz_take_u8(&input);
	hp_input_begin();
	/* the tray module holds nothing but its VMs' items: one per input, of the header's mode */
	struct vd_host_tray_config tconfig = {
		.loop = fz.loop,
		.bus_address = hp_address(),
		.mode = flags & 2 ? VD_ICON_TINT : VD_ICON_BORDER,
	};
	fz.tray = vd_host_tray_create(&tconfig);
	if (fz.tray == NULL) {
		abort();
	}
	fz.digest = 0;

	struct fz_record rec;
	while (fz_next_record(&input, &rec)) {
		struct fz_reader r;
		fz_reader_init(&r, rec.payload, rec.len);
		struct guest *g = &fz.guests[(rec.kind & F_GUEST) ? 1 : 0];
		switch ((rec.kind & 0x03) % K_COUNT) {
		case K_GUEST:
			guest_up(g);
			guest_frame(g, &r);
			break;
		case K_RAW:
			guest_up(g);
			guest_write(g, rec.payload, rec.len);
			break;
		case K_HOST:
			do_host(g, &r);
			break;
		}
		if (rec.kind & F_NO_SETTLE) {
			pump(0);
		} else {
			settle();
		}
	}
	for (size_t k = 0; k < MAX_GUESTS; k++) {
		guest_down(&fz.guests[k]);
	}
	vd_host_tray_destroy(fz.tray);
	settle();
	/* the items' connections gone from the bus: the next input's may take their names */
	for (int i = 0; i < 1000 && hp_connections() > fz.connections; i++) {
		pump(2);
	}
	if (hp_input_end()) {
		/* the server again: hostd asks what it does before the next input */
		uint32_t asked = hp_caps_answered();
		for (int i = 0; i < 1000 && hp_caps_answered() == asked; i++) {
			pump(5);
		}
	}
	settle();
	if (getenv("FUZZ_TRACE") != NULL) {
		fprintf(stderr, "fuzz-hostd-modules: digest %016llx %016llx\n",
			(unsigned long long)fz.digest, (unsigned long long)hp_digest());
	}
	return 0;
}

/* ---- the mutator ---- */

static bool modules_tagged(uint8_t kind) {
	return (kind & 0x03) % K_COUNT != K_RAW;
}

/* The messages of the modules, by type (the rest of the guest set's, by place, now and then). */
static const uint16_t module_types[] = {
	VD_LINK_NOTIFY,
	VD_LINK_NOTIFY,
	VD_LINK_NOTIFY_CLOSE,
	VD_LINK_TRAY_ITEM,
	VD_LINK_TRAY_ITEM,
	VD_LINK_TRAY_ICON,
	VD_LINK_TRAY_MENU,
	VD_LINK_TRAY_MENU,
	VD_LINK_TRAY_REMOVE,
};

static void modules_generate(struct fz_rng *rng, struct fz_writer *w) {
	uint8_t flags = (uint8_t)(fz_below(rng, 4) == 0 ? F_GUEST : 0) |
		(uint8_t)(fz_below(rng, 8) == 0 ? F_NO_SETTLE : 0);
	uint32_t r = fz_below(rng, 100);
	if (r < 60) {
		size_t start = fz_record_begin(w, K_GUEST | flags);
		if (r < 54) {
			size_t n = sizeof(module_types) / sizeof(module_types[0]);
			fz_put_tag(w, FZ_U32, 0);
			fz_put_u32(w, module_types[fz_below(rng, (uint32_t)n)]);
		} else {
			fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 32));
		}
		lg_generate_after_type(rng, w);
		fz_record_end(w, start);
	} else {
		size_t start = fz_record_begin(w, K_HOST | flags);
		/* the panel's calls and the server's signals most */
		uint32_t op = r < 80 ? A_TRAY_CALL : r < 88 ? (uint32_t)fz_below(rng, 3) :
			(uint32_t)fz_below(rng, A_COUNT);
		fz_put_tag(w, FZ_SMALL, (uint8_t)op);
		fz_random_values(rng, w, 6);
		fz_record_end(w, start);
	}
}

const struct fz_target fz_this_target = {
	.header_size = 4,
	.kind_mask = 0x03, // the guest and settling bits are flags
	.tagged = modules_tagged,
	.generate = modules_generate,
};
