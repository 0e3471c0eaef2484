/* host: scanner slots, their runners, reload, library check and shutdown. */
#define _DEFAULT_SOURCE
#include "host.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "control.h"
#include "log.h"
#include "pause.h"
#include "redis.h"
#include "router.h"
#include "tls.h"
#include "watchdog.h"

/* ---- runner glue: one ev_timer per scanner ------------------------------- */

static bool all_idle(const struct host *h)
{
	for (const struct scanner *s = h->scanners; s; s = s->next) {
		if (s->active && script_busy(s->active))
			return false;
	}
	return true;
}

static void check_stopped(struct host *h)
{
	if (h->env.stopping && all_idle(h))
		host_end(h);
}

/* ---- giving claims back at the end ------------------------------------------ */

static void finish_end(struct host *h)
{
	ev_timer_stop(h->loop, &h->grace);
	ev_break(h->loop, EVBREAK_ALL);
}

static void on_claim_released(void *priv, redisReply *reply, const char *err)
{
	(void)reply;
	(void)err;
	struct host *h = priv;
	if (--h->releasing == 0)
		finish_end(h);
}

static void release_one(struct host *h, const struct scanner *s, int p)
{
	char key[256];
	claims_key(key, sizeof(key), family_tag_prefix(s->active->family), p, s->name);
	const char *argv[] = { "EVAL", claims_release_script, "1", key, h->env.instance_id };
	size_t len[5];
	for (int i = 0; i < 5; i++)
		len[i] = strlen(argv[i]);
	char err[128];
	if (router_send(h->env.router, -1, 5, argv, len, on_claim_released, h, err, sizeof(err)))
		h->releasing++;
}

/* Compare-and-delete of every claim this instance may still hold (won in
 * this cycle or the last): other instances take these partitions at their
 * next cycle instead of waiting for the claims to expire. */
void host_end(struct host *h)
{
	if (h->ended)
		return;
	h->ended = true;
	bool can = h->env.claims && h->env.router && router_ready(h->env.router);
	for (const struct scanner *s = h->scanners; can && s; s = s->next) {
		for (int p = 0; s->active && p < s->claims.n; p++) {
			if (claims_won_now(&s->claims, p) || claims_won_last(&s->claims, p))
				release_one(h, s, p);
		}
	}
	if (h->releasing == 0)
		finish_end(h);
}

static void op_arm(void *data, double delay)
{
	struct scanner *s = data;
	if (s->stats.run_requested && !s->stats.paused)
		delay = 0; /* POST /scanners/NAME/run came during the cycle */
	s->stats.run_requested = false;
	ev_timer_stop(s->host->loop, &s->timer);
	ev_timer_set(&s->timer, delay, 0);
	ev_timer_start(s->host->loop, &s->timer);
}

static void apply_schedule(struct scanner *s)
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
		apply_schedule(s);
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
	if (!h->ready || clock_now(h->clock) < h->paused_until)
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
	check_stopped(s->host);
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
	check_stopped(s->host);
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

static void fmt_u64(char *buf, size_t n, uint64_t v)
{
	snprintf(buf, n, "%" PRIu64, v);
}

/* Once per cycle: this instance won partitions another one held. */
static void note_takeover(const struct scanner *s)
{
	if (s->claims.took_over == 0)
		return;
	char n[16];
	snprintf(n, sizeof(n), "%d", s->claims.took_over);
	struct log_field f[] = { { "partitions", n, LOG_NUMBER },
		                 { "from", s->claims.other_id, LOG_STRING },
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_INFO, s->name, -1, "took over partitions another instance held", f);
}

/* The counts of a cycle as log fields (numbers in JSON); text holds the
 * values. The --once summary and the cycle log use the same fields. */
struct cycle_fields {
	char text[4][24];
	struct log_field f[5];
};

static const struct log_field *cycle_fields(struct cycle_fields *cf, const struct runner_cycle *c)
{
	static const char *const keys[] = { "processed", "skipped", "errors", "elapsed_ms" };
	uint64_t v[] = { c->processed, c->skipped, c->errors, (uint64_t)(c->elapsed * 1000) };
	for (int i = 0; i < 4; i++) {
		fmt_u64(cf->text[i], sizeof(cf->text[i]), v[i]);
		cf->f[i] = (struct log_field){ keys[i], cf->text[i], LOG_NUMBER };
	}
	cf->f[4] = (struct log_field){ NULL, NULL, LOG_STRING };
	return cf->f;
}

static void op_cycle_end(void *data, const struct runner_cycle *c)
{
	struct scanner *s = data;
	char parts[16], tracked[24], claimed[16];
	snprintf(parts, sizeof(parts), "%d", c->partitions);
	snprintf(claimed, sizeof(claimed), "%d", s->claims.won_count);
	fmt_u64(tracked, sizeof(tracked), tracker_size(&s->tracker));
	struct cycle_fields cf = { 0 };
	const struct log_field *counts = cycle_fields(&cf, c);
	struct log_field f[8] = { { "partitions", parts, LOG_NUMBER } };
	memcpy(f + 1, counts, 4 * sizeof(*f));
	/* items the failure tracker holds: transport failures never add any */
	f[5] = (struct log_field){ "tracked", tracked, LOG_NUMBER };
	/* claims off: the NULL key ends the list here */
	f[6] = (struct log_field){ s->host->env.claims ? "claimed" : NULL, claimed, LOG_NUMBER };
	f[7] = (struct log_field){ NULL, NULL, LOG_STRING };
	note_takeover(s);
	claims_cycle_end(&s->claims);
	bool busy = c->processed > 0 || c->errors > 0;
	enum log_level level = busy ? LOG_INFO : LOG_DEBUG;
	const char *msg = busy ? "scan cycle complete" : "scan cycle complete (nothing to do)";
	if (c->end == RUNNER_SHUTDOWN) {
		msg = "scan cycle interrupted by shutdown";
	} else if (c->end == RUNNER_INTERRUPTED) {
		level = LOG_WARN;
		msg = "scan cycle interrupted: the connection to redis was lost; the next cycle "
		      "waits for it";
	}
	log_event(level, s->name, -1, msg, f);
	stats_cycle_end(&s->stats, c, tracker_in_backoff(&s->tracker));
	discard_over_memory(s);
	if (s->active)
		script_collect(s->active);
	s->last = *c;
	if (!s->runner.once)
		return;
	s->once_done = true;
	if (s->host->on_idle)
		s->host->on_idle(s->host);
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

/* ---- the registry --------------------------------------------------------- */

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
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->host = h;
	tracker_init(&s->tracker);
	runner_init(&s->runner, &scanner_ops, s, h->clock, 1, RUNNER_MIN_INTERVAL);
	ev_timer_init(&s->timer, on_timer, 0, 0);
	s->timer.data = s;
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
	apply_schedule(s);
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

/* ---- connection and library ----------------------------------------------- */

static void start_runners(struct host *h)
{
	h->started = true;
	for (struct scanner *s = h->scanners; s; s = s->next)
		host_schedule(s);
	if (h->once && h->on_idle)
		h->on_idle(h); /* nothing enabled: the once run is already complete */
}

static void retry_library_check(struct host *h)
{
	ev_timer_set(&h->library_retry, 1.0, 0);
	ev_timer_start(h->loop, &h->library_retry);
}

/* The library check is complete once its version is read. */
static void on_library_version(void *data, bool read)
{
	struct host *h = data;
	if (!read) {
		if (!h->env.stopping)
			retry_library_check(h);
		return;
	}
	h->ready = true;
	if (h->manual)
		return; /* the test module starts cycles itself */
	if (!h->started) {
		ev_timer_stop(h->loop, &h->connect_deadline);
		start_runners(h);
	}
}

/* Where ff_version is read (libversion_targets_fn): every connected primary
 * with a usable library; they must all answer the same. */
static int version_targets(void *data, struct rconn **conns, const char **names, int max)
{
	const struct host *h = data;
	int k = 0;
	for (struct rnode *n = router_nodes(h->env.router); n && k < max; n = n->next) {
		if (n->primary && !n->blocked && rconn_ready(n->conn)) {
			conns[k] = n->conn;
			names[k++] = n->addr;
		}
	}
	return k;
}

/* A library verdict came in: once every primary has one, the library's
 * version is read and cycles may run. */
static void on_libset_changed(void *data)
{
	struct host *h = data;
	h->env.library = libset_in_use(&h->libset);
	if (h->env.stopping || !libset_settled(&h->libset))
		return; /* LOADING, BUSY or a dropped connection: the check retries */
	if (!h->env.library) {
		on_library_version(h, true); /* no library: nothing to read, calls fail visibly */
		return;
	}
	/* the daemon reads it again periodically: an upgrade in place says nothing */
	libversion_probe(&h->libversion, !h->once && !h->manual, on_library_version, h);
}

/* A function call failed with "Function not found": the library may have
 * been flushed or replaced. Check again (never more than every 5 s); the
 * loader never loads over a library it did not create. */
static void on_function_missing(struct hostenv *env)
{
	struct host *h = env->host;
	double now = clock_now(h->clock);
	if (libset_busy(&h->libset) || !h->env.router || now - h->library_rechecked_at < 5.0)
		return;
	h->library_rechecked_at = now;
	log_warn("a server-side function is missing; checking the function library again");
	libset_recheck(&h->libset);
}

/* The version could not be read (a dropped connection): check again. */
static void on_library_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct host *h = w->data;
	if (h->env.router && router_ready(h->env.router) && !libset_busy(&h->libset))
		libset_recheck(&h->libset);
}

/* BUSY (a long script runs) or LOADING (a restart reads its dataset): no new
 * cycle starts for a while. Exponential backoff with jitter, from 0.1 s up to
 * 5 s; the level resets once the server answered normally for a while. */
static void on_server_busy(struct hostenv *env, const char *reply)
{
	struct host *h = env->host;
	double now = clock_now(h->clock);
	if (now < h->paused_until)
		return;
	if (now > h->paused_until + 10)
		h->pause_level = 0;
	double d = backoff_delay(0.1, 5, h->pause_level++);
	h->paused_until = now + d;
	log_warn("redis cannot serve now (%.40s); pausing new cycles for %.0f ms", reply, d * 1000);
}

/* A refusal (credentials, database index, certificate, not Redis at all) is
 * a configuration problem: --once stops at once with this one line (exit 2
 * for a database index, 1 otherwise); the daemon keeps retrying with
 * backoff and logs it at every attempt, so at most one line per step. */
static void on_refused(struct host *h, enum rconn_event ev, const char *where, const char *detail)
{
	const char *what = ev == RCONN_AUTH_FAILED  ? "refused our credentials"
	                   : ev == RCONN_BAD_DB     ? "refused the database index"
	                   : ev == RCONN_TLS_FAILED ? "could not be reached over TLS"
	                                            : "does not speak the Redis protocol";
	const char *hint = ev == RCONN_AUTH_FAILED ? "; check the password in the URL" : "";
	h->ready = false;
	log_error("redis at %s %s (%s)%s%s", where, what, detail, hint,
	          h->once ? "" : "; retrying with backoff");
	if (!h->once)
		return;
	h->conn_refused = true;
	h->exit_code = ev == RCONN_BAD_DB ? 2 : 1;
	ev_break(h->loop, EVBREAK_ALL);
}

/* CLUSTERDOWN: like BUSY, no new cycle starts for a while. */
static void on_cluster_pause(void *data, const char *reply)
{
	struct host *h = data;
	on_server_busy(&h->env, reply);
}

static void on_router_event(void *data, struct rnode *n, enum router_note note,
                            enum rconn_event rev, const char *detail)
{
	struct host *h = data;
	bool cluster = router_mode(h->env.router) == ROUTER_CLUSTER;
	char where[512];
	if (cluster)
		snprintf(where, sizeof(where), "%s", n->addr);
	else
		url_redacted(&h->cfg->url, where, sizeof(where));
	switch (note) {
	case ROUTER_NODE_UP:
		log_info("connected to redis at %s%s%s%s", where, detail ? " (" : "",
		         detail ? detail : "", detail ? ")" : "");
		pause_poll(h); /* answered before the library check: runners start knowing */
		libset_node_up(&h->libset, n);
		break;
	case ROUTER_NODE_DOWN:
		if (!cluster)
			h->ready = false;
		log_warn("redis at %s unavailable (%s); reconnecting with backoff", where, detail);
		break;
	case ROUTER_NODE_REFUSED: on_refused(h, rev, where, detail); break;
	case ROUTER_NODE_GONE: libset_node_gone(&h->libset, n); break;
	}
}

static void on_connect_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct host *h = w->data;
	char where[512], why[512];
	url_redacted(&h->cfg->url, where, sizeof(where));
	if (router_ready(h->env.router))
		snprintf(why, sizeof(why),
		         "connected, but the function library check did not finish "
		         "(is the server loading or busy?)");
	else
		router_describe_failure(h->env.router, why, sizeof(why));
	log_error("could not reach redis at %s within %g s: %s", where, h->cfg->connect_timeout,
	          why);
	h->exit_code = 1;
	ev_break(loop, EVBREAK_ALL);
}

/* ---- signals and shutdown -------------------------------------------------- */

static void on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct host *h = w->data;
	log_warn("shutdown grace of %g s expired; abandoning in-flight work",
	         h->cfg->shutdown_timeout);
	if (h->env.router)
		router_drop(h->env.router, "shutting down");
	ev_break(loop, EVBREAK_ALL);
}

void host_stop(struct host *h)
{
	if (h->env.stopping)
		return;
	h->env.stopping = true;
	log_info("shutdown requested; finishing in-flight partitions");
	ev_timer_stop(h->loop, &h->connect_deadline);
	for (struct scanner *s = h->scanners; s; s = s->next) {
		ev_timer_stop(h->loop, &s->timer);
		runner_stop(&s->runner);
	}
	if (all_idle(h)) {
		host_end(h);
		return;
	}
	ev_timer_set(&h->grace, h->cfg->shutdown_timeout, 0);
	ev_timer_start(h->loop, &h->grace);
}

bool host_reload_scripts(struct host *h)
{
	if (!host_load_set(h, LOAD_SCRIPTS)) {
		log_error("script reload refused (see above); the running scanners go on");
		h->reloads_refused++;
		return false;
	}
	int failed = h->load_errors + h->config_errors;
	log_msg(failed ? LOG_WARN : LOG_INFO, NULL, "reload finished: %d file(s) failed to load",
	        failed);
	h->reloads_ok++;
	return true;
}

bool host_is_ready(const struct host *h)
{
	return h->ready && h->env.library && h->env.router && router_ready(h->env.router);
}

bool host_run_now(struct scanner *s, bool *queued)
{
	*queued = false;
	if (s->stats.paused || !s->scheduled || s->runner.state == RUNNER_STOPPED ||
	    s->host->env.stopping)
		return false;
	if (s->runner.state == RUNNER_SLEEPING) {
		op_arm(s, 0); /* from the loop, not from inside the HTTP handler */
		return true;
	}
	*queued = true; /* a cycle runs: the next one starts as soon as it ends */
	s->stats.run_requested = true;
	return true;
}

/* Every signal is logged, with what it does. */
static void on_signal(void *data, int signo)
{
	struct host *h = data;
	const char *name = signal_name(signo);
	switch (signo) {
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping", name);
		host_stop(h);
		break;
	case SIGHUP:
	case SIGUSR1:
		if (h->env.stopping) {
			log_info("%s: ignored while stopping", name);
			break;
		}
		log_info("%s: reloading %s", name,
		         signo == SIGHUP ? "the config and every scanner" : "scanners");
		if (signo == SIGHUP)
			host_reload_config(h);
		else
			host_reload_scripts(h);
		break;
	default: log_info("%s: ignored", name); break;
	}
}

/* ---- lifecycle -------------------------------------------------------------- */

void host_sync_env(struct host *h)
{
	const struct config *cfg = h->cfg;
	struct hostenv *e = &h->env;
	for (int i = 0; i < cfg->nlanes; i++)
		h->lanes[i] = cfg->lanes[i];
	e->lanes = h->lanes;
	e->nlanes = cfg->nlanes;
	e->lua_lib_dir = cfg->lua_lib_dir;
	e->lua_path = cfg->lua_path[0] ? cfg->lua_path : NULL;
	e->conf_L = cfg->conf_L;
	e->overrides_ref = cfg->overrides_ref;
	e->scan_timeout = cfg->scan_timeout;
	e->lua_memory = (size_t)cfg->lua_memory_mb << 20;
	e->claims = cfg->claims;
	e->once = cfg->once;
	e->filter = &cfg->filter;
}

bool host_init(struct host *h, struct config *cfg, struct ev_loop *loop, const struct clock *clock,
               char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	h->cfg = h->initial_cfg = cfg;
	h->loop = loop;
	h->clock = clock;
	h->once = cfg->once;
	struct hostenv *e = &h->env;
	e->loop = loop;
	e->partitions[FAMILY_EXECUTION] = e->partitions[FAMILY_FLOW] = cfg->partitions;
	e->partitions[FAMILY_BUDGET] = cfg->budget_partitions;
	e->partitions[FAMILY_QUOTA] = cfg->quota_partitions;
	host_sync_env(h);
	claims_instance_id(e->instance_id, sizeof(e->instance_id));
	e->function_missing = on_function_missing;
	e->server_busy = on_server_busy;
	e->host = h;
	e->clock = clock;
	filter_report(&cfg->filter);
	libversion_init(&h->libversion, loop, cfg->library_recheck, version_targets, h);
	e->library_version = h->libversion.value;
	ev_timer_init(&h->grace, on_grace, 0, 0);
	ev_timer_init(&h->connect_deadline, on_connect_deadline, 0, 0);
	ev_timer_init(&h->library_retry, on_library_retry, 0, 0);
	h->grace.data = h->connect_deadline.data = h->library_retry.data = h;
	pause_init(h);
	if (!library_build(&h->library, cfg->functions_dir, cfg->library_level, err, errlen))
		return false;
	libset_init(&h->libset, loop, &h->library, on_libset_changed, h);
	if (cfg->url.tls && !(h->tls = tls_client_new(cfg->tls_module, &cfg->tls, err, errlen))) {
		library_free(&h->library);
		return false;
	}
	if (cfg->url.tls && cfg->tls.insecure)
		log_warn("%s: TLS certificate verification is off; the server's identity is not "
		         "checked",
		         cfg->tls.insecure_opt);
	return true;
}

void host_start(struct host *h)
{
	struct router_opts o = { .conn = { .url = h->cfg->url,
		                           .tls = h->tls,
		                           .connect_timeout = h->cfg->connect_timeout,
		                           .command_timeout = h->cfg->command_timeout,
		                           .backoff_min = 0.1,
		                           .backoff_max = 5.0 },
		                 .refresh_interval = 5.0,
		                 .on_pause = on_cluster_pause };
	snprintf(o.conn.tls_name, sizeof(o.conn.tls_name), "%s", h->cfg->tls.sni);
	for (int i = 0; i < h->cfg->nseeds && i < ROUTER_MAX_SEEDS; i++)
		o.seeds[o.nseeds++] = h->cfg->seeds[i];
	h->env.router = router_new(h->loop, &o, on_router_event, h);
	if (!h->env.router)
		abort();
	libset_attach(&h->libset, h->env.router);
	if (!h->manual) { /* signals are the process's: the test module's hosts do without */
		signals_start(&h->signals, h->loop, on_signal, h);
		pause_start(h);
	}
	if (h->once) {
		/* a one-shot run must not wait forever for an absent server */
		ev_timer_set(&h->connect_deadline, h->cfg->connect_timeout, 0);
		ev_timer_start(h->loop, &h->connect_deadline);
	}
	router_start(h->env.router);
}

void host_run_once(struct host *h, struct scanner *s)
{
	s->once_done = false;
	s->scheduled = true;
	apply_schedule(s);
	s->runner.once = true;
	s->runner.state = RUNNER_IDLE;
	runner_start(&s->runner);
}

/* What --check used: config file, directories, lanes, partition counts. */
static void print_plan_head(const struct host *h, FILE *out)
{
	const struct config *c = h->cfg;
	fprintf(out, "config=%s\n",
	        c->config_loaded ? c->config_path : "(none: built-in defaults)");
	for (int i = 0; i < c->nscanners_dirs; i++)
		fprintf(out, "scanners_dir=%s%s\n", c->scanners_dirs[i],
		        c->scanners_dir_optional[i] ? " (optional)" : "");
	fprintf(out, "functions_dir=%s library_level=%s\n", c->functions_dir,
	        c->library_level == 5    ? "5"
	        : c->library_level == 34 ? "34"
	                                 : "default (34)");
	fprintf(out, "lanes=");
	for (int i = 0; i < c->nlanes; i++)
		fprintf(out, "%s%s", i ? "," : "", c->lanes[i]);
	fprintf(out, "\npartitions=%d budget_partitions=%d quota_partitions=%d\n", c->partitions,
	        c->budget_partitions, c->quota_partitions);
	control_print_plan(c, out);
}

bool host_check(struct host *h, FILE *out)
{
	print_plan_head(h, out);
	for (struct scanner *s = h->scanners; s; s = s->next) {
		const struct script *sc = host_latest(s);
		if (!sc)
			continue;
		fprintf(out, "scanner=%s family=%s interval=%g partitions=%d enabled=%s file=%s\n",
		        s->name, family_name(sc->family), runner_effective_interval(sc->interval),
		        h->env.partitions[sc->family], sc->enabled ? "true" : "false", sc->path);
	}
	return h->load_errors == 0 && h->config_errors == 0;
}

void host_print_summary(struct host *h, int fd)
{
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (!s->scheduled)
			continue;
		char parts[16];
		snprintf(parts, sizeof(parts), "%d", s->last.partitions);
		struct cycle_fields cf = { 0 };
		const struct log_field *counts = cycle_fields(&cf, &s->last);
		struct log_field f[8] = { { "scanner", s->name, LOG_STRING },
			                  { "partitions", parts, LOG_NUMBER } };
		memcpy(f + 2, counts, 5 * sizeof(*f));
		char claimed[16];
		snprintf(claimed, sizeof(claimed), "%d", s->claims.last_count);
		if (h->env.claims) /* before the terminator cycle_fields copied to f[6] */
			f[6] = (struct log_field){ "claimed", claimed, LOG_NUMBER };
		log_write_fields(fd, f);
	}
}

void host_free(struct host *h)
{
	ev_timer_stop(h->loop, &h->grace);
	ev_timer_stop(h->loop, &h->connect_deadline);
	ev_timer_stop(h->loop, &h->library_retry);
	libversion_stop(&h->libversion);
	control_free(h);
	pause_stop(h);
	libset_stop(&h->libset);
	if (h->env.router) {
		h->env.stopping = true;
		router_free(h->env.router); /* in-flight requests fail; tasks wind down */
		h->env.router = NULL;
		libset_attach(&h->libset, NULL);
	}
	signals_stop(&h->signals);
	struct scanner *s = h->scanners;
	while (s) {
		struct scanner *next = s->next;
		ev_timer_stop(h->loop, &s->timer);
		script_retire(s->pending);
		script_retire(s->active);
		tracker_free(&s->tracker);
		claims_free(&s->claims);
		free(s->wanted);
		free(s);
		s = next;
	}
	h->scanners = NULL;
	library_free(&h->library);
	tls_client_free(h->tls);
	h->tls = NULL;
	if (h->cfg != h->initial_cfg) { /* a reload's config: ours to free */
		config_free(h->cfg);
		free(h->cfg);
		h->cfg = h->initial_cfg;
	}
}
