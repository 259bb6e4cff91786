/*
 * fuzz-clipd: the global clipboard (host/clipboard/, vmdesk-clipd or
 * hostd's clipboard module) under the fuzzer at the level of link frames.
 * Its peers are the proxies, which relay what a VM's clipboard holds, and
 * the vmdesk-clip command: a proxy that a guest took over can send it
 * anything. Up to four fake peers connect to its socket, say HELLO (or
 * not), and send what the input says: frames of the host set built from
 * its tables (tests/fuzz/link-gen.h: CLIP_JOIN, CLIP_FOCUS, copy and paste
 * replies to the requests the clipboard sent, commands, VM_WINDOWS, and the
 * control messages it does not speak), raw bytes, hangups. Whatever they
 * send, every frame the clipboard sends must decode as a server's, and
 * ASan, UBSan and LeakSanitizer watch the rest. No host compositor and no
 * session bus: those are the host's own peers, not a VM's.
 *
 * Input: 4 header bytes, then records (tests/fuzz/record.h):
 *   [0] bits 0-1: the policy file (enum policy); bit 2: the clipboard is
 *       told which VMs exist (work, banking, untrusted)
 *   [1], [2], [3] reserved
 * Record kinds: low 2 bits the kind, bits 2-3 the peer it is for
 *   0 FRAME    a frame of a client: lg_build values (type, id, shape,
 *              fields); ids: SEL k names the k-th request this peer got.
 *              A peer not connected connects first and says HELLO.
 *   1 RAW      bytes as they are (a peer not connected connects, no HELLO)
 *   2 CONTROL  enum control, then its values
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/clipboard/clipboard-private.h"
#include "protocols/log.h"
#include "tests/fuzz/link-gen.h"
#include "tests/fuzz/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum kind {
	K_FRAME,
	K_RAW,
	K_CONTROL,
	K_COUNT,
};

enum control {
	C_CONNECT, // value: caps offered (0: all), bit 8 of it: no HELLO
	C_HANGUP, // the peer closes its end
	C_STOP_READING, // value 0: the peer stops reading, else resumes
	C_WAIT, // ms, at most 2
	C_OP_TIMEOUT, // the operation under way times out (its timer's handler)
	C_COUNT,
};

/* The policy files, written once (LLVMFuzzerInitialize). */
enum policy {
	P_NONE, // no file: the defaults
	P_RULES, // rules and small limits
	P_STRICT, // only work may give; no clearing after a paste
	P_HOST, // everything into the host, nothing out of untrusted
	P_COUNT,
};

static const char *const policy_texts[P_COUNT] = {
	[P_NONE] = NULL,
	[P_RULES] = "# rules\ndeny untrusted -> banking\ndeny * -> banking\nallow work -> *\n"
		"max-size 256\n",
	[P_STRICT] = "allow work -> *\ndeny * -> *\nclear-after-paste no\ntimeout-ms 100\n",
	[P_HOST] = "deny untrusted -> *\nallow * -> host\nmax-size 1024\n",
};

#define MAX_PEERS_HERE 4
#define MAX_IDS 16
#define PUMP_ROUNDS 16

struct fz_peer {
	int fd; // -1: not connected
	bool paused; // it does not read
	struct vd_link_reader reader; // what the clipboard sends, checked
	uint32_t ids[MAX_IDS]; // ids of the clipboard's requests, for SEL
	size_t nids;
};

static struct {
	char dir[64]; // the socket's and the policies' directory
	char socket_path[96];
	char policy_paths[P_COUNT][96];
	struct wl_event_loop *loop;
	struct vd_gclip *gclip;
	struct fz_peer peers[MAX_PEERS_HERE];
	uint32_t windows; // the last count the clipboard passed on
} fz;

static bool vm_exists(void *data, const char *name) {
	(void)data;
	return strcmp(name, "work") == 0 || strcmp(name, "banking") == 0 ||
		strcmp(name, "untrusted") == 0;
}

static void vm_windows(void *data, const char *name, uint32_t count) {
	(void)data;
	(void)name;
	fz.windows = count;
}

static void peer_close(struct fz_peer *peer) {
	if (peer->fd >= 0) {
		close(peer->fd);
		peer->fd = -1;
	}
	peer->paused = false;
	peer->nids = 0;
	vd_link_reader_finish(&peer->reader);
}

/* A frame the clipboard sent: its id, if it has one, for SEL. */
static void handle_peer_frame(void *data, const struct vd_link_header *header,
		const uint8_t *payload, const struct vd_link_msg *msg) {
	struct fz_peer *peer = data;
	(void)payload;
	(void)msg;
	if (header->id != 0 && peer->nids < MAX_IDS) {
		peer->ids[peer->nids++] = header->id;
	}
}

/* What the clipboard sent this peer: every frame must decode as a server's. */
static void peer_read(struct fz_peer *peer) {
	if (peer->fd >= 0 && !peer->paused &&
			lg_read_checked(peer->fd, &peer->reader, &vd_link_host, VD_LINK_ROLE_SERVER,
				"fuzz-clipd: the clipboard", handle_peer_frame, peer) == LG_READ_CLOSED) {
		peer_close(peer); // the clipboard closed it
	}
}

/*
 * The clipboard and the peers run until none has anything left to do (at
 * most PUMP_ROUNDS): one poll a round for the loop and every peer that reads.
 */
static void pump(void) {
	for (int i = 0; i < PUMP_ROUNDS; i++) {
		struct pollfd pfd[1 + MAX_PEERS_HERE] = {
			{.fd = wl_event_loop_get_fd(fz.loop), .events = POLLIN},
		};
		for (size_t k = 0; k < MAX_PEERS_HERE; k++) {
			struct fz_peer *peer = &fz.peers[k];
			pfd[1 + k] = (struct pollfd){.fd = peer->paused ? -1 : peer->fd, .events = POLLIN};
		}
		if (poll(pfd, 1 + MAX_PEERS_HERE, 0) <= 0) {
			return;
		}
		if (pfd[0].revents != 0) {
			wl_event_loop_dispatch(fz.loop, 0);
		}
		for (size_t k = 0; k < MAX_PEERS_HERE; k++) {
			if (pfd[1 + k].revents != 0) {
				peer_read(&fz.peers[k]);
			}
		}
	}
}

/*
 * A peer writes: when the socket is full, the clipboard runs (and the peer
 * reads, unless it stopped) so that a large frame gets through whole; if
 * the clipboard takes nothing for a few rounds, the rest is lost, as from a
 * peer that gives up.
 */
static void peer_write(struct fz_peer *peer, const void *data, size_t len) {
	const uint8_t *p = data;
	int stuck = 0;
	while (peer->fd >= 0 && len > 0 && stuck < 4) {
		ssize_t n = send(peer->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN) {
				peer_close(peer);
				return;
			}
			wl_event_loop_dispatch(fz.loop, 0);
			peer_read(peer);
			stuck++;
			continue;
		}
		stuck = 0;
		p += n;
		len -= (size_t)n;
	}
}

/* Connects a peer (again, if it hung up) to the clipboard's socket and says HELLO unless not. */
static void peer_connect(struct fz_peer *peer, uint32_t caps, bool hello) {
	peer_close(peer);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", fz.socket_path);
	if (fd < 0) {
		abort();
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		/* the backlog is full: the clipboard did not accept yet */
		close(fd);
		return;
	}
	peer->fd = fd;
	vd_link_reader_init(&peer->reader, vd_link_host.max_frame);
	wl_event_loop_dispatch(fz.loop, 0); // accepted
	if (hello) {
		struct vd_link_buf buf = {0};
		caps &= VD_LINK_HOST_CAPS_ALL;
		if (lg_hello(&vd_link_host, VD_LINK_ROLE_CLIENT, caps ? caps : VD_LINK_HOST_CAPS_ALL,
				7, &buf)) {
			peer_write(peer, buf.data, buf.len);
		}
		vd_link_buf_finish(&buf);
	}
}

static void do_control(struct fz_peer *peer, struct fz_reader *r) {
	struct fz_value op, a;
	fz_take_value(r, &op);
	fz_take_value(r, &a);
	switch (fz_value_number(&op) % C_COUNT) {
	case C_CONNECT: {
		uint64_t v = fz_value_number(&a);
		peer_connect(peer, (uint32_t)v, !(v & 0x100));
		break;
	}
	case C_HANGUP:
		peer_close(peer);
		break;
	case C_STOP_READING:
		peer->paused = peer->fd >= 0 && fz_value_number(&a) == 0;
		break;
	case C_WAIT:
		wl_event_loop_dispatch(fz.loop, (int)(fz_value_number(&a) % 3));
		break;
	case C_OP_TIMEOUT:
		if (fz.gclip->op.kind != OP_NONE) {
			gclip_op_handle_timeout(fz.gclip);
		}
		break;
	}
}

static bool write_file(const char *path, const char *text) {
	FILE *f = fopen(path, "we");
	if (f == NULL) {
		return false;
	}
	bool ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	(void)argc;
	(void)argv;
	/* FUZZ_VERBOSE=1: the clipboard's log */
	vd_log_init("fuzz-clipd", getenv("FUZZ_VERBOSE") != NULL ? VD_DEBUG : VD_SILENT);
	const char *tmp = getenv("TMPDIR");
	snprintf(fz.dir, sizeof(fz.dir), "%s/fuzz-clipd.XXXXXX",
		tmp != NULL && tmp[0] == '/' && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fz.dir) == NULL) {
		perror("fuzz-clipd: mkdtemp");
		abort();
	}
	snprintf(fz.socket_path, sizeof(fz.socket_path), "%s/clipboard.sock", fz.dir);
	for (int i = 0; i < P_COUNT; i++) {
		snprintf(fz.policy_paths[i], sizeof(fz.policy_paths[i]), "%s/policy-%d", fz.dir, i);
		if (policy_texts[i] != NULL && !write_file(fz.policy_paths[i], policy_texts[i])) {
			perror("fuzz-clipd: a policy file");
			abort();
		}
	}
	return 0;
}

/* Removes the directory at exit: one set of files per process, not per input. */
static void remove_dir(void) {
	unlink(fz.socket_path);
	for (int i = 0; i < P_COUNT; i++) {
		unlink(fz.policy_paths[i]);
	}
	rmdir(fz.dir);
}

static void setup(uint8_t flags) {
	struct vd_gclip_config config;
	gclip_config_defaults(&config);
	config.loop = fz.loop;
	config.socket_path = fz.socket_path;
	config.policy_path = fz.policy_paths[flags & 3];
	config.host_display = ""; // none
	config.notifications = false;
	config.vm_windows = vm_windows;
	config.vm_exists = (flags & 4) ? vm_exists : NULL;
	fz.gclip = gclip_create(&config);
	if (fz.gclip == NULL) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	static bool initialized;
	if (!initialized) {
		if (fz.dir[0] == '\0') {
			LLVMFuzzerInitialize(NULL, NULL);
		}
		atexit(remove_dir);
		initialized = true;
	}
	struct fz_reader input;
	fz_reader_init(&input, data, size);
	uint8_t flags = fz_take_u8(&input);
	(void)fz_take_u8(&input);
	(void)fz_take_u16(&input);

	fz.loop = wl_event_loop_create();
	if (fz.loop == NULL) {
		abort();
	}
	for (size_t k = 0; k < MAX_PEERS_HERE; k++) {
		fz.peers[k] = (struct fz_peer){.fd = -1};
	}
	fz.windows = 0;
	setup(flags);

	struct fz_record rec;
	while (fz_next_record(&input, &rec)) {
		struct fz_reader r;
		fz_reader_init(&r, rec.payload, rec.len);
		struct fz_peer *peer = &fz.peers[(rec.kind >> 2) % MAX_PEERS_HERE];
		switch ((rec.kind & 0x03) % K_COUNT) {
		case K_FRAME: {
			/* kept from frame to frame and input to input: a large frame's
			 * buffer is not allocated (and faulted in) again each time */
			static struct vd_link_buf buf;
			if (peer->fd < 0) {
				peer_connect(peer, 0, true);
			}
			struct lg_ids ids = {peer->ids, peer->nids};
			uint16_t type;
			buf.len = buf.pos = 0;
			if (lg_build(&vd_link_host, VD_LINK_ROLE_CLIENT, &r, &ids, &buf, &type)) {
				peer_write(peer, buf.data, buf.len);
			}
			break;
		}
		case K_RAW:
			if (peer->fd < 0) {
				peer_connect(peer, 0, false);
			}
			peer_write(peer, rec.payload, rec.len);
			break;
		case K_CONTROL:
			do_control(peer, &r);
			break;
		}
		pump();
	}
	gclip_destroy(fz.gclip); // closes every connection
	for (size_t k = 0; k < MAX_PEERS_HERE; k++) {
		peer_close(&fz.peers[k]);
	}
	wl_event_loop_destroy(fz.loop);
	return 0;
}

/* ---- the mutator ---- */

static bool clipd_tagged(uint8_t kind) {
	return (kind & 0x03) % K_COUNT != K_RAW;
}

/* The messages a proxy or a command sends the clipboard, by type (the rest of
 * the host set's client messages are picked by place, SMALL k, now and then). */
static const uint16_t clip_types[] = {
	VD_LINK_CLIP_JOIN,
	VD_LINK_CLIP_FOCUS,
	VD_LINK_CLIP_COPY_REPLY,
	VD_LINK_CLIP_PASTE_REPLY,
	VD_LINK_CLIP_COMMAND,
	VD_LINK_VM_WINDOWS,
};

static void clipd_generate(struct fz_rng *rng, struct fz_writer *w) {
	uint8_t peer = (uint8_t)(fz_below(rng, MAX_PEERS_HERE) << 2);
	uint32_t r = fz_below(rng, 100);
	if (r < 80) {
		size_t start = fz_record_begin(w, K_FRAME | peer);
		if (r < 70) {
			size_t n = sizeof(clip_types) / sizeof(clip_types[0]);
			fz_put_tag(w, FZ_U32, 0);
			fz_put_u32(w, clip_types[fz_below(rng, (uint32_t)n)]);
		} else {
			fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 32));
		}
		lg_generate_after_type(rng, w);
		fz_record_end(w, start);
	} else {
		size_t start = fz_record_begin(w, K_CONTROL | peer);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, C_COUNT));
		fz_random_values(rng, w, 2);
		fz_record_end(w, start);
	}
}

const struct fz_target fz_this_target = {
	.header_size = 4,
	.kind_mask = 0x03, // the peer bits are flags: the mutator moves records between peers
	.tagged = clipd_tagged,
	.generate = clipd_generate,
};
