/* redis: one asynchronous Redis connection on the libev loop, built on
 * scanhost's own transport (TCP, unix socket, TLS): the connection
 * handshake (AUTH and SELECT from the URL, then PING), per-command timeouts
 * enforced by a watchdog, and automatic reconnect with exponential backoff
 * and jitter.
 *
 * Contract: rconn_send() either fails at once (returns false, nothing will be
 * called) or calls its reply function exactly once, later, from the loop:
 * with a reply (possibly an error reply) or with reply == NULL and an error
 * text. A non-NULL err always means a transport failure (timeout, connection
 * lost, shutdown), never an answer from Redis. */
#ifndef SCANHOST_REDIS_H
#define SCANHOST_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "cmdq.h"
#include "url.h"

struct rconn;
struct tls_client;

typedef reply_fn rconn_reply_fn;

enum rconn_event {
	RCONN_READY, /* connected, authenticated, database selected, PING answered;
	              * detail: the TLS version and cipher, or NULL */
	RCONN_LOST,  /* connection lost or an attempt failed; reconnecting. Reported
	              * once until the next RCONN_READY */
	/* The server or its certificate refused us: a configuration problem.
	 * Reported at every attempt (the connection keeps retrying with backoff). */
	RCONN_AUTH_FAILED,    /* NOAUTH, WRONGPASS, or a password it does not expect */
	RCONN_BAD_DB,         /* SELECT refused the database index */
	RCONN_TLS_FAILED,     /* certificate verification or the TLS handshake failed */
	RCONN_PROTOCOL_ERROR, /* the server does not speak RESP */
};
typedef void (*rconn_event_fn)(void *data, enum rconn_event ev, const char *detail);

struct rconn_opts {
	struct redis_url url;
	const struct tls_client *tls; /* rediss://: the TLS client (borrowed); NULL: plain */
	char tls_name[256];     /* the name the certificate must carry; empty: the URL's host */
	double connect_timeout; /* seconds per attempt: connect, TLS and the handshake */
	double command_timeout; /* seconds */
	double backoff_min;     /* seconds, first reconnect delay */
	double backoff_max;     /* seconds */
};

struct rconn_stats {
	uint64_t commands;   /* commands written */
	uint64_t connects;   /* successful connections */
	uint64_t reconnects; /* of them, those after this connection's first */
	uint64_t timeouts;   /* connections dropped for a command timeout */
};

struct rconn *rconn_new(struct ev_loop *loop, const struct rconn_opts *opts,
                        rconn_event_fn on_event, void *data);
void rconn_start(struct rconn *c);
bool rconn_ready(const struct rconn *c);
bool rconn_send(struct rconn *c, int argc, const char **argv, const size_t *argvlen,
                rconn_reply_fn fn, void *priv, char *err, size_t errlen);
/* Fails every command in flight ("shutting down") and frees the connection
 * (once the callback it is called from, if any, has returned). */
void rconn_free(struct rconn *c);
/* Drops the connection now (failing what is in flight with why) and reconnects. */
void rconn_drop(struct rconn *c, const char *why);
size_t rconn_in_flight(const struct rconn *c);
const struct rconn_stats *rconn_stats(const struct rconn *c);
/* Adds every counter of `from` to `to` (a sum over connections). */
void rconn_stats_add(struct rconn_stats *to, const struct rconn_stats *from);
/* Why the connection is not ready: what the attempt in progress is waiting
 * for ("timed out ..."), or the last failure. */
void rconn_describe_failure(const struct rconn *c, char *out, size_t n);

#endif
