/* registry: the host's scanner slots (see registry.h). */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#include "hoststate.h"
#include "log.h"
#include "scanner.h"

struct scanner *host_find(struct host *h, const char *name)
{
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

bool host_selected(const struct host *h, const char *name)
{
	if (h->cfg->nonly == 0)
		return true;
	for (int i = 0; i < h->cfg->nonly; i++) {
		if (strcmp(h->cfg->only[i], name) == 0)
			return true;
	}
	return false;
}

struct scanner *host_new_slot(struct host *h, const char *name)
{
	struct scanner *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	scanner_init(s, h, name);
	struct scanner **tail = &h->scanners;
	while (*tail)
		tail = &(*tail)->next;
	*tail = s;
	return s;
}

const struct script *host_latest(const struct scanner *s)
{
	return s->pending ? s->pending : s->active;
}

/* Starts the runner of a slot that has a script but no schedule. */
void host_schedule(struct scanner *s)
{
	struct host *h = s->host;
	if (!h->started || !s->active || !s->active->enabled || h->env.stopping)
		return;
	if (s->scheduled && s->runner.state != RUNNER_STOPPED)
		return;
	s->scheduled = true;
	s->once_done = false;
	scanner_apply_schedule(s);
	s->runner.once = h->once;
	char interval[32];
	snprintf(interval, sizeof(interval), "%g", s->runner.interval);
	char parts[16];
	snprintf(parts, sizeof(parts), "%d", s->runner.partitions);
	struct log_field f[] = { { "family", family_name(s->active->family), LOG_STRING },
		                 { "interval_s", interval, LOG_NUMBER },
		                 { "partitions", parts, LOG_NUMBER },
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_INFO, s->name, -1, "scanner started", f);
	runner_start(&s->runner);
}

bool host_run_now(struct scanner *s, bool *queued)
{
	*queued = false;
	if (s->stats.paused || !s->scheduled || s->runner.state == RUNNER_STOPPED ||
	    s->host->env.stopping)
		return false;
	if (s->runner.state == RUNNER_SLEEPING) {
		scanner_arm(s, 0); /* from the loop, not from inside the HTTP handler */
		return true;
	}
	*queued = true; /* a cycle runs: the next one starts as soon as it ends */
	s->stats.run_requested = true;
	return true;
}

void host_run_once(struct host *h, struct scanner *s)
{
	s->once_done = false;
	s->scheduled = true;
	scanner_apply_schedule(s);
	s->runner.once = true;
	s->runner.state = RUNNER_IDLE;
	runner_start(&s->runner);
}

void host_free_slots(struct host *h)
{
	struct scanner *s = h->scanners;
	while (s) {
		struct scanner *next = s->next;
		scanner_free(s);
		free(s);
		s = next;
	}
	h->scanners = NULL;
}
