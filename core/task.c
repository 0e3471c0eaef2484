/* task: one partition scan as a registry-anchored coroutine.
 *
 * The coroutine is entered only through lua_resume (never lua_pcall), so a
 * binding can yield from it. A binding that sends a request calls
 * task_begin_wait() and yields; the reply callback resumes the task through
 * task_resume() only if the task is still waiting for that very request
 * (generation check).
 *
 * Every resume runs under three guards: the runaway count hook (Lua that
 * never yields), the watchdog (C code that never returns) and the state's
 * memory limit (allocations fail only inside the resume). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "log.h"
#include "script.h"
#include "watchdog.h"

bool task_busy(const struct script *s)
{
	return s->task.state != TASK_IDLE;
}

struct task *task_current(lua_State *L, struct script *s)
{
	struct task *t = &s->task;
	if (t->state != TASK_RUNNING || t->co != L)
		luaL_error(
		    L, "scanhost: Redis calls are only allowed from the scanner's own "
		       "coroutine (inside scan(), not at top level, not in a nested coroutine)");
	return t;
}

void task_begin_wait(struct task *t)
{
	t->pending++;
}

static void finish(struct task *t, const struct tally *tally)
{
	struct script *s = t->script;
	if (t->inflight) {
		lredis_orphan(t->inflight); /* its replies are drained, never delivered */
		t->inflight = NULL;
		t->pending = 0;
		log_event(LOG_DEBUG, s->name, t->partition,
		          "task ended with a request in flight; its replies are drained", NULL);
	}
	luaL_unref(s->L, LUA_REGISTRYINDEX, t->co_ref);
	t->co_ref = LUA_NOREF;
	t->co = NULL;
	t->gen++;
	t->state = TASK_IDLE;
	task_done_fn done = t->done;
	void *data = t->done_data;
	t->done = NULL;
	if (s->retired) {
		script_free(s);
		s = NULL;
	}
	if (done)
		done(data, tally);
}

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
		log_event(LOG_WARN, s->name, s->task.partition,
		          "bad count returned (counts are integers in 0..4294967295); "
		          "counted as one error",
		          f);
		*t = (struct tally){ 0, 0, 1 };
		return false;
	}
	*t = (struct tally){ .processed = v[0], .errors = v[1], .skipped = v[2] };
	return true;
}

/* A Lua error: log it with scanner, partition and the dead coroutine's
 * traceback; it counts as one error for this partition. */
static void report_error(struct task *t, const char *what)
{
	struct script *s = t->script;
	const char *msg = lua_tostring(t->co, -1);
	luaL_traceback(s->L, t->co, msg ? msg : "(error object is not a string)", 0);
	struct log_field fields[] = { { "error", lua_tostring(s->L, -1), LOG_STRING },
		                      { NULL, NULL, LOG_STRING } };
	char text[64];
	snprintf(text, sizeof(text), "%s %s", t->what, what);
	log_event(LOG_ERROR, s->name, t->partition, text, fields);
	if (t->keep_results)
		t->failed = true; /* the traceback stays on the stack for the caller */
	else
		lua_pop(s->L, 1);
}

/* Replaces the coroutine's stack by one error message and reports it. */
static void abort_task(struct task *t, const char *what, const char *msg)
{
	lua_settop(t->co, 0);
	lua_pushstring(t->co, msg);
	report_error(t, what);
}

/* What a resume left: true when the task is over (*tally filled). */
static bool settle(struct task *t, int rc, struct tally *tally)
{
	struct script *s = t->script;
	char msg[160];
	*tally = (struct tally){ 0, 0, 1 };
	if (runaway_check()) {
		s->runaway = true;
		snprintf(msg, sizeof(msg),
		         "runaway script: ran for more than %g s without yielding",
		         runaway_seconds());
		abort_task(t, "aborted", msg);
		return true;
	}
	if (s->over_memory) {
		snprintf(msg, sizeof(msg), "over its Lua memory limit of %zu MB (lua_memory_mb)",
		         s->mem.limit >> 20);
		abort_task(t, "stopped", msg);
		return true;
	}
	if (rc == LUA_YIELD) {
		if (t->pending > 0) {
			t->state = TASK_YIELDED;
			return false;
		}
		abort_task(t, "failed",
		           "yielded without a pending request (coroutine.yield is not allowed in "
		           "scan(); use ctx.redis)");
		return true;
	}
	if (rc != 0) {
		report_error(t, rc == LUA_ERRMEM ? "ran out of memory" : "raised an error");
		return true;
	}
	int n = lua_gettop(t->co);
	if (t->keep_results) {
		t->nresults = n;
		lua_xmove(t->co, s->L, n);
		*tally = (struct tally){ 0, 0, 0 };
		return true;
	}
	read_counts(s, t->co, 1, n, tally);
	lua_settop(t->co, 0);
	return true;
}

/* The state is over its limit: allocations past it failed inside the
 * resume, or went through (and were noted) in the host's own calls. */
static void check_memory(struct script *s)
{
	bool over = memlimit_exceeded(&s->mem);
	if (!over && s->mem.limit && !s->mem_counted) /* see script_load */
		over = (size_t)lua_gc(s->L, LUA_GCCOUNT, 0) * 1024 > s->mem.limit;
	if (over)
		s->over_memory = true;
}

void task_resume(struct task *t, int nargs)
{
	struct script *s = t->script;
	t->gen++;
	t->state = TASK_RUNNING;
	watchdog_enter(s->name, t->partition, t->what);
	runaway_arm(s->env->scan_timeout);
	memlimit_protect(&s->mem);
	int rc = lua_resume(t->co, nargs);
	memlimit_unprotect(&s->mem);
	runaway_disarm();
	check_memory(s);
	struct tally tally;
	bool over = settle(t, rc, &tally);
	watchdog_leave();
	if (over)
		finish(t, &tally);
}

/* Expects the body and its nargs arguments on top of the script's stack. */
static void start_task(struct script *s, int partition, int nargs, task_done_fn done, void *data)
{
	struct task *t = &s->task;
	lua_State *L = s->L;
	t->co = lua_newthread(L);
	t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* anchor: pops the thread */
	t->partition = partition;
	t->pending = 0;
	t->inflight = NULL;
	t->failed = false;
	t->nresults = 0;
	t->done = done;
	t->done_data = data;
	lua_xmove(L, t->co, nargs + 1);
	task_resume(t, nargs);
}

static void push_ctx(struct script *s, int partition)
{
	ctx_set_partition(s, partition);
	lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->ctx_ref);
}

void task_start(struct script *s, int partition, task_done_fn done, void *data)
{
	lua_State *L = s->L;
	watchdog_enter(s->name, partition, "scan()");
	s->task.keep_results = false;
	s->task.what = "scan()";
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
	start_task(s, partition, nargs, done, data);
}

void task_start_select(struct script *s, int first, int count, task_done_fn done, void *data)
{
	lua_State *L = s->L;
	watchdog_enter(s->name, first, "select()");
	s->task.keep_results = true;
	s->task.what = s->observing ? "observe()" : "select()";
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->observing ? s->observe_ref : s->select_ref);
	push_ctx(s, first);
	lua_createtable(L, count, 0);
	for (int i = 0; i < count; i++) {
		lua_pushinteger(L, first + i);
		lua_rawseti(L, -2, i + 1);
	}
	watchdog_leave();
	start_task(s, first, 2, done, data);
}

void task_start_fn(struct script *s, int partition, task_done_fn done, void *data)
{
	s->task.what = "the spec body";
	push_ctx(s, partition);
	lua_pushinteger(s->L, partition);
	start_task(s, partition, 2, done, data);
}

bool script_has_select(const struct script *s)
{
	return s->select_ref != LUA_NOREF;
}

bool script_has_observe(const struct script *s)
{
	return s->observe_ref != LUA_NOREF;
}

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

bool task_take_selection(struct script *s, int first, uint8_t *wanted, int n, struct tally *t)
{
	lua_State *L = s->L;
	struct task *task = &s->task;
	watchdog_enter(s->name, first, "select()'s result");
	luaL_unref(L, LUA_REGISTRYINDEX, s->selected_ref);
	s->selected_ref = LUA_NOREF;
	int nr = task->nresults;
	bool ok = !task->failed && nr >= 1 && lua_istable(L, -nr);
	*t = (struct tally){ 0, 0, 0 };
	if (ok) {
		lua_pushvalue(L, -nr);
		s->selected_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		/* optional further results: work select() did itself */
		read_counts(s, L, lua_gettop(L) - nr + 2, nr - 1, t);
	}
	lua_pop(L, task->failed ? 1 : nr);
	if (ok)
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->selected_ref);
	fill_wanted(L, first, wanted, n, ok);
	if (ok)
		lua_pop(L, 1);
	watchdog_leave();
	return ok;
}
