/* host: scanner slots, their runners, reload, library check and shutdown. */
#define _DEFAULT_SOURCE
#include "host.h"

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis.h"
#include "tls.h"

/* ---- runner glue: one ev_timer per scanner ------------------------------- */

static bool all_idle(const struct host *h)
{
	for (const struct scanner *s = h->scanners; s; s = s->next) {
		if (s->active && task_busy(s->active))
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
	if (rconn_send(h->env.conn, 5, argv, len, on_claim_released, h, err, sizeof(err)))
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
	bool can = h->env.claims && h->env.conn && rconn_ready(h->env.conn);
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
	}
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

static void on_task_done(void *data, uint32_t processed, uint32_t errors)
{
	struct scanner *s = data;
	note_runaway(s);
	runner_partition_done(&s->runner, processed, errors);
	check_stopped(s->host);
}

static void op_scan(void *data, int partition)
{
	struct scanner *s = data;
	if (s->active->runaway) {
		runner_partition_done(&s->runner, 0, 0); /* the cycle ends; the next never starts */
		return;
	}
	task_start(s->active, partition, on_task_done, s);
}

static void on_select_done(void *data, uint32_t unused_processed, uint32_t unused_errors)
{
	(void)unused_processed;
	(void)unused_errors;
	struct scanner *s = data;
	struct script *sc = s->active;
	uint32_t processed, errors;
	bool ok = task_take_selection(sc, s->wanted_first, s->wanted, RUNNER_SELECT_CHUNK,
	                              &processed, &errors);
	if (!ok && !sc->task.failed)
		log_msg(LOG_ERROR, s->name, "select() must return a table of partition = data");
	note_runaway(s);
	/* a failed select() is one error (logged with its traceback) */
	runner_select_done(&s->runner, processed, ok ? errors : 1);
	check_stopped(s->host);
}

static void op_select(void *data, int first, int count)
{
	struct scanner *s = data;
	if (!s->wanted && !(s->wanted = calloc(RUNNER_SELECT_CHUNK, 1)))
		abort();
	s->wanted_first = first;
	if (s->active->runaway) {
		memset(s->wanted, 0, RUNNER_SELECT_CHUNK);
		runner_select_done(&s->runner, 0, 0);
		return;
	}
	task_start_select(s->active, first, count, on_select_done, s);
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
	struct log_field f[] = { { "partitions", n },
		                 { "from", s->claims.other_id },
		                 { NULL, NULL } };
	log_event(LOG_INFO, s->name, -1, "took over partitions another instance held", f);
}

static void op_cycle_end(void *data, const struct runner_cycle *c, bool stopped)
{
	struct scanner *s = data;
	char processed[24], errors[24], elapsed[24], parts[16], claimed[16];
	fmt_u64(processed, sizeof(processed), c->processed);
	fmt_u64(errors, sizeof(errors), c->errors);
	fmt_u64(elapsed, sizeof(elapsed), (uint64_t)(c->elapsed * 1000));
	snprintf(parts, sizeof(parts), "%d", c->partitions);
	snprintf(claimed, sizeof(claimed), "%d", s->claims.won_count);
	struct log_field f[] = { { "partitions", parts },
		                 { "processed", processed },
		                 { "errors", errors },
		                 { "elapsed_ms", elapsed },
		                 /* claims off: the NULL key ends the list here */
		                 { s->host->env.claims ? "claimed" : NULL, claimed },
		                 { NULL, NULL } };
	note_takeover(s);
	claims_cycle_end(&s->claims);
	bool busy = c->processed > 0 || c->errors > 0;
	log_event(busy ? LOG_INFO : LOG_DEBUG, s->name, -1,
	          stopped ? "scan cycle interrupted by shutdown"
	          : busy  ? "scan cycle complete"
	                  : "scan cycle complete (nothing to do)",
	          f);
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

static const struct runner_ops scanner_ops = {
	.arm = op_arm,
	.cycle_begin = op_cycle_begin,
	.scan = op_scan,
	.select = op_select,
	.wanted = op_wanted,
	.cycle_end = op_cycle_end,
	.stopping = op_stopping,
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

static struct scanner *new_slot(struct host *h, const char *name)
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

static const struct script *latest(const struct scanner *s)
{
	return s->pending ? s->pending : s->active;
}

static struct scanner *slot_for_path(struct host *h, const char *path)
{
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (latest(s) && strcmp(latest(s)->path, path) == 0)
			return s;
	}
	return NULL;
}

/* Starts the runner of a slot that has a script but no schedule. */
static void schedule(struct scanner *s)
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
	struct log_field f[] = { { "family", family_name(s->active->family) },
		                 { "interval_s", interval },
		                 { "partitions", parts },
		                 { NULL, NULL } };
	log_event(LOG_INFO, s->name, -1, "scanner started", f);
	runner_start(&s->runner);
}

static void log_loaded(const struct script *sc, bool replacing)
{
	char digest[20], interval[32];
	snprintf(digest, sizeof(digest), "%016" PRIx64, sc->digest);
	snprintf(interval, sizeof(interval), "%g", sc->interval);
	struct log_field f[] = { { "file", sc->path },
		                 { "family", family_name(sc->family) },
		                 { "interval_s", interval },
		                 { "digest", digest },
		                 { "enabled", sc->enabled ? "true" : "false" },
		                 { NULL, NULL } };
	log_event(LOG_INFO, sc->name, -1,
	          replacing ? "script reloaded; takes effect at the next cycle" : "script loaded",
	          f);
}

/* Installs a freshly loaded script in its slot. Returns false on a name
 * already claimed by another file in this pass. */
static bool install(struct host *h, struct script *sc, struct scanner **claimed, int nclaimed)
{
	struct scanner *slot = host_find(h, sc->name);
	for (int i = 0; i < nclaimed; i++) {
		if (claimed[i] == slot) {
			log_msg(LOG_ERROR, sc->name,
			        "duplicate scanner name in %s (already defined by %s); "
			        "file ignored",
			        sc->path, latest(slot)->path);
			return false;
		}
	}
	if (!slot)
		slot = new_slot(h, sc->name);
	sc->tracker = &slot->tracker;
	sc->claims = &slot->claims;
	slot->removed = false;
	log_loaded(sc, slot->active != NULL);
	if (!slot->active) {
		slot->active = sc;
	} else {
		script_retire(slot->pending);
		slot->pending = sc;
	}
	claimed[nclaimed] = slot;
	return true;
}

static int lua_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".lua") == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* One file of a (re)load pass. Returns 1 when it failed to load. */
static int load_one(struct host *h, const char *path, struct scanner **claimed, int *nclaimed)
{
	struct scanner *existing = slot_for_path(h, path);
	uint64_t digest = 0;
	if (existing && digest_file(path, &digest) && digest == latest(existing)->digest) {
		claimed[(*nclaimed)++] = existing; /* unchanged */
		return 0;
	}
	char err[2048];
	struct script *sc = script_load(&h->env, path, err, sizeof(err));
	if (!sc) {
		struct log_field f[] = { { "file", path }, { "error", err }, { NULL, NULL } };
		log_event(LOG_ERROR, existing ? existing->name : NULL, -1,
		          existing ? "script failed to load; the previous version keeps running"
		                   : "script failed to load; scanner stays off",
		          f);
		if (existing)
			claimed[(*nclaimed)++] = existing;
		return 1;
	}
	if (!host_selected(h, sc->name)) {
		script_free(sc);
		return 0;
	}
	if (!install(h, sc, claimed, *nclaimed)) {
		script_free(sc);
		return 1;
	}
	(*nclaimed)++;
	return 0;
}

static bool was_claimed(struct scanner *s, struct scanner **claimed, int n)
{
	for (int i = 0; i < n; i++) {
		if (claimed[i] == s)
			return true;
	}
	return false;
}

int host_load_scanners(struct host *h)
{
	struct dirent **names;
	int n = scandir(h->cfg->scanners_dir, &names, lua_file, by_name);
	if (n < 0) {
		log_error("cannot read scanners directory %s", h->cfg->scanners_dir);
		return 1;
	}
	struct scanner **claimed = calloc((size_t)n + 1, sizeof(*claimed));
	int nclaimed = 0, failures = 0;
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", h->cfg->scanners_dir, names[i]->d_name);
		failures += load_one(h, path, claimed, &nclaimed);
		free(names[i]);
	}
	free(names);
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (latest(s) && !was_claimed(s, claimed, nclaimed) && !s->removed) {
			s->removed = true;
			log_msg(LOG_INFO, s->name,
			        "script removed; the scanner stops at its next cycle");
			if (!s->scheduled || s->runner.state == RUNNER_STOPPED) {
				script_retire(s->pending);
				s->pending = NULL;
			}
		}
		schedule(s);
	}
	free(claimed);
	h->load_errors = failures;
	return failures;
}

/* ---- connection and library ----------------------------------------------- */

static void start_runners(struct host *h)
{
	h->started = true;
	for (struct scanner *s = h->scanners; s; s = s->next)
		schedule(s);
	if (h->once && h->on_idle)
		h->on_idle(h); /* nothing enabled: the once run is already complete */
}

static void on_library(void *data, const char *in_use)
{
	struct host *h = data;
	h->env.library = in_use;
	if (!in_use && h->library.transient && !h->env.stopping) {
		/* LOADING, BUSY or a dropped connection: cycles wait, the check retries */
		ev_timer_set(&h->library_retry, 1.0, 0);
		ev_timer_start(h->loop, &h->library_retry);
		return;
	}
	h->ready = true;
	if (h->manual)
		return; /* the test module starts cycles itself */
	if (!h->started && !h->env.stopping) {
		ev_timer_stop(h->loop, &h->connect_deadline);
		start_runners(h);
	}
}

/* A function call failed with "Function not found": the library may have
 * been flushed or replaced. Check again (never more than every 5 s); the
 * loader never loads over a library it did not create. */
static void on_function_missing(struct hostenv *env)
{
	struct host *h = env->host;
	double now = clock_monotonic(NULL);
	if (h->library.busy || !h->env.conn || now - h->library_rechecked_at < 5.0)
		return;
	h->library_rechecked_at = now;
	log_warn("a server-side function is missing; checking the function library again");
	library_ensure(&h->library, h->env.conn, on_library, h);
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
	double d = 0.1;
	for (unsigned i = 0; i < h->pause_level && d < 5; i++)
		d *= 2;
	d = (d > 5 ? 5 : d) * (0.5 + 0.5 * ((double)rand() / RAND_MAX));
	h->pause_level++;
	h->paused_until = now + d;
	log_warn("redis cannot serve now (%.40s); pausing new cycles for %.0f ms", reply, d * 1000);
}

static void on_library_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct host *h = w->data;
	if (h->env.conn && rconn_ready(h->env.conn) && !h->library.busy)
		library_ensure(&h->library, h->env.conn, on_library, h);
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

static void on_conn_event(void *data, enum rconn_event ev, const char *detail)
{
	struct host *h = data;
	char where[512];
	url_redacted(&h->cfg->url, where, sizeof(where));
	switch (ev) {
	case RCONN_READY:
		log_info("connected to redis at %s%s%s%s", where, detail ? " (" : "",
		         detail ? detail : "", detail ? ")" : "");
		library_ensure(&h->library, h->env.conn, on_library, h);
		break;
	case RCONN_LOST:
		h->ready = false;
		log_warn("redis at %s unavailable (%s); reconnecting with backoff", where, detail);
		break;
	case RCONN_AUTH_FAILED:
	case RCONN_BAD_DB:
	case RCONN_TLS_FAILED:
	case RCONN_PROTOCOL_ERROR: on_refused(h, ev, where, detail); break;
	}
}

static void on_connect_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct host *h = w->data;
	char where[512], why[512];
	url_redacted(&h->cfg->url, where, sizeof(where));
	if (rconn_ready(h->env.conn))
		snprintf(why, sizeof(why),
		         "connected, but the function library check did not finish "
		         "(is the server loading or busy?)");
	else
		rconn_describe_failure(h->env.conn, why, sizeof(why));
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
	if (h->env.conn)
		rconn_drop(h->env.conn, "shutting down");
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

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	host_stop(w->data);
}

static void on_reload_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	struct host *h = w->data;
	if (h->env.stopping)
		return;
	log_info("SIGUSR1: reloading scanners from %s", h->cfg->scanners_dir);
	int failed = host_load_scanners(h);
	log_msg(failed ? LOG_WARN : LOG_INFO, NULL, "reload finished: %d file(s) failed to load",
	        failed);
}

/* ---- lifecycle -------------------------------------------------------------- */

bool host_init(struct host *h, struct config *cfg, struct ev_loop *loop, const struct clock *clock,
               char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	h->cfg = cfg;
	h->loop = loop;
	h->clock = clock;
	h->once = cfg->once;
	struct hostenv *e = &h->env;
	e->loop = loop;
	e->partitions[FAMILY_EXECUTION] = e->partitions[FAMILY_FLOW] = cfg->partitions;
	e->partitions[FAMILY_BUDGET] = cfg->budget_partitions;
	e->partitions[FAMILY_QUOTA] = cfg->quota_partitions;
	for (int i = 0; i < cfg->nlanes; i++)
		h->lanes[i] = cfg->lanes[i];
	e->lanes = h->lanes;
	e->nlanes = cfg->nlanes;
	e->lua_lib_dir = cfg->lua_lib_dir;
	e->lua_path = cfg->lua_path[0] ? cfg->lua_path : NULL;
	e->conf_L = cfg->conf_L;
	e->overrides_ref = cfg->overrides_ref;
	e->scan_timeout = cfg->scan_timeout;
	e->claims = cfg->claims;
	claims_instance_id(e->instance_id, sizeof(e->instance_id));
	e->function_missing = on_function_missing;
	e->server_busy = on_server_busy;
	e->host = h;
	ev_timer_init(&h->grace, on_grace, 0, 0);
	ev_timer_init(&h->connect_deadline, on_connect_deadline, 0, 0);
	ev_timer_init(&h->library_retry, on_library_retry, 0, 0);
	h->grace.data = h->connect_deadline.data = h->library_retry.data = h;
	if (!library_build(&h->library, cfg->functions_dir, err, errlen))
		return false;
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
	struct rconn_opts o = { .url = h->cfg->url,
		                .tls = h->tls,
		                .connect_timeout = h->cfg->connect_timeout,
		                .command_timeout = h->cfg->command_timeout,
		                .backoff_min = 0.1,
		                .backoff_max = 5.0 };
	snprintf(o.tls_name, sizeof(o.tls_name), "%s", h->cfg->tls.sni);
	h->env.conn = rconn_new(h->loop, &o, on_conn_event, h);
	if (!h->env.conn)
		abort();
	ev_signal_init(&h->sig_term, on_stop_signal, SIGTERM);
	ev_signal_init(&h->sig_int, on_stop_signal, SIGINT);
	ev_signal_init(&h->sig_usr1, on_reload_signal, SIGUSR1);
	h->sig_term.data = h->sig_int.data = h->sig_usr1.data = h;
	if (!h->manual) {
		/* libev binds a signal to one loop: the test module's loops do without */
		ev_signal_start(h->loop, &h->sig_term);
		ev_signal_start(h->loop, &h->sig_int);
		ev_signal_start(h->loop, &h->sig_usr1);
	}
	if (h->once) {
		/* a one-shot run must not wait forever for an absent server */
		ev_timer_set(&h->connect_deadline, h->cfg->connect_timeout, 0);
		ev_timer_start(h->loop, &h->connect_deadline);
	}
	rconn_start(h->env.conn);
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

bool host_check(struct host *h, FILE *out)
{
	bool ok = h->load_errors == 0;
	for (int i = 0; i < h->cfg->nonly; i++) {
		if (!host_find(h, h->cfg->only[i])) {
			fprintf(stderr, "--only: no scanner named %s\n", h->cfg->only[i]);
			ok = false;
		}
	}
	for (struct scanner *s = h->scanners; s; s = s->next) {
		const struct script *sc = s->active;
		fprintf(out, "scanner=%s family=%s interval=%g partitions=%d enabled=%s file=%s\n",
		        s->name, family_name(sc->family), runner_effective_interval(sc->interval),
		        h->env.partitions[sc->family], sc->enabled ? "true" : "false", sc->path);
	}
	return ok;
}

void host_print_summary(struct host *h, FILE *out)
{
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (!s->scheduled)
			continue;
		fprintf(out,
		        "scanner=%s partitions=%d processed=%" PRIu64 " errors=%" PRIu64
		        " elapsed_ms=%" PRIu64,
		        s->name, s->last.partitions, s->last.processed, s->last.errors,
		        (uint64_t)(s->last.elapsed * 1000));
		if (h->env.claims)
			fprintf(out, " claimed=%d", s->claims.last_count);
		fputc('\n', out);
	}
	fflush(out);
}

void host_free(struct host *h)
{
	ev_timer_stop(h->loop, &h->grace);
	ev_timer_stop(h->loop, &h->connect_deadline);
	ev_timer_stop(h->loop, &h->library_retry);
	if (h->env.conn) {
		h->env.stopping = true;
		rconn_free(h->env.conn); /* in-flight requests fail; tasks wind down */
		h->env.conn = NULL;
	}
	ev_signal_stop(h->loop, &h->sig_term);
	ev_signal_stop(h->loop, &h->sig_int);
	ev_signal_stop(h->loop, &h->sig_usr1);
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
}
