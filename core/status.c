/* status: the JSON behind GET /status (see status.h). */
#include "status.h"

#include "hoststate.h"
#include "ready.h"
#include "registry.h"

static const char *state_name(enum runner_state st)
{
	static const char *const names[] = { "idle", "selecting", "scanning", "sleeping",
		                             "stopped" };
	return names[st];
}

static const char *end_name(enum runner_end e)
{
	return e == RUNNER_COMPLETE   ? "complete"
	       : e == RUNNER_SHUTDOWN ? "shutdown"
	                              : "interrupted";
}

static void status_scanner(struct host *h, struct sbuf *b, const struct scanner *s)
{
	const struct script *sc = host_latest(s);
	const struct runner_cycle *l = &s->last;
	sbuf_add(b, "{\"name\":", 8);
	sbuf_json_str(b, s->name);
	sbuf_printf(b, ",\"family\":\"%s\",\"interval\":%g,\"enabled\":%s,\"paused\":%s",
	            family_name(sc->family), runner_effective_interval(sc->interval),
	            sc->enabled && !s->removed ? "true" : "false",
	            s->stats.paused ? "true" : "false");
	sbuf_printf(b, ",\"state\":\"%s\",\"cycles\":%llu", state_name(s->runner.state),
	            (unsigned long long)s->stats.cycles);
	if (s->runner.state == RUNNER_SLEEPING && ev_is_active(&s->timer))
		sbuf_printf(b, ",\"next_run_in\":%.3f",
		            ev_timer_remaining(h->loop, (ev_timer *)&s->timer));
	else
		sbuf_printf(b, ",\"next_run_in\":null");
	if (s->stats.cycles)
		sbuf_printf(b,
		            ",\"last_cycle\":{\"processed\":%llu,\"skipped\":%llu,\"errors\":%llu,"
		            "\"partitions\":%d,\"duration\":%.6f,\"end\":\"%s\"}",
		            (unsigned long long)l->processed, (unsigned long long)l->skipped,
		            (unsigned long long)l->errors, l->partitions, l->elapsed,
		            end_name(l->end));
	else
		sbuf_printf(b, ",\"last_cycle\":null");
	const struct backlog *bl = &s->stats.backlog_last;
	if (bl->seen)
		sbuf_printf(b, ",\"backlog\":{\"items\":%llu,\"age_seconds\":%.3f}",
		            (unsigned long long)bl->due, bl->due ? bl->age : 0);
	else
		sbuf_printf(b, ",\"backlog\":null");
	if (h->env.claims)
		sbuf_printf(b, ",\"partitions_claimed\":%d}", s->claims.last_count);
	else
		sbuf_printf(b, ",\"partitions_claimed\":null}");
}

void status_render(struct host *h, struct sbuf *b)
{
	sbuf_printf(b, "{\"ready\":%s,\"instance\":", host_is_ready(h) ? "true" : "false");
	sbuf_json_str(b, h->env.instance_id);
	sbuf_printf(b, ",\"scanners\":[");
	bool first = true;
	for (const struct scanner *s = h->scanners; s; s = s->next) {
		if (!host_latest(s))
			continue;
		if (!first)
			sbuf_add(b, ",", 1);
		first = false;
		status_scanner(h, b, s);
	}
	sbuf_printf(b, "]}\n");
}
