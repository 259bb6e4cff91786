#ifndef PROTOCOLS_AGENT_WIRE_H
#define PROTOCOLS_AGENT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The host/guest agent protocol (see protocols/agent-protocol.md): frames of
 * a 12-byte little-endian header {u32 length, u16 type, u16 flags, u32 id}
 * and a payload of at most VD_AGENT_MAX_PAYLOAD bytes. The decoder checks
 * every field; anything it accepts is safe to use as documented.
 */

#define VD_AGENT_MAGIC 0x47414456u // "VDAG"
#define VD_AGENT_VERSION 1
#define VD_AGENT_HEADER_SIZE 12
#define VD_AGENT_MAX_PAYLOAD (1024u * 1024u)

/* Field limits (bytes unless stated). */
#define VD_AGENT_MAX_SOFTWARE 64
#define VD_AGENT_MAX_ERROR 1024
#define VD_AGENT_MAX_ARGS 256
#define VD_AGENT_MAX_ARG 65535
#define VD_AGENT_MAX_ENV 32
#define VD_AGENT_MAX_VM_NAME 32
#define VD_AGENT_MAX_OUTPUT (64u * 1024u)
#define VD_AGENT_MAX_APPS 1000
#define VD_AGENT_MAX_DESKTOP_ID 255
#define VD_AGENT_MAX_NAME 256
#define VD_AGENT_MAX_COMMENT 512
#define VD_AGENT_MAX_CATEGORIES 512
#define VD_AGENT_MAX_ICON_NAME 255
#define VD_AGENT_MAX_WM_CLASS 255
#define VD_AGENT_MAX_ICON_DIM 256
#define VD_AGENT_MAX_ICON_BYTES (256u * 1024u)
#define VD_AGENT_MAX_TEXT (512u * 1024u)
/* Output bytes of one run the guest may send before the host acknowledges them. */
#define VD_AGENT_RUN_WINDOW (1024u * 1024u)

enum vd_agent_type {
	/* 0x0000-0x00ff: connection */
	VD_AGENT_HELLO = 0x0001,
	VD_AGENT_ERROR = 0x0002,
	/* 0x0100-0x01ff: running programs (capability RUN) */
	VD_AGENT_RUN = 0x0100,
	VD_AGENT_RUN_APP = 0x0101,
	VD_AGENT_RUN_STARTED = 0x0102,
	VD_AGENT_RUN_OUTPUT = 0x0103,
	VD_AGENT_RUN_EXIT = 0x0104,
	VD_AGENT_SIGNAL = 0x0105,
	VD_AGENT_RUN_ACK = 0x0106,
	/* 0x0200-0x02ff: application menu (capability APPS) */
	VD_AGENT_APPS_BEGIN = 0x0200,
	VD_AGENT_APP = 0x0201,
	VD_AGENT_APPS_END = 0x0202,
	/* 0x0300-0x03ff: session state (capability IDLE) */
	VD_AGENT_IDLE = 0x0300,
	/* 0x1000-0x10ff notifications, 0x1100-0x11ff tray, 0x1200-0x12ff clipboard: reserved */
	/* 0x7f00-0x7fff: host-local control (vmdesk CLI <-> vmdesk-hostd), never from a guest */
	VD_AGENT_CTL_RUN = 0x7f00,
	VD_AGENT_CTL_RUN_APP = 0x7f01,
	VD_AGENT_CTL_APPS = 0x7f02,
	VD_AGENT_CTL_LIST = 0x7f03,
	VD_AGENT_CTL_STATUS = 0x7f04,
	VD_AGENT_CTL_TEXT = 0x7f05,
	VD_AGENT_CTL_SIGNAL = 0x7f06,
};

enum vd_agent_cap {
	VD_AGENT_CAP_RUN = 1u << 0,
	VD_AGENT_CAP_APPS = 1u << 1,
	VD_AGENT_CAP_IDLE = 1u << 2,
	/* reserved: NOTIFY 1 << 3, TRAY 1 << 4, CLIPBOARD 1 << 5 */
};
#define VD_AGENT_CAPS_KNOWN (VD_AGENT_CAP_RUN | VD_AGENT_CAP_APPS | VD_AGENT_CAP_IDLE)

enum vd_agent_run_flag {
	VD_AGENT_RUN_WAIT = 1u << 0, // stream output back and report the exit status
};
#define VD_AGENT_RUN_FLAGS_KNOWN VD_AGENT_RUN_WAIT

enum vd_agent_stream {
	VD_AGENT_STDOUT = 1,
	VD_AGENT_STDERR = 2,
};

enum vd_agent_exit_kind {
	VD_AGENT_EXITED = 0,
	VD_AGENT_SIGNALED = 1,
};

enum vd_agent_error_code {
	VD_AGENT_E_PROTOCOL = 1, // malformed or unexpected message
	VD_AGENT_E_UNSUPPORTED = 2, // version or capability not negotiated
	VD_AGENT_E_NOT_FOUND = 3, // program or application not found
	VD_AGENT_E_EXEC = 4, // could not start the program
	VD_AGENT_E_NO_VM = 5, // unknown VM (CLI)
	VD_AGENT_E_NOT_CONNECTED = 6, // VM's agent channel is down (CLI)
	VD_AGENT_E_DISCONNECTED = 7, // channel dropped during the request (CLI)
	VD_AGENT_E_LIMIT = 8, // a limit was hit
	VD_AGENT_E_INTERNAL = 9,
	VD_AGENT_E_TIMEOUT = 10,
};
#define VD_AGENT_E_MAX 10

struct vd_agent_icon {
	uint16_t width, height; // of the PNG, checked against its IHDR
	const uint8_t *png; // points into the frame; NULL when len is 0
	uint32_t len;
};

struct vd_agent_app {
	char *id; // desktop ID: [A-Za-z0-9._-], ends in ".desktop", no ".."
	char *name; // non-empty
	char *generic_name, *comment, *categories, *icon_name, *wm_class; // possibly empty
	struct vd_agent_icon icon;
};

/* A decoded message. Strings are NUL-terminated copies owned by the message. */
struct vd_agent_msg {
	uint16_t type;
	uint32_t id;

	/* HELLO */
	uint16_t min_version, max_version;
	uint32_t caps;
	char *software;
	/* ERROR */
	uint32_t code;
	char *message;
	/* RUN, RUN_APP, CTL_RUN, CTL_RUN_APP; vm also for CTL_APPS, CTL_STATUS */
	char *vm;
	uint32_t flags;
	char **argv; // NULL-terminated, argc >= 1
	uint32_t argc;
	char **env; // "KEY=VALUE", NULL-terminated; keys from the whitelist
	uint32_t envc;
	char *app_id;
	/* RUN_STARTED */
	uint32_t pid;
	/* RUN_OUTPUT */
	uint8_t stream;
	const uint8_t *data; // points into the frame
	uint32_t data_len;
	/* RUN_EXIT */
	uint8_t exit_kind;
	uint32_t exit_value;
	/* SIGNAL, CTL_SIGNAL */
	uint32_t signo;
	/* RUN_ACK */
	uint32_t acked;
	/* APPS_BEGIN, APPS_END */
	uint32_t generation;
	uint32_t count;
	/* APP */
	struct vd_agent_app app;
	/* IDLE */
	uint8_t idle;
	uint32_t idle_seconds;
	/* CTL_TEXT (may contain newlines and tabs) */
	char *text;
};

struct vd_agent_header {
	uint32_t length;
	uint16_t type;
	uint16_t flags;
	uint32_t id;
};

/* Reads and checks a header (length cap, flags 0). */
bool vd_agent_header_parse(const uint8_t *data, struct vd_agent_header *header, char *err,
	size_t err_size);

/*
 * Decodes one payload of the given type. On failure returns false, explains
 * why in err, and leaves nothing to free. On success, vd_agent_msg_finish
 * frees the message. Data pointers stay valid while payload does.
 */
bool vd_agent_decode(uint16_t type, uint32_t id, const uint8_t *payload, size_t len,
	struct vd_agent_msg *msg, char *err, size_t err_size);
void vd_agent_msg_finish(struct vd_agent_msg *msg);

/* A growable output buffer of whole frames. */
struct vd_agent_buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

void vd_agent_buf_finish(struct vd_agent_buf *buf);
/* Encodes msg as one frame appended to buf. False if a field breaks a limit. */
bool vd_agent_encode(struct vd_agent_buf *buf, const struct vd_agent_msg *msg);

const char *vd_agent_type_name(uint16_t type);
/* Whether an environment variable may be set through RUN. */
bool vd_agent_env_allowed(const char *key, size_t len);
/* Whether a signal may be sent through SIGNAL. */
bool vd_agent_signal_allowed(uint32_t signo);
/* Desktop-ID rules: [A-Za-z0-9._-]{1,255}, ends in ".desktop", no "..", no leading '.' or '-'. */
bool vd_agent_desktop_id_valid(const char *id, size_t len);
/* VM names: [A-Za-z0-9][A-Za-z0-9_-]{0,31}. */
bool vd_agent_vm_name_valid(const char *name, size_t len);
/*
 * Valid UTF-8 (RFC 3629) without C0, DEL or C1 controls (tab and newline if
 * multiline), bidi controls (U+061C, U+200E/F, U+202A-E, U+2066-9), U+2028/9,
 * U+FEFF, U+FFF9-B or noncharacters.
 */
bool vd_agent_text_valid(const char *s, size_t len, bool multiline);
/* Writes a NUL-terminated human-readable list of caps into buf. */
void vd_agent_caps_format(uint32_t caps, char *buf, size_t size);

#endif
