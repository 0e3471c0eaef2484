/* http: libmicrohttpd on the libev loop (see http.h).
 *
 * MHD runs with MHD_USE_EPOLL and no internal thread: its epoll fd is
 * watched by an ev_io, MHD_get_timeout() arms an ev_timer, and both call
 * MHD_run(), which never blocks. A request whose answer needs Redis is
 * suspended (MHD_suspend_connection) and resumed when the answer comes. */
#define _DEFAULT_SOURCE
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#define HTTP_MAX_CONNECTIONS 32
#define HTTP_IDLE_TIMEOUT    10 /* seconds an idle connection is kept */

struct http_exchange {
	struct http_exchange *next, **pprev; /* the server's suspended list */
	struct http_server *srv;
	struct MHD_Connection *conn;
	bool started;   /* the handler was called */
	bool owed;      /* ... and has not called reply() yet */
	bool answered;  /* an answer is stored */
	bool suspended; /* waiting in the suspended list */
	bool orphan;    /* the server stopped first: reply() frees it */
	unsigned status;
	char type[64];
	char *body;
	size_t len;
};

struct http_server {
	struct MHD_Daemon *d;
	struct ev_loop *loop;
	ev_io io;
	ev_timer timer;
	http_handler_fn fn;
	void *data;
	struct http_exchange *suspended;
};

static void pump(struct http_server *s)
{
	MHD_run(s->d);
	ev_timer_stop(s->loop, &s->timer);
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(s->d, &ms) == MHD_YES) {
		ev_timer_set(&s->timer, (double)ms / 1000.0, 0);
		ev_timer_start(s->loop, &s->timer);
	}
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	pump(w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	pump(w->data);
}

/* MHD_run() at the next loop iteration (a resumed connection). */
static void kick(struct http_server *s)
{
	ev_timer_stop(s->loop, &s->timer);
	ev_timer_set(&s->timer, 0, 0);
	ev_timer_start(s->loop, &s->timer);
}

static void unlink_suspended(struct http_exchange *x)
{
	if (!x->suspended)
		return;
	*x->pprev = x->next;
	if (x->next)
		x->next->pprev = x->pprev;
	x->suspended = false;
	MHD_resume_connection(x->conn);
}

static void exchange_free(struct http_exchange *x)
{
	free(x->body);
	free(x);
}

static void set_answer(struct http_exchange *x, unsigned status, const char *type, const char *body,
                       size_t len)
{
	x->answered = true;
	x->status = status;
	snprintf(x->type, sizeof(x->type), "%s", type);
	x->body = malloc(len ? len : 1);
	if (!x->body) {
		x->status = 500;
		x->len = 0;
		return;
	}
	memcpy(x->body, body, len);
	x->len = len;
}

static void http_reply(struct http_exchange *x, unsigned status, const char *type, const char *body,
                       size_t len)
{
	x->owed = false;
	if (x->orphan) {
		exchange_free(x);
		return;
	}
	if (!x->answered) /* else: the server stopped and answered 503 */
		set_answer(x, status, type, body, len);
	if (x->suspended) {
		unlink_suspended(x);
		kick(x->srv);
	}
}

static enum MHD_Result queue_answer(struct http_exchange *x)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(x->len, x->body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, x->type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ok = MHD_queue_response(x->conn, x->status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	struct http_server *s = cls;
	struct http_exchange *x = *con_cls;
	if (!x) { /* the headers: the body (if any) comes with the next calls */
		if (!(x = calloc(1, sizeof(*x))))
			return MHD_NO;
		x->srv = s;
		x->conn = conn;
		*con_cls = x;
		return MHD_YES;
	}
	if (*upload_size) { /* no endpoint takes a body: read and drop it */
		*upload_size = 0;
		return MHD_YES;
	}
	if (!x->started) {
		x->started = x->owed = true;
		struct http_request req = {
			.method = method,
			.path = url,
			.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			                                             MHD_HTTP_HEADER_AUTHORIZATION),
			.x = x,
		};
		s->fn(s->data, &req);
	}
	if (x->answered)
		return queue_answer(x);
	x->suspended = true;
	x->next = s->suspended;
	x->pprev = &s->suspended;
	if (s->suspended)
		s->suspended->pprev = &x->next;
	s->suspended = x;
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	struct http_exchange *x = *con_cls;
	*con_cls = NULL;
	if (!x)
		return;
	if (x->owed) {
		x->orphan = true; /* the handler still owes its reply() */
		x->conn = NULL;
		return;
	}
	exchange_free(x);
}

static struct http_server *http_start(struct ev_loop *loop, const struct sockaddr *addr,
                                      socklen_t addrlen, http_handler_fn fn, void *data, char *err,
                                      size_t errlen)
{
	(void)addrlen;
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->fn = fn;
	s->data = data;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, addr,
	                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT,
	                        MHD_OPTION_END);
	const union MHD_DaemonInfo *info =
	    s->d ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		snprintf(err, errlen, "cannot listen (address in use, or not this host's?)");
		if (s->d)
			MHD_stop_daemon(s->d);
		free(s);
		return NULL;
	}
	ev_io_init(&s->io, on_io, info->epoll_fd, EV_READ);
	ev_timer_init(&s->timer, on_timer, 0, 0);
	s->io.data = s->timer.data = s;
	ev_io_start(loop, &s->io);
	pump(s);
	return s;
}

static uint16_t http_port(const struct http_server *s)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : 0;
}

static void http_stop(struct http_server *s)
{
	if (!s)
		return;
	/* MHD must resume every suspended connection before it stops */
	while (s->suspended) {
		struct http_exchange *x = s->suspended;
		unlink_suspended(x);
		set_answer(x, 503, "text/plain; charset=utf-8", "shutting down\n", 14);
	}
	MHD_run(s->d);
	ev_io_stop(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->timer);
	MHD_stop_daemon(s->d);
	free(s);
}

const struct http_api http_mhd = {
	.start = http_start,
	.port = http_port,
	.reply = http_reply,
	.stop = http_stop,
};
