/* clock: the host's monotonic time source, injectable so tests can drive the
 * runner without sleeping. */
#ifndef SCANHOST_CLOCK_H
#define SCANHOST_CLOCK_H

/* Returns monotonic seconds. */
typedef double (*clock_fn)(void *data);

struct clock {
	clock_fn now;
	void *data;
};

double clock_monotonic(void *unused);
extern const struct clock clock_system;

static inline double clock_now(const struct clock *c)
{
	return c->now(c->data);
}

#endif
