/* script_run: running a loaded script — scan(ctx, partition), select() or
 * observe() over a chunk of partitions, a test body — each as one task
 * (task.h) under the script's guards, and what the run returned. */
#ifndef SCANHOST_SCRIPT_RUN_H
#define SCANHOST_SCRIPT_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "script.h"

/* Runs scan(ctx, partition[, selected[partition]]). done is always
 * called, possibly before script_scan returns, with the counts scan()
 * returned (a failed run is one error). */
void script_scan(struct script *s, int partition, script_done_fn done, void *data);
/* Runs select(ctx, {first..first+count-1}) (observe() when s->observing);
 * its result is left on the script's stack for the done callback, which
 * takes it with script_take_selection. */
void script_select(struct script *s, int first, int count, script_done_fn done, void *data);
/* Runs fn (on the script's stack top) as a body with ctx and partition,
 * for tests: its results, or its error with traceback (s->task.failed),
 * are left on the script's stack for the done callback. */
void script_run_fn(struct script *s, int partition, script_done_fn done, void *data);
/* After a select run: turns its result into wanted[0..n) for partitions
 * first.. and keeps the table as scan()'s third argument; select()'s
 * optional further results (items it processed itself, its errors, items
 * it skipped) go to t. Returns false (and wants everything) when select()
 * failed or returned no table. */
bool script_take_selection(struct script *s, int first, uint8_t *wanted, int n, struct tally *t);

#endif
