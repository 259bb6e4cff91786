/*
 * fuzz-hostd-channel: vmdesk-hostd's agent channel (host/channel.c), the
 * part of hostd that reads what a VM's guest agent sends, under the fuzzer
 * at the level of link frames. host/channel.c is compiled here so that a
 * connected socket can be handed to it at once (the real channel dials from
 * a timer). A fake guest sends HELLO and then what the input says: frames
 * of the guest set built from its tables (tests/fuzz/link-gen.h), raw
 * bytes, and hostd's own actions in between (runs started as the control
 * socket would, their acks, signals, input, status queries). Whatever the
 * guest sends, hostd must answer with frames that decode, and ASan, UBSan
 * and LeakSanitizer watch the rest.
 *
 * Input: 4 header bytes, then records (tests/fuzz/record.h):
 *   [0] flags: bit 0: no HELLO from the guest (raw from the start)
 *   [1] capabilities the guest's HELLO offers (0: all)
 *   [2], [3] reserved
 * Record kinds (low 2 bits of the kind byte):
 *   0 GUEST    a frame of the guest: lg_build values (type, id, shape, fields);
 *              ids: SEL k names the k-th request hostd sent
 *   1 RAW      bytes as they are
 *   2 CONTROL  hostd does something (enum control), then its values
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/channel.c"
#include "tests/fuzz/link-gen.h"
#include "tests/fuzz/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum kind {
	K_GUEST,
	K_RAW,
	K_CONTROL,
	K_COUNT,
};

enum control {
	C_RUN, // value: flags (SMALL 1: wait); a RUN of argv ["true"]
	C_RUN_APP, // value: flags; an app id from the samples
	C_ACK, // run k, bytes
	C_SIGNAL, // run k, signal
	C_INPUT, // run k, BYTES, eof
	C_DETACH, // run k
	C_HANGUP, // the guest closes the channel
	C_STOP_READING, // value 0: the guest stops reading, else resumes
	C_WAIT, // ms, at most 2
	C_STATUS, // hostd prints the channel's status and apps
	C_COUNT,
};

#define MAX_RUNS 16
#define MAX_IDS 16
#define PUMP_ROUNDS 16

struct slot {
	struct vd_run *run; // NULL once over
	bool wait;
};

static struct {
	struct wl_event_loop *loop;
	struct vd_channel *channel;
	int guest; // the fake guest's end, -1 once closed
	bool paused; // the guest does not read
	struct vd_link_reader reader; // what hostd sends, checked
	uint32_t ids[MAX_IDS]; // ids of hostd's requests, for SEL
	size_t nids;
	struct slot runs[MAX_RUNS];
	size_t nruns;
} fz;

static void handle_run_event(void *data, const struct vd_link_msg *msg) {
	struct slot *slot = data;
	if (msg->type == VD_LINK_RUN_EXIT || msg->type == VD_LINK_ERROR ||
			(msg->type == VD_LINK_RUN_STARTED && !slot->wait)) {
		slot->run = NULL; // freed when this returns
	}
}

static struct vd_run *run_at(const struct fz_value *v) {
	if (fz.nruns == 0) {
		return NULL;
	}
	return fz.runs[fz_value_number(v) % fz.nruns].run;
}

static bool guest_read(void);

/*
 * Whether hostd's loop has a source ready (a read, a write, a timer due)
 * and, unless the guest stopped reading, whether the guest has bytes to
 * read: one poll for both.
 */
static void poll_ready(bool *loop, bool *guest) {
	struct pollfd pfd[2] = {
		{.fd = wl_event_loop_get_fd(fz.loop), .events = POLLIN},
		{.fd = fz.paused ? -1 : fz.guest, .events = POLLIN}, // -1: ignored
	};
	if (poll(pfd, 2, 0) < 0) {
		pfd[0].revents = pfd[1].revents = POLLIN;
	}
	*loop = pfd[0].revents != 0;
	*guest = pfd[1].revents != 0;
}

/*
 * The guest writes: when the socket is full, hostd runs (and the guest
 * reads, unless it stopped) so that a large frame gets through whole; if
 * hostd takes nothing for a few rounds, the rest is lost, as from a guest
 * that gives up.
 */
static void guest_write(const void *data, size_t len) {
	const uint8_t *p = data;
	int stuck = 0;
	while (fz.guest >= 0 && len > 0 && stuck < 4) {
		ssize_t n = send(fz.guest, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN) {
				return;
			}
			wl_event_loop_dispatch(fz.loop, 0);
			guest_read();
			stuck++;
			continue;
		}
		stuck = 0;
		p += n;
		len -= (size_t)n;
	}
}

/* A frame hostd sent: its id, if it has one, for SEL. */
static void handle_guest_frame(void *data, const struct vd_link_header *header,
		const uint8_t *payload, const struct vd_link_msg *msg) {
	(void)data;
	(void)payload;
	(void)msg;
	if (header->id != 0 && fz.nids < MAX_IDS) {
		fz.ids[fz.nids++] = header->id;
	}
}

/* What hostd sent the guest: every frame must decode as the host's. true: it read some. */
static bool guest_read(void) {
	if (fz.guest < 0 || fz.paused) {
		return false;
	}
	return lg_read_checked(fz.guest, &fz.reader, &vd_link_guest, VD_LINK_ROLE_HOST,
		"fuzz-hostd-channel: hostd", handle_guest_frame, NULL) == LG_READ_SOME;
}

/*
 * hostd and the guest run until neither has anything left to do (at most
 * PUMP_ROUNDS). One poll a round for both: no recv that would find nothing.
 */
static void pump(void) {
	for (int i = 0; i < PUMP_ROUNDS; i++) {
		wl_event_loop_dispatch(fz.loop, 0);
		bool loop, guest;
		poll_ready(&loop, &guest);
		if (!(guest && guest_read()) && !loop) {
			break;
		}
	}
}

static void start_run(const struct fz_value *flags, bool app) {
	if (fz.nruns == MAX_RUNS) {
		return;
	}
	static const char *const argv[] = {"true"};
	static const char *const app_ids[] = {"org.example.App.desktop", "foot.desktop",
		"org.example.Missing.desktop", "foot"};
	struct vd_link_msg msg = {0};
	struct slot *slot = &fz.runs[fz.nruns];
	uint32_t f = (uint32_t)fz_value_number(flags);
	if (app) {
		msg.type = VD_LINK_RUN_APP;
		msg.body.run_app.flags = f & VD_LINK_RUN_FLAGS_WAIT;
		msg.body.run_app.app_id = app_ids[(f >> 1) % 4];
	} else {
		msg.type = VD_LINK_RUN;
		msg.body.run.flags = f & VD_LINK_RUN_FLAGS_WAIT;
		msg.body.run.argv_count = 1;
		msg.body.run.argv = (const char **)argv;
	}
	slot->wait = f & VD_LINK_RUN_FLAGS_WAIT;
	uint32_t code;
	char err[256];
	slot->run = vd_channel_run(fz.channel, &msg, handle_run_event, slot, &code, err,
		sizeof(err));
	if (slot->run != NULL) {
		fz.nruns++;
	} else if (getenv("FUZZ_VERBOSE") != NULL) {
		fprintf(stderr, "fuzz-hostd-channel: run refused: %s\n", err);
	}
}

static void do_control(struct fz_reader *r) {
	struct fz_value op, a, b, c;
	fz_take_value(r, &op);
	fz_take_value(r, &a);
	fz_take_value(r, &b);
	fz_take_value(r, &c);
	struct vd_run *run;
	switch (fz_value_number(&op) % C_COUNT) {
	case C_RUN:
		start_run(&a, false);
		break;
	case C_RUN_APP:
		start_run(&a, true);
		break;
	case C_ACK:
		if ((run = run_at(&a)) != NULL) {
			vd_run_ack(run, (uint32_t)fz_value_number(&b));
		}
		break;
	case C_SIGNAL:
		if ((run = run_at(&a)) != NULL) {
			vd_run_signal(run, (uint32_t)fz_value_number(&b));
		}
		break;
	case C_INPUT:
		if ((run = run_at(&a)) != NULL) {
			const uint8_t *bytes = b.cls == FZ_BYTES ? b.bytes : (const uint8_t *)"";
			vd_run_input(run, bytes, b.cls == FZ_BYTES ? (uint32_t)b.len : 0,
				fz_value_number(&c) & 1);
		}
		break;
	case C_DETACH:
		if ((run = run_at(&a)) != NULL) {
			vd_run_detach(run);
			fz.runs[fz_value_number(&a) % fz.nruns].run = NULL;
		}
		break;
	case C_HANGUP:
		if (fz.guest >= 0) {
			close(fz.guest);
			fz.guest = -1;
		}
		break;
	case C_STOP_READING:
		fz.paused = fz_value_number(&a) == 0;
		break;
	case C_WAIT:
		wl_event_loop_dispatch(fz.loop, (int)(fz_value_number(&a) % 3));
		break;
	case C_STATUS: {
		/* opened once: the output is thrown away, the stream keeps nothing */
		static FILE *out;
		if (out == NULL) {
			out = fopen("/dev/null", "we");
		}
		if (out != NULL) {
			vd_channel_status(fz.channel, out);
			vd_channel_apps(fz.channel, out);
			fflush(out);
		}
		break;
	}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	(void)argc;
	(void)argv;
	/* FUZZ_VERBOSE=1: hostd's log, and why a run was refused */
	vd_log_init("fuzz-hostd-channel", getenv("FUZZ_VERBOSE") != NULL ? VD_DEBUG : VD_SILENT);
	/* as vmdesk-hostd's main: a write to a peer that left is EPIPE, not the end */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	static bool initialized;
	if (!initialized) {
		LLVMFuzzerInitialize(NULL, NULL);
		initialized = true;
	}
	struct fz_reader input;
	fz_reader_init(&input, data, size);
	uint8_t flags = fz_take_u8(&input);
	uint8_t caps = fz_take_u8(&input);
	(void)fz_take_u16(&input);

	memset(&fz, 0, sizeof(fz));
	fz.loop = wl_event_loop_create();
	if (fz.loop == NULL) {
		abort();
	}
	struct vd_channel_config config = {
		.loop = fz.loop,
		.menu = NULL,
		.connect_timeout_ms = 10000,
		.retry_max_ms = 60000,
		.request_timeout_ms = 10000,
	};
	/* the socket is handed over; the agent's address is one nobody listens on,
	 * where the channel redials after a hangup (the timer armed here finds
	 * the channel connected already, and does nothing) */
	static struct vd_vmconf conf;
	if (!conf.has_agent) {
		char err[256];
		snprintf(conf.name, sizeof(conf.name), "fuzz");
		if (!vd_addr_parse("unix:/nonexistent/vmdesk-fuzz-agent.sock", false, &conf.agent, err,
				sizeof(err))) {
			abort();
		}
		conf.has_agent = true;
	}
	fz.channel = vd_channel_create(&config, &conf);
	int sp[2];
	if (fz.channel == NULL ||
			socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) != 0) {
		abort();
	}
	fz.guest = sp[1];
	vd_link_reader_init(&fz.reader, vd_link_guest.max_frame);
	handle_dialed(fz.channel, sp[0], NULL);
	if (!(flags & 1)) {
		struct vd_link_buf buf = {0};
		uint32_t offered = (caps & VD_LINK_GUEST_CAPS_ALL) ? caps & VD_LINK_GUEST_CAPS_ALL :
			VD_LINK_GUEST_CAPS_ALL;
		if (lg_hello(&vd_link_guest, VD_LINK_ROLE_GUEST, offered, 7, &buf)) {
			guest_write(buf.data, buf.len);
		}
		vd_link_buf_finish(&buf);
	}
	pump();

	struct fz_record rec;
	while (fz_next_record(&input, &rec)) {
		struct fz_reader r;
		fz_reader_init(&r, rec.payload, rec.len);
		switch ((rec.kind & 0x03) % K_COUNT) {
		case K_GUEST: {
			/* kept from frame to frame and input to input: a large frame's
			 * buffer is not allocated (and faulted in) again each time */
			static struct vd_link_buf buf;
			struct lg_ids ids = {fz.ids, fz.nids};
			uint16_t type;
			buf.len = buf.pos = 0;
			if (lg_build(&vd_link_guest, VD_LINK_ROLE_GUEST, &r, &ids, &buf, &type)) {
				guest_write(buf.data, buf.len);
			}
			break;
		}
		case K_RAW:
			guest_write(rec.payload, rec.len);
			break;
		case K_CONTROL:
			do_control(&r);
			break;
		}
		pump();
	}
	vd_channel_destroy(fz.channel); // ends every run
	if (fz.guest >= 0) {
		close(fz.guest);
	}
	vd_link_reader_finish(&fz.reader);
	wl_event_loop_destroy(fz.loop);
	return 0;
}

/* ---- the mutator ---- */

static bool channel_tagged(uint8_t kind) {
	return (kind & 0x03) % K_COUNT != K_RAW;
}

static void channel_generate(struct fz_rng *rng, struct fz_writer *w) {
	uint32_t r = fz_below(rng, 100);
	if (r < 75) {
		size_t start = fz_record_begin(w, K_GUEST);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 12));
		lg_generate_after_type(rng, w);
		fz_record_end(w, start);
	} else {
		size_t start = fz_record_begin(w, K_CONTROL);
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, C_COUNT));
		fz_random_values(rng, w, 4);
		fz_record_end(w, start);
	}
}

const struct fz_target fz_this_target = {
	.header_size = 4,
	.kind_mask = 0x03,
	.tagged = channel_tagged,
	.generate = channel_generate,
};
