/*
 * vport-probe: runs inside a test VM and reports, command by command, what a
 * virtio-serial port does (read, write, poll, epoll, SIGIO, a second open).
 * The host drives it over the serial console: one command per line on stdin,
 * one answer per line on stdout, each starting with "= ". tests/vm uses it to
 * check the facts that host/image/README.md states about virtio-serial.
 *
 *   open PATH      open O_RDWR|O_NONBLOCK|O_ASYNC (SIGIO to this process)
 *   open2 PATH     try a second open of PATH (the port is exclusive)
 *   close          close the port
 *   poll           poll with timeout 0: the revents
 *   waitfor EV MS  poll until the revents contain EV (in|out|hup|nohup), or MS ms
 *   read           one non-blocking read of up to 64 KiB
 *   bread MS       one blocking read, interrupted after MS ms
 *   write TEXT     one non-blocking write of TEXT
 *   bwrite MS TEXT one blocking write of TEXT, interrupted after MS ms
 *   fill           non-blocking writes of 4 KiB until EAGAIN: the bytes written
 *   drain MS       read everything that arrives within MS ms: the byte count
 *   epollet MS     epoll, edge-triggered, for MS ms: wake-ups and their events
 *   sigio          SIGIO signals received so far
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PROBE_BUF 65536

static volatile sig_atomic_t sigio_count;
static int port_fd = -1;
static char buf[PROBE_BUF];

static void handle_sigio(int sig) {
	(void)sig;
	sigio_count++;
}

static void handle_alarm(int sig) {
	(void)sig;
}

static uint64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *errno_name(int err) {
	switch (err) {
	case EAGAIN:
		return "EAGAIN";
	case EBUSY:
		return "EBUSY";
	case EPIPE:
		return "EPIPE";
	case ENODEV:
		return "ENODEV";
	case EINTR:
		return "EINTR";
	case EIO:
		return "EIO";
	case ENOENT:
		return "ENOENT";
	case EBADF:
		return "EBADF";
	default:
		return "other";
	}
}

static void events_str(short ev, char *out, size_t size) {
	snprintf(out, size, "%s%s%s%s%s",
		(ev & POLLIN) ? "in," : "",
		(ev & POLLOUT) ? "out," : "",
		(ev & POLLHUP) ? "hup," : "",
		(ev & POLLERR) ? "err," : "",
		(ev & POLLNVAL) ? "nval," : "");
	size_t len = strlen(out);
	if (len > 0) {
		out[len - 1] = '\0';
	} else {
		snprintf(out, size, "none");
	}
}

static short poll_now(int timeout_ms) {
	struct pollfd pfd = { .fd = port_fd, .events = POLLIN | POLLOUT };
	int n = poll(&pfd, 1, timeout_ms);
	return n > 0 ? pfd.revents : 0;
}

/* Prints at most 64 bytes of data, non-printable bytes as '.'. */
static void print_data(const char *data, ssize_t n) {
	printf(" data=");
	for (ssize_t i = 0; i < n && i < 64; i++) {
		unsigned char c = (unsigned char)data[i];
		putchar(c >= 0x21 && c < 0x7f ? c : '.');
	}
}

static void cmd_open(const char *path, bool second) {
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		printf("= err %s\n", errno_name(errno));
		return;
	}
	if (second) {
		close(fd);
		printf("= ok\n");
		return;
	}
	if (port_fd >= 0) {
		close(port_fd);
	}
	port_fd = fd;
	fcntl(fd, F_SETOWN, getpid());
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
	printf("= ok\n");
}

static void cmd_read(void) {
	ssize_t n = read(port_fd, buf, sizeof(buf));
	if (n < 0) {
		printf("= err %s\n", errno_name(errno));
	} else if (n == 0) {
		printf("= eof\n");
	} else {
		printf("= n=%zd", n);
		print_data(buf, n);
		printf("\n");
	}
}

static void cmd_bread(int ms) {
	int flags = fcntl(port_fd, F_GETFL);
	fcntl(port_fd, F_SETFL, flags & ~O_NONBLOCK);
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	ssize_t n = read(port_fd, buf, sizeof(buf));
	int err = errno;
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
	fcntl(port_fd, F_SETFL, flags);
	if (n < 0) {
		printf("= err %s\n", err == EINTR ? "blocked" : errno_name(err));
	} else if (n == 0) {
		printf("= eof\n");
	} else {
		printf("= n=%zd", n);
		print_data(buf, n);
		printf("\n");
	}
}

static void cmd_write(const char *text) {
	ssize_t n = write(port_fd, text, strlen(text));
	if (n < 0) {
		printf("= err %s\n", errno_name(errno));
	} else {
		printf("= n=%zd\n", n);
	}
}

static void cmd_bwrite(const char *arg) {
	char *text = NULL;
	long ms = strtol(arg, &text, 10);
	if (text == NULL || *text != ' ') {
		printf("= err usage\n");
		return;
	}
	text++;
	int flags = fcntl(port_fd, F_GETFL);
	fcntl(port_fd, F_SETFL, flags & ~O_NONBLOCK);
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	ssize_t n = write(port_fd, text, strlen(text));
	int err = errno;
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
	fcntl(port_fd, F_SETFL, flags);
	if (n < 0) {
		printf("= err %s\n", err == EINTR ? "blocked" : errno_name(err));
	} else {
		printf("= n=%zd\n", n);
	}
}

static void cmd_fill(void) {
	static char chunk[4096];
	memset(chunk, 'f', sizeof(chunk));
	size_t total = 0;
	int err = 0;
	for (int i = 0; i < 100000; i++) {
		ssize_t n = write(port_fd, chunk, sizeof(chunk));
		if (n < 0) {
			err = errno;
			break;
		}
		total += (size_t)n;
	}
	printf("= n=%zu stop=%s\n", total, err ? errno_name(err) : "limit");
}

static void cmd_drain(int ms) {
	uint64_t end = now_ms() + (uint64_t)ms;
	size_t total = 0;
	const char *stop = "time";
	for (;;) {
		uint64_t now = now_ms();
		if (now >= end) {
			break;
		}
		struct pollfd pfd = { .fd = port_fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(end - now)) <= 0) {
			continue;
		}
		ssize_t n = read(port_fd, buf, sizeof(buf));
		if (n > 0) {
			total += (size_t)n;
		} else if (n == 0) {
			stop = "eof";
			break;
		} else if (errno != EAGAIN) {
			stop = errno_name(errno);
			break;
		}
	}
	printf("= n=%zu stop=%s\n", total, stop);
}

static void cmd_epollet(int ms) {
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, port_fd, &ev) < 0) {
		printf("= err %s\n", errno_name(errno));
		if (ep >= 0) {
			close(ep);
		}
		return;
	}
	uint64_t end = now_ms() + (uint64_t)ms;
	int wakeups = 0;
	char last[64] = "none";
	for (int i = 0; i < 1000000; i++) {
		uint64_t now = now_ms();
		if (now >= end) {
			break;
		}
		struct epoll_event out;
		int n = epoll_wait(ep, &out, 1, (int)(end - now));
		if (n > 0) {
			wakeups++;
			events_str((short)out.events, last, sizeof(last));
		}
	}
	close(ep);
	printf("= wakeups=%d last=%s\n", wakeups, last);
}

static bool want_events(const char *want, short ev) {
	if (strcmp(want, "nohup") == 0) {
		return !(ev & POLLHUP);
	}
	if (strcmp(want, "in") == 0) {
		return ev & POLLIN;
	}
	if (strcmp(want, "out") == 0) {
		return ev & POLLOUT;
	}
	if (strcmp(want, "hup") == 0) {
		return ev & POLLHUP;
	}
	return false;
}

static void cmd_waitfor(const char *want, int ms) {
	uint64_t end = now_ms() + (uint64_t)ms;
	short ev;
	char str[64];
	for (;;) {
		ev = poll_now(0);
		if (want_events(want, ev) || now_ms() >= end) {
			break;
		}
		usleep(20000);
	}
	events_str(ev, str, sizeof(str));
	printf("= %s %s\n", want_events(want, ev) ? "ok" : "timeout", str);
}

static void run_command(char *line) {
	char *arg = strchr(line, ' ');
	if (arg != NULL) {
		*arg++ = '\0';
	} else {
		arg = line + strlen(line);
	}
	if (strcmp(line, "open") == 0 || strcmp(line, "open2") == 0) {
		cmd_open(arg, line[4] == '2');
		return;
	}
	if (strcmp(line, "sigio") == 0) {
		printf("= sigio=%d\n", (int)sigio_count);
		return;
	}
	if (strcmp(line, "echo") == 0) {
		printf("= %s\n", arg);
		return;
	}
	if (port_fd < 0) {
		printf("= err not-open\n");
		return;
	}
	if (strcmp(line, "close") == 0) {
		close(port_fd);
		port_fd = -1;
		printf("= ok\n");
	} else if (strcmp(line, "poll") == 0) {
		char str[64];
		events_str(poll_now(0), str, sizeof(str));
		printf("= %s\n", str);
	} else if (strcmp(line, "waitfor") == 0) {
		char want[16] = "";
		int ms = 0;
		sscanf(arg, "%15s %d", want, &ms);
		cmd_waitfor(want, ms);
	} else if (strcmp(line, "read") == 0) {
		cmd_read();
	} else if (strcmp(line, "bread") == 0) {
		cmd_bread(atoi(arg));
	} else if (strcmp(line, "write") == 0) {
		cmd_write(arg);
	} else if (strcmp(line, "bwrite") == 0) {
		cmd_bwrite(arg);
	} else if (strcmp(line, "fill") == 0) {
		cmd_fill();
	} else if (strcmp(line, "drain") == 0) {
		cmd_drain(atoi(arg));
	} else if (strcmp(line, "epollet") == 0) {
		cmd_epollet(atoi(arg));
	} else {
		printf("= err unknown-command\n");
	}
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	// SIGIO must not break the read of the next command; SIGALRM must break
	// a blocking read of the port (bread).
	struct sigaction sa = { .sa_handler = handle_sigio, .sa_flags = SA_RESTART };
	sigaction(SIGIO, &sa, NULL);
	sa = (struct sigaction){ .sa_handler = handle_alarm };
	sigaction(SIGALRM, &sa, NULL);

	printf("= vport-probe ready\n");
	char line[512];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0') {
			continue;
		}
		if (strcmp(line, "quit") == 0) {
			break;
		}
		run_command(line);
	}
	printf("= bye\n");
	return 0;
}
