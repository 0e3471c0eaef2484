/* script_run: a script's runs as tasks, under three guards around every
 * resume — the runaway count hook (Lua that never yields), the watchdog (C
 * code that never returns) and the state's memory limit (allocations fail
 * only inside the resume) — and the counts a run returns. */
#include "script_run.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>

#include <lauxlib.h>

#include "log.h"
#include "lreq.h"
#include "lua_ctx.h"
#include "lua_redis.h"
#include "runaway.h"
#include "script_load.h"
#include "watchdog.h"

/* A count a script returned: absent or nil is 0, otherwise an integer in
 * 0 .. 2^32-1. Returns false for anything else (never clamped). */
static bool read_count(lua_State *L, int idx, uint32_t *out)
{
	*out = 0;
	if (lua_isnoneornil(L, idx))
		return true;
	if (lua_type(L, idx) != LUA_TNUMBER)
		return false;
	lua_Number v = lua_tonumber(L, idx);
	if (!(v >= 0 && v <= 4294967295.0) || v != floor(v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* The counts at first.. (processed, errors, skipped) of L into t. A bad
 * value is a warning naming it, and the whole result is one error. */
static bool read_counts(struct script *s, lua_State *L, int first, int n, struct tally *t)
{
	static const char *const names[] = { "processed", "errors", "skipped" };
	uint32_t v[3] = { 0, 0, 0 };
	for (int i = 0; i < 3; i++) {
		int idx = first + i;
		if (idx - first >= n || read_count(L, idx, &v[i]))
			continue;
		char got[64];
		if (lua_type(L, idx) == LUA_TNUMBER)
			snprintf(got, sizeof(got), "%.17g", lua_tonumber(L, idx));
		else
			snprintf(got, sizeof(got), "a %s", lua_typename(L, lua_type(L, idx)));
		struct log_field f[] = { { "count", names[i], LOG_STRING },
			                 { "got", got, LOG_STRING },
			                 { NULL, NULL, LOG_STRING } };
		log_event(LOG_WARN, s->name, s->run.partition,
		          "bad count returned (counts are integers in 0..4294967295); "
		          "counted as one error",
		          f);
		*t = (struct tally){ 0, 0, 1 };
		return false;
	}
	*t = (struct tally){ .processed = v[0], .errors = v[1], .skipped = v[2] };
	return true;
}

/* -- the task's ops ---------------------------------------------------------- */

static void guard_on(void *owner)
{
	struct script *s = owner;
	watchdog_enter(s->name, s->run.partition, s->run.what);
	runaway_arm(s->env->scan_timeout);
	memlimit_protect(&s->mem);
}

/* The state is over its limit: allocations past it failed inside the
 * resume, or went through (and were noted) in the host's own calls. A
 * state without the counting allocator (script_load.c) is measured. */
static void check_memory(struct script *s)
{
	bool over = memlimit_exceeded(&s->mem);
	if (!over && s->mem.limit && !s->mem_counted)
		over = (size_t)lua_gc(s->L, LUA_GCCOUNT, 0) * 1024 > s->mem.limit;
	if (over)
		s->over_memory = true;
}

static const char *guard_off(void *owner, char *why, size_t n)
{
	struct script *s = owner;
	memlimit_unprotect(&s->mem);
	runaway_disarm();
	check_memory(s);
	watchdog_leave();
	if (runaway_check()) {
		s->runaway = true;
		snprintf(why, n, "runaway script: ran for more than %g s without yielding",
		         runaway_seconds());
		return "aborted";
	}
	if (s->over_memory) {
		snprintf(why, n, "over its Lua memory limit of %zu MB (lua_memory_mb)",
		         s->mem.limit >> 20);
		return "stopped";
	}
	return NULL;
}

/* A Lua error: logged with scanner, partition and the traceback (on top of
 * L); it counts as one error for this partition. */
static void report_failure(void *owner, const char *verb)
{
	struct script *s = owner;
	struct log_field fields[] = { { "error", lua_tostring(s->L, -1), LOG_STRING },
		                      { NULL, NULL, LOG_STRING } };
	char text[64];
	snprintf(text, sizeof(text), "%s %s", s->run.what, verb);
	log_event(LOG_ERROR, s->name, s->run.partition, text, fields);
}

static void drop_request(void *owner, void *request)
{
	struct script *s = owner;
	lreq_orphan(request);
	log_event(LOG_DEBUG, s->name, s->run.partition,
	          "task ended with a request in flight; its replies are drained", NULL);
}

/* The outcome becomes the tally (or stays on L for the caller); then a
 * retired script goes, and the caller hears. */
static void run_done(void *owner)
{
	struct script *s = owner;
	lreq_drop_sent(s);
	const struct task *t = &s->task;
	struct tally tally = { 0, 0, 1 }; /* a failed run is one error */
	if (s->run.keep_results) {
		if (!t->failed)
			tally = (struct tally){ 0, 0, 0 };
	} else {
		if (!t->failed)
			read_counts(s, s->L, lua_gettop(s->L) - t->nresults + 1, t->nresults,
			            &tally);
		lua_pop(s->L, t->nresults);
	}
	script_done_fn done = s->run.done;
	void *data = s->run.done_data;
	s->run.done = NULL;
	if (s->retired)
		script_free(s);
	if (done)
		done(data, &tally);
}

static const struct task_ops run_ops = {
	.enter = guard_on,
	.leave = guard_off,
	.failed = report_failure,
	.orphan = drop_request,
	.done = run_done,
	.stray_yield = "yielded without a pending request (coroutine.yield is not allowed in "
	               "scan(); use ctx.redis)",
};

/* -- starting runs ------------------------------------------------------------ */

/* Expects the body and its nargs arguments on top of the script's stack. */
static void start(struct script *s, int partition, int nargs, script_done_fn done, void *data)
{
	s->run.partition = partition;
	s->run.done = done;
	s->run.done_data = data;
	task_start(&s->task, &run_ops, s, s->L, nargs);
}

static void push_ctx(struct script *s, int partition)
{
	ctx_set_partition(s, partition);
	lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->ctx_ref);
}

void script_scan(struct script *s, int partition, script_done_fn done, void *data)
{
	lua_State *L = s->L;
	watchdog_enter(s->name, partition, "scan()");
	s->run.keep_results = false;
	s->run.what = "scan()";
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->scan_ref);
	push_ctx(s, partition);
	lua_pushinteger(L, partition);
	int nargs = 2;
	if (s->selected_ref != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->selected_ref);
		lua_rawgeti(L, -1, partition);
		lua_remove(L, -2);
		nargs = 3;
	}
	watchdog_leave();
	start(s, partition, nargs, done, data);
}

void script_select(struct script *s, int first, int count, script_done_fn done, void *data)
{
	lua_State *L = s->L;
	watchdog_enter(s->name, first, "select()");
	s->run.keep_results = true;
	s->run.what = s->observing ? "observe()" : "select()";
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->observing ? s->observe_ref : s->select_ref);
	push_ctx(s, first);
	lua_createtable(L, count, 0);
	for (int i = 0; i < count; i++) {
		lua_pushinteger(L, first + i);
		lua_rawseti(L, -2, i + 1);
	}
	watchdog_leave();
	start(s, first, 2, done, data);
}

void script_run_fn(struct script *s, int partition, script_done_fn done, void *data)
{
	s->run.keep_results = true;
	s->run.what = "the spec body";
	push_ctx(s, partition);
	lua_pushinteger(s->L, partition);
	start(s, partition, 2, done, data);
}

/* -- select()'s result ----------------------------------------------------------- */

static void fill_wanted(lua_State *L, int first, uint8_t *wanted, int n, bool ok)
{
	for (int i = 0; i < n; i++) {
		if (ok) {
			lua_rawgeti(L, -1, first + i);
			wanted[i] = !lua_isnil(L, -1);
			lua_pop(L, 1);
		} else {
			wanted[i] = 1;
		}
	}
}

bool script_take_selection(struct script *s, int first, uint8_t *wanted, int n, struct tally *t)
{
	lua_State *L = s->L;
	watchdog_enter(s->name, first, "select()'s result");
	luaL_unref(L, LUA_REGISTRYINDEX, s->selected_ref);
	s->selected_ref = LUA_NOREF;
	int nr = s->task.nresults; /* select()'s results, or its error */
	bool ok = !s->task.failed && nr >= 1 && lua_istable(L, -nr);
	*t = (struct tally){ 0, 0, 0 };
	if (ok) {
		lua_pushvalue(L, -nr);
		s->selected_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		/* optional further results: work select() did itself */
		read_counts(s, L, lua_gettop(L) - nr + 2, nr - 1, t);
	}
	lua_pop(L, nr);
	if (ok)
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->selected_ref);
	fill_wanted(L, first, wanted, n, ok);
	if (ok)
		lua_pop(L, 1);
	watchdog_leave();
	return ok;
}

/* malloc keeps what the states free: a collection that freed this much (a
 * drain's pages) returns the free heap to the system at once, and smaller
 * ones (idle cycles) at most every SCRIPT_TRIM_PERIOD seconds, so an idle
 * daemon's RSS is what its states keep, without a trim after every cycle. */
#define SCRIPT_TRIM_KB     1024
#define SCRIPT_TRIM_PERIOD 10.0

static int collect_all(lua_State *L)
{
	lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}

void script_collect(struct script *s)
{
	if (!s->L || !task_idle(&s->task))
		return;
	int before_kb = lua_gc(s->L, LUA_GCCOUNT, 0);
	watchdog_enter(s->name, -1, "collecting its Lua state (__gc finalizers)");
	if (lua_cpcall(s->L, collect_all, NULL) != 0) {
		log_warn("%s: a __gc finalizer raised during the collection between cycles: %s",
		         s->name, lua_tostring(s->L, -1));
		lua_pop(s->L, 1);
	}
	watchdog_leave();
	static double last_trim = -1;
	double now = clock_now(s->env->clock);
	if (before_kb - lua_gc(s->L, LUA_GCCOUNT, 0) >= SCRIPT_TRIM_KB || last_trim < 0 ||
	    now - last_trim >= SCRIPT_TRIM_PERIOD) {
		malloc_trim(0);
		last_trim = now;
	}
}
