/* status: GET /status — JSON, one object per scanner (family, interval,
 * enabled, paused, runner state, next run, last cycle, backlog, claimed
 * partitions). Reads host state only: no Redis command. */
#ifndef SCANHOST_STATUS_H
#define SCANHOST_STATUS_H

#include "prom.h"

struct host;
void status_render(struct host *h, struct sbuf *b);

#endif
