/* backoff: exponential delays with equal jitter. */
#include "backoff.h"

#include <stdlib.h>

double backoff_delay(double min, double max, unsigned attempt)
{
	double d = min;
	for (unsigned i = 0; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	return d / 2 + d / 2 * ((double)rand() / RAND_MAX);
}
