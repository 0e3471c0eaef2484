/* task: one partition scan as a registry-anchored coroutine.
 *
 * The coroutine is entered only through lua_resume (never lua_pcall), so a
 * binding can yield from it. A binding that sends a request calls
 * task_begin_wait() and yields; the reply callback resumes the task through
 * task_resume() only if the task is still waiting for that very request
 * (generation check). */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <luajit.h>

#include "clock.h"
#include "log.h"
#include "script.h"

/* One Lua execution runs at a time (a single-threaded loop), so one
 * deadline serves every state. 0 = disarmed. */
static double runaway_deadline;
static double runaway_limit;
static bool runaway_fired;

/* Past the deadline the hook yields instead of raising: an error could be
 * swallowed by a pcall inside the loop, a yield cannot (LuaJIT resumes
 * across pcall). The task then drops the coroutine. Inside a C call that
 * cannot yield (a table.sort comparator...) lua_yield raises instead. */
static void runaway_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	if (runaway_deadline > 0 && clock_monotonic(NULL) > runaway_deadline) {
		runaway_fired = true;
		lua_yield(L, 0);
	}
}

bool runaway_check(void)
{
	return runaway_fired;
}

double runaway_seconds(void)
{
	return runaway_limit;
}

void jit_off(lua_State *L)
{
	luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
	luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_FLUSH);
}

void runaway_install(lua_State *L)
{
	/* compiled traces never call count hooks: interpret scanner code */
	jit_off(L);
	lua_sethook(L, runaway_hook, LUA_MASKCOUNT, 1000);
}

void runaway_arm(double seconds)
{
	runaway_fired = false;
	runaway_limit = seconds;
	runaway_deadline = seconds > 0 ? clock_monotonic(NULL) + seconds : 0;
}

void runaway_disarm(void)
{
	runaway_deadline = 0;
}

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

static void finish(struct task *t, uint32_t processed, uint32_t errors)
{
	struct script *s = t->script;
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
		done(data, processed, errors);
}

static uint32_t count_result(lua_State *co, int idx)
{
	lua_Number v = lua_tonumber(co, idx);
	if (!(v > 0))
		return 0;
	return v > 4294967295.0 ? UINT32_MAX : (uint32_t)v;
}

/* A Lua error: log it with scanner, partition and the dead coroutine's
 * traceback; it counts as one error for this partition. */
static void report_error(struct task *t, const char *what)
{
	struct script *s = t->script;
	const char *msg = lua_tostring(t->co, -1);
	luaL_traceback(s->L, t->co, msg ? msg : "(error object is not a string)", 0);
	struct log_field fields[] = { { "error", lua_tostring(s->L, -1) }, { NULL, NULL } };
	log_event(LOG_ERROR, s->name, t->partition, what, fields);
	if (t->keep_results)
		t->failed = true; /* the traceback stays on the stack for the caller */
	else
		lua_pop(s->L, 1);
}

void task_resume(struct task *t, int nargs)
{
	t->gen++;
	t->state = TASK_RUNNING;
	runaway_arm(t->script->env->scan_timeout);
	int rc = lua_resume(t->co, nargs);
	runaway_disarm();
	if (runaway_check()) {
		t->script->runaway = true;
		lua_settop(t->co, 0);
		lua_pushfstring(t->co, "runaway script: ran for more than %f s without yielding",
		                runaway_seconds());
		report_error(t, "scan() aborted");
		finish(t, 0, 1);
		return;
	}
	if (rc == LUA_YIELD) {
		if (t->pending > 0) {
			t->state = TASK_YIELDED;
			return;
		}
		lua_pushstring(t->co, "scan() yielded without a pending request (coroutine.yield "
		                      "is not allowed in scan(); use ctx.redis)");
		report_error(t, "scan() failed");
		finish(t, 0, 1);
		return;
	}
	if (rc != 0) {
		report_error(t, rc == LUA_ERRMEM ? "scan() ran out of memory"
		                                 : "scan() raised an error");
		finish(t, 0, 1);
		return;
	}
	int n = lua_gettop(t->co);
	if (t->keep_results) {
		t->nresults = n;
		lua_xmove(t->co, t->script->L, n);
		finish(t, 0, 0);
		return;
	}
	uint32_t processed = n >= 1 ? count_result(t->co, 1) : 0;
	uint32_t errors = n >= 2 ? count_result(t->co, 2) : 0;
	lua_settop(t->co, 0);
	finish(t, processed, errors);
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
	s->task.keep_results = false;
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
	start_task(s, partition, nargs, done, data);
}

void task_start_select(struct script *s, int first, int count, task_done_fn done, void *data)
{
	lua_State *L = s->L;
	s->task.keep_results = true;
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->select_ref);
	push_ctx(s, first);
	lua_createtable(L, count, 0);
	for (int i = 0; i < count; i++) {
		lua_pushinteger(L, first + i);
		lua_rawseti(L, -2, i + 1);
	}
	start_task(s, first, 2, done, data);
}

void task_start_fn(struct script *s, int partition, task_done_fn done, void *data)
{
	push_ctx(s, partition);
	lua_pushinteger(s->L, partition);
	start_task(s, partition, 2, done, data);
}

bool script_has_select(const struct script *s)
{
	return s->select_ref != LUA_NOREF;
}

bool task_take_selection(struct script *s, int first, uint8_t *wanted, int n, uint32_t *processed,
                         uint32_t *errors)
{
	lua_State *L = s->L;
	struct task *t = &s->task;
	luaL_unref(L, LUA_REGISTRYINDEX, s->selected_ref);
	s->selected_ref = LUA_NOREF;
	bool ok = !t->failed && t->nresults >= 1 && lua_istable(L, -t->nresults);
	*processed = *errors = 0;
	if (ok) {
		lua_pushvalue(L, -t->nresults);
		s->selected_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		/* optional 2nd and 3rd results: work select() did itself */
		if (t->nresults >= 2)
			*processed = count_result(L, -t->nresults + 1);
		if (t->nresults >= 3)
			*errors = count_result(L, -t->nresults + 2);
	}
	lua_pop(L, t->failed ? 1 : t->nresults);
	if (ok)
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->selected_ref);
	for (int i = 0; i < n; i++) {
		if (ok) {
			lua_rawgeti(L, -1, first + i);
			wanted[i] = !lua_isnil(L, -1);
			lua_pop(L, 1);
		} else {
			wanted[i] = 1;
		}
	}
	if (ok)
		lua_pop(L, 1);
	return ok;
}
