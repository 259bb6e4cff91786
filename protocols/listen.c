#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "protocols/listen.h"
#include "protocols/number.h"

void vd_listener_init(struct vd_listener *listener) {
	listener->fd = -1;
	listener->lock_fd = -1;
	listener->path[0] = '\0';
}

/* The pid the holder wrote into the lock file, or 0. */
static long long lock_holder(int fd) {
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl != NULL) {
		*nl = '\0';
	}
	long long pid;
	return vd_parse_number(buf, 1, INT_MAX, &pid) ? pid : 0;
}

/*
 * Takes lock_path. The file is re-checked after flock: a holder that just
 * removed it (at exit) leaves us an orphan inode, so we open it again.
 */
static int take_lock(const char *lock_path, const char *path, char *err, size_t err_size) {
	for (int attempt = 0; attempt < 10; attempt++) {
		int fd = open(lock_path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			snprintf(err, err_size, "cannot create %s: %s", lock_path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			long long pid = lock_holder(fd);
			if (pid > 0) {
				snprintf(err, err_size, "%s is already served by pid %lld", path, pid);
			} else {
				snprintf(err, err_size, "%s is already served by another process", path);
			}
			close(fd);
			return -1;
		}
		struct stat held, now;
		if (fstat(fd, &held) == 0 && stat(lock_path, &now) == 0 &&
				held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
			char pid[32];
			int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
			if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
				/* the pid is only for messages */
			}
			return fd;
		}
		close(fd);
	}
	snprintf(err, err_size, "cannot take %s: it keeps changing", lock_path);
	return -1;
}

bool vd_listen_unix(struct vd_listener *listener, const char *path, char *err,
		size_t err_size) {
	vd_listener_init(listener);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char lock_path[sizeof(addr.sun_path) + 8];
	if (path[0] == '\0' || strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_size, "socket path \"%s\" is empty or longer than %zu bytes", path,
			sizeof(addr.sun_path) - 1);
		return false;
	}
	snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
	int lock_fd = take_lock(lock_path, path, err, err_size);
	if (lock_fd < 0) {
		return false;
	}
	/* We hold the lock: whatever socket is left at path is stale. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, err_size, "%s exists and is not a socket", path);
			goto error_lock;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_size, "socket: %s", strerror(errno));
		goto error_lock;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	mode_t old_mask = umask(0177);
	int ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (ret != 0) {
		snprintf(err, err_size, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		goto error_lock;
	}
	if (listen(fd, 64) != 0) {
		snprintf(err, err_size, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto error_lock;
	}
	listener->fd = fd;
	listener->lock_fd = lock_fd;
	snprintf(listener->path, sizeof(listener->path), "%s", path);
	return true;

error_lock:
	unlink(lock_path);
	close(lock_fd);
	return false;
}

void vd_listener_finish(struct vd_listener *listener) {
	if (listener->fd >= 0) {
		close(listener->fd);
	}
	if (listener->path[0] != '\0') {
		unlink(listener->path);
		if (listener->lock_fd >= 0) {
			char lock_path[sizeof(listener->path) + 8];
			snprintf(lock_path, sizeof(lock_path), "%s.lock", listener->path);
			unlink(lock_path); // before closing: nobody can take it in between
		}
	}
	if (listener->lock_fd >= 0) {
		close(listener->lock_fd);
	}
	vd_listener_init(listener);
}
