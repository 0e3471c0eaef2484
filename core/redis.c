/* redis: the connection's life cycle on top of transport.c (the byte
 * stream) and cmdq.c (pending commands and the reply reader).
 *
 *   IDLE --retry timer--> CONNECTING --transport connected--> HANDSHAKE
 *        --PING answered--> READY --failure, timeout, drop--> IDLE
 *
 * Every failure goes through one path, disconnect(): the transport is
 * closed and every pending command fails with the reason, so each reply
 * function runs exactly once and a timeout can never be followed by a late
 * reply. Then drop() retries with backoff (reported once as RCONN_LOST),
 * or refused() does (reported at every attempt: a configuration problem). Loop
 * entry points (transport callbacks, timers) hold a depth count: a
 * connection freed from inside one is freed when it returns. */
#include "redis.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "handshake.h"
#include "log.h"
#include "resp.h"
#include "tls.h"
#include "transport.h"

enum rconn_state { RC_IDLE, RC_CONNECTING, RC_HANDSHAKE, RC_READY, RC_CLOSED };

/* A handshake reply's context: which connection, which step. */
struct hs_step {
	struct rconn *c;
	enum handshake_step step;
};

struct rconn {
	struct ev_loop *loop;
	struct rconn_opts opts;
	struct transport *tr;
	struct cmdq q;
	struct hs_step hs[3];
	enum rconn_state state;
	rconn_event_fn on_event;
	void *data;
	char last_error[512];
	ev_timer connect_timer; /* the attempt in progress: connect, TLS, handshake */
	ev_timer retry_timer;
	ev_timer watchdog; /* the oldest command's deadline */
	unsigned attempt;
	bool reported_lost;
	int depth;
	bool free_pending;
	struct rconn_stats stats;
	struct tls_resume resume; /* the server's last session, for the next connect */
};

static void reconnect_later(struct rconn *c);

static void enter(struct rconn *c)
{
	c->depth++;
}

static void leave(struct rconn *c)
{
	if (--c->depth > 0 || !c->free_pending)
		return;
	cmdq_free(&c->q);
	if (c->opts.tls)
		c->opts.tls->api->resume_clear(&c->resume);
	free(c);
}

static void emit(struct rconn *c, enum rconn_event ev, const char *detail)
{
	if (c->on_event)
		c->on_event(c->data, ev, detail);
}

/* The watchdog is set to the oldest command's deadline when the queue
 * stops being empty, and moved on when it fires for a command already
 * answered: no timer update per reply. (Before READY, the connect timer
 * bounds the handshake.) */
static void arm_watchdog(struct rconn *c)
{
	ev_timer_stop(c->loop, &c->watchdog);
	const struct cmdq_entry *oldest = cmdq_oldest(&c->q);
	if (!oldest || c->state != RC_READY)
		return;
	double left = oldest->deadline - ev_now(c->loop);
	ev_timer_set(&c->watchdog, left > 0 ? left : 0, 0);
	ev_timer_start(c->loop, &c->watchdog);
}

/* Ends the connection or the attempt: every pending command fails with err. */
static void disconnect(struct rconn *c, const char *err)
{
	ev_timer_stop(c->loop, &c->connect_timer);
	ev_timer_stop(c->loop, &c->watchdog);
	struct transport *tr = c->tr;
	c->tr = NULL;
	transport_close(tr);
	if (c->state != RC_CLOSED)
		c->state = RC_IDLE;
	cmdq_fail_all(&c->q, err);
}

/* A failure that may go away (refused, reset, timed out): retry with backoff. */
static void drop(struct rconn *c, const char *why, const char *err)
{
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	disconnect(c, err);
	if (c->state == RC_CLOSED)
		return;
	if (!c->reported_lost) {
		c->reported_lost = true;
		emit(c, RCONN_LOST, why);
	}
	reconnect_later(c);
}

static void lost(struct rconn *c, const char *why)
{
	char err[600];
	snprintf(err, sizeof(err), "connection lost: %s", why);
	drop(c, why, err);
}

/* The server refused us (credentials, database, certificate, protocol): a
 * configuration problem, reported at every attempt. */
static void refused(struct rconn *c, enum rconn_event ev, const char *why)
{
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	disconnect(c, why);
	if (c->state == RC_CLOSED)
		return;
	emit(c, ev, why);
	reconnect_later(c);
}

void rconn_drop(struct rconn *c, const char *why)
{
	drop(c, why, why);
}

/* Writes one command and queues its reply function. On failure nothing is
 * queued (a command written without its entry would misalign every later
 * reply, so that case drops the connection). */
static bool submit(struct rconn *c, int argc, const char **argv, const size_t *argvlen, reply_fn fn,
                   void *priv)
{
	size_t len = resp_command_size(argc, argv, argvlen);
	char *room = len == SIZE_MAX ? NULL : transport_reserve(c->tr, len);
	if (!room)
		return false;
	resp_write_command(room, argc, argv, argvlen);
	transport_commit(c->tr, len);
	/* the loop's cached time is stale when it has not run for a while (an
	 * embedding caller such as the test module); deadlines need real time */
	ev_now_update(c->loop);
	if (!cmdq_push(&c->q, ev_now(c->loop) + c->opts.command_timeout, fn, priv)) {
		lost(c, "out of memory");
		return false;
	}
	c->stats.commands++;
	if (cmdq_len(&c->q) == 1)
		arm_watchdog(c);
	return true;
}

bool rconn_send(struct rconn *c, int argc, const char **argv, const size_t *argvlen,
                rconn_reply_fn fn, void *priv, char *err, size_t errlen)
{
	if (c->state != RC_READY) {
		snprintf(err, errlen, "not connected to redis");
		return false;
	}
	if (!submit(c, argc, argv, argvlen, fn, priv)) {
		snprintf(err, errlen, "could not queue command (out of memory)");
		return false;
	}
	return true;
}

/* ---- the handshake: [AUTH] [SELECT] PING, sent at once (handshake.c) ---- */

static void become_ready(struct rconn *c)
{
	char tls[128] = "";
	ev_timer_stop(c->loop, &c->connect_timer);
	c->state = RC_READY;
	c->attempt = 0;
	c->reported_lost = false;
	c->last_error[0] = '\0';
	if (c->stats.connects++ > 0)
		c->stats.reconnects++;
	transport_describe(c->tr, tls, sizeof(tls));
	arm_watchdog(c);
	emit(c, RCONN_READY, tls[0] ? tls : NULL);
}

static void on_handshake_reply(void *priv, redisReply *reply, const char *err)
{
	(void)err; /* a transport failure: disconnect() already handles it */
	const struct hs_step *step = priv;
	struct rconn *c = step->c;
	char why[300];
	if (!reply || c->state != RC_HANDSHAKE)
		return;
	switch (handshake_verdict(step->step, reply, c->opts.url.db, why, sizeof(why))) {
	case HANDSHAKE_NEXT: break;
	case HANDSHAKE_READY: become_ready(c); break;
	case HANDSHAKE_RETRY: lost(c, why); break;
	case HANDSHAKE_AUTH_FAILED: refused(c, RCONN_AUTH_FAILED, why); break;
	case HANDSHAKE_BAD_DB: refused(c, RCONN_BAD_DB, why); break;
	}
}

static void start_handshake(struct rconn *c)
{
	struct handshake hs;
	handshake_plan(&hs, &c->opts.url);
	c->state = RC_HANDSHAKE;
	for (int i = 0; i < hs.n; i++) {
		c->hs[i] = (struct hs_step){ c, hs.cmd[i].step };
		if (!submit(c, hs.cmd[i].argc, hs.cmd[i].argv, NULL, on_handshake_reply,
		            &c->hs[i])) {
			lost(c, "out of memory");
			return;
		}
	}
}

/* ---- transport events -------------------------------------------------------- */

static void tr_connected(void *data)
{
	struct rconn *c = data;
	enter(c);
	start_handshake(c);
	leave(c);
}

static void tr_received(void *data, const char *buf, size_t n)
{
	struct rconn *c = data;
	char err[300];
	enter(c);
	if (!cmdq_feed(&c->q, buf, n, err, sizeof(err))) {
		if (c->state == RC_HANDSHAKE)
			refused(c, RCONN_PROTOCOL_ERROR, err); /* not a Redis at all */
		else
			lost(c, err);
	}
	leave(c);
}

static void tr_failed(void *data, enum transport_failure kind, const char *why)
{
	struct rconn *c = data;
	enter(c);
	/* a TLS failure before the connection was ever usable is a certificate
	 * or configuration problem; later it is just a lost connection */
	if (kind == TRANSPORT_TLS && c->state != RC_READY)
		refused(c, RCONN_TLS_FAILED, why);
	else
		lost(c, why);
	leave(c);
}

static const struct transport_ops transport_ops = {
	.connected = tr_connected,
	.received = tr_received,
	.failed = tr_failed,
};

static void connect_now(struct rconn *c)
{
	const struct redis_url *u = &c->opts.url;
	struct transport_target to = {
		.is_unix = u->is_unix,
		.host = u->host,
		.port = u->port,
		.tls = c->opts.tls,
		.tls_name = c->opts.tls_name[0] ? c->opts.tls_name : u->host,
		.resume = &c->resume,
	};
	char err[512];
	if (!cmdq_reset(&c->q)) {
		lost(c, "out of memory");
		return;
	}
	c->state = RC_CONNECTING;
	c->tr = transport_open(c->loop, &to, &transport_ops, c, err, sizeof(err));
	if (!c->tr) {
		lost(c, err);
		return;
	}
	ev_timer_set(&c->connect_timer, c->opts.connect_timeout, 0);
	ev_timer_start(c->loop, &c->connect_timer);
}

/* ---- timers -------------------------------------------------------------------- */

/* The next reconnect's delay (backoff.h); the count of attempts grows. */
static double reconnect_delay(struct rconn *c)
{
	return backoff_delay(c->opts.backoff_min, c->opts.backoff_max, c->attempt++);
}

static void reconnect_later(struct rconn *c)
{
	if (c->state == RC_CLOSED || ev_is_active(&c->retry_timer))
		return;
	double delay = reconnect_delay(c);
	log_debug("reconnecting to redis in %.0f ms", delay * 1000);
	ev_timer_set(&c->retry_timer, delay, 0);
	ev_timer_start(c->loop, &c->retry_timer);
}

void rconn_describe_failure(const struct rconn *c, char *out, size_t n)
{
	const char *step = NULL;
	if (c->state == RC_HANDSHAKE)
		step =
		    "waiting for the server to answer the connection handshake (AUTH/SELECT/PING)";
	else if (c->state == RC_CONNECTING && c->tr &&
	         transport_phase(c->tr) == TRANSPORT_TLS_HANDSHAKE)
		step = "in the TLS handshake";
	else if (c->state == RC_CONNECTING)
		step = "connecting";
	if (step)
		snprintf(out, n, "timed out %s", step);
	else
		snprintf(out, n, "%s", c->last_error[0] ? c->last_error : "not connected");
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct rconn *c = w->data;
	char why[300];
	if (c->state != RC_CONNECTING && c->state != RC_HANDSHAKE)
		return;
	enter(c);
	rconn_describe_failure(c, why, sizeof(why));
	lost(c, why);
	leave(c);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct rconn *c = w->data;
	enter(c);
	connect_now(c);
	leave(c);
}

/* The oldest command outlived its timeout: Redis answers in order, so the
 * connection is stalled. Failing the connection delivers every error through
 * the same path as a disconnect and guarantees no late resume. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct rconn *c = w->data;
	const struct cmdq_entry *oldest = cmdq_oldest(&c->q);
	if (c->state != RC_READY || !oldest || oldest->deadline > ev_now(loop) + 0.0005) {
		arm_watchdog(c);
		return;
	}
	char why[96];
	snprintf(why, sizeof(why), "timeout: no reply within %.3g s", c->opts.command_timeout);
	log_warn("redis command timed out after %.3g s; dropping the connection",
	         c->opts.command_timeout);
	c->stats.timeouts++;
	enter(c);
	rconn_drop(c, why);
	leave(c);
}

/* ---- lifecycle --------------------------------------------------------------------- */

struct rconn *rconn_new(struct ev_loop *loop, const struct rconn_opts *opts,
                        rconn_event_fn on_event, void *data)
{
	struct rconn *c = calloc(1, sizeof(*c));
	if (!c || !cmdq_init(&c->q)) {
		free(c);
		return NULL;
	}
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
	enter(c);
	connect_now(c);
	leave(c);
}

bool rconn_ready(const struct rconn *c)
{
	return c->state == RC_READY;
}

size_t rconn_in_flight(const struct rconn *c)
{
	return cmdq_len(&c->q);
}

const struct rconn_stats *rconn_stats(const struct rconn *c)
{
	return &c->stats;
}

void rconn_stats_add(struct rconn_stats *to, const struct rconn_stats *from)
{
	to->commands += from->commands;
	to->connects += from->connects;
	to->reconnects += from->reconnects;
	to->timeouts += from->timeouts;
}

void rconn_free(struct rconn *c)
{
	if (!c || c->free_pending)
		return;
	c->state = RC_CLOSED;
	ev_timer_stop(c->loop, &c->retry_timer);
	enter(c);
	c->free_pending = true;
	disconnect(c, "shutting down");
	leave(c);
}
