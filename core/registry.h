/* registry: the host's scanner slots by name, in load order — finding and
 * adding slots, which names --only selects, starting a slot's schedule,
 * run-now, and freeing them all. */
#ifndef SCANHOST_REGISTRY_H
#define SCANHOST_REGISTRY_H

#include <stdbool.h>

struct host;
struct scanner;
struct script;

struct scanner *host_find(struct host *h, const char *name);
/* Whether --only (if given) names this scanner. */
bool host_selected(const struct host *h, const char *name);
/* A new slot, appended (the pause poll relies on slots only being appended). */
struct scanner *host_new_slot(struct host *h, const char *name);
/* The version that runs next: the pending one, else the active one. */
const struct script *host_latest(const struct scanner *s);
/* Starts the runner of a slot that has a script but no schedule. */
void host_schedule(struct scanner *s);
/* Starts the scanner's next cycle now, or right after the running one
 * (one cycle at a time); false when it is not scheduled or is paused. */
bool host_run_now(struct scanner *s, bool *queued);
/* Test module: run one cycle of one scanner (once semantics). */
void host_run_once(struct host *h, struct scanner *s);
void host_free_slots(struct host *h);

#endif
