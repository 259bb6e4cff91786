#ifndef TESTS_FUZZ_PROXY_HARNESS_H
#define TESTS_FUZZ_PROXY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wayland-server-core.h>

#include "protocols/link.h"
#include "proxy/server.h"
#include "tests/fuzz/record.h"
#include "tests/fuzz/wl-model.h"

/*
 * fuzz-proxy's harness: vmdesk-proxy's real message path (proxy/session.c
 * and everything under it) between a fake client and a fake compositor,
 * both in this process, and a fake vmdesk-hostd on the proxy's clipboard
 * link. The input (tests/fuzz/record.h) says what the peers send; the
 * harness turns it into well-formed messages naming live objects, answers
 * what a compositor answers by itself (registry, sync, binds, the first
 * configure of a window, frame callbacks, delete_id) and checks what the
 * proxy passes on: everything must parse against the tables and name
 * objects the receiver has (a "firewall" check, besides the sanitizers).
 *
 * Input header (4 bytes; all zero is the common case):
 *   [0] flags FZ_H_*
 *   [1] seat capabilities (low 3 bits, 0: all), toplevel configure size (bits 3-5)
 *   [2] globals the compositor leaves out (FZ_G_*)
 *   [3] the target's own (fuzz-proxy: reserved; fuzz-proxy-vm-link: FZ_V_*)
 * Records: the kinds FZ_K_*, flags FZ_F_* in the kind byte's high bits.
 *
 * REQUEST and EVENT payloads: interface (SMALL/U8: index in vd_interfaces),
 * object (SEL: the k-th live object of that interface; U32: a raw ID),
 * opcode (SMALL/U8: among the messages of the object's version; U32: raw),
 * then one value per argument: numbers as they are (SEL: a recent serial;
 * SPECIAL: an edge value), objects by SEL among the live ones of their
 * interface, new IDs allocated (U32: raw), strings from a dictionary or
 * BYTES, fds as memfds of a size (SPECIAL: pipes, none, ...).
 */

#define FZ_HEADER_SIZE 4

enum fz_header_flags {
	FZ_H_TRACE = 1 << 0, // --trace (proxy/trace.c)
	FZ_H_NO_FRAMES = 1 << 1, // --no-frames
	FZ_H_FULLSCREEN = 1 << 2, // policy: set fullscreen allow
	FZ_H_NO_HOSTD = 1 << 3, // no global clipboard link
	FZ_H_MANUAL = 1 << 4, // the compositor answers nothing by itself
	FZ_H_OLD = 1 << 5, // the compositor offers every global at version 1
	FZ_H_TWO_SEATS = 1 << 6,
	FZ_H_SMALL_LIMITS = 1 << 7, // 64 objects, 16 KiB queues, 8 fds
};

enum fz_kind {
	FZ_K_REQUEST, // the client sends a request
	FZ_K_EVENT, // the compositor sends an event
	FZ_K_RAW_CLIENT, // raw bytes from the client
	FZ_K_RAW_COMPOSITOR, // raw bytes from the compositor
	FZ_K_HOSTD, // vmdesk-hostd sends a frame (tests/fuzz/link-gen.h)
	FZ_K_CONTROL, // a peer does something else (enum fz_control)
	FZ_K_COUNT,
};

#define FZ_KIND_MASK 0x07

enum fz_record_flags {
	FZ_F_SESSION = 1 << 3, // the second client (and its compositor connection)
	FZ_F_EXACT = 1 << 4, // no version clamping of opcodes, no lookups
	FZ_F_MIRROR = 1 << 5, // events: objects named as the client's, via the proxy's map
	FZ_F_BROADCAST = 1 << 6, // events: to every live object of the interface
	FZ_F_BATCH = 1 << 7, // do not let the proxy run before the next record
};

/* First value of a CONTROL record. */
enum fz_control {
	FZ_C_CLIENT_HANGUP,
	FZ_C_COMPOSITOR_HANGUP,
	FZ_C_CLIENT_READING, // value: 0 stops reading events, else resumes
	FZ_C_COMPOSITOR_READING,
	FZ_C_SEND_DATA, // the client writes (value) to the oldest send fd; SMALL 1 after: keep it open
	FZ_C_CLOSE_SEND, // the client closes the oldest send fd
	FZ_C_HOSTD_HANGUP,
	FZ_C_WAIT, // time passes (value: ms, at most 2: each costs real time): timers run
	FZ_C_HOSTD_RAW, // raw bytes (BYTES value) on the hostd link
	FZ_C_COUNT,
};

struct fz_buf {
	uint8_t *data;
	size_t len, cap;
	int fds[256];
	size_t nfds;
};

struct fz_endpoint;
struct fz_harness;

struct fz_session {
	struct fz_harness *h;
	bool alive;
	struct vd_session *session; // valid while alive
	struct fz_endpoint *client; // NULL once the proxy destroyed it
	int upstream; // the fake compositor's end; -1 once closed
	bool compositor_paused; // not reading the proxy's requests
	bool client_paused; // not reading events
	struct fz_model client_model, comp_model;
	struct fz_buf events; // from the proxy to the client, not yet parsed
	struct fz_buf requests; // from the proxy to the compositor, not yet parsed
	struct fz_buf to_compositor; // events not yet written to the socket
	uint32_t comp_serial;
	int send_fds[8]; // wl_data_source.send fds the client holds
	size_t nsend;
	int pipes[16]; // read ends of pipes the client sent (receive): drained
	size_t npipes;
	int32_t last_fd_size; // size of the last memfd built (create_pool's size)
	bool traced; // its bytes go to the tracker run
	/* the compositor sent delete_id for an ID it did not have: the proxy may
	 * have freed one of its own, so its new IDs are no longer checked */
	bool compositor_lied;
};

/* Sessions a harness keeps at once (fuzz-proxy uses 2, fuzz-proxy-vm-link one per channel). */
#define FZ_SESSIONS 8

struct fz_harness {
	struct wl_event_loop *loop;
	struct vd_server server;
	struct fz_session sessions[FZ_SESSIONS];
	unsigned sessions_made;
	uint8_t flags, caps, globals_off, extra;
	/* the global clipboard link */
	struct vd_hostd_link *hostd;
	int hostd_fd; // the fake hostd's end
	struct vd_link_reader hostd_reader; // what the proxy sends, checked
	struct fz_buf hostd_out;
	uint32_t hostd_ids[8]; // ids of requests sent, for SEL
	size_t hostd_nids;
	/* what the first client sent and got, for the tracker */
	struct fz_buf trace_requests;
	bool oracle;
	/* the proxy's loop may have work: its next round runs epoll_wait (fuzz-proxy.c) */
	bool loop_ready;
};

/* A message built from a record. */
#define FZ_MSG_MAX 8192
struct fz_msg {
	uint8_t data[FZ_MSG_MAX];
	size_t size;
	int fds[28];
	size_t nfds;
	uint32_t target;
	const struct vd_interface *interface; // the target's; NULL for raw IDs
	uint16_t opcode;
	bool destructor;
};

/* tests/fuzz/wl-build.c */
/* The client's request from a REQUEST record; false: nothing to send. */
bool fz_build_request(struct fz_session *s, uint8_t kind, struct fz_reader *r,
	struct fz_msg *msg);
/*
 * The compositor's event from an EVENT record; target: 0 to choose by the
 * record, else the upstream ID to send to (broadcast). false: nothing.
 */
bool fz_build_event(struct fz_session *s, uint8_t kind, struct fz_reader *r, uint32_t target,
	struct fz_msg *msg);
/*
 * The compositor sends an EVENT record's event (r: its values): to the object
 * the record names, or with FZ_F_BROADCAST in kind to every live object of
 * its interface, as a compositor sends one input event to each of a client's
 * keyboards, with one serial. A destructor event is followed by delete_id
 * unless manual.
 */
void fz_send_event_record(struct fz_session *s, uint8_t kind, const struct fz_reader *r,
	bool manual);
/* The upstream ID of the record's target object (for broadcast: its interface). */
const struct vd_interface *fz_event_interface(struct fz_session *s, struct fz_reader *r);
/* For the mutators: a new REQUEST record's values (interface, object,
 * message, arguments), and a new EVENT record's to an object of iface. */
void fz_generate_request(struct fz_rng *rng, struct fz_writer *w);
void fz_generate_event(struct fz_rng *rng, struct fz_writer *w, const struct vd_interface *iface);
/* Mostly one of common's n interfaces, now and then any. */
const struct vd_interface *fz_pick_interface(struct fz_rng *rng,
	const struct vd_interface *const *common, size_t n);
/* Closes a built message's fds (it was not sent). */
void fz_msg_close_fds(struct fz_msg *msg);
/* A memfd of size bytes (content: data, or a pattern), -1 on failure. */
int fz_memfd(const void *data, size_t len, size_t size);

/* tests/fuzz/fuzz-proxy-hostd.c: vmdesk-proxy's hostd link on a connected fd */
void fuzz_hostd_link_attach(struct vd_hostd_link *link, int fd);

/* tests/fuzz/fuzz-proxy-vm-link-attach.c: vmdesk-proxy's VM link on a connected fd */
struct vd_vm_link;
void fuzz_vm_link_attach(struct vd_vm_link *link, int fd);

/*
 * tests/fuzz/proxy-harness.c: what fuzz-proxy and fuzz-proxy-vm-link share.
 */

/* Once per process: logging (silent), FUZZ_PROXY_ORACLE, FUZZ_PROXY_VERBOSE, the policies. */
void fz_harness_global_init(const char *program);
/* Reads the input's header; the loop, the proxy's server, the hostd link, sessions unused. */
void fz_harness_begin(struct fz_harness *h, struct fz_reader *input);
/* After the sessions ended: the hostd link, the server, the loop. */
void fz_harness_end(struct fz_harness *h);
/* The proxy's loop runs once (its epoll_wait only if h->loop_ready). */
void fz_loop_dispatch(struct fz_harness *h);

/* A session's slot for a new client: what the last one left is closed or forgotten. */
void fz_session_clear(struct fz_session *s);
/* As fz_session_clear, and its memory freed (the end of an input). */
void fz_session_finish(struct fz_session *s);

void fz_violation(struct fz_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* FUZZ_PROXY_VERBOSE: a line of the harness's. */
void fz_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* FUZZ_PROXY_VERBOSE: one line per message. */
void fz_note_wire(const char *what, int session, const uint8_t *data, size_t len);

void fz_buf_put(struct fz_buf *buf, const void *data, size_t len);
void fz_buf_consume(struct fz_buf *buf, size_t len);
void fz_buf_push_fd(struct fz_buf *buf, int fd); // closed if the buffer holds 256
int fz_buf_pop_fd(struct fz_buf *buf); // the oldest, -1 if none
void fz_buf_clear(struct fz_buf *buf); // bytes dropped, fds closed
void fz_buf_finish(struct fz_buf *buf);

/* The fake compositor (one per session, at s->upstream). */
/* Writes what it has queued; true if some went. */
bool fz_compositor_flush(struct fz_session *s);
/* Queues bytes (and fds, taken) as the compositor's; its model follows delete_ids. */
void fz_compositor_send(struct fz_session *s, const void *data, size_t len, const int *fds,
	size_t nfds);
/* An event of its own: fmt letters u, i, s, a (data, len), h (fd), n (new object: interface). */
uint32_t fz_compositor_event(struct fz_session *s, uint32_t object, uint16_t opcode,
	const char *fmt, ...);
/* Reads what the proxy sent (if readable), checks and answers every whole request. */
bool fz_compositor_read(struct fz_session *s, bool readable);

/* The fake client: checks and takes every whole event in s->events (fds in s->events.fds). */
bool fz_client_read(struct fz_session *s);
/* The first client's bytes for the tracker (fuzz-proxy). */
void fz_trace_chunk(struct fz_session *s, bool request, const void *data, size_t len,
	size_t nfds);

/* The fake vmdesk-hostd on the clipboard link (unless FZ_H_NO_HOSTD). */
void fz_hostd_start(struct fz_harness *h);
void fz_hostd_stop(struct fz_harness *h);
void fz_hostd_flush(struct fz_harness *h);
bool fz_hostd_read(struct fz_harness *h);
/* A frame of a record (link-gen.h) from hostd. */
void fz_hostd_frame(struct fz_harness *h, const struct fz_record *rec);

#endif
