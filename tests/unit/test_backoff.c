/* backoff_delay: doubles per attempt up to the maximum, half of it random. */
#include <stdlib.h>

#include "backoff.h"
#include "unit.h"

static void within(double min, double max, unsigned attempt, double lo, double hi)
{
	for (int i = 0; i < 200; i++) {
		double d = backoff_delay(min, max, attempt);
		if (d < lo || d > hi) {
			CHECK(d >= lo && d <= hi);
			return;
		}
	}
	CHECK(1);
}

int main(void)
{
	srand(7);
	within(0.1, 5, 0, 0.05, 0.1); /* the first try: min, half of it jittered */
	within(0.1, 5, 3, 0.4, 0.8);  /* doubled three times */
	within(0.1, 5, 6, 2.5, 5);    /* 6.4 capped at the maximum */
	within(0.1, 5, 1000, 2.5, 5); /* no overflow however long it fails */
	/* not in lockstep: two draws at the same attempt differ */
	CHECK(backoff_delay(1, 1, 0) != backoff_delay(1, 1, 0));
	UNIT_DONE();
}
