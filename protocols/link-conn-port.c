#define LOG_TAG "link"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "protocols/link-conn-private.h"
#include "protocols/log.h"

/*
 * A serial carrier on a port: the guest's end of a virtio-serial port, a
 * character device (link.md, "Serial carriers"). When no host is connected,
 * reading it gives EOF (or EIO) and its hangup never clears, so the loop
 * cannot watch it level-triggered, as wl_event_loop watches every fd: it
 * would wake for ever. While no host is there, the port sits alone in a
 * small edge-triggered epoll set, and that set's fd is what the loop
 * watches. Its edges come when the port becomes writable (a host came), and
 * when the timer re-arms it (every PORT_CHECK_MS, for a host whose coming
 * gave no edge): re-arming queues an event for the port's state then.
 */

static int handle_port_edge(int fd, uint32_t mask, void *data);

void link_conn_port_wait_finish(struct vd_link_conn *conn) {
	if (conn->port_source != NULL) {
		wl_event_source_remove(conn->port_source);
		conn->port_source = NULL;
	}
	if (conn->port_epoll >= 0) {
		close(conn->port_epoll);
		conn->port_epoll = -1;
	}
}

static bool port_wait_begin(struct vd_link_conn *conn) {
	if (conn->port_epoll >= 0) {
		return true;
	}
	conn->port_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (conn->port_epoll < 0) {
		return false;
	}
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLET};
	if (epoll_ctl(conn->port_epoll, EPOLL_CTL_ADD, conn->fd, &ev) != 0) {
		return false;
	}
	conn->port_source = wl_event_loop_add_fd(conn->loop, conn->port_epoll, WL_EVENT_READABLE,
		handle_port_edge, conn);
	return conn->port_source != NULL;
}

/*
 * What was in flight is lost on both sides. The port stays open: closing it
 * would drop what a host sends next, and another open fails.
 */
void link_conn_port_host_away(struct vd_link_conn *conn) {
	if (!conn->host_away) {
		vd_log(VD_INFO, "no host on the port: waiting for one");
	}
	conn->host_away = true;
	conn->bulk.active = false;
	conn->bulk.declined = false;
	link_conn_out_drop(conn);
	vd_link_reader_finish(&conn->reader);
	vd_link_reader_init(&conn->reader, conn->config.max_frame);
	conn->peer_nonce = 0;
	if (conn->fd_source != NULL) {
		wl_event_source_remove(conn->fd_source);
		conn->fd_source = NULL;
		conn->mask = 0;
	}
	if (!port_wait_begin(conn)) {
		char reason[128];
		snprintf(reason, sizeof(reason), "cannot wait for a host on the port: %s",
			strerror(errno));
		link_conn_port_wait_finish(conn);
		link_conn_fail(conn, reason);
		return;
	}
	wl_event_source_timer_update(conn->timer, PORT_CHECK_MS);
	if (conn->state == STATE_READY) {
		conn->state = STATE_HANDSHAKE;
		if (conn->impl->reset != NULL) {
			conn->impl->reset(conn);
		}
	}
}

void link_conn_port_rearm(struct vd_link_conn *conn) {
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLET};
	if (conn->port_epoll >= 0) {
		epoll_ctl(conn->port_epoll, EPOLL_CTL_MOD, conn->fd, &ev);
	}
	wl_event_source_timer_update(conn->timer, PORT_CHECK_MS);
}

/* A host is there: the link starts over with it. */
static void port_host_back(struct vd_link_conn *conn) {
	vd_log(VD_INFO, "a host is on the port");
	link_conn_port_wait_finish(conn);
	conn->host_away = false;
	conn->fd_source = wl_event_loop_add_fd(conn->loop, conn->fd, 0, link_conn_handle_fd,
		conn);
	if (conn->fd_source == NULL) {
		link_conn_fail(conn, "out of memory");
		return;
	}
	link_conn_send_hello(conn);
	wl_event_source_timer_update(conn->timer, HELLO_RESEND_MS);
	link_conn_update_mask(conn);
}

/*
 * The set has an event. Taking it (a zero wait: it is there) is what clears
 * the edge; its mask is the port's state when taken, not when it fired.
 */
static int handle_port_edge(int fd, uint32_t mask, void *data) {
	struct vd_link_conn *conn = data;
	struct epoll_event ev;
	uint32_t events = 0;
	while (epoll_wait(conn->port_epoll, &ev, 1, 0) > 0) {
		events = ev.events;
	}
	if ((events & EPOLLOUT) && !(events & (EPOLLHUP | EPOLLERR))) {
		port_host_back(conn);
	}
	return 0;
}
