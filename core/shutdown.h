/* shutdown: the graceful end — the runners stop, the partitions in flight
 * finish (bounded by shutdown_timeout), this instance gives its claims
 * back, and the loop breaks. */
#ifndef SCANHOST_SHUTDOWN_H
#define SCANHOST_SHUTDOWN_H

struct host;

/* Sets up the shutdown grace timer. */
void shutdown_init(struct host *h);
/* SIGTERM, SIGINT: no new partition starts; the end comes once every
 * scanner is idle, or when the grace expires. */
void host_stop(struct host *h);
/* A partition ended: while stopping, the end comes once every scanner is idle. */
void host_check_stopped(struct host *h);
/* The end of a graceful run (everything idle after SIGTERM, or --once done):
 * gives back this instance's claims, then breaks the loop. */
void host_end(struct host *h);

#endif
