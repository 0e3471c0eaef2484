/* router: sending by slot, redirects and retries (see router.h); the
 * nodes and the slot table are cluster.c's.
 *
 * In a cluster each command is a request that keeps a copy of its
 * arguments until it is answered: a redirect (MOVED, ASK) sends it again
 * to the node named, TRYAGAIN and CLUSTERDOWN after a short delay. Redis
 * answers those before running anything, so sending again never runs a
 * command twice. A pipeline is its commands sent one by one: each goes to
 * its own node's connection (written out in parallel) and each reply is
 * delivered to its own slot in the caller's results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster.h"
#include "log.h"

#define MAX_REDIRECTS 5
#define RETRY_FIRST   0.02 /* seconds; doubles up to RETRY_MAX */
#define RETRY_MAX     0.5

struct rreq {
	struct rreq *next, *prev; /* in r->waiting while a retry is pending */
	struct router *router;
	rconn_reply_fn fn;
	void *priv;
	int slot;
	int redirects;
	unsigned retries;
	double deadline; /* retries stop here: the command timeout */
	bool asking;     /* ASK: ASKING first, to ask_host:ask_port */
	char ask_host[TOPOLOGY_HOST_MAX];
	int ask_port;
	char last_error[128]; /* why the last retry was needed */
	ev_timer timer;
	int argc;
	const char **argv;
	size_t *lens;
	/* argv pointers, lengths and the bytes follow */
};

static void dispatch(struct rreq *q);

static struct rreq *new_request(struct router *r, int slot, int argc, const char **argv,
                                const size_t *lens)
{
	size_t bytes = 0;
	for (int i = 0; i < argc; i++)
		bytes += lens ? lens[i] : strlen(argv[i]);
	size_t head = sizeof(struct rreq) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
	struct rreq *q = calloc(1, head + bytes);
	if (!q)
		return NULL;
	q->router = r;
	q->slot = slot;
	q->argc = argc;
	q->argv = (const char **)(q + 1);
	q->lens = (size_t *)(q->argv + argc);
	char *data = (char *)(q->lens + argc);
	for (int i = 0; i < argc; i++) {
		q->lens[i] = lens ? lens[i] : strlen(argv[i]);
		memcpy(data, argv[i], q->lens[i]);
		q->argv[i] = data;
		data += q->lens[i];
	}
	ev_now_update(r->loop);
	q->deadline = ev_now(r->loop) + r->opts.conn.command_timeout;
	return q;
}

static void unlink_waiting(struct rreq *q)
{
	struct router *r = q->router;
	ev_timer_stop(r->loop, &q->timer);
	if (q->prev)
		q->prev->next = q->next;
	else if (r->waiting == q)
		r->waiting = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = q->prev = NULL;
}

static void complete(struct rreq *q, redisReply *reply, const char *err)
{
	q->fn(q->priv, reply, err);
	free(q);
}

static void on_retry_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct rreq *q = w->data;
	unlink_waiting(q);
	dispatch(q);
}

/* Sends again after a delay, or gives up at the deadline: a transport
 * failure (nothing ran: the item is simply not done yet). */
static void retry_later(struct rreq *q, const char *why)
{
	struct router *r = q->router;
	double delay = RETRY_FIRST;
	for (unsigned i = 0; i < q->retries && delay < RETRY_MAX; i++)
		delay *= 2;
	q->retries++;
	if (why != q->last_error)
		snprintf(q->last_error, sizeof(q->last_error), "%s", why);
	if (r->closing || ev_now(r->loop) + delay > q->deadline) {
		char err[200];
		snprintf(err, sizeof(err), "cluster: %s (gave up after %.3g s)", q->last_error,
		         r->opts.conn.command_timeout);
		complete(q, NULL, err);
		return;
	}
	ev_timer_init(&q->timer, on_retry_timer, delay, 0);
	q->timer.data = q;
	q->next = r->waiting;
	if (r->waiting)
		r->waiting->prev = q;
	r->waiting = q;
	ev_timer_start(r->loop, &q->timer);
}

static bool starts(const redisReply *r, const char *word)
{
	size_t n = strlen(word);
	return r->len >= n && strncmp(r->str, word, n) == 0;
}

static void on_asking(void *priv, redisReply *reply, const char *err)
{
	(void)priv;
	(void)reply;
	(void)err; /* the command after it carries the outcome */
}

static void on_reply(void *priv, redisReply *reply, const char *err)
{
	struct rreq *q = priv;
	struct router *r = q->router;
	struct redirect d;
	q->asking = false;
	if (err) {
		cluster_refresh_soon(r);
		complete(q, NULL, err);
		return;
	}
	if (reply->type != REDIS_REPLY_ERROR || r->closing) {
		complete(q, reply, NULL);
		return;
	}
	enum redirect_kind kind = topology_parse_redirect(reply->str, reply->len, &d);
	if (kind != REDIRECT_NONE && q->redirects++ < MAX_REDIRECTS) {
		if (kind == REDIRECT_MOVED) {
			cluster_moved(r, d.slot, d.host, d.port);
		} else {
			q->asking = true;
			snprintf(q->ask_host, sizeof(q->ask_host), "%s", d.host);
			q->ask_port = d.port;
		}
		dispatch(q);
	} else if (starts(reply, "TRYAGAIN")) {
		retry_later(q, "TRYAGAIN: the slot is being migrated");
	} else if (starts(reply, "CLUSTERDOWN")) {
		if (r->opts.on_pause)
			r->opts.on_pause(r->data, reply->str);
		cluster_refresh_soon(r);
		retry_later(q, reply->str);
	} else {
		complete(q, reply, NULL);
	}
}

static void dispatch(struct rreq *q)
{
	struct router *r = q->router;
	struct rnode *n = q->asking ? cluster_node(r, q->ask_host, q->ask_port) : r->owner[q->slot];
	char err[160];
	if (!n) {
		cluster_refresh_soon(r);
		retry_later(q, "no primary serves the slot");
		return;
	}
	if (!rconn_ready(n->conn)) {
		cluster_refresh_soon(r); /* a failover may have moved the slot */
		snprintf(err, sizeof(err), "%s is not connected", n->addr);
		retry_later(q, err);
		return;
	}
	const char *asking[] = { "ASKING" };
	if (q->asking && !rconn_send(n->conn, 1, asking, NULL, on_asking, NULL, err, sizeof(err))) {
		retry_later(q, err);
		return;
	}
	if (!rconn_send(n->conn, q->argc, q->argv, q->lens, on_reply, q, err, sizeof(err)))
		retry_later(q, err);
}

/* Any connected primary (for a command with neither key nor hint). */
static int any_slot(const struct router *r)
{
	for (int s = 0; s < SLOT_COUNT; s++) {
		if (r->owner[s] && rconn_ready(r->owner[s]->conn))
			return s;
	}
	return 0;
}

/* FCALL, FCALL_RO: what a primary without a usable library cannot run. */
static bool calls_function(const char *cmd, size_t len)
{
	return (len == 5 || len == 8) && strncasecmp(cmd, "FCALL_RO", len) == 0;
}

bool router_send(struct router *r, int slot_hint, int argc, const char **argv,
                 const size_t *argvlen, rconn_reply_fn fn, void *priv, char *err, size_t errlen)
{
	if (r->mode == ROUTER_STANDALONE)
		return rconn_send(r->nodes->conn, argc, argv, argvlen, fn, priv, err, errlen);
	if (r->closing || !router_ready(r)) {
		snprintf(err, errlen, "not connected to redis");
		return false;
	}
	int slot = slot_of_command(argc, argv, argvlen);
	if (slot < 0)
		slot = slot_hint >= 0 && slot_hint < SLOT_COUNT ? slot_hint : any_slot(r);
	const struct rnode *owner = r->owner[slot];
	if (owner && owner->blocked &&
	    calls_function(argv[0], argvlen ? argvlen[0] : strlen(argv[0]))) {
		snprintf(err, errlen, "%s has no usable function library: its partitions wait",
		         owner->addr);
		return false;
	}
	struct rreq *q = new_request(r, slot, argc, argv, argvlen);
	if (!q) {
		snprintf(err, errlen, "could not queue command (out of memory)");
		return false;
	}
	q->fn = fn;
	q->priv = priv;
	dispatch(q);
	return true;
}

/* ---- the rest of the interface ---------------------------------------------- */

struct router *router_new(struct ev_loop *loop, const struct router_opts *opts,
                          router_event_fn on_event, void *data)
{
	struct router *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->loop = loop;
	r->opts = *opts;
	r->on_event = on_event;
	r->data = data;
	cluster_init(r);
	return r;
}

void router_start(struct router *r)
{
	cluster_start(r);
}

void router_free(struct router *r)
{
	if (!r)
		return;
	r->closing = true;
	ev_timer_stop(r->loop, &r->refresh_timer);
	ev_timer_stop(r->loop, &r->soon_timer);
	while (r->waiting) {
		struct rreq *q = r->waiting;
		r->waiting = q->next;
		if (r->waiting)
			r->waiting->prev = NULL;
		ev_timer_stop(r->loop, &q->timer);
		complete(q, NULL, "shutting down");
	}
	cluster_free_nodes(r);
	free(r);
}

enum router_mode router_mode(const struct router *r)
{
	return r->mode;
}

bool router_ready(const struct router *r)
{
	if (r->mode == ROUTER_STANDALONE)
		return rconn_ready(r->nodes->conn);
	if (r->mode != ROUTER_CLUSTER || !r->have_topology)
		return false;
	for (const struct rnode *n = r->nodes; n; n = n->next) {
		if (n->primary && rconn_ready(n->conn))
			return true;
	}
	return false;
}

struct rnode *router_slot_node(const struct router *r, int slot)
{
	return slot >= 0 && slot < SLOT_COUNT ? r->owner[slot] : NULL;
}

struct rnode *router_nodes(const struct router *r)
{
	return r->nodes;
}

int router_primaries(const struct router *r)
{
	int k = 0;
	for (const struct rnode *n = r->nodes; n; n = n->next)
		k += n->primary;
	return k;
}

const struct rconn_stats *router_stats(const struct router *r, struct rconn_stats *out)
{
	*out = r->gone;
	for (const struct rnode *n = r->nodes; n; n = n->next)
		rconn_stats_add(out, rconn_stats(n->conn));
	return out;
}

void router_drop(struct router *r, const char *why)
{
	for (struct rnode *n = r->nodes; n; n = n->next)
		rconn_drop(n->conn, why);
}

void router_describe_failure(const struct router *r, char *out, size_t n)
{
	for (const struct rnode *p = r->nodes; p; p = p->next) {
		if (r->mode == ROUTER_CLUSTER && !p->primary)
			continue;
		if (!rconn_ready(p->conn)) {
			char why[400];
			rconn_describe_failure(p->conn, why, sizeof(why));
			if (r->mode == ROUTER_CLUSTER)
				snprintf(out, n, "%s: %s", p->addr, why);
			else
				snprintf(out, n, "%s", why);
			return;
		}
	}
	snprintf(out, n,
	         r->mode == ROUTER_DETECTING ? "connected; detecting the server's mode"
	                                     : "no primary is reachable");
}
