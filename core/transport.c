/* transport: a non-blocking byte stream on libev (see transport.h).
 *
 * Watchers: rio is active from the moment the stream is open (replies may
 * come at any time); wio only while a connect is in progress, the TLS
 * handshake wants to write, or the output buffer could not be written in
 * full. Queued bytes are first tried from an ev_prepare watcher, just
 * before the loop sleeps, so a burst of commands (a pipeline) goes out in
 * one write without an extra poll. TLS can want the opposite direction of
 * the one in progress (a read that must write, a write that must read):
 * both are remembered and retried when the socket is ready. */
#define _GNU_SOURCE /* strerrorname_np */
#include "transport.h"

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

#include "tls.h"

#define READ_CHUNK  65536
#define PLAIN_READS 4         /* reads per readable event on a plain socket */
#define OUT_KEEP    (1 << 18) /* a larger output buffer is released once empty */

struct transport {
	struct ev_loop *loop;
	const struct transport_ops *ops;
	void *data;
	int fd;
	bool is_unix;
	enum transport_phase phase;
	ev_io rio, wio;
	ev_prepare flusher;
	const struct tls_client *tls; /* NULL: plain */
	struct ssl_st *ssl;
	char tls_name[256];
	bool write_wants_read; /* TLS: retry the write once readable */
	bool read_wants_write; /* TLS: retry the read once writable */
	char *out;             /* bytes [out_off, out_len) wait to be written */
	size_t out_off, out_len, out_cap;
	struct addrinfo *addrs, *next_addr;
	char where[300]; /* "host:port" or the socket path, for messages */
	int depth;       /* callbacks running */
	bool closed;     /* closed inside a callback: freed when it returns */
};

static void errno_text(int e, char *buf, size_t n)
{
	const char *name = strerrorname_np(e);
	snprintf(buf, n, "%s%s%s%s", strerror(e), name ? " (" : "", name ? name : "",
	         name ? ")" : "");
}

static void stop_watchers(struct transport *t)
{
	ev_io_stop(t->loop, &t->rio);
	ev_io_stop(t->loop, &t->wio);
	ev_prepare_stop(t->loop, &t->flusher);
}

static void release(struct transport *t)
{
	stop_watchers(t);
	if (t->ssl)
		t->tls->api->session_free(t->ssl, t->phase == TRANSPORT_OPEN);
	t->ssl = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->addrs)
		freeaddrinfo(t->addrs);
	t->addrs = t->next_addr = NULL;
	free(t->out);
	t->out = NULL;
}

/* After a callback: false when the transport was closed in it (it is freed
 * once no callback runs any more). */
static bool leave(struct transport *t)
{
	if (--t->depth == 0 && t->closed) {
		free(t);
		return false;
	}
	return !t->closed;
}

static void fail(struct transport *t, enum transport_failure kind, const char *why)
{
	stop_watchers(t);
	t->phase = TRANSPORT_FAILED;
	t->depth++;
	t->ops->failed(t->data, kind, why);
	leave(t);
}

/* ---- reading and writing ------------------------------------------------- */

static enum tls_io plain_read(struct transport *t, char *buf, size_t cap, size_t *got, char *err,
                              size_t errlen)
{
	for (;;) {
		ssize_t n = recv(t->fd, buf, cap, 0);
		if (n > 0) {
			*got = (size_t)n;
			return TLS_IO_DONE;
		}
		if (n == 0) {
			snprintf(err, errlen, "connection closed by the server");
			return TLS_IO_CLOSED;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return TLS_IO_WANT_READ;
		if (errno != EINTR) {
			errno_text(errno, err, errlen);
			return TLS_IO_CLOSED;
		}
	}
}

static enum tls_io plain_write(struct transport *t, const char *buf, size_t len, size_t *put,
                               char *err, size_t errlen)
{
	for (;;) {
		ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0) {
			*put = (size_t)n;
			return TLS_IO_DONE;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return TLS_IO_WANT_WRITE;
		if (errno != EINTR) {
			errno_text(errno, err, errlen);
			return TLS_IO_CLOSED;
		}
	}
}

/* Reads what the socket has and hands it up. False when the transport
 * failed or was closed meanwhile. */
static bool read_some(struct transport *t)
{
	char buf[READ_CHUNK], err[512];
	for (int round = 1;; round++) {
		size_t got = 0;
		enum tls_io r =
		    t->ssl ? t->tls->api->read(t->ssl, buf, sizeof(buf), &got, err, sizeof(err))
		           : plain_read(t, buf, sizeof(buf), &got, err, sizeof(err));
		switch (r) {
		case TLS_IO_DONE:
			t->depth++;
			t->ops->received(t->data, buf, got);
			if (!leave(t))
				return false;
			/* TLS: drain what OpenSSL holds, or no event would announce it */
			if (!t->ssl && (got < sizeof(buf) || round >= PLAIN_READS))
				return true;
			break;
		case TLS_IO_WANT_READ: return true;
		case TLS_IO_WANT_WRITE:
			t->read_wants_write = true;
			ev_io_start(t->loop, &t->wio);
			return true;
		case TLS_IO_CLOSED: fail(t, TRANSPORT_LOST, err); return false;
		case TLS_IO_FAILED: fail(t, TRANSPORT_TLS, err); return false;
		}
	}
}

static void release_output(struct transport *t)
{
	t->out_off = t->out_len = 0;
	if (t->out_cap > OUT_KEEP) {
		free(t->out);
		t->out = NULL;
		t->out_cap = 0;
	}
}

/* Writes as much of the output buffer as the socket takes. False when the
 * transport failed meanwhile. */
static bool flush(struct transport *t)
{
	char err[512];
	ev_prepare_stop(t->loop, &t->flusher);
	while (t->out_off < t->out_len) {
		size_t put = 0;
		const char *p = t->out + t->out_off;
		size_t len = t->out_len - t->out_off;
		enum tls_io r = t->ssl ? t->tls->api->write(t->ssl, p, len, &put, err, sizeof(err))
		                       : plain_write(t, p, len, &put, err, sizeof(err));
		switch (r) {
		case TLS_IO_DONE: t->out_off += put; break;
		case TLS_IO_WANT_WRITE: ev_io_start(t->loop, &t->wio); return true;
		case TLS_IO_WANT_READ:
			t->write_wants_read = true; /* rio retries it; wio would spin */
			if (!t->read_wants_write)
				ev_io_stop(t->loop, &t->wio);
			return true;
		case TLS_IO_CLOSED: fail(t, TRANSPORT_LOST, err); return false;
		case TLS_IO_FAILED: fail(t, TRANSPORT_TLS, err); return false;
		}
	}
	release_output(t);
	if (!t->read_wants_write)
		ev_io_stop(t->loop, &t->wio);
	return true;
}

static void schedule_flush(struct transport *t)
{
	if (t->phase == TRANSPORT_OPEN && t->out_len > t->out_off && !ev_is_active(&t->wio) &&
	    !t->write_wants_read)
		ev_prepare_start(t->loop, &t->flusher);
}

bool transport_write(struct transport *t, const char *buf, size_t n)
{
	if (t->out_len + n > t->out_cap) {
		if (t->out_off) { /* TLS may see the pending bytes move: allowed by its mode */
			memmove(t->out, t->out + t->out_off, t->out_len - t->out_off);
			t->out_len -= t->out_off;
			t->out_off = 0;
		}
		size_t cap = t->out_cap ? t->out_cap : 16384;
		while (cap < t->out_len + n)
			cap *= 2;
		char *p = cap > t->out_cap ? realloc(t->out, cap) : t->out;
		if (!p)
			return false;
		t->out = p;
		t->out_cap = cap;
	}
	memcpy(t->out + t->out_len, buf, n);
	t->out_len += n;
	schedule_flush(t);
	return true;
}

/* ---- connecting ------------------------------------------------------------ */

static void become_open(struct transport *t)
{
	t->phase = TRANSPORT_OPEN;
	ev_io_stop(t->loop, &t->wio);
	ev_io_start(t->loop, &t->rio);
	t->depth++;
	t->ops->connected(t->data);
	if (leave(t))
		schedule_flush(t);
}

static void handshake_step(struct transport *t)
{
	char err[512];
	char what[600];
	switch (t->tls->api->handshake(t->ssl, err, sizeof(err))) {
	case TLS_IO_DONE: become_open(t); return;
	case TLS_IO_WANT_READ:
		ev_io_stop(t->loop, &t->wio);
		ev_io_start(t->loop, &t->rio);
		return;
	case TLS_IO_WANT_WRITE:
		ev_io_stop(t->loop, &t->rio);
		ev_io_start(t->loop, &t->wio);
		return;
	case TLS_IO_CLOSED:
		snprintf(what, sizeof(what), "TLS handshake with %s: %s", t->where, err);
		fail(t, TRANSPORT_LOST, what);
		return;
	case TLS_IO_FAILED:
		snprintf(what, sizeof(what), "TLS handshake with %s failed: %s", t->where, err);
		fail(t, TRANSPORT_TLS, what);
		return;
	}
}

static void socket_connected(struct transport *t)
{
	if (t->addrs)
		freeaddrinfo(t->addrs);
	t->addrs = t->next_addr = NULL;
	if (!t->tls) {
		become_open(t);
		return;
	}
	char err[512];
	t->ssl = t->tls->api->session_new(t->tls->ctx, t->fd, t->tls_name, err, sizeof(err));
	if (!t->ssl) {
		fail(t, TRANSPORT_TLS, err);
		return;
	}
	t->phase = TRANSPORT_TLS_HANDSHAKE;
	handshake_step(t);
}

static void watch_fd(struct transport *t, int fd)
{
	t->fd = fd;
	ev_io_set(&t->rio, fd, EV_READ);
	ev_io_set(&t->wio, fd, EV_WRITE);
	ev_io_start(t->loop, &t->wio); /* writable = the connect finished, either way */
}

static void connect_failed(struct transport *t, int e, char *err, size_t errlen)
{
	char why[256];
	errno_text(e, why, sizeof(why));
	snprintf(err, errlen, "connect to %s failed: %s", t->where, why);
}

/* Tries the resolved addresses in order until one connects or is in
 * progress. False (err set) when none is left. */
static bool try_next_address(struct transport *t, char *err, size_t errlen)
{
	while (t->next_addr) {
		struct addrinfo *ai = t->next_addr;
		t->next_addr = ai->ai_next;
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			connect_failed(t, errno, err, errlen);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			watch_fd(t, fd);
			return true;
		}
		connect_failed(t, errno, err, errlen);
		close(fd);
	}
	return false;
}

static bool start_tcp(struct transport *t, const char *host, int port, char *err, size_t errlen)
{
	bool v6 = strchr(host, ':') != NULL;
	snprintf(t->where, sizeof(t->where), "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		                  .ai_socktype = SOCK_STREAM,
		                  .ai_flags = AI_NUMERICSERV };
	int rc = getaddrinfo(host, service, &hints, &t->addrs);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		t->addrs = NULL;
		return false;
	}
	t->next_addr = t->addrs;
	return try_next_address(t, err, errlen);
}

static bool start_unix(struct transport *t, const char *path, char *err, size_t errlen)
{
	snprintf(t->where, sizeof(t->where), "%s", path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "unix socket path too long (max %zu bytes)",
		         sizeof(sa.sun_path) - 1);
		return false;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		connect_failed(t, errno, err, errlen);
		return false;
	}
	/* EAGAIN here means a full backlog, not a connect in progress */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
		connect_failed(t, errno, err, errlen);
		close(fd);
		return false;
	}
	watch_fd(t, fd);
	return true;
}

static void check_connect(struct transport *t)
{
	int e = 0;
	socklen_t len = sizeof(e);
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		e = errno;
	if (e == 0) {
		socket_connected(t);
		return;
	}
	char err[512];
	connect_failed(t, e, err, sizeof(err));
	ev_io_stop(t->loop, &t->wio);
	close(t->fd);
	t->fd = -1;
	if (!t->is_unix && try_next_address(t, err, sizeof(err)))
		return;
	fail(t, TRANSPORT_LOST, err);
}

/* ---- events ------------------------------------------------------------------ */

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct transport *t = w->data;
	if (t->phase == TRANSPORT_TLS_HANDSHAKE) {
		handshake_step(t);
		return;
	}
	if (t->write_wants_read) {
		t->write_wants_read = false;
		if (!flush(t))
			return;
	}
	read_some(t);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct transport *t = w->data;
	if (t->phase == TRANSPORT_CONNECTING) {
		check_connect(t);
		return;
	}
	if (t->phase == TRANSPORT_TLS_HANDSHAKE) {
		handshake_step(t);
		return;
	}
	if (t->read_wants_write) {
		t->read_wants_write = false;
		ev_io_stop(t->loop, &t->wio);
		if (!read_some(t))
			return;
	}
	flush(t);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	flush(w->data);
}

/* ---- lifecycle ---------------------------------------------------------------- */

struct transport *transport_open(struct ev_loop *loop, const struct transport_target *to,
                                 const struct transport_ops *ops, void *data, char *err,
                                 size_t errlen)
{
	struct transport *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->loop = loop;
	t->ops = ops;
	t->data = data;
	t->fd = -1;
	t->is_unix = to->is_unix;
	t->phase = TRANSPORT_CONNECTING;
	t->tls = to->tls;
	snprintf(t->tls_name, sizeof(t->tls_name), "%s", to->tls_name ? to->tls_name : to->host);
	ev_io_init(&t->rio, on_readable, -1, EV_READ);
	ev_io_init(&t->wio, on_writable, -1, EV_WRITE);
	ev_prepare_init(&t->flusher, on_prepare);
	t->rio.data = t->wio.data = t->flusher.data = t;
	bool ok = to->is_unix ? start_unix(t, to->host, err, errlen)
	                      : start_tcp(t, to->host, to->port, err, errlen);
	if (!ok) {
		transport_close(t);
		return NULL;
	}
	return t;
}

void transport_close(struct transport *t)
{
	if (!t || t->closed)
		return;
	release(t);
	if (t->depth > 0) {
		t->closed = true;
		return;
	}
	free(t);
}

enum transport_phase transport_phase(const struct transport *t)
{
	return t->phase;
}

void transport_describe(const struct transport *t, char *out, size_t n)
{
	out[0] = '\0';
	if (t->ssl && t->phase == TRANSPORT_OPEN)
		t->tls->api->session_info(t->ssl, out, n);
}
