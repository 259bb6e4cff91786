#ifndef TESTS_FUZZ_VM_GUEST_H
#define TESTS_FUZZ_VM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/link.h"
#include "proxy/vm-link.h"
#include "tests/fuzz/proxy-harness.h"

/*
 * fuzz-proxy-vm-link's fake guest (tests/fuzz/vm-guest.c): vmdesk-guest-wayland's
 * end of the VM link as far as the proxy can tell. It keeps the link (made
 * again when it fails), shakes hands, answers pings, acknowledges data and
 * pipe data, gives each channel's client the fds its link objects stand for,
 * and checks every frame the proxy sends (the oracle, see
 * fuzz-proxy-vm-link.c). Each channel the proxy opens gets one of the
 * harness's sessions (its fake compositor) through the wrapped
 * vd_server_connect_upstream.
 */

#define VL_CHANNELS 32 // channels the guest remembers per link session
#define VL_POOLS 16
#define VL_BUFFERS 16
#define VL_PIPES 16
#define MAX_OPENS 24 // channels an input opens at most
#define MAX_LINKS 4 // links an input makes (a link that failed is made again)
#define PUMP_ROUNDS 32
#define CONTENTS_MAX (1u << 20) // bytes of a buffer sent before a commit, at most
#define CONTENTS_FRAME (256u * 1024u) // per WL_POOL_DATA, as the guest sends them
#define GUEST_NONCE 0x6775657374000001ull

/* Header byte 3 */
enum vl_header_flags {
	FZ_V_DIAL = 1 << 0, // the proxy dials a unix: address the guest listens on
	FZ_V_NO_ACK = 1 << 1, // the guest acknowledges no WL_DATA (the host's window fills)
	FZ_V_NO_PONG = 1 << 2, // the guest answers no ping
	FZ_V_FEW = 1 << 3, // host limits: 2 channels, 2 pools, 256 KiB of mirror per pool, 512 per VM
	FZ_V_NO_LIMITS = 1 << 4, // the guest sends no WL_LIMITS by itself
	FZ_V_SMALL_WINDOW = 1 << 5, // the guest's windows are 4 KiB
	FZ_V_SHORT_TIMEOUT = 1 << 6, // the host pings every millisecond, gives up after 3
	FZ_V_NO_CONTENTS = 1 << 7, // commits go without their buffer's contents
};

struct vl_pool {
	uint32_t number;
	uint32_t object; // its wl_shm_pool (0: made by a record)
	uint32_t size;
};

struct vl_buffer {
	uint32_t object;
	uint32_t pool; // number
	uint32_t offset, width, height, stride;
};

struct vl_pipe {
	uint32_t id;
	uint8_t end; // the end its sender holds
	bool host; // the host's number
	uint32_t unacked; // the host's WL_PIPE_DATA bytes not acknowledged
};

struct vl_channel {
	uint32_t id;
	int slot; // its session in h.sessions, -1: none
	bool guest_closed, host_closed;
	bool wl_dirty; // bytes the client's model does not know went on it: no event checks
	uint64_t sent, acked; // WL_DATA bytes to the host, and acknowledged by it
	uint32_t host_unacked; // the host's WL_DATA bytes not yet acknowledged
	uint32_t next_pool;
	struct vl_pool pools[VL_POOLS];
	size_t npools;
	struct vl_buffer buffers[VL_BUFFERS];
	size_t nbuffers;
	uint32_t attached; // the buffer of the last attach
	uint32_t next_pipe;
	struct vl_pipe pipes[VL_PIPES];
	size_t npipes;
};

struct vl_harness {
	struct fz_harness h;
	struct vd_vm_link *link;
	struct vd_vm_link_limits limits;
	int fd; // the guest's end of the link, -1: none
	unsigned links; // made in this input
	struct vd_link_buf out; // frames to the proxy, not yet written
	struct vd_link_reader reader; // the proxy's frames
	bool paused; // the guest does not read the link
	uint64_t nonce, echoed; // ours; the proxy's we echoed last
	uint32_t last_ping;
	/*
	 * Frames of unknown effect went to the proxy (raw bytes, broken frames)
	 * or a restart is under way: until the next handshake the channel
	 * checks are off (what a channel is, windows, acknowledgements).
	 */
	bool dirty;
	uint32_t window, pipe_window; // ours (WL_LIMITS)
	/*
	 * The window the proxy took: that of the first WL_LIMITS of the link or of
	 * its last new session (0: none yet). A control record may announce another
	 * than ours, and a second WL_LIMITS ends the link (the checks stop).
	 */
	uint32_t session_window;
	bool hello_seen; // the proxy's first HELLO on this link came
	struct vl_channel channels[VL_CHANNELS];
	size_t nchannels;
	uint32_t last_channel;
	unsigned opens;
};


/* Bytes of a pattern for the contents the guest sends (CONTENTS_FRAME of them). */
extern uint8_t vl_pattern[CONTENTS_FRAME];

/* Once per process: the pattern, the listening socket of FZ_V_DIAL. */
void vl_guest_init(void);
/* The proxy's VM link for an input (its header read) and the guest's end of it. */
void vl_link_start(struct vl_harness *v);
/* The end of an input: the link, its channels' sessions, the guest's end. */
void vl_link_stop(struct vl_harness *v);
void vl_link_close(struct vl_harness *v);
/* Queues a message (not sent if it breaks a rule of the codec). */
void vl_link_put(struct vl_harness *v, struct vd_link_msg *msg);
bool vl_link_flush(struct vl_harness *v);
void vl_send_hello(struct vl_harness *v, uint64_t peer);
void vl_send_limits(struct vl_harness *v, uint32_t window);
/* WL_DATA of a channel, in frames of at most VD_LINK_WL_MAX_DATA. */
void vl_send_data(struct vl_harness *v, struct vl_channel *c, const uint8_t *data, size_t len);

struct vl_channel *vl_channel_find(struct vl_harness *v, uint32_t id);
struct vl_channel *vl_channel_add(struct vl_harness *v, uint32_t id);
/* Its session (s->session, s->alive as the proxy has them now), or NULL. */
struct fz_session *vl_channel_session(struct vl_harness *v, struct vl_channel *c);
/* SEL/SMALL k: the k-th open channel (with a session if asked); U32: by its number. */
struct vl_channel *vl_channel_choose(struct vl_harness *v, const struct fz_value *value,
	bool with_session);
/* Every channel of the link session ended. */
void vl_channels_forget(struct vl_harness *v);
struct vl_pipe *vl_pipe_add(struct vl_channel *c, uint32_t id, uint8_t end, bool host);
struct vl_pool *vl_pool_find(struct vl_channel *c, uint32_t number);

/* One round of the proxy, the link, the compositors and hostd; true if anything moved. */
bool vl_pump_once(struct vl_harness *v);
/* Rounds until nothing moves; a link that failed is made again. */
void vl_pump(struct vl_harness *v);

#endif
