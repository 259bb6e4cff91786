/*
 * fuzz-spawner: the request reader of the spawner (protocols/spawner-process.c),
 * which a hostd a VM took over may feed anything: its requests are the last
 * thing between that hostd and a program of its choosing, so its frame
 * checks run here on every byte sequence, with fds attached or not. The
 * guard sees each request that frames, checks what the reader promises it
 * (argv NULL-terminated and non-empty, environment entries NAME=VALUE,
 * known flags, the fds asked for), and refuses it: nothing is forked. The
 * reader stops at the first request it cannot frame, as the spawner ends.
 *
 * Input: byte 0: how many fds go with the first bytes (low 2 bits: 0-3);
 * the rest is the stream (struct request, strings, ...), at most 60 KiB.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocols/log.h"
#include "protocols/spawner-private.h"
#include "protocols/spawner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_STREAM (60u << 10)

static bool checking_guard(const struct vd_spawn *spawn, void *data, char *why,
		size_t why_size) {
	size_t argc = 0;
	while (spawn->argv[argc] != NULL) {
		argc++;
	}
	if (argc == 0 || argc > VD_SPAWNER_MAX_ARGS || spawn->env_count > VD_SPAWNER_MAX_ENV ||
			(spawn->flags & ~VD_SPAWN_FLAGS_ALL) != 0) {
		abort(); // the reader let an unframed request through
	}
	for (size_t i = 0; i < spawn->env_count; i++) {
		const char *eq = strchr(spawn->env[i], '=');
		if (eq == NULL || eq == spawn->env[i]) {
			abort();
		}
	}
	for (int i = 0; i < 3; i++) {
		if (spawn->fds[i] < 0 && spawn->fds[i] != -1 && spawn->fds[i] != VD_SPAWN_INHERIT) {
			abort();
		}
		if (spawn->fds[i] >= 0 && fcntl(spawn->fds[i], F_GETFD) < 0) {
			abort(); // an fd the reader closed, or never had
		}
	}
	snprintf(why, why_size, "fuzzing");
	return false;
}

/* Adoptions: what the reader read of the process is whole; refused (nothing is signalled). */
static bool checking_adopt(const char *exe, const char *cmdline, size_t len, void *data,
		char *why, size_t why_size) {
	if (exe[0] == '\0' || len == 0 || cmdline[len - 1] != '\0') {
		abort();
	}
	snprintf(why, why_size, "fuzzing");
	return false;
}

static const struct vd_spawner_guard guard = {.allow = checking_guard, .adopt = checking_adopt};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	vd_log_init("fuzz-spawner", VD_SILENT);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size < 1 || size - 1 > MAX_STREAM) {
		return 0;
	}
	int sv[2], ev[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) < 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	// room for the whole stream and every reply, so that neither end blocks
	int big = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	int fds[3], nfds = data[0] & 3;
	for (int i = 0; i < nfds; i++) {
		fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
	}
	if (size > 1) {
		spawner_send_all(sv[0], data + 1, size - 1, fds, (size_t)nfds);
	}
	for (int i = 0; i < nfds; i++) {
		close(fds[i]);
	}
	shutdown(sv[0], SHUT_WR);
	spawner_serve_all(sv[1], ev[1], &guard);
	close(sv[0]);
	close(sv[1]);
	close(ev[0]);
	close(ev[1]);
	return 0;
}
