/* libset: per-primary library checks and the cluster's choice (libset.h). */
#include "libset.h"

#include <stdlib.h>

#include "log.h"

enum nl_state { NL_CHECKING, NL_DONE };

/* A primary's library state, hung on its node (n->user). */
struct nodelib {
	struct libcheck chk;
	struct libset *set;
	struct rnode *node; /* NULL once the node is gone (freed when the check ends) */
	enum nl_state state;
	enum lib_verdict verdict;
};

static void start_check(struct libset *set, struct nodelib *nl);
static bool cluster(const struct libset *set);

/* A primary whose library is missing or foreign: its partitions wait. */
static void update_blocked(const struct libset *set, const struct nodelib *nl)
{
	enum lib_verdict v = nl->verdict;
	nl->node->blocked =
	    cluster(set) && nl->state == NL_DONE &&
	    (v == LIB_FOREIGN || v == LIB_FAILED || (v == LIB_ABSENT && set->decided));
}

static bool cluster(const struct libset *set)
{
	return router_mode(set->router) == ROUTER_CLUSTER;
}

/* A single primary has nobody to disagree with: load at once. */
static bool may_load(const struct libset *set)
{
	if (!cluster(set) || router_primaries(set->router) <= 1)
		return true;
	return set->decided && !set->flowfabric;
}

static void report_blocked(const struct nodelib *nl)
{
	const char *addr = nl->node->addr;
	if (nl->verdict == LIB_ABSENT)
		log_error("primary %s has no FlowFabric function library (the cluster runs "
		          "FlowFabric's; scanhost loads nothing): its partitions wait",
		          addr);
	else if (nl->verdict == LIB_FOREIGN || nl->verdict == LIB_FAILED)
		log_error("primary %s has no usable function library: its partitions wait", addr);
}

/* Once every primary has answered: FlowFabric's anywhere means FlowFabric's
 * everywhere; otherwise load scanhost's where it was absent or older. */
static void decide(struct libset *set)
{
	if (set->decided || !cluster(set))
		return;
	for (struct rnode *n = router_nodes(set->router); n; n = n->next) {
		const struct nodelib *nl = n->user;
		if (n->primary && (!nl || nl->state != NL_DONE || nl->verdict == LIB_TRANSIENT))
			return;
		if (n->primary && nl->verdict == LIB_FLOWFABRIC)
			set->flowfabric = true;
	}
	set->decided = true;
	log_info("cluster function library: %s",
	         set->flowfabric ? "FlowFabric's (loading nothing)" : "scanhost's own");
	for (struct rnode *n = router_nodes(set->router); n; n = n->next) {
		struct nodelib *nl = n->user;
		if (!n->primary || nl->verdict != LIB_ABSENT)
			continue;
		if (set->flowfabric)
			report_blocked(nl);
		else
			start_check(set, nl);
		update_blocked(set, nl);
	}
}

static void on_checked(void *data, enum lib_verdict v)
{
	struct nodelib *nl = data;
	struct libset *set = nl->set;
	if (!nl->node) {
		free(nl); /* the node went away meanwhile */
		return;
	}
	nl->state = NL_DONE;
	nl->verdict = v;
	if (v == LIB_TRANSIENT && !ev_is_active(&set->retry)) {
		ev_timer_set(&set->retry, 1.0, 0);
		ev_timer_start(set->loop, &set->retry);
	}
	if (cluster(set) && set->decided && (v == LIB_ABSENT || v == LIB_FOREIGN))
		report_blocked(nl);
	decide(set);
	update_blocked(set, nl);
	set->changed(set->data);
}

static void start_check(struct libset *set, struct nodelib *nl)
{
	nl->state = NL_CHECKING;
	nl->chk.where = cluster(set) ? nl->node->addr : NULL;
	library_ensure(&nl->chk, set->lib, nl->node->conn, may_load(set), on_checked, nl);
}

void libset_node_up(struct libset *set, struct rnode *n)
{
	struct nodelib *nl = n->user;
	if (!nl) {
		if (!(nl = calloc(1, sizeof(*nl))))
			abort();
		nl->set = set;
		nl->node = n;
		n->user = nl;
	} else if (nl->state == NL_CHECKING) {
		return; /* its outcome comes */
	}
	start_check(set, nl);
}

void libset_node_gone(struct libset *set, struct rnode *n)
{
	struct nodelib *nl = n->user;
	(void)set;
	n->user = NULL;
	if (!nl)
		return;
	if (nl->state == NL_CHECKING)
		nl->node = NULL; /* freed when its check ends */
	else
		free(nl);
}

static void recheck(struct libset *set, bool transient_only)
{
	for (struct rnode *n = router_nodes(set->router); n; n = n->next) {
		struct nodelib *nl = n->user;
		if (!nl || nl->state != NL_DONE || !rconn_ready(n->conn))
			continue;
		if (!transient_only || nl->verdict == LIB_TRANSIENT)
			start_check(set, nl);
	}
}

void libset_recheck(struct libset *set)
{
	recheck(set, false);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	recheck(w->data, true);
}

bool libset_settled(const struct libset *set)
{
	if (!set->router || !router_ready(set->router))
		return false;
	for (struct rnode *n = router_nodes(set->router); n; n = n->next) {
		const struct nodelib *nl = n->user;
		if (n->primary && (!nl || nl->state != NL_DONE || nl->verdict == LIB_TRANSIENT))
			return false;
	}
	return true;
}

bool libset_busy(const struct libset *set)
{
	for (struct rnode *n = router_nodes(set->router); n; n = n->next) {
		const struct nodelib *nl = n->user;
		if (nl && nl->state == NL_CHECKING)
			return true;
	}
	return false;
}

const char *libset_in_use(const struct libset *set)
{
	const char *in_use = NULL;
	for (struct rnode *n = router_nodes(set->router); n; n = n->next) {
		const struct nodelib *nl = n->user;
		const char *v =
		    nl && n->primary && nl->state == NL_DONE ? library_in_use(nl->verdict) : NULL;
		if (v && (!in_use || v[0] == 'f')) /* FlowFabric's anywhere: no batch variants */
			in_use = v;
	}
	return in_use;
}

void libset_init(struct libset *set, struct ev_loop *loop, const struct library *lib,
                 void (*changed)(void *data), void *data)
{
	set->lib = lib;
	set->loop = loop;
	set->changed = changed;
	set->data = data;
	ev_timer_init(&set->retry, on_retry, 0, 0);
	set->retry.data = set;
}

void libset_attach(struct libset *set, struct router *router)
{
	set->router = router;
}

void libset_stop(struct libset *set)
{
	ev_timer_stop(set->loop, &set->retry);
}
