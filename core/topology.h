/* topology: what a cluster node says about the cluster, parsed: the slot
 * ranges and their primaries from CLUSTER SLOTS, the target of a MOVED or
 * ASK redirect, and cluster_enabled from INFO cluster. Pure functions of
 * replies, so they are unit-tested without a server. */
#ifndef SCANHOST_TOPOLOGY_H
#define SCANHOST_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#define TOPOLOGY_HOST_MAX 256

struct topo_range {
	int first, last; /* slots, inclusive */
	char host[TOPOLOGY_HOST_MAX];
	int port;
};

struct topology {
	struct topo_range *ranges;
	int n;
};

/* Parses a CLUSTER SLOTS reply. A primary announced with an empty host
 * (Redis: "the node we asked") gets asked_host. False with a message when
 * the reply is not the documented shape; t is then empty. */
bool topology_parse_slots(const redisReply *r, const char *asked_host, struct topology *t,
                          char *err, size_t errlen);
void topology_free(struct topology *t);
/* How many of the 16384 slots the ranges cover. */
int topology_covered(const struct topology *t);

enum redirect_kind { REDIRECT_NONE, REDIRECT_MOVED, REDIRECT_ASK };
struct redirect {
	enum redirect_kind kind;
	int slot;
	char host[TOPOLOGY_HOST_MAX];
	int port;
};
/* "MOVED 3999 127.0.0.1:6381" / "ASK ..." (an IPv6 host keeps its colons:
 * the port is after the last one). REDIRECT_NONE for anything else. */
enum redirect_kind topology_parse_redirect(const char *msg, size_t len, struct redirect *out);

/* INFO cluster's cluster_enabled:1. */
bool topology_cluster_enabled(const char *info);

#endif
