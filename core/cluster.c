/* cluster: mode detection, nodes and the slot table (see cluster.h).
 *
 *   DETECTING --seed READY, INFO cluster--> STANDALONE (the seed is the server)
 *                                       \-> CLUSTER --CLUSTER SLOTS--> slot table
 *
 * In a cluster every primary named by CLUSTER SLOTS gets a connection; a
 * node that stops owning slots is told GONE and its connection closed (a
 * seed's is kept for topology queries). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "log.h"

#define REFRESH_MIN_GAP 0.25 /* seconds between refreshes asked for by events */

static void refresh_now(struct router *r);

static void notify(struct router *r, struct rnode *n, enum router_note note, enum rconn_event rev,
                   const char *detail)
{
	if (r->on_event)
		r->on_event(r->data, n, note, rev, detail);
}

static void announce(struct router *r, struct rnode *n)
{
	if (n->announced || !n->primary || !rconn_ready(n->conn))
		return;
	n->announced = true;
	notify(r, n, ROUTER_NODE_UP, RCONN_READY, n->tls[0] ? n->tls : NULL);
}

static void retire(struct router *r, struct rnode *n)
{
	if (n->announced || n->user)
		notify(r, n, ROUTER_NODE_GONE, RCONN_LOST, NULL);
	n->announced = false;
	n->primary = false;
}

/* ---- detection ------------------------------------------------------------ */

static void become_standalone(struct router *r, struct rnode *n)
{
	r->mode = ROUTER_STANDALONE;
	n->primary = true;
	for (int s = 0; s < SLOT_COUNT; s++)
		r->owner[s] = n;
	r->have_topology = true;
	announce(r, n);
}

static void on_info(void *priv, redisReply *reply, const char *err)
{
	struct rnode *n = priv;
	struct router *r = n->router;
	if (err || r->mode != ROUTER_DETECTING)
		return; /* lost: the next READY asks again */
	/* an error reply (an ACL without INFO) can only be a standalone server:
	 * a cluster would be found out by its first MOVED, so say so */
	if (reply->type == REDIS_REPLY_ERROR)
		log_warn("INFO cluster refused (%s); assuming a standalone server", reply->str);
	if (reply->type != REDIS_REPLY_STRING || !topology_cluster_enabled(reply->str)) {
		become_standalone(r, n);
		return;
	}
	r->mode = ROUTER_CLUSTER;
	log_info("%s is a cluster node: routing by slot to every primary", n->addr);
	ev_timer_again(r->loop, &r->refresh_timer);
	refresh_now(r);
}

static void detect(struct router *r, struct rnode *n)
{
	const char *argv[] = { "INFO", "cluster" };
	char err[160];
	if (!rconn_send(n->conn, 2, argv, NULL, on_info, n, err, sizeof(err)))
		rconn_drop(n->conn, err);
}

/* ---- node connections --------------------------------------------------------- */

static void start_conn(struct router *r, struct rnode *n, const struct redis_url *url);

/* While detecting, a seed that cannot be reached gives way to the next. */
static void next_seed(struct router *r, struct rnode *n)
{
	if (r->opts.nseeds == 0)
		return;
	r->seed_index = (r->seed_index + 1) % (r->opts.nseeds + 1);
	const struct redis_url *u =
	    r->seed_index == 0 ? &r->opts.conn.url : &r->opts.seeds[r->seed_index - 1];
	rconn_stats_add(&r->gone, rconn_stats(n->conn));
	rconn_free(n->conn);
	snprintf(n->host, sizeof(n->host), "%s", u->host);
	n->port = u->port;
	snprintf(n->addr, sizeof(n->addr), "%s:%d", u->host, u->port);
	start_conn(r, n, u);
}

static void on_conn_event(void *data, enum rconn_event ev, const char *detail)
{
	struct rnode *n = data;
	struct router *r = n->router;
	switch (ev) {
	case RCONN_READY:
		snprintf(n->tls, sizeof(n->tls), "%s", detail ? detail : "");
		if (r->mode == ROUTER_DETECTING)
			detect(r, n);
		else if (r->mode == ROUTER_CLUSTER && !r->have_topology)
			refresh_now(r);
		else
			announce(r, n);
		return;
	case RCONN_LOST:
		n->announced = false;
		if (n->primary || r->mode == ROUTER_DETECTING)
			notify(r, n, ROUTER_NODE_DOWN, ev, detail);
		if (r->mode == ROUTER_CLUSTER)
			cluster_refresh_soon(r);
		else if (r->mode == ROUTER_DETECTING)
			next_seed(r, n);
		return;
	default: notify(r, n, ROUTER_NODE_REFUSED, ev, detail); return;
	}
}

static void start_conn(struct router *r, struct rnode *n, const struct redis_url *url)
{
	struct rconn_opts o = r->opts.conn;
	o.url = *url;
	n->conn = rconn_new(r->loop, &o, on_conn_event, n);
	if (!n->conn)
		abort();
	rconn_start(n->conn);
}

static struct rnode *add_node(struct router *r, const char *host, int port, bool seed)
{
	struct rnode *n = calloc(1, sizeof(*n));
	if (!n)
		abort();
	n->router = r;
	n->seed = seed;
	snprintf(n->host, sizeof(n->host), "%s", host);
	n->port = port;
	snprintf(n->addr, sizeof(n->addr), "%s:%d", host, port);
	n->next = r->nodes;
	r->nodes = n;
	return n;
}

struct rnode *cluster_node(struct router *r, const char *host, int port)
{
	for (struct rnode *n = r->nodes; n; n = n->next) {
		if (n->port == port && strcmp(n->host, host) == 0)
			return n;
	}
	struct rnode *n = add_node(r, host, port, false);
	struct redis_url u = r->opts.conn.url; /* credentials and TLS as the seed's */
	snprintf(u.host, sizeof(u.host), "%s", host);
	u.port = port;
	start_conn(r, n, &u);
	return n;
}

static void free_node(struct router *r, struct rnode *dead)
{
	for (struct rnode **p = &r->nodes; *p; p = &(*p)->next) {
		if (*p == dead) {
			*p = dead->next;
			break;
		}
	}
	retire(r, dead);
	rconn_stats_add(&r->gone, rconn_stats(dead->conn));
	rconn_free(dead->conn);
	free(dead);
}

void cluster_free_nodes(struct router *r)
{
	while (r->nodes)
		free_node(r, r->nodes);
}

/* ---- the slot table ------------------------------------------------------------ */

static int count_primaries(const struct router *r)
{
	int n = 0;
	for (const struct rnode *p = r->nodes; p; p = p->next)
		n += p->primary;
	return n;
}

static void apply(struct router *r, const struct topology *t)
{
	int before = count_primaries(r);
	for (struct rnode *n = r->nodes; n; n = n->next)
		n->marked = false;
	memset(r->owner, 0, sizeof(r->owner));
	for (int i = 0; i < t->n; i++) {
		const struct topo_range *g = &t->ranges[i];
		struct rnode *n = cluster_node(r, g->host, g->port);
		n->marked = true;
		for (int s = g->first; s <= g->last; s++)
			r->owner[s] = n;
	}
	r->have_topology = true;
	struct rnode *next;
	for (struct rnode *n = r->nodes; n; n = next) {
		next = n->next;
		if (n->marked && !n->primary) {
			n->primary = true;
			announce(r, n);
		} else if (!n->marked && n->primary) {
			log_info("%s no longer owns slots", n->addr);
			retire(r, n);
		}
		/* a node that owns nothing goes once it has nothing in flight */
		if (!n->marked && !n->seed && rconn_in_flight(n->conn) == 0)
			free_node(r, n);
	}
	int after = count_primaries(r);
	if (after != before)
		log_info("cluster topology: %d primaries, %d of 16384 slots served", after,
		         topology_covered(t));
}

static void on_slots(void *priv, redisReply *reply, const char *err)
{
	struct router *r = priv;
	struct topology t;
	char why[200];
	r->refreshing = false;
	if (r->closing)
		return;
	if (err || reply->type == REDIS_REPLY_ERROR) {
		log_warn("cluster topology refresh failed (%s); retrying", err ? err : reply->str);
		cluster_refresh_soon(r);
		return;
	}
	if (!topology_parse_slots(reply, r->asked, &t, why, sizeof(why))) {
		log_error("%s; keeping the slot table", why);
		return;
	}
	if (t.n == 0)
		log_warn("the cluster node %s serves no slots yet; asking again", r->asked);
	else
		apply(r, &t);
	topology_free(&t);
	if (t.n == 0 || r->refresh_again) {
		r->refresh_again = false;
		cluster_refresh_soon(r);
	}
}

/* CLUSTER SLOTS to a connected node: a primary if one is, else a seed. */
static void refresh_now(struct router *r)
{
	if (r->refreshing) {
		r->refresh_again = true;
		return;
	}
	struct rnode *to = NULL;
	for (struct rnode *n = r->nodes; n; n = n->next) {
		if (rconn_ready(n->conn) && (!to || (n->primary && !to->primary)))
			to = n;
	}
	if (!to)
		return; /* the next READY asks */
	const char *argv[] = { "CLUSTER", "SLOTS" };
	char err[160];
	snprintf(r->asked, sizeof(r->asked), "%s", to->host);
	if (rconn_send(to->conn, 2, argv, NULL, on_slots, r, err, sizeof(err)))
		r->refreshing = true;
}

void cluster_refresh_soon(struct router *r)
{
	if (r->mode != ROUTER_CLUSTER || r->closing || ev_is_active(&r->soon_timer))
		return;
	ev_timer_set(&r->soon_timer, REFRESH_MIN_GAP, 0);
	ev_timer_start(r->loop, &r->soon_timer);
}

void cluster_moved(struct router *r, int slot, const char *host, int port)
{
	struct rnode *n = cluster_node(r, host, port);
	n->primary = true;
	r->owner[slot] = n;
	announce(r, n);
	cluster_refresh_soon(r);
}

static void on_refresh_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	refresh_now(w->data);
}

void cluster_init(struct router *r)
{
	ev_init(&r->refresh_timer, on_refresh_timer);
	r->refresh_timer.repeat = r->opts.refresh_interval > 0 ? r->opts.refresh_interval : 5.0;
	ev_timer_init(&r->soon_timer, on_refresh_timer, 0, 0);
	r->refresh_timer.data = r->soon_timer.data = r;
}

void cluster_start(struct router *r)
{
	const struct redis_url *u = &r->opts.conn.url;
	start_conn(r, add_node(r, u->host, u->port, true), u);
}
