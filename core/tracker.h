/* tracker: per-scanner failure tracker, reproducing FlowFabric 0.1.1's
 * FailureTracker rule for rule (threshold 3, backoff 10 cycles, GC every 50
 * cycles when over 500 entries). Lives in C so it survives script reloads. */
#ifndef SCANHOST_TRACKER_H
#define SCANHOST_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACKER_FAILURE_THRESHOLD 3u
#define TRACKER_BACKOFF_CYCLES    10u
#define TRACKER_GC_THRESHOLD      500u
#define TRACKER_GC_PERIOD         50u

struct tracker_entry;

struct tracker {
	struct tracker_entry **buckets;
	size_t nbuckets;
	size_t count;
	uint64_t cycle;
};

void tracker_init(struct tracker *t);
void tracker_free(struct tracker *t);

/* Once per full scan cycle. */
void tracker_advance_cycle(struct tracker *t);
/* True while the item is in backoff; resets the entry once backoff expired. */
bool tracker_should_skip(struct tracker *t, const char *key, size_t len);
/* Returns true when this failure put the item into backoff (the caller logs). */
bool tracker_record_failure(struct tracker *t, const char *key, size_t len);
void tracker_record_success(struct tracker *t, const char *key, size_t len);

size_t tracker_size(const struct tracker *t);
/* Entries skipped now (backoff); walks the table: once per cycle, not per scrape. */
size_t tracker_in_backoff(const struct tracker *t);
/* Consecutive failures recorded for key (0 when untracked); for tests and logs. */
unsigned tracker_failures(const struct tracker *t, const char *key, size_t len);

#endif
