/* redis: hiredis async context ownership, timeouts and reconnects.
 *
 * Ownership rules (hiredis 0.14): hiredis frees the context itself after a
 * failed connect or a disconnect, so our pointer is cleared in those
 * callbacks and never freed twice. We free it ourselves only to enforce a
 * timeout, after clearing c->ac so that callbacks running during the free
 * cannot submit to the dying context. */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>

#include "log.h"

enum rconn_state { RC_IDLE, RC_CONNECTING, RC_HANDSHAKE, RC_READY, RC_CLOSED };

/* One command in flight: the privdata hiredis hands back to on_reply. */
struct rcmd {
	struct rcmd *prev, *next;
	struct rconn *c;
	double deadline;
	rconn_reply_fn fn;
	void *priv;
};

struct rconn {
	struct ev_loop *loop;
	struct rconn_opts opts;
	redisAsyncContext *ac;
	enum rconn_state state;
	rconn_event_fn on_event;
	void *data;
	struct rcmd *head, *tail; /* FIFO: Redis answers in order */
	size_t in_flight;
	int handshake_left;
	char drop_reason[128];
	ev_timer connect_timer;
	ev_timer retry_timer;
	ev_timer watchdog;
	unsigned attempt;
	bool reported_lost;
	struct rconn_stats stats;
};

static void reconnect_later(struct rconn *c);

static void link_cmd(struct rconn *c, struct rcmd *m)
{
	m->prev = c->tail;
	m->next = NULL;
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
	c->in_flight++;
}

static void unlink_cmd(struct rconn *c, struct rcmd *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		c->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		c->tail = m->prev;
	c->in_flight--;
}

/* The watchdog always points at the oldest command's deadline. */
static void arm_watchdog(struct rconn *c)
{
	ev_timer_stop(c->loop, &c->watchdog);
	if (!c->head)
		return;
	double left = c->head->deadline - ev_now(c->loop);
	ev_timer_set(&c->watchdog, left > 0 ? left : 0, 0);
	ev_timer_start(c->loop, &c->watchdog);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct rcmd *m = privdata;
	struct rconn *c = m->c;
	redisReply *reply = r;
	unlink_cmd(c, m);
	const char *err = NULL;
	if (!reply) {
		if (c->ac == ac) {
			/* hiredis is tearing the context down: no more sends on it */
			c->ac = NULL;
			c->state = RC_IDLE;
			if (!c->drop_reason[0])
				snprintf(c->drop_reason, sizeof(c->drop_reason),
				         "connection lost: %s",
				         ac->errstr[0] ? ac->errstr : "closed");
		}
		err = c->drop_reason[0] ? c->drop_reason : "connection lost";
	}
	arm_watchdog(c);
	rconn_reply_fn fn = m->fn;
	void *priv = m->priv;
	free(m);
	fn(priv, reply, err);
}

static bool submit(struct rconn *c, int argc, const char **argv, const size_t *argvlen,
                   rconn_reply_fn fn, void *priv)
{
	struct rcmd *m = calloc(1, sizeof(*m));
	if (!m)
		return false;
	*m = (struct rcmd){ .c = c, .fn = fn, .priv = priv };
	/* the loop's cached time is stale when it has not run for a while (an
	 * embedding caller such as the test module); deadlines need real time */
	ev_now_update(c->loop);
	m->deadline = ev_now(c->loop) + c->opts.command_timeout;
	if (redisAsyncCommandArgv(c->ac, on_reply, m, argc, argv, argvlen) != REDIS_OK) {
		free(m);
		return false;
	}
	link_cmd(c, m);
	c->stats.commands++;
	if (c->head == m)
		arm_watchdog(c);
	return true;
}

bool rconn_send(struct rconn *c, int argc, const char **argv, const size_t *argvlen,
                rconn_reply_fn fn, void *priv, char *err, size_t errlen)
{
	if (c->state != RC_READY || !c->ac) {
		snprintf(err, errlen, "not connected to redis");
		return false;
	}
	if (!submit(c, argc, argv, argvlen, fn, priv)) {
		snprintf(err, errlen, "could not queue command");
		return false;
	}
	return true;
}

static void emit(struct rconn *c, enum rconn_event ev, const char *detail)
{
	if (c->on_event)
		c->on_event(c->data, ev, detail);
}

static void become_ready(struct rconn *c)
{
	c->state = RC_READY;
	c->attempt = 0;
	c->reported_lost = false;
	c->stats.connects++;
	emit(c, RCONN_READY, NULL);
}

static void handshake_step(struct rconn *c, redisReply *reply, bool is_auth)
{
	if (!reply || c->state != RC_HANDSHAKE)
		return; /* the connection went away; reconnect is already scheduled */
	if (reply->type == REDIS_REPLY_ERROR) {
		char why[200];
		snprintf(why, sizeof(why), "%s: %s",
		         is_auth ? "authentication failed" : "SELECT failed", reply->str);
		rconn_drop(c, why);
		if (is_auth)
			emit(c, RCONN_AUTH_FAILED, why);
		return;
	}
	if (--c->handshake_left == 0)
		become_ready(c);
}

static void on_auth(void *priv, redisReply *reply, const char *err)
{
	(void)err;
	handshake_step(priv, reply, true);
}

static void on_select(void *priv, redisReply *reply, const char *err)
{
	(void)err;
	handshake_step(priv, reply, false);
}

static void start_handshake(struct rconn *c)
{
	const struct redis_url *u = &c->opts.url;
	char db[16];
	snprintf(db, sizeof(db), "%d", u->db);
	c->state = RC_HANDSHAKE;
	c->handshake_left = 0;
	if (u->password[0]) {
		const char *argv[3] = { "AUTH", u->username[0] ? u->username : u->password,
			                u->password };
		int argc = u->username[0] ? 3 : 2;
		c->handshake_left += submit(c, argc, argv, NULL, on_auth, c);
	}
	if (u->db) {
		const char *argv[2] = { "SELECT", db };
		c->handshake_left += submit(c, 2, argv, NULL, on_select, c);
	}
	if (c->handshake_left == 0)
		become_ready(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;
	ev_timer_stop(c->loop, &c->connect_timer);
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback */
		snprintf(c->drop_reason, sizeof(c->drop_reason), "connect failed: %s", ac->errstr);
		c->ac = NULL;
		c->state = RC_IDLE;
		reconnect_later(c);
		return;
	}
	c->drop_reason[0] = '\0';
	start_handshake(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;
	(void)status;
	if (c->ac == ac)
		c->ac = NULL;
	if (c->state == RC_CLOSED)
		return;
	c->state = RC_IDLE;
	reconnect_later(c);
}

static redisAsyncContext *open_context(const struct redis_url *u)
{
	if (u->is_unix)
		return redisAsyncConnectUnix(u->host);
	return redisAsyncConnect(u->host, u->port);
}

static void connect_now(struct rconn *c)
{
	c->drop_reason[0] = '\0';
	redisAsyncContext *ac = open_context(&c->opts.url);
	if (!ac || ac->err) {
		snprintf(c->drop_reason, sizeof(c->drop_reason), "connect failed: %s",
		         ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		reconnect_later(c);
		return;
	}
	ac->data = c;
	redisLibevAttach(c->loop, ac);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	c->ac = ac;
	c->state = RC_CONNECTING;
	ev_timer_set(&c->connect_timer, c->opts.connect_timeout, 0);
	ev_timer_start(c->loop, &c->connect_timer);
}

/* Exponential backoff with "equal jitter": half fixed, half random, so a
 * fleet of hosts does not reconnect in lockstep after a Redis restart. */
static double backoff_delay(struct rconn *c)
{
	double d = c->opts.backoff_min;
	for (unsigned i = 0; i < c->attempt && d < c->opts.backoff_max; i++)
		d *= 2;
	if (d > c->opts.backoff_max)
		d = c->opts.backoff_max;
	c->attempt++;
	return d / 2 + d / 2 * ((double)rand() / RAND_MAX);
}

static void reconnect_later(struct rconn *c)
{
	if (c->state == RC_CLOSED || ev_is_active(&c->retry_timer))
		return;
	double delay = backoff_delay(c);
	if (!c->reported_lost) {
		c->reported_lost = true;
		emit(c, RCONN_LOST, c->drop_reason[0] ? c->drop_reason : "disconnected");
	}
	log_debug("reconnecting to redis in %.0f ms", delay * 1000);
	ev_timer_set(&c->retry_timer, delay, 0);
	ev_timer_start(c->loop, &c->retry_timer);
}

void rconn_drop(struct rconn *c, const char *why)
{
	redisAsyncContext *ac = c->ac;
	snprintf(c->drop_reason, sizeof(c->drop_reason), "%s", why);
	ev_timer_stop(c->loop, &c->connect_timer);
	c->ac = NULL;
	bool was_connected = ac && (ac->c.flags & REDIS_CONNECTED);
	if (c->state != RC_CLOSED)
		c->state = RC_IDLE;
	if (ac)
		redisAsyncFree(ac); /* fails in-flight commands with drop_reason */
	if (!was_connected)
		reconnect_later(c); /* no disconnect callback comes for these */
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct rconn *c = w->data;
	if (c->state == RC_CONNECTING)
		rconn_drop(c, "connect timed out");
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	connect_now(w->data);
}

/* The oldest command outlived its timeout: Redis answers in order, so the
 * connection is stalled. Failing the connection delivers every error through
 * the same path as a disconnect and guarantees no late resume. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct rconn *c = w->data;
	if (!c->head || c->head->deadline > ev_now(loop) + 0.0005) {
		arm_watchdog(c);
		return;
	}
	char why[96];
	snprintf(why, sizeof(why), "timeout: no reply within %.3g s", c->opts.command_timeout);
	log_warn("redis command timed out after %.3g s; dropping the connection",
	         c->opts.command_timeout);
	c->stats.timeouts++;
	rconn_drop(c, why);
}

struct rconn *rconn_new(struct ev_loop *loop, const struct rconn_opts *opts,
                        rconn_event_fn on_event, void *data)
{
	struct rconn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->opts = *opts;
	c->on_event = on_event;
	c->data = data;
	ev_timer_init(&c->connect_timer, on_connect_timeout, 0, 0);
	ev_timer_init(&c->retry_timer, on_retry, 0, 0);
	ev_timer_init(&c->watchdog, on_watchdog, 0, 0);
	c->connect_timer.data = c->retry_timer.data = c->watchdog.data = c;
	return c;
}

void rconn_start(struct rconn *c)
{
	connect_now(c);
}

bool rconn_ready(const struct rconn *c)
{
	return c->state == RC_READY && c->ac;
}

size_t rconn_in_flight(const struct rconn *c)
{
	return c->in_flight;
}

const struct rconn_stats *rconn_stats(const struct rconn *c)
{
	return &c->stats;
}

void rconn_free(struct rconn *c)
{
	if (!c)
		return;
	c->state = RC_CLOSED;
	ev_timer_stop(c->loop, &c->retry_timer);
	ev_timer_stop(c->loop, &c->watchdog);
	rconn_drop(c, "shutting down");
	ev_timer_stop(c->loop, &c->connect_timer);
	ev_timer_stop(c->loop, &c->retry_timer);
	free(c);
}
