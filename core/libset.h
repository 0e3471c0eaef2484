/* libset: the function library on every primary. Functions are per node
 * (FUNCTION LOAD reaches a primary's replicas, never another shard), so
 * each primary is checked when it comes up (library.c), again after a
 * reconnect and when a function is missing.
 *
 * Which library a cluster runs is decided once every primary known at
 * start has answered: FlowFabric's if any primary has it (then scanhost
 * loads nothing anywhere: a primary without it is reported and its
 * partitions wait), else scanhost's own, loaded where it is absent or
 * older. A primary with a foreign "scanhost" library is reported and its
 * partitions wait (n->blocked: the router fails their FCALLs at once, as
 * transport failures); no library scanhost did not create is ever replaced. */
#ifndef SCANHOST_LIBSET_H
#define SCANHOST_LIBSET_H

#include <stdbool.h>

#include <ev.h>

#include "library.h"
#include "router.h"

struct libset {
	const struct library *lib;
	struct router *router;
	struct ev_loop *loop;
	bool decided;                /* the cluster's library is chosen (below) */
	bool flowfabric;             /* decided: FlowFabric's library */
	ev_timer retry;              /* transient failures: check again */
	void (*changed)(void *data); /* a verdict came in */
	void *data;
};

void libset_init(struct libset *set, struct ev_loop *loop, const struct library *lib,
                 void (*changed)(void *data), void *data);
void libset_attach(struct libset *set, struct router *router);
/* Router events: a primary came up (check it) or is gone (forget it). */
void libset_node_up(struct libset *set, struct rnode *n);
void libset_node_gone(struct libset *set, struct rnode *n);
/* Checks every primary again (a function was reported missing). */
void libset_recheck(struct libset *set);
/* Every primary has a final verdict (no check running or to retry). */
bool libset_settled(const struct libset *set);
bool libset_busy(const struct libset *set);
/* ctx.library: "scanhost" when every checked primary runs scanhost's,
 * "flowfabric" when any runs FlowFabric's, NULL when none is usable. */
const char *libset_in_use(const struct libset *set);
void libset_stop(struct libset *set);

#endif
