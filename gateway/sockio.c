/*
 * sockio.c - large reads and direct writes on a cleartext connection,
 * beside libevent's bufferevent.
 *
 * libevent 2.1 (Debian 12) reads at most 4096 bytes per read however large
 * bufferevent_set_max_single_read is (EVBUFFER_MAX_READ), so an 85 kB
 * PutRecords body took 22 trips through epoll_wait, ioctl(FIONREAD), readv
 * and the HTTP parser.  gw_sock_fill reads what the socket holds into the
 * bufferevent's input buffer in one read instead.  gw_sock_send writes
 * an answer to the socket at once when nothing is queued before it, rather
 * than arming a write event for the loop's next turn (three epoll_ctl calls
 * and an epoll_wait per answer); what the socket does not take is queued on
 * the bufferevent, which writes it as before.
 *
 * Both are for plain sockets only: a TLS connection's bytes belong to
 * OpenSSL (bufferevent_openssl), so for those these leave the socket to
 * the bufferevent.  End of file and errors are left for the
 * bufferevent to find on its own next read or write, so its event callback
 * still reports them.  Event-loop thread only; nothing is locked.
 */
#include "gw.h"

#include <stdlib.h>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

/* the most one call of gw_sock_fill reads */
#define FILL_LIMIT (1024 * 1024)

/* libevent 2.1's EVBUFFER_MAX_READ: its own read of a socket takes at most this */
#define LIBEVENT_MAX_READ 4096

/* True when bev is a cleartext socket (not OpenSSL's) this file may use. */
static bool
plain_socket(struct bufferevent *bev)
{
	return bufferevent_openssl_get_ssl(bev) == NULL && bufferevent_getfd(bev) >= 0;
}

/*
 * Read what the socket of bev holds (up to FILL_LIMIT bytes) into its input
 * buffer, in one read of the size FIONREAD reports.  Called right after
 * libevent's own read: when its input holds less than that read could
 * take, the read emptied the socket and nothing is asked of the kernel.
 * Nothing is read when the socket had nothing, is at end of file or failed
 * (the bufferevent's next read reports the last two).
 */
void
gw_sock_fill(struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);
	struct evbuffer_iovec v;
	int			avail = 0;
	ssize_t		n;

	if (evbuffer_get_length(in) < LIBEVENT_MAX_READ || !plain_socket(bev) ||
		ioctl(fd, FIONREAD, &avail) < 0 || avail <= 0)
		return;
	if (avail > FILL_LIMIT)
		avail = FILL_LIMIT;
	/* a socket bufferevent keeps its input's end frozen outside its own reads */
	evbuffer_unfreeze(in, 0);
	if (evbuffer_reserve_space(in, avail, &v, 1) == 1)
	{
		n = recv(fd, v.iov_base, (size_t) avail, MSG_DONTWAIT);
		v.iov_len = n > 0 ? (size_t) n : 0;
		evbuffer_commit_space(in, &v, n > 0 ? 1 : 0);
	}
	evbuffer_freeze(in, 0);
}

static void
free_whole(const void *data, size_t len, void *base)
{
	free(base);
}

/*
 * Send head (copied) and then body (malloc'd; owned by this function from
 * now on) on bev.  When bev's output buffer is empty and the connection is
 * cleartext, as much as the socket takes is written at once; the rest, or
 * all of it otherwise, is queued on bev without copying the body.
 */
void
gw_sock_send(struct bufferevent *bev, const char *head, size_t head_len, char *body, size_t body_len)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t		sent = 0;

	if (evbuffer_get_length(out) == 0 && plain_socket(bev))
	{
		struct iovec iov[2] = {{(void *) head, head_len}, {body, body_len}};
		struct msghdr msg = {.msg_iov = iov,.msg_iovlen = body_len > 0 ? 2 : 1};
		ssize_t		n = sendmsg(bufferevent_getfd(bev), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

		/* on an error the bufferevent's own write finds it again and reports it */
		if (n > 0)
			sent = (size_t) n;
	}
	if (sent < head_len)
		evbuffer_add(out, head + sent, head_len - sent);
	sent = sent > head_len ? sent - head_len : 0;
	if (sent >= body_len)
		free(body);
	else if (evbuffer_add_reference(out, body + sent, body_len - sent, free_whole, body) != 0)
	{
		evbuffer_add(out, body + sent, body_len - sent);
		free(body);
	}
}
