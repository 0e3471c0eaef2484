/* metrics: GET /metrics (Prometheus text 0.0.4) from the per-scanner
 * counters (stats.h) and the connection's. Rendering reads host state
 * only: a scrape sends no Redis command. */
#ifndef SCANHOST_METRICS_H
#define SCANHOST_METRICS_H

#include "prom.h"

struct host;
void metrics_render(struct host *h, struct sbuf *b);

#endif
