/* redis: one asynchronous hiredis connection on the libev loop, with connect
 * and per-command timeouts, AUTH/SELECT from the URL, and automatic reconnect
 * with exponential backoff and jitter.
 *
 * Contract: rconn_send() either fails at once (returns false, nothing will be
 * called) or calls its reply function exactly once, later, from the loop:
 * with a reply (possibly an error reply) or with reply == NULL and an error
 * text (timeout, disconnect, shutdown). */
#ifndef SCANHOST_REDIS_H
#define SCANHOST_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "url.h"

struct rconn;

typedef void (*rconn_reply_fn)(void *priv, redisReply *reply, const char *err);

enum rconn_event {
	RCONN_READY,       /* connected, authenticated, database selected */
	RCONN_LOST,        /* connection lost or failed; reconnecting */
	RCONN_AUTH_FAILED, /* the server refused our credentials */
};
typedef void (*rconn_event_fn)(void *data, enum rconn_event ev, const char *detail);

struct rconn_opts {
	struct redis_url url;
	double connect_timeout; /* seconds */
	double command_timeout; /* seconds */
	double backoff_min;     /* seconds, first reconnect delay */
	double backoff_max;     /* seconds */
};

struct rconn_stats {
	uint64_t commands; /* commands written */
	uint64_t connects; /* successful connections */
	uint64_t timeouts; /* connections dropped for a command timeout */
};

struct rconn *rconn_new(struct ev_loop *loop, const struct rconn_opts *opts,
                        rconn_event_fn on_event, void *data);
void rconn_start(struct rconn *c);
bool rconn_ready(const struct rconn *c);
bool rconn_send(struct rconn *c, int argc, const char **argv, const size_t *argvlen,
                rconn_reply_fn fn, void *priv, char *err, size_t errlen);
/* Fails every command in flight ("shutting down") and frees the connection. */
void rconn_free(struct rconn *c);
/* Drops the connection now (failing what is in flight) and reconnects. */
void rconn_drop(struct rconn *c, const char *why);
size_t rconn_in_flight(const struct rconn *c);
const struct rconn_stats *rconn_stats(const struct rconn *c);

#endif
