/* dial: resolve and connect without blocking the loop (see dial.h); the
 * name lookup is resolve.c's, on a thread of its own. */
#define _GNU_SOURCE /* strerrorname_np */
#include "dial.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "resolve.h"

struct dial {
	struct ev_loop *loop;
	ev_io wio; /* writable: the connect in progress finished, either way */
	int fd;
	bool is_unix;
	struct resolve *resolve; /* the name lookup in progress */
	struct addrinfo *addrs, *next_addr;
	char where[300];
	dial_fn done;
	void *data;
};

void dial_describe(bool is_unix, const char *host, int port, char *out, size_t n)
{
	bool v6 = !is_unix && strchr(host, ':') != NULL;
	if (is_unix)
		snprintf(out, n, "%s", host);
	else
		snprintf(out, n, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

static void connect_failed(const struct dial *d, int e, char *err, size_t errlen)
{
	const char *name = strerrorname_np(e);
	snprintf(err, errlen, "connect to %s failed: %s%s%s%s", d->where, strerror(e),
	         name ? " (" : "", name ? name : "", name ? ")" : "");
}

static void free_dial(struct dial *d)
{
	ev_io_stop(d->loop, &d->wio);
	resolve_cancel(d->resolve);
	if (d->fd >= 0)
		close(d->fd);
	if (d->addrs)
		freeaddrinfo(d->addrs);
	free(d);
}

/* Hands the outcome over; the dial is gone before done() runs. */
static void finish(struct dial *d, int fd, const char *err)
{
	dial_fn done = d->done;
	void *data = d->data;
	d->fd = -1; /* now the callee's */
	free_dial(d);
	done(data, fd, err);
}

static void watch(struct dial *d, int fd)
{
	d->fd = fd;
	ev_io_set(&d->wio, fd, EV_WRITE);
	ev_io_start(d->loop, &d->wio);
}

/* Tries the resolved addresses in order until one connects or is in
 * progress. False (err set) when none is left. */
static bool try_next_address(struct dial *d, char *err, size_t errlen)
{
	while (d->next_addr) {
		struct addrinfo *ai = d->next_addr;
		d->next_addr = ai->ai_next;
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			connect_failed(d, errno, err, errlen);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			watch(d, fd);
			return true;
		}
		connect_failed(d, errno, err, errlen);
		close(fd);
	}
	return false;
}

static void on_resolved(void *data, struct addrinfo *addrs, const char *err)
{
	struct dial *d = data;
	d->resolve = NULL;
	if (!addrs) {
		finish(d, -1, err);
		return;
	}
	d->addrs = d->next_addr = addrs;
	char why[512];
	if (!try_next_address(d, why, sizeof(why)))
		finish(d, -1, why);
}

static bool start_tcp(struct dial *d, const char *host, int port, char *err, size_t errlen)
{
	d->resolve = resolve_start(d->loop, host, port, on_resolved, d, err, errlen);
	return d->resolve != NULL;
}

static bool start_unix(struct dial *d, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "unix socket path too long (max %zu bytes)",
		         sizeof(sa.sun_path) - 1);
		return false;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		connect_failed(d, errno, err, errlen);
		return false;
	}
	/* EAGAIN here means a full backlog, not a connect in progress */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
		connect_failed(d, errno, err, errlen);
		close(fd);
		return false;
	}
	watch(d, fd);
	return true;
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct dial *d = w->data;
	int e = 0;
	socklen_t len = sizeof(e);
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		e = errno;
	if (e == 0) {
		finish(d, d->fd, NULL);
		return;
	}
	char err[512];
	connect_failed(d, e, err, sizeof(err));
	ev_io_stop(d->loop, &d->wio);
	close(d->fd);
	d->fd = -1;
	if (!d->is_unix && try_next_address(d, err, sizeof(err)))
		return;
	finish(d, -1, err);
}

struct dial *dial_start(struct ev_loop *loop, bool is_unix, const char *host, int port,
                        dial_fn done, void *data, char *err, size_t errlen)
{
	struct dial *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*d =
	    (struct dial){ .loop = loop, .fd = -1, .is_unix = is_unix, .done = done, .data = data };
	dial_describe(is_unix, host, port, d->where, sizeof(d->where));
	ev_io_init(&d->wio, on_writable, -1, EV_WRITE);
	d->wio.data = d;
	if (!(is_unix ? start_unix(d, host, err, errlen) : start_tcp(d, host, port, err, errlen))) {
		free_dial(d);
		return NULL;
	}
	return d;
}

void dial_cancel(struct dial *d)
{
	if (d)
		free_dial(d);
}
