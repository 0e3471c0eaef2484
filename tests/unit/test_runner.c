/* The runner's schedule, driven by a fake clock and synchronous or
 * deferred partition scans. */
#include "runner.h"
#include "unit.h"

struct fake {
	double now;
	double armed; /* last delay, -1 when none */
	int arms;
	int scans[64];
	int nscans;
	bool stopping;
	bool lost;        /* the owner interrupts the cycle (connection lost) */
	bool sync;        /* complete each scan inside scan() */
	double scan_cost; /* seconds each scan advances the clock */
	enum runner_verdict verdict;
	struct runner_cycle last;
	int cycles_ended;
	bool last_stopped;
	struct runner *r;
};

static double fake_now(void *d)
{
	return ((struct fake *)d)->now;
}

static void arm(void *d, double delay)
{
	struct fake *f = d;
	f->armed = delay;
	f->arms++;
}

static enum runner_verdict begin(void *d)
{
	return ((struct fake *)d)->verdict;
}

static void scan(void *d, int p)
{
	struct fake *f = d;
	if (f->nscans < 64)
		f->scans[f->nscans] = p;
	f->nscans++;
	f->now += f->scan_cost;
	if (f->sync)
		runner_partition_done(f->r, &(struct tally){ 1, p == 1 ? 2 : 0, p == 2 ? 1 : 0 });
}

static void end(void *d, const struct runner_cycle *c)
{
	struct fake *f = d;
	f->last = *c;
	f->cycles_ended++;
	f->last_stopped = c->end == RUNNER_SHUTDOWN;
}

static bool stopping(void *d)
{
	return ((struct fake *)d)->stopping;
}

static bool interrupted(void *d)
{
	return ((struct fake *)d)->lost;
}

/* select(): wants every third partition; records the chunks it was asked for */
static int select_calls[8][2];
static int nselect;
static bool select_sync = true;

static void sel(void *d, int first, int count)
{
	struct fake *f = d;
	select_calls[nselect][0] = first;
	select_calls[nselect][1] = count;
	nselect++;
	if (select_sync)
		runner_select_done(f->r, &(struct tally){ 5, 1, 0 });
}

static bool wanted(void *d, int p)
{
	(void)d;
	return p % 3 == 0;
}

static const struct runner_ops select_ops = {
	.arm = arm,
	.cycle_begin = begin,
	.scan = scan,
	.select = sel,
	.wanted = wanted,
	.cycle_end = end,
	.stopping = stopping,
};

static const struct runner_ops ops = {
	.arm = arm,
	.cycle_begin = begin,
	.scan = scan,
	.cycle_end = end,
	.stopping = stopping,
	.interrupted = interrupted,
};

static void setup(struct fake *f, struct runner *r, struct clock *c, int parts, double iv)
{
	*f = (struct fake){ .armed = -1, .verdict = RUNNER_RUN, .r = r };
	c->now = fake_now;
	c->data = f;
	runner_init(r, &ops, f, c, parts, iv);
}

static void full_cycle_then_sleep(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 4, 1.5);
	f.sync = true;
	f.scan_cost = 0.1;
	runner_start(&r);
	CHECK(f.nscans == 4);
	CHECK(f.scans[0] == 0 && f.scans[3] == 3); /* partitions in order */
	CHECK(f.cycles_ended == 1 && !f.last_stopped);
	CHECK(f.last.processed == 4 && f.last.errors == 1 && f.last.partitions == 4);
	CHECK(f.last.skipped == 2 && f.last.end == RUNNER_COMPLETE); /* counted apart */
	CHECK(f.armed > 1.0999 && f.armed < 1.1001);                 /* 1.5 - 0.4 elapsed */
	runner_wake(&r); /* the timer fires: the next cycle starts */
	CHECK(f.nscans == 8 && f.cycles_ended == 2);
}

static void overrun_sleeps_zero(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 3, 0.2);
	f.sync = true;
	f.scan_cost = 0.5;
	runner_start(&r);
	CHECK(f.armed == 0); /* took 1.5 s > 0.2 s: next cycle at once, never overlapping */
}

static void interval_clamped(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 1, 0.001);
	CHECK(r.interval == RUNNER_MIN_INTERVAL);
	f.sync = true;
	runner_start(&r);
	CHECK(f.armed > 0.0999 && f.armed < 0.1001);
}

static void async_scans_and_shutdown(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 5, 1);
	runner_start(&r);
	CHECK(f.nscans == 1); /* waits for the first partition */
	runner_partition_done(&r, &(struct tally){ 2, 0, 0 });
	CHECK(f.nscans == 2);
	f.stopping = true; /* checked before the next partition */
	runner_partition_done(&r, &(struct tally){ 1, 0, 0 });
	CHECK(f.nscans == 2);
	CHECK(f.last_stopped && f.last.processed == 3 && f.last.partitions == 2);
	CHECK(r.state == RUNNER_STOPPED);
	runner_partition_done(&r, &(struct tally){ 9, 9, 9 }); /* late completions are ignored */
	CHECK(f.last.processed == 3);
}

static void postpone_and_end(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 2, 2);
	f.sync = true;
	f.verdict = RUNNER_POSTPONE; /* e.g. Redis down */
	runner_start(&r);
	CHECK(f.nscans == 0 && f.armed == 2 && r.state == RUNNER_SLEEPING);
	f.verdict = RUNNER_RUN;
	runner_wake(&r);
	CHECK(f.nscans == 2);
	f.verdict = RUNNER_END; /* script removed */
	runner_wake(&r);
	CHECK(r.state == RUNNER_STOPPED && f.nscans == 2);
}

static void once_mode_and_stop_while_sleeping(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 2, 1);
	f.sync = true;
	r.once = true;
	runner_start(&r);
	CHECK(f.cycles_ended == 1 && r.state == RUNNER_STOPPED && f.arms == 0);

	setup(&f, &r, &c, 2, 1);
	f.sync = true;
	runner_start(&r);
	CHECK(r.state == RUNNER_SLEEPING);
	runner_stop(&r);
	CHECK(r.state == RUNNER_STOPPED);
	runner_wake(&r);
	CHECK(f.nscans == 2);
}

/* 65535 synchronous partitions must not recurse once per partition. */
static void many_sync_partitions(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 65535, 1);
	f.sync = true;
	runner_start(&r);
	CHECK(f.last.partitions == 65535 && f.nscans == 65535);
}

static void select_chunks(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 600, 1);
	r.ops = &select_ops;
	r.use_select = true;
	f.sync = true;
	nselect = 0;
	runner_start(&r);
	CHECK(nselect == 3); /* 600 partitions: chunks of 256, 256, 88 */
	CHECK(select_calls[0][0] == 0 && select_calls[0][1] == 256);
	CHECK(select_calls[1][0] == 256 && select_calls[1][1] == 256);
	CHECK(select_calls[2][0] == 512 && select_calls[2][1] == 88);
	CHECK(f.nscans == 200); /* only the wanted ones: 0, 3, ..., 597 */
	CHECK(f.scans[1] == 3);
	CHECK(f.last.partitions == 600);        /* every partition was visited */
	CHECK(f.last.processed == 3 * 5 + 200); /* select's own work + the scans */
	CHECK(f.last.skipped == 3);             /* select's own skips (partition 1 is not wanted) */

	/* asynchronous select, with shutdown requested between chunks */
	setup(&f, &r, &c, 600, 1);
	r.ops = &select_ops;
	r.use_select = true;
	f.sync = true;
	nselect = 0;
	select_sync = false;
	runner_start(&r);
	CHECK(nselect == 1 && f.nscans == 0 && r.state == RUNNER_SELECTING);
	runner_select_done(&r, &(struct tally){ 3, 0, 2 }); /* select's own work counts */
	CHECK(f.nscans == 86 && nselect == 2); /* 0..255 wanted, then the next select */
	f.stopping = true;
	runner_select_done(&r, &(struct tally){ 0 });
	CHECK(f.last_stopped && f.nscans == 86 && f.last.errors == 2 && f.last.processed == 3 + 86);
	select_sync = true;
}

/* A lost connection ends the cycle before the next partition; the runner
 * sleeps its interval and the next cycle starts from partition 0. */
static void interrupted_cycle(void)
{
	struct fake f;
	struct runner r;
	struct clock c;
	setup(&f, &r, &c, 5, 2);
	runner_start(&r);
	runner_partition_done(&r, &(struct tally){ 1, 0, 0 });
	f.lost = true;
	runner_partition_done(&r, &(struct tally){ 0, 0, 3 });
	CHECK(f.nscans == 2 && f.cycles_ended == 1 && f.last.end == RUNNER_INTERRUPTED);
	CHECK(f.last.errors == 3 && f.last.partitions == 2 && !f.last_stopped);
	CHECK(r.state == RUNNER_SLEEPING && f.armed == 2 && r.cycles_completed == 0);
	f.lost = false;
	runner_wake(&r);
	CHECK(f.nscans == 3 && f.scans[2] == 0); /* a new cycle, from the start */
}

int main(void)
{
	full_cycle_then_sleep();
	overrun_sleeps_zero();
	interval_clamped();
	async_scans_and_shutdown();
	postpone_and_end();
	once_mode_and_stop_while_sleeping();
	many_sync_partitions();
	interrupted_cycle();
	select_chunks();
	UNIT_DONE();
}
