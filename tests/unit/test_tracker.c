/* The failure tracker, rule by rule, with the seed's exact numbers. */
#include <stdio.h>

#include "tracker.h"
#include "unit.h"

#define K(s) s, sizeof(s) - 1

static void threshold_and_backoff(void)
{
	struct tracker t;
	tracker_init(&t);
	tracker_advance_cycle(&t); /* cycle 1 */
	CHECK(!tracker_should_skip(&t, K("e1")));
	CHECK(!tracker_record_failure(&t, K("e1")));
	CHECK(!tracker_record_failure(&t, K("e1")));
	CHECK(!tracker_should_skip(&t, K("e1")));   /* 2 failures: not yet */
	CHECK(tracker_record_failure(&t, K("e1"))); /* the third enters backoff */
	CHECK(tracker_should_skip(&t, K("e1")));    /* rest of cycle 1 */
	for (int c = 2; c <= 10; c++) {             /* cycles 2..10 skipped */
		tracker_advance_cycle(&t);
		CHECK(tracker_should_skip(&t, K("e1")));
	}
	tracker_advance_cycle(&t); /* cycle 11 = 1 + 10: retried with a fresh count */
	CHECK(!tracker_should_skip(&t, K("e1")));
	CHECK(tracker_failures(&t, K("e1")) == 0);
	CHECK(tracker_size(&t) == 1); /* reset entries stay in the map */
	/* a fourth failure after the reset counts from 1 again */
	CHECK(!tracker_record_failure(&t, K("e1")));
	CHECK(tracker_failures(&t, K("e1")) == 1);
	tracker_free(&t);
}

static void success_clears(void)
{
	struct tracker t;
	tracker_init(&t);
	tracker_record_failure(&t, K("a"));
	tracker_record_failure(&t, K("a"));
	tracker_record_success(&t, K("a"));
	CHECK(tracker_size(&t) == 0);
	tracker_record_failure(&t, K("a"));
	tracker_record_failure(&t, K("a"));
	CHECK(!tracker_should_skip(&t, K("a"))); /* counting restarted at 0 */
	CHECK(!tracker_should_skip(&t, K("never-seen")));
	tracker_record_success(&t, K("never-seen")); /* harmless */
	CHECK(tracker_size(&t) == 1);
	tracker_free(&t);
}

static void fill(struct tracker *t, int n, int failures, const char *prefix)
{
	char key[32];
	for (int i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "%s%d", prefix, i);
		for (int f = 0; f < failures; f++)
			tracker_record_failure(t, key, (size_t)len);
	}
}

/* GC runs on cycles that are multiples of 50, only above 500 entries, and
 * keeps exactly the entries still in backoff. */
static void gc_rules(void)
{
	struct tracker t;
	tracker_init(&t);
	for (int c = 0; c < 45; c++)
		tracker_advance_cycle(&t); /* cycle 45 */
	fill(&t, 400, 1, "once-");
	fill(&t, 101, 3, "hot-"); /* backoff until 55 */
	CHECK(tracker_size(&t) == 501);
	for (int c = 46; c < 50; c++)
		tracker_advance_cycle(&t);
	CHECK(tracker_size(&t) == 501); /* cycle 49: no GC yet */
	tracker_advance_cycle(&t);      /* cycle 50: GC, 501 > 500 */
	CHECK(tracker_size(&t) == 101);
	CHECK(tracker_should_skip(&t, K("hot-7")));
	CHECK(!tracker_should_skip(&t, K("once-7")));
	tracker_free(&t);

	tracker_init(&t);
	for (int c = 0; c < 49; c++)
		tracker_advance_cycle(&t);
	fill(&t, 500, 1, "x-"); /* exactly 500: not over the threshold */
	tracker_advance_cycle(&t);
	CHECK(tracker_size(&t) == 500);
	tracker_free(&t);

	tracker_init(&t);
	for (int c = 0; c < 49; c++)
		tracker_advance_cycle(&t);
	fill(&t, 600, 3, "old-"); /* backoff until 59: survives cycle 50's GC... */
	tracker_advance_cycle(&t);
	CHECK(tracker_size(&t) == 600);
	for (int c = 51; c <= 100; c++)
		tracker_advance_cycle(&t); /* ...but not cycle 100's */
	CHECK(tracker_size(&t) == 0);
	tracker_free(&t);
}

static void many_keys(void)
{
	struct tracker t;
	tracker_init(&t);
	fill(&t, 20000, 1, "k");
	CHECK(tracker_size(&t) == 20000);
	CHECK(tracker_failures(&t, K("k19999")) == 1);
	CHECK(tracker_failures(&t, K("k20000")) == 0);
	tracker_free(&t);
}

int main(void)
{
	threshold_and_backoff();
	success_clears();
	gc_rules();
	many_keys();
	UNIT_DONE();
}
