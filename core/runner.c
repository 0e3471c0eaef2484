/* runner: cycle, partition and sleep bookkeeping for one scanner. */
#include "runner.h"

double runner_effective_interval(double configured)
{
	return configured < RUNNER_MIN_INTERVAL ? RUNNER_MIN_INTERVAL : configured;
}

void runner_init(struct runner *r, const struct runner_ops *ops, void *data,
                 const struct clock *clock, int partitions, double interval)
{
	*r = (struct runner){ .ops = ops, .data = data, .clock = clock };
	r->partitions = partitions;
	r->interval = runner_effective_interval(interval);
	r->state = RUNNER_IDLE;
}

void runner_set_interval(struct runner *r, double interval)
{
	r->interval = runner_effective_interval(interval);
}

static void finish(struct runner *r, enum runner_end end)
{
	r->current.elapsed = clock_now(r->clock) - r->cycle_start;
	r->current.end = end;
	r->cycles_completed += end == RUNNER_COMPLETE ? 1 : 0;
	r->ops->cycle_end(r->data, &r->current);
	if (end == RUNNER_SHUTDOWN || r->once) {
		r->state = RUNNER_STOPPED;
		return;
	}
	double sleep = r->interval - r->current.elapsed;
	r->state = RUNNER_SLEEPING;
	r->ops->arm(r->data, sleep > 0 ? sleep : 0);
}

/* Starts the select() of the chunk at next_partition. Returns true when it
 * completed synchronously. */
static bool select_chunk(struct runner *r)
{
	int count = r->partitions - r->next_partition;
	if (count > RUNNER_SELECT_CHUNK)
		count = RUNNER_SELECT_CHUNK;
	r->chunk_end = r->next_partition + count;
	r->state = RUNNER_SELECTING;
	r->in_scan = true;
	r->done_in_scan = false;
	r->ops->select(r->data, r->next_partition, count);
	r->in_scan = false;
	return r->done_in_scan;
}

/* Shutdown is checked before every partition (and every select chunk), as
 * in the seed. A scan that completes synchronously (a script that raised, or
 * did no I/O) is looped over here rather than recursed into, so the C stack
 * stays flat however many partitions there are. Partitions a select() left
 * out count as visited: select() looked at them. */
static void add(struct runner_cycle *c, const struct tally *t)
{
	c->processed += t->processed;
	c->skipped += t->skipped;
	c->errors += t->errors;
}

static void next(struct runner *r)
{
	for (;;) {
		if (r->ops->stopping(r->data)) {
			finish(r, RUNNER_SHUTDOWN);
			return;
		}
		if (r->next_partition >= r->partitions) {
			finish(r, RUNNER_COMPLETE);
			return;
		}
		if (r->ops->interrupted && r->ops->interrupted(r->data)) {
			finish(r, RUNNER_INTERRUPTED);
			return;
		}
		if (r->use_select && r->next_partition >= r->chunk_end) {
			if (!select_chunk(r))
				return; /* runner_select_done() continues later */
			continue;
		}
		if (r->use_select && !r->ops->wanted(r->data, r->next_partition)) {
			r->next_partition++;
			r->current.partitions++;
			continue;
		}
		r->state = RUNNER_SCANNING;
		r->in_scan = true;
		r->done_in_scan = false;
		r->ops->scan(r->data, r->next_partition++);
		r->in_scan = false;
		if (!r->done_in_scan)
			return; /* runner_partition_done() continues later */
	}
}

void runner_select_done(struct runner *r, const struct tally *t)
{
	if (r->state != RUNNER_SELECTING)
		return;
	add(&r->current, t);
	if (r->in_scan)
		r->done_in_scan = true;
	else
		next(r);
}

static void begin_cycle(struct runner *r)
{
	if (r->ops->stopping(r->data)) {
		r->state = RUNNER_STOPPED;
		return;
	}
	switch (r->ops->cycle_begin(r->data)) {
	case RUNNER_END: r->state = RUNNER_STOPPED; return;
	case RUNNER_POSTPONE:
		r->state = RUNNER_SLEEPING;
		r->ops->arm(r->data, r->interval);
		return;
	case RUNNER_RUN: break;
	}
	r->cycle_start = clock_now(r->clock);
	r->current = (struct runner_cycle){ 0 };
	r->next_partition = 0;
	r->chunk_end = 0;
	next(r);
}

void runner_start(struct runner *r)
{
	begin_cycle(r);
}

void runner_wake(struct runner *r)
{
	if (r->state == RUNNER_SLEEPING)
		begin_cycle(r);
}

void runner_partition_done(struct runner *r, const struct tally *t)
{
	if (r->state != RUNNER_SCANNING)
		return;
	add(&r->current, t);
	r->current.partitions++;
	if (r->in_scan)
		r->done_in_scan = true;
	else
		next(r);
}

void runner_stop(struct runner *r)
{
	if (r->state == RUNNER_SLEEPING || r->state == RUNNER_IDLE)
		r->state = RUNNER_STOPPED;
	/* a scanning runner sees stopping() before its next partition */
}
