/* transport: a non-blocking byte stream on libev (see transport.h).
 *
 * The socket comes from dial.c. Watchers: rio is active from the moment
 * the stream is open (replies may come at any time); wio only while the TLS
 * handshake wants to write or the output buffer could not be written in
 * full. Queued bytes are first tried from an ev_prepare watcher, just
 * before the loop sleeps, so a burst of commands (a pipeline) goes out in
 * one write without an extra poll. TLS can want the opposite direction of
 * the one in progress (a read that must write, a write that must read):
 * both are remembered and retried when the socket is ready. */
#define _GNU_SOURCE /* strerrorname_np */
#include "transport.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dial.h"
#include "tls.h"

#define READ_CHUNK  65536
#define PLAIN_READS 4         /* reads per readable event on a plain socket */
#define OUT_KEEP    (1 << 18) /* a larger output buffer is released once empty */

struct transport {
	struct ev_loop *loop;
	const struct transport_ops *ops;
	void *data;
	int fd;
	struct dial *dial; /* while connecting */
	enum transport_phase phase;
	ev_io rio, wio;
	ev_prepare flusher;
	const struct tls_client *tls; /* NULL: plain */
	struct ssl_st *ssl;
	char tls_name[256];
	struct tls_resume *resume;
	bool write_wants_read; /* TLS: retry the write once readable */
	bool read_wants_write; /* TLS: retry the read once writable */
	char *out;             /* bytes [out_off, out_len) wait to be written */
	size_t out_off, out_len, out_cap;
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
	dial_cancel(t->dial);
	t->dial = NULL;
	if (t->ssl)
		t->tls->api->session_free(t->ssl, t->phase == TRANSPORT_OPEN);
	t->ssl = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
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
	/* the secrets of a connection that failed at the TLS level are not
	 * offered again (RFC 8446 6.2) */
	if (kind == TRANSPORT_TLS && t->tls && t->resume)
		t->tls->api->resume_clear(t->resume);
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

char *transport_reserve(struct transport *t, size_t n)
{
	if (n > SIZE_MAX / 4 - t->out_len)
		return NULL;
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
			return NULL;
		t->out = p;
		t->out_cap = cap;
	}
	return t->out + t->out_len;
}

void transport_commit(struct transport *t, size_t n)
{
	t->out_len += n;
	schedule_flush(t);
}

bool transport_write(struct transport *t, const char *buf, size_t n)
{
	char *room = transport_reserve(t, n);
	if (!room)
		return false;
	memcpy(room, buf, n);
	transport_commit(t, n);
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

static void on_dialed(void *data, int fd, const char *err)
{
	struct transport *t = data;
	t->dial = NULL;
	if (fd < 0) {
		fail(t, TRANSPORT_LOST, err);
		return;
	}
	t->fd = fd;
	ev_io_set(&t->rio, fd, EV_READ);
	ev_io_set(&t->wio, fd, EV_WRITE);
	if (!t->tls) {
		become_open(t);
		return;
	}
	char why[512];
	t->ssl =
	    t->tls->api->session_new(t->tls->ctx, fd, t->tls_name, t->resume, why, sizeof(why));
	if (!t->ssl) {
		fail(t, TRANSPORT_TLS, why);
		return;
	}
	t->phase = TRANSPORT_TLS_HANDSHAKE;
	handshake_step(t);
}

/* ---- events ------------------------------------------------------------------ */

/* The socket is ready in one direction (w says which). TLS may have left a
 * step of the other direction waiting for exactly this: that goes first. */
static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct transport *t = w->data;
	if (t->phase == TRANSPORT_TLS_HANDSHAKE) {
		handshake_step(t);
		return;
	}
	bool readable = w == &t->rio;
	bool *waiting = readable ? &t->write_wants_read : &t->read_wants_write;
	if (*waiting) {
		*waiting = false;
		if (!readable)
			ev_io_stop(t->loop, &t->wio); /* flush() starts it again if it must */
		if (!(readable ? flush(t) : read_some(t)))
			return;
	}
	if (readable)
		read_some(t);
	else
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
	t->phase = TRANSPORT_CONNECTING;
	t->tls = to->tls;
	t->resume = to->resume;
	snprintf(t->tls_name, sizeof(t->tls_name), "%s", to->tls_name ? to->tls_name : to->host);
	ev_io_init(&t->rio, on_io, -1, EV_READ);
	ev_io_init(&t->wio, on_io, -1, EV_WRITE);
	ev_prepare_init(&t->flusher, on_prepare);
	t->rio.data = t->wio.data = t->flusher.data = t;
	dial_describe(to->is_unix, to->host, to->port, t->where, sizeof(t->where));
	t->dial = dial_start(loop, to->is_unix, to->host, to->port, on_dialed, t, err, errlen);
	if (!t->dial) {
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
