/* router: where each command goes. scanhost talks to a standalone server
 * or to a Redis/Valkey Cluster through this one entry point; the mode is
 * detected from the first seed that answers (INFO cluster).
 *
 * Standalone: one connection (redis.c), commands pass straight through.
 * Cluster: one connection per primary, a slot table from CLUSTER SLOTS
 * (refreshed periodically, after a lost connection and after MOVED); a
 * command goes to the primary owning its first key's slot, a keyless one
 * (TIME) to the owner of the slot the caller names (the partition being
 * scanned). MOVED and ASK are followed, TRYAGAIN and CLUSTERDOWN are
 * retried after a short delay within the command timeout; what still fails
 * comes back as a transport failure (err set), never as the item's error.
 *
 * Contract (as rconn_send): router_send() either fails at once (false,
 * nothing called) or calls fn exactly once, later, from the loop. */
#ifndef SCANHOST_ROUTER_H
#define SCANHOST_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "redis.h"
#include "topology.h"

#define ROUTER_MAX_SEEDS 15 /* beyond the first URL */

struct router;

/* A server the router talks to: the standalone server, a cluster primary,
 * or a seed kept for topology queries. */
struct rnode {
	struct rnode *next;
	struct router *router;
	char host[TOPOLOGY_HOST_MAX];
	int port;
	char addr[TOPOLOGY_HOST_MAX + 8]; /* "host:port" (the seed's redacted URL standalone) */
	struct rconn *conn;
	char tls[96];   /* its connection's TLS version and cipher, or "" */
	bool primary;   /* owns slots (standalone: the server) */
	bool seed;      /* a seed: kept even when it owns no slot */
	bool announced; /* ROUTER_NODE_UP told while a primary */
	bool marked;    /* topology refresh scratch */
	bool blocked;   /* no usable function library: FCALLs to it fail at once */
	void *user;     /* the user's per-node state */
};

enum router_mode { ROUTER_DETECTING, ROUTER_STANDALONE, ROUTER_CLUSTER };

enum router_note {
	ROUTER_NODE_UP,      /* a primary is connected (detail: n->tls, or NULL) */
	ROUTER_NODE_DOWN,    /* its connection was lost (detail: why); it reconnects */
	ROUTER_NODE_REFUSED, /* credentials, database, certificate, protocol (rev says) */
	ROUTER_NODE_GONE,    /* no longer a primary: drop n->user; n may be freed next */
};
typedef void (*router_event_fn)(void *data, struct rnode *n, enum router_note note,
                                enum rconn_event rev, const char *detail);

struct router_opts {
	struct rconn_opts conn; /* TLS, timeouts, credentials; conn.url is the first seed */
	struct redis_url seeds[ROUTER_MAX_SEEDS]; /* more seeds (tried in turn) */
	int nseeds;
	double refresh_interval; /* seconds between topology refreshes (cluster) */
	/* CLUSTERDOWN: the cluster cannot serve now (new cycles should pause) */
	void (*on_pause)(void *data, const char *reply);
};

struct router *router_new(struct ev_loop *loop, const struct router_opts *opts,
                          router_event_fn on_event, void *data);
void router_start(struct router *r);
/* Fails what is in flight or waiting ("shutting down") and frees. */
void router_free(struct router *r);
enum router_mode router_mode(const struct router *r);
/* Something can be sent: the server (standalone), or the slot table and
 * at least one primary (cluster). */
bool router_ready(const struct router *r);
/* slot_hint: where a keyless command goes (-1: any primary). */
bool router_send(struct router *r, int slot_hint, int argc, const char **argv,
                 const size_t *argvlen, rconn_reply_fn fn, void *priv, char *err, size_t errlen);
/* The primary owning a slot (NULL: unknown); standalone: the server. */
struct rnode *router_slot_node(const struct router *r, int slot);
struct rnode *router_nodes(const struct router *r);
int router_primaries(const struct router *r);
/* The sum of every node's connection statistics, written to out. */
const struct rconn_stats *router_stats(const struct router *r, struct rconn_stats *out);
/* Drops every connection (they reconnect). */
void router_drop(struct router *r, const char *why);
void router_describe_failure(const struct router *r, char *out, size_t n);

#endif
