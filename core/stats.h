/* stats: the counters a scanner slot keeps across cycles and reloads —
 * items, cycles, durations, backlog, pause and run-now flags. Updated at
 * each cycle's start and end (scanner.c); read by GET /metrics and
 * GET /status without a Redis command. */
#ifndef SCANHOST_STATS_H
#define SCANHOST_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "backlog.h"
#include "prom.h"
#include "runner.h"

struct scanner_stats {
	uint64_t processed, skipped, errors; /* items, over every cycle */
	uint64_t cycles;                     /* cycles ended (complete or cut short) */
	struct prom_histogram duration;
	struct backlog backlog_cycle; /* filled by the running cycle's page reads */
	struct backlog backlog_last;  /* the last complete cycle's */
	uint64_t in_backoff;          /* tracker entries in backoff at the last cycle end */
	bool paused;                  /* the pause key exists (pause.c) */
	bool run_requested;           /* POST /scanners/NAME/run during a cycle */
};

void stats_cycle_begin(struct scanner_stats *st);
void stats_cycle_end(struct scanner_stats *st, const struct runner_cycle *c, uint64_t in_backoff);

#endif
