/* cluster: the router's view of the servers (router.h), shared by
 * cluster.c (mode detection, nodes and their connections, the slot table,
 * topology refreshes) and router.c (sending, redirects, retries). Not for
 * other files. */
#ifndef SCANHOST_CLUSTER_H
#define SCANHOST_CLUSTER_H

#include "router.h"
#include "slot.h"

struct rreq;

struct router {
	struct ev_loop *loop;
	struct router_opts opts;
	router_event_fn on_event;
	void *data;
	enum router_mode mode;
	struct rnode *nodes;
	struct rnode *owner[SLOT_COUNT];
	int seed_index;                /* the seed being tried while detecting */
	bool have_topology;            /* a CLUSTER SLOTS reply was applied */
	bool refreshing;               /* CLUSTER SLOTS in flight */
	bool refresh_again;            /* asked for while one was in flight */
	char asked[TOPOLOGY_HOST_MAX]; /* the host the refresh asked */
	ev_timer refresh_timer;        /* periodic */
	ev_timer soon_timer;           /* a refresh asked for (MOVED, lost, CLUSTERDOWN) */
	struct rreq *waiting;          /* requests waiting for a retry (router.c) */
	struct rconn_stats gone;       /* of connections freed: the counters never go back */
	bool closing;
};

void cluster_init(struct router *r);
void cluster_start(struct router *r);
/* Frees every node (their connections fail what is in flight). */
void cluster_free_nodes(struct router *r);
/* The node for host:port, created (and connecting) when unknown. */
struct rnode *cluster_node(struct router *r, const char *host, int port);
/* MOVED: the slot now belongs to host:port; a refresh follows soon. */
void cluster_moved(struct router *r, int slot, const char *host, int port);
/* Asks for a topology refresh (rate-limited). */
void cluster_refresh_soon(struct router *r);

#endif
