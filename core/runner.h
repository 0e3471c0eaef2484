/* runner: the schedule of one scanner — a cycle over partitions 0..N-1, one
 * partition at a time, then a sleep of interval - elapsed. Pure logic: time,
 * timers and the partition scan itself come through runner_ops, so tests can
 * drive it with a fake clock. */
#ifndef SCANHOST_RUNNER_H
#define SCANHOST_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

#define RUNNER_MIN_INTERVAL 0.1 /* seconds, as in FlowFabric 0.1.1 */
#define RUNNER_SELECT_CHUNK 256 /* partitions per select() call */

struct runner;

enum runner_verdict { RUNNER_RUN, RUNNER_POSTPONE, RUNNER_END };

/* What one partition scan (or one select()) reports: items whose state it
 * changed, items it left as they were (no-op replies, items in backoff) and
 * items or steps that failed. */
struct tally {
	uint32_t processed;
	uint32_t skipped;
	uint32_t errors;
};

/* How a cycle ended. */
enum runner_end {
	RUNNER_COMPLETE,    /* every partition was visited */
	RUNNER_SHUTDOWN,    /* shutdown cut it short; the runner stops */
	RUNNER_INTERRUPTED, /* the owner cut it short (connection lost); the next
	                     * cycle comes after the usual sleep */
};

struct runner_cycle {
	uint64_t processed;
	uint64_t skipped;
	uint64_t errors;
	int partitions; /* partitions actually scanned (fewer when stopped) */
	double elapsed; /* seconds */
	enum runner_end end;
};

struct runner_ops {
	/* Arm the wake-up timer to fire runner_wake() after delay seconds. */
	void (*arm)(void *data, double delay);
	/* Called at the start of each cycle: RUNNER_RUN it, RUNNER_POSTPONE it
	 * (e.g. Redis is not connected: the runner sleeps one interval and asks
	 * again) or RUNNER_END the schedule (the script was removed). */
	enum runner_verdict (*cycle_begin)(void *data);
	/* Start scanning partition p; the owner calls runner_partition_done(). */
	void (*scan)(void *data, int partition);
	/* Optional (NULL = scan every partition): ask which partitions of
	 * [first, first + count) need a scan; the owner answers with
	 * runner_select_done() and then runner_wanted() is consulted. */
	void (*select)(void *data, int first, int count);
	bool (*wanted)(void *data, int partition);
	/* A cycle ended (cycle->end says how). */
	void (*cycle_end)(void *data, const struct runner_cycle *cycle);
	bool (*stopping)(void *data);
	/* Optional: asked before every partition and select(); true ends the
	 * cycle now as RUNNER_INTERRUPTED (e.g. the connection was lost, so
	 * the rest of the cycle would only fail). */
	bool (*interrupted)(void *data);
};

enum runner_state {
	RUNNER_IDLE,
	RUNNER_SELECTING,
	RUNNER_SCANNING,
	RUNNER_SLEEPING,
	RUNNER_STOPPED
};

struct runner {
	const struct runner_ops *ops;
	void *data;
	const struct clock *clock;
	int partitions;
	double interval;
	bool once; /* stop after one cycle */
	enum runner_state state;
	int next_partition;
	int chunk_end;   /* end of the partitions covered by the last select() */
	bool use_select; /* set by the owner (in cycle_begin) to use ops->select */
	bool in_scan, done_in_scan;
	double cycle_start;
	struct runner_cycle current;
	uint64_t cycles_completed;
};

void runner_init(struct runner *r, const struct runner_ops *ops, void *data,
                 const struct clock *clock, int partitions, double interval);
double runner_effective_interval(double configured);
void runner_set_interval(struct runner *r, double interval);
/* Starts the first cycle at once. */
void runner_start(struct runner *r);
/* The armed timer fired. */
void runner_wake(struct runner *r);
void runner_partition_done(struct runner *r, const struct tally *t);
/* The select() of the current chunk finished; t: work it did itself (a
 * select() may already act on the items it found). */
void runner_select_done(struct runner *r, const struct tally *t);
/* Shutdown: a sleeping runner stops now, a scanning one after its partition. */
void runner_stop(struct runner *r);

#endif
