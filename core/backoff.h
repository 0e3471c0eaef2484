/* backoff: the delay before the next try of something that keeps failing
 * (a reconnect, a cycle while the server is BUSY or LOADING). */
#ifndef SCANHOST_BACKOFF_H
#define SCANHOST_BACKOFF_H

/* Exponential from min, doubling per earlier attempt up to max, with "equal
 * jitter": half of it fixed, half random, so a fleet of hosts does not retry
 * in lockstep after a Redis restart. */
double backoff_delay(double min, double max, unsigned attempt);

#endif
