/* busy: the server cannot serve now — BUSY (a long script runs), LOADING
 * (a restart reads its dataset) or CLUSTERDOWN — so no new cycle starts for
 * a while: exponential backoff with jitter from 0.1 s up to 5 s. */
#ifndef SCANHOST_BUSY_H
#define SCANHOST_BUSY_H

#include <stdbool.h>

struct host;

/* Hooks the pause to the error replies the scripts see. */
void busy_init(struct host *h);
/* CLUSTERDOWN, from the router (router_opts.on_pause; data is the host). */
void busy_on_cluster_pause(void *data, const char *reply);
/* No new cycle may start now. */
bool host_server_paused(const struct host *h);

#endif
