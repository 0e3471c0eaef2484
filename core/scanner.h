/* scanner: one scanner slot (struct scanner in hoststate.h: the durable
 * state of a scanner name, which survives reloads of its script) and its
 * runner adapter: how the slot's runner begins a cycle (the only place a
 * reloaded script takes over), scans a partition, asks select() and ends a
 * cycle. */
#ifndef SCANHOST_SCANNER_H
#define SCANHOST_SCANNER_H

struct host;
struct scanner; /* hoststate.h */

/* A new slot of host h, with no script yet. */
void scanner_init(struct scanner *s, struct host *h, const char *name);
/* Stops its timer and frees its scripts and state (not s itself). */
void scanner_free(struct scanner *s);
/* Interval and partition count from the active script. */
void scanner_apply_schedule(struct scanner *s);
/* The next cycle starts after delay seconds (0: from the loop, at once). */
void scanner_arm(struct scanner *s, double delay);

#endif
