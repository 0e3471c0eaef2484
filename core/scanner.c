/* scanner: a scanner slot and its runner adapter (see scanner.h). */
#include "scanner.h"

#include <stdlib.h>
#include <string.h>

#include "busy.h"
#include "hoststate.h"
#include "log.h"
#include "report.h"
#include "router.h"
#include "script_load.h"
#include "script_run.h"
#include "shutdown.h"

void scanner_arm(struct scanner *s, double delay)
{
	if (s->stats.run_requested && !s->stats.paused)
		delay = 0; /* POST /scanners/NAME/run came during the cycle */
	s->stats.run_requested = false;
	ev_timer_stop(s->host->loop, &s->timer);
	ev_timer_set(&s->timer, delay, 0);
	ev_timer_start(s->host->loop, &s->timer);
}

static void op_arm(void *data, double delay)
{
	scanner_arm(data, delay);
}

void scanner_apply_schedule(struct scanner *s)
{
	struct host *h = s->host;
	runner_set_interval(&s->runner, s->active->interval);
	s->runner.partitions = h->env.partitions[s->active->family];
	claims_resize(&s->claims, s->runner.partitions);
}

/* A state over lua_memory_mb is discarded at the end of its cycle; the
 * scanner comes back with the next reload (SIGUSR1 or SIGHUP). */
static void discard_over_memory(struct scanner *s)
{
	if (!s->active || !s->active->over_memory || script_busy(s->active))
		return;
	char limit[24];
	snprintf(limit, sizeof(limit), "%d", s->host->cfg->lua_memory_mb);
	struct log_field f[] = { { "lua_memory_mb", limit, LOG_NUMBER },
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_ERROR, s->name, -1,
	          "scanner stopped: its Lua state went over lua_memory_mb and is discarded; "
	          "it starts again at the next reload (SIGUSR1 or SIGHUP)",
	          f);
	script_retire(s->active);
	s->active = NULL;
}

/* Whether the active script follows the loaded library's contract; says so
 * when that changes, once. */
static bool accepts_library(struct scanner *s)
{
	const char *version = s->host->env.library_version;
	if (script_accepts_library(s->active, version)) {
		if (s->waits_for[0])
			log_msg(LOG_INFO, s->name,
			        "the function library's version suits it; it runs");
		s->waits_for[0] = '\0';
		return true;
	}
	if (strcmp(s->waits_for, version) == 0 && s->waits_for[0])
		return false;
	snprintf(s->waits_for, sizeof(s->waits_for), "%s", version[0] ? version : "?");
	char wanted[SCRIPT_MAX_VERSIONS * 18] = "";
	for (int i = 0; i < s->active->nlibrary_versions; i++)
		snprintf(wanted + strlen(wanted), sizeof(wanted) - strlen(wanted), "%s%s",
		         i ? " or " : "", s->active->library_versions[i]);
	log_msg(LOG_INFO, s->name,
	        "scanner waits: it follows library version %s; the loaded library is version %s",
	        wanted, version[0] ? version : "unknown");
	return false;
}

/* Not its library: the daemon asks again every interval; --once leaves it
 * out of the run (it has nothing to do, which is not a failure; the run
 * ends when the scheduled ones are done); h:once reports an empty cycle. */
static enum runner_verdict waits_for_library(struct scanner *s)
{
	if (!s->runner.once)
		return RUNNER_POSTPONE;
	s->scheduled = false;
	s->last = (struct runner_cycle){ .end = RUNNER_COMPLETE }; /* an empty cycle */
	s->once_done = true;
	return RUNNER_END;
}

/* A paused scanner acts on nothing. One with observe() runs it instead of
 * select() (its reads feed the backlog metrics, so they show what piles
 * up); the others sleep an interval and ask again, with no Redis command. */
static enum runner_verdict paused_cycle(struct scanner *s)
{
	if (s->runner.once) { /* left out of the run, as a scanner waiting for its library */
		log_msg(LOG_INFO, s->name, "scanner paused: its --once cycle is skipped");
		s->scheduled = false;
		return RUNNER_END;
	}
	if (!script_has_observe(s->active))
		return RUNNER_POSTPONE;
	s->active->observing = true;
	stats_cycle_begin(&s->stats);
	s->active->cycle_start = clock_now(s->host->clock);
	s->runner.use_select = true;
	return RUNNER_RUN;
}

/* The cycle boundary: the only place a reloaded script takes over. */
static enum runner_verdict op_cycle_begin(void *data)
{
	struct scanner *s = data;
	struct host *h = s->host;
	if (s->pending) {
		script_retire(s->active);
		s->active = s->pending;
		s->pending = NULL;
		s->runaway_reported = false;
		scanner_apply_schedule(s);
		log_msg(LOG_INFO, s->name, "new version of the script takes effect");
		if (!s->active->enabled)
			log_msg(LOG_INFO, s->name, "scanner disabled by the config; it stops");
	}
	discard_over_memory(s);
	if (s->active && s->active->runaway && !s->pending)
		return RUNNER_END; /* stays off until a reload brings a new version */
	if (s->removed || !s->active || !s->active->enabled) {
		if (s->removed) {
			script_retire(s->active);
			s->active = NULL;
			log_msg(LOG_INFO, s->name, "scanner stopped: its script was removed");
		}
		return RUNNER_END;
	}
	if (!h->ready || host_server_paused(h))
		return RUNNER_POSTPONE;
	if (!accepts_library(s))
		return waits_for_library(s);
	if (s->stats.paused)
		return paused_cycle(s);
	s->active->observing = false;
	stats_cycle_begin(&s->stats);
	tracker_advance_cycle(&s->tracker); /* exactly once per full cycle */
	claims_cycle_begin(&s->claims);
	s->active->cycle_start = clock_now(h->clock);
	s->runner.use_select = script_has_select(s->active);
	return RUNNER_RUN;
}

/* Reported once per script version, however the abort reached us. */
static void note_runaway(struct scanner *s)
{
	if (!s->active || !s->active->runaway || s->runaway_reported)
		return;
	s->runaway_reported = true;
	log_msg(LOG_ERROR, s->name,
	        "scanner stopped: its script ran away (no yield for %g s); "
	        "fix the file and send SIGUSR1",
	        s->host->env.scan_timeout);
}

/* Stopped scripts (runaway, over memory) take no more partitions: the
 * cycle runs out at once. */
static bool stopped_script(const struct scanner *s)
{
	return !s->active || s->active->runaway || s->active->over_memory;
}

static void on_task_done(void *data, const struct tally *t)
{
	struct scanner *s = data;
	note_runaway(s);
	runner_partition_done(&s->runner, t);
	host_check_stopped(s->host);
}

static void op_scan(void *data, int partition)
{
	struct scanner *s = data;
	if (stopped_script(s)) {
		runner_partition_done(&s->runner, &(struct tally){ 0 });
		return;
	}
	script_scan(s->active, partition, on_task_done, s);
}

static void on_select_done(void *data, const struct tally *unused)
{
	(void)unused;
	struct scanner *s = data;
	struct script *sc = s->active;
	struct tally t;
	bool ok = script_take_selection(sc, s->wanted_first, s->wanted, RUNNER_SELECT_CHUNK, &t);
	if (!ok && !sc->task.failed)
		log_msg(LOG_ERROR, s->name, "select() must return a table of partition = data");
	note_runaway(s);
	/* a failed select() is one error (logged with its traceback) */
	if (!ok)
		t = (struct tally){ 0, 0, 1 };
	runner_select_done(&s->runner, &t);
	host_check_stopped(s->host);
}

static void op_select(void *data, int first, int count)
{
	struct scanner *s = data;
	if (!s->wanted && !(s->wanted = calloc(RUNNER_SELECT_CHUNK, 1)))
		abort();
	s->wanted_first = first;
	if (stopped_script(s)) {
		memset(s->wanted, 0, RUNNER_SELECT_CHUNK);
		runner_select_done(&s->runner, &(struct tally){ 0 });
		return;
	}
	script_select(s->active, first, count, on_select_done, s);
}

static bool op_wanted(void *data, int partition)
{
	struct scanner *s = data;
	int i = partition - s->wanted_first;
	return i >= 0 && i < RUNNER_SELECT_CHUNK && s->wanted[i];
}

static void op_cycle_end(void *data, const struct runner_cycle *c)
{
	struct scanner *s = data;
	report_cycle(s, c);
	claims_cycle_end(&s->claims);
	stats_cycle_end(&s->stats, c, tracker_in_backoff(&s->tracker));
	discard_over_memory(s);
	if (s->active)
		script_collect(s->active); /* an idle state holds what it keeps */
	s->last = *c;
	if (!s->runner.once)
		return;
	s->once_done = true;
	if (s->host->once)
		host_once_progress(s->host);
}

static bool op_stopping(void *data)
{
	struct scanner *s = data;
	return s->host->env.stopping;
}

/* A lost connection ends the cycle: the rest would only fail (and fail
 * fast, so a cycle would race through every partition). */
static bool op_interrupted(void *data)
{
	struct scanner *s = data;
	struct host *h = s->host;
	return !h->ready || !h->env.router || !router_ready(h->env.router);
}

static const struct runner_ops scanner_ops = {
	.arm = op_arm,
	.cycle_begin = op_cycle_begin,
	.scan = op_scan,
	.select = op_select,
	.wanted = op_wanted,
	.cycle_end = op_cycle_end,
	.stopping = op_stopping,
	.interrupted = op_interrupted,
};

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct scanner *s = w->data;
	runner_wake(&s->runner);
}

void scanner_init(struct scanner *s, struct host *h, const char *name)
{
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->host = h;
	tracker_init(&s->tracker);
	runner_init(&s->runner, &scanner_ops, s, h->clock, 1, RUNNER_MIN_INTERVAL);
	ev_timer_init(&s->timer, on_timer, 0, 0);
	s->timer.data = s;
}

void scanner_free(struct scanner *s)
{
	ev_timer_stop(s->host->loop, &s->timer);
	script_retire(s->pending);
	script_retire(s->active);
	tracker_free(&s->tracker);
	claims_free(&s->claims);
	free(s->wanted);
}
