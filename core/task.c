/* task: a bare coroutine driver — start a coroutine anchored in the
 * registry, resume it with a generation check, take the traceback of a
 * failed run, report the end through the owner's ops. */
#include "task.h"

#include <lauxlib.h>

void task_init(struct task *t)
{
	*t = (struct task){ .co_ref = LUA_NOREF, .state = TASK_IDLE };
}

bool task_idle(const struct task *t)
{
	return t->state == TASK_IDLE;
}

bool task_is_current(const struct task *t, const lua_State *co)
{
	return t->state == TASK_RUNNING && t->co == co;
}

unsigned task_wait(struct task *t, void *request)
{
	t->request = request;
	return t->gen;
}

bool task_waiting(const struct task *t, unsigned ticket)
{
	return t->gen == ticket && t->state == TASK_YIELDED;
}

static void finish(struct task *t)
{
	if (t->request) {
		void *request = t->request;
		t->request = NULL;
		t->ops->orphan(t->owner, request); /* its replies are drained, never delivered */
	}
	luaL_unref(t->L, LUA_REGISTRYINDEX, t->co_ref);
	t->co_ref = LUA_NOREF;
	t->co = NULL;
	t->gen++;
	t->state = TASK_IDLE;
	t->ops->done(t->owner); /* last: it may free t */
}

/* The run failed: its error, with the dead coroutine's traceback, becomes
 * the outcome on the parent state. */
static void fail(struct task *t, const char *verb)
{
	const char *msg = lua_tostring(t->co, -1);
	luaL_traceback(t->L, t->co, msg ? msg : "(error object is not a string)", 0);
	t->failed = true;
	t->nresults = 1;
	t->ops->failed(t->owner, verb);
}

/* Replaces the coroutine's stack by one error message and fails the run. */
static void abort_run(struct task *t, const char *verb, const char *why)
{
	lua_settop(t->co, 0);
	lua_pushstring(t->co, why);
	fail(t, verb);
}

/* What a resume left: true when the task is over (its outcome in place). */
static bool settle(struct task *t, int rc)
{
	char why[160];
	const char *verb = t->ops->leave(t->owner, why, sizeof(why));
	if (verb) {
		abort_run(t, verb, why);
		return true;
	}
	if (rc == LUA_YIELD) {
		if (t->request) {
			t->state = TASK_YIELDED;
			return false;
		}
		abort_run(t, "failed", t->ops->stray_yield);
		return true;
	}
	if (rc != 0) {
		fail(t, rc == LUA_ERRMEM ? "ran out of memory" : "raised an error");
		return true;
	}
	t->nresults = lua_gettop(t->co);
	lua_xmove(t->co, t->L, t->nresults);
	return true;
}

void task_resume(struct task *t, int nargs)
{
	t->request = NULL; /* delivered */
	t->gen++;
	t->state = TASK_RUNNING;
	t->ops->enter(t->owner);
	int rc = lua_resume(t->co, nargs);
	if (settle(t, rc))
		finish(t);
}

void task_start(struct task *t, const struct task_ops *ops, void *owner, lua_State *L, int nargs)
{
	t->L = L;
	t->ops = ops;
	t->owner = owner;
	t->co = lua_newthread(L);
	t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* anchor: pops the thread */
	t->request = NULL;
	t->failed = false;
	t->nresults = 0;
	lua_xmove(L, t->co, nargs + 1);
	task_resume(t, nargs);
}
