/* ready: the connection to Redis and the function library check. The host
 * is ready once connected and the library's version is read; the runners
 * start at the first ready. A refusal (credentials, database, TLS) and a
 * --once start that cannot connect in time end the run. */
#ifndef SCANHOST_READY_H
#define SCANHOST_READY_H

#include <stdbool.h>

struct host;

/* The version reader, its timers and the missing-function hook. */
void ready_init(struct host *h);
/* Once the library sources are built: the per-primary library check. */
void ready_watch_library(struct host *h);
/* Creates the router (not started) with the connection events wired;
 * --once: arms the connect deadline. */
void ready_connect(struct host *h);
/* Redis connected and the function library usable (GET /readyz). */
bool host_is_ready(const struct host *h);

#endif
