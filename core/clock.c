/* clock: the real monotonic clock. */
#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <time.h>

double clock_monotonic(void *unused)
{
	(void)unused;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const struct clock clock_system = { clock_monotonic, NULL };
