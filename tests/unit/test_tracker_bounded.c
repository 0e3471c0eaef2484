/* The failure tracker's memory stays bounded under 100,000 distinct failing
 * items (issue 6, case 7). Memory is read from the ASan allocator, so every
 * byte the tracker holds (entries and bucket array) is counted. */
#include <stddef.h>
#include <stdio.h>

#include "tracker.h"
#include "unit.h"

#define ITEMS 100000

/* From the ASan runtime the unit tests link (sanitizer/allocator_interface.h,
 * declared here because not every toolchain ships the header). */
size_t __sanitizer_get_current_allocated_bytes(void);

static size_t heap(void)
{
	return __sanitizer_get_current_allocated_bytes();
}

static void fail_range(struct tracker *t, int from, int to, int times)
{
	char key[64];
	for (int i = from; i < to; i++) {
		/* keys shaped like real execution ids */
		int len = snprintf(key, sizeof(key), "{fp:%03d}:00000000-0000-4000-8000-%012x",
		                   i % 256, i);
		for (int f = 0; f < times; f++)
			tracker_record_failure(t, key, (size_t)len);
	}
}

/* 100,000 distinct items failing once each, spread over 200 cycles (500 new
 * ones per cycle, as a wave of bad records would arrive): between two GCs at
 * most 50 cycles of arrivals are held, so the map never holds more than
 * 500 x 50 + 500 entries, and memory returns to that level after each GC. */
static void wave_of_single_failures(void)
{
	struct tracker t;
	tracker_init(&t);
	size_t base = heap();
	size_t peak_count = 0, peak_bytes = 0;
	for (int c = 0; c < 200; c++) {
		fail_range(&t, c * 500, (c + 1) * 500, 1);
		if (tracker_size(&t) > peak_count)
			peak_count = tracker_size(&t);
		if (heap() - base > peak_bytes)
			peak_bytes = heap() - base;
		tracker_advance_cycle(&t);
	}
	CHECK(peak_count <= 500 * 50 + 500);
	/* about 100 bytes per entry of a 45-byte key, plus the bucket array */
	CHECK(peak_bytes <= (500 * 50 + 500) * 160 + 65536 * sizeof(void *));
	printf("wave: peak entries %zu, peak bytes %zu (%.1f per entry)\n", peak_count, peak_bytes,
	       (double)peak_bytes / (double)peak_count);
	tracker_free(&t);
	CHECK(heap() == base);
}

/* 100,000 distinct items all failing three times at once (every item in
 * backoff): they are all held while in backoff, then the next GC after the
 * backoff drops every one of them. A second identical wave must not need
 * more memory than the first (nothing accumulates across waves). */
static void backoff_then_release(void)
{
	struct tracker t;
	tracker_init(&t);
	size_t base = heap();
	size_t wave_bytes[2];
	for (int w = 0; w < 2; w++) {
		fail_range(&t, w * ITEMS, (w + 1) * ITEMS, 3);
		CHECK(tracker_size(&t) == ITEMS);
		wave_bytes[w] = heap() - base;
		for (int c = 0; c < 100; c++) /* backoff (10) expires; a GC (every 50) runs */
			tracker_advance_cycle(&t);
		CHECK(tracker_size(&t) == 0);
	}
	CHECK(wave_bytes[1] <= wave_bytes[0]);
	printf("waves: %zu then %zu bytes\n", wave_bytes[0], wave_bytes[1]);
	size_t residue = heap() - base;
	printf("backoff: %d entries held %zu bytes; after release %zu bytes remain\n", ITEMS,
	       wave_bytes[0], residue);
	/* after release the GC shrinks the bucket array back to its minimum */
	CHECK(residue <= 64 * sizeof(void *));
	tracker_free(&t);
	CHECK(heap() == base);
}

/* Items that keep failing forever cycle through backoff: the map holds
 * exactly those items, never more, across 1,000 cycles. */
static void steady_failures(void)
{
	struct tracker t;
	tracker_init(&t);
	char key[32];
	size_t max_count = 0, first_bytes = 0, last_bytes = 0;
	size_t base = heap();
	for (int c = 0; c < 1000; c++) {
		for (int i = 0; i < 1000; i++) {
			int len = snprintf(key, sizeof(key), "steady-%d", i);
			if (!tracker_should_skip(&t, key, (size_t)len))
				tracker_record_failure(&t, key, (size_t)len);
		}
		if (tracker_size(&t) > max_count)
			max_count = tracker_size(&t);
		tracker_advance_cycle(&t);
		if (c == 99)
			first_bytes = heap() - base;
	}
	last_bytes = heap() - base;
	CHECK(max_count == 1000);
	CHECK(last_bytes <= first_bytes);
	tracker_free(&t);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0); /* no stdio buffer appears in the heap counts */
	wave_of_single_failures();
	backoff_then_release();
	steady_failures();
	UNIT_DONE();
}
