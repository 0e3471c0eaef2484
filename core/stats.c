/* stats: the per-scanner counters, kept at every cycle boundary (see stats.h). */
#include "stats.h"

void stats_cycle_begin(struct scanner_stats *st)
{
	st->backlog_cycle = (struct backlog){ 0 };
}

void stats_cycle_end(struct scanner_stats *st, const struct runner_cycle *c, uint64_t in_backoff)
{
	st->processed += c->processed;
	st->skipped += c->skipped;
	st->errors += c->errors;
	st->cycles++;
	prom_observe(&st->duration, c->elapsed);
	st->in_backoff = in_backoff;
	if (c->end == RUNNER_COMPLETE)
		st->backlog_last = st->backlog_cycle;
}
