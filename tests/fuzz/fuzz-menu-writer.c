/*
 * fuzz-menu-writer: vmdesk-hostd's menu writer (host/menu-writer-process.c
 * and host/menu.c), the process that writes the host menu's files from what
 * hostd hands it, as a hostd a VM took over might: frames of the host set
 * that hostd (role client) may send, built from its tables
 * (tests/fuzz/link-gen.h), and raw bytes. The writer reads the VM
 * definitions of a private directory (work, banking, work-2) and writes
 * its entries, icons and submenus beneath a private XDG_DATA_HOME and
 * XDG_CONFIG_HOME; after each input its entries are pruned. Whatever it is
 * sent, what it answers must decode as the writer's (role server), every
 * entry it wrote must be a plain one (checked below), and ASan, UBSan and
 * LeakSanitizer watch the rest.
 *
 * Input: 4 header bytes, then records (tests/fuzz/record.h):
 *   [0] flags: bit 0: no HELLO from hostd (raw from the start)
 *   [1..3] reserved
 * Record kinds (low bit of the kind byte):
 *   0 HOSTD  a frame of hostd: lg_build values (type, id, shape, fields)
 *   1 RAW    bytes as they are
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/menu-writer-process.c"
#include "tests/fuzz/link-gen.h"
#include "tests/fuzz/record.h"
#include "tests/fuzz/scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum kind {
	K_HOSTD,
	K_RAW,
	K_COUNT,
};

#define PUMP_ROUNDS 16
#define MAX_ENTRY 8192

static struct {
	struct wl_event_loop *loop;
	struct writer w;
	int hostd; // hostd's end, -1 once closed
	struct vd_link_reader reader; // what the writer answers, checked
	char apps_dir[PATH_MAX - 300];
} fz;

static struct menu_writer_options options;
static struct vd_menu *menu;

static void write_file(const char *dir, const char *name, const char *text) {
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		abort();
	}
}

/* A private home: the VM definitions, and the XDG directories the menu writes in. */
static void make_home(void) {
	// memory-backed where there is one: each input writes and removes files
	const char *root = fz_scratch_dir("vmdesk-fuzz-menu");
	char vms[PATH_MAX];
	snprintf(vms, sizeof(vms), "%s/vms", root);
	if (mkdir(vms, 0700) < 0) {
		abort();
	}
	write_file(vms, "work.conf", "[vm]\ncolor = green\n");
	write_file(vms, "banking.conf", "[vm]\ncolor = #ff8800\n");
	write_file(vms, "work-2.conf", "[vm]\ncolor = red\n");
	setenv("XDG_DATA_HOME", root, 1);
	setenv("XDG_CONFIG_HOME", root, 1);
	snprintf(options.cli_path, sizeof(options.cli_path), "/usr/bin/vmdesk");
	snprintf(options.config_dirs[0], sizeof(options.config_dirs[0]), "%s", vms);
	options.nconfig_dirs = 1;
	options.seccomp = VD_SECCOMP_OFF;
	menu = vd_menu_create(options.cli_path);
	const char *dirs[VD_MENU_DIRS];
	if (menu == NULL || vd_menu_make_dirs(menu, dirs) != VD_MENU_DIRS ||
			!vd_menu_apps_dir(fz.apps_dir, sizeof(fz.apps_dir))) {
		abort();
	}
}

/*
 * The writer's promise about what it wrote: every entry of the menu's
 * directory is small, runs "vmdesk run VM --app ID" and nothing else, and
 * names a defined VM in its file name and keys.
 */
static void check_entries(void) {
	DIR *d = opendir(fz.apps_dir);
	if (d == NULL) {
		abort();
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "mimeinfo.cache") == 0) {
			continue;
		}
		char path[PATH_MAX + 300], text[MAX_ENTRY + 1], exec[PATH_MAX + 600];
		snprintf(path, sizeof(path), "%s/%s", fz.apps_dir, de->d_name);
		FILE *f = fopen(path, "re");
		size_t n = f != NULL ? fread(text, 1, MAX_ENTRY, f) : 0;
		if (f != NULL) {
			fclose(f);
		}
		text[n] = '\0';
		const char *vm = NULL;
		static const char *const vms[] = {"work", "banking", "work-2"};
		for (size_t i = 0; i < 3; i++) {
			size_t len = strlen(vms[i]);
			if (strncmp(de->d_name, "vmdesk.", 7) == 0 &&
					strncmp(de->d_name + 7, vms[i], len) == 0 &&
					de->d_name[7 + len] == '.') {
				vm = vms[i];
			}
		}
		if (vm == NULL || n == 0 || n == MAX_ENTRY) {
			fprintf(stderr, "fuzz-menu-writer: entry %s (%zu bytes)\n", de->d_name, n);
			abort();
		}
		snprintf(exec, sizeof(exec), "\nExec=/usr/bin/vmdesk run %s --app %s\n", vm,
			de->d_name + 8 + strlen(vm));
		int lines = 0;
		for (const char *p = text; (p = strstr(p, "\nExec=")) != NULL; p++) {
			lines++;
		}
		if (strstr(text, exec) == NULL || lines != 1) {
			fprintf(stderr, "fuzz-menu-writer: %s runs something else:\n%s\n", de->d_name,
				text);
			abort();
		}
	}
	closedir(d);
}

static bool hostd_read(void) {
	if (fz.hostd < 0) {
		return false;
	}
	enum lg_read r = lg_read_checked(fz.hostd, &fz.reader, &vd_link_host, VD_LINK_ROLE_SERVER,
		"fuzz-menu-writer: the writer", NULL, NULL);
	if (r == LG_READ_CLOSED) {
		close(fz.hostd);
		fz.hostd = -1;
	}
	return r == LG_READ_SOME;
}

static void pump(void) {
	for (int i = 0; i < PUMP_ROUNDS; i++) {
		wl_event_loop_dispatch(fz.loop, 0);
		struct pollfd pfd[2] = {
			{.fd = wl_event_loop_get_fd(fz.loop), .events = POLLIN},
			{.fd = fz.hostd, .events = POLLIN},
		};
		if (poll(pfd, 2, 0) < 0) {
			pfd[0].revents = pfd[1].revents = POLLIN;
		}
		if (!(pfd[1].revents != 0 && hostd_read()) && pfd[0].revents == 0) {
			break;
		}
	}
}

/* hostd writes: when the socket is full the writer runs, until it takes nothing more. */
static void hostd_write(const void *data, size_t len) {
	const uint8_t *p = data;
	int stuck = 0;
	while (fz.hostd >= 0 && len > 0 && stuck < 4) {
		ssize_t n = send(fz.hostd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN) {
				return;
			}
			pump();
			stuck++;
			continue;
		}
		stuck = 0;
		p += n;
		len -= (size_t)n;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	(void)argc;
	(void)argv;
	if (!fz_initialize_once("fuzz-menu-writer")) {
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	make_home();
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
	(void)fz_take_u8(&input);
	(void)fz_take_u16(&input);

	fz.loop = wl_event_loop_create();
	fz.w = (struct writer){.options = &options, .menu = menu};
	int sp[2];
	if (fz.loop == NULL ||
			socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) != 0) {
		abort();
	}
	fz.hostd = sp[1];
	vd_link_reader_init(&fz.reader, vd_link_host.max_frame);
	struct vd_link_conn *conn = menu_writer_attach(&fz.w, fz.loop, sp[0]);
	if (conn == NULL) {
		abort();
	}
	if (!(flags & 1)) {
		struct vd_link_buf buf = {0};
		if (lg_hello(&vd_link_host, VD_LINK_ROLE_CLIENT, VD_LINK_CAP_MENU, 7, &buf)) {
			hostd_write(buf.data, buf.len);
		}
		vd_link_buf_finish(&buf);
	}
	pump();
	struct fz_record rec;
	while (fz_next_record(&input, &rec) && !fz.w.quit) {
		struct fz_reader r;
		fz_reader_init(&r, rec.payload, rec.len);
		if ((rec.kind & 0x01) % K_COUNT == K_HOSTD) {
			static struct vd_link_buf buf;
			struct lg_ids ids = {NULL, 0};
			uint16_t type;
			buf.len = buf.pos = 0;
			if (lg_build(&vd_link_host, VD_LINK_ROLE_CLIENT, &r, &ids, &buf, &type)) {
				hostd_write(buf.data, buf.len);
			}
		} else {
			hostd_write(rec.payload, rec.len);
		}
		pump();
	}
	check_entries();
	menu_writer_detach_conn(&fz.w, conn);
	if (fz.hostd >= 0) {
		close(fz.hostd);
	}
	vd_link_reader_finish(&fz.reader);
	wl_event_loop_destroy(fz.loop);
	vd_menu_prune(menu, NULL, 0); // the next input starts from an empty menu
	return 0;
}

/* ---- the mutator ---- */

static bool writer_tagged(uint8_t kind) {
	return (kind & 0x01) % K_COUNT == K_HOSTD;
}

static void writer_generate(struct fz_rng *rng, struct fz_writer *w) {
	size_t start = fz_record_begin(w, K_HOSTD);
	if (fz_below(rng, 100) < 90) {
		// mostly the menu's messages: the writer offers nothing else
		uint32_t type = VD_LINK_MENU_BEGIN + fz_below(rng, VD_LINK_MENU_PRUNE -
			VD_LINK_MENU_BEGIN + 1);
		fz_put_tag(w, FZ_U32, 0);
		fz_put_u32(w, type);
	} else {
		fz_put_tag(w, FZ_SMALL, (uint8_t)fz_below(rng, 32));
	}
	lg_generate_after_type(rng, w);
	fz_record_end(w, start);
}

const struct fz_target fz_this_target = {
	.header_size = 4,
	.kind_mask = 0x01,
	.tagged = writer_tagged,
	.generate = writer_generate,
};
