/* The bare coroutine driver (task.h) on a plain lua_State, with a fake
 * owner: it links no script, ctx or binding. */
#include <lauxlib.h>
#include <lualib.h>

#include "task.h"
#include "unit.h"

struct owner {
	struct task t;
	int enters, leaves, failures, orphans, dones;
	const char *abort_verb; /* what leave() answers (NULL: go on) */
	char failed_verb[32];
	char failed_msg[512];
	void *orphaned;
	int request; /* the binding's request: its address is the handle */
	unsigned ticket;
};

static void on_enter(void *o)
{
	((struct owner *)o)->enters++;
}

static const char *on_leave(void *o, char *why, size_t n)
{
	struct owner *w = o;
	w->leaves++;
	if (w->abort_verb)
		snprintf(why, n, "stopped by its owner");
	return w->abort_verb;
}

static void on_failed(void *o, const char *verb)
{
	struct owner *w = o;
	w->failures++;
	snprintf(w->failed_verb, sizeof(w->failed_verb), "%s", verb);
	snprintf(w->failed_msg, sizeof(w->failed_msg), "%s", lua_tostring(w->t.L, -1));
}

static void on_orphan(void *o, void *request)
{
	struct owner *w = o;
	w->orphans++;
	w->orphaned = request;
}

static void on_done(void *o)
{
	((struct owner *)o)->dones++;
}

static const struct task_ops ops = {
	.enter = on_enter,
	.leave = on_leave,
	.failed = on_failed,
	.orphan = on_orphan,
	.done = on_done,
	.stray_yield = "yielded without a request",
};

static struct owner *the_owner;

/* wait(): what a binding does after sending its request. */
static int lwait(lua_State *co)
{
	the_owner->ticket = task_wait(&the_owner->t, &the_owner->request);
	lua_settop(co, 0);
	return lua_yield(co, 0);
}

static lua_State *new_state(struct owner *w)
{
	*w = (struct owner){ 0 };
	task_init(&w->t);
	the_owner = w;
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	lua_register(L, "wait", lwait);
	return L;
}

/* Pushes the chunk's function, then the arguments. */
static void push_body(lua_State *L, const char *src)
{
	if (luaL_loadstring(L, src) != 0 || lua_pcall(L, 0, 1, 0) != 0)
		fprintf(stderr, "bad test body: %s\n", lua_tostring(L, -1));
}

/* A fresh state running the body (a chunk returning the function) without
 * arguments; leave() answers abort_verb. */
static lua_State *start_body(struct owner *w, const char *src, const char *abort_verb)
{
	lua_State *L = new_state(w);
	w->abort_verb = abort_verb;
	push_body(L, src);
	task_start(&w->t, &ops, w, L, 0);
	return L;
}

static void returns_to_parent(void)
{
	struct owner w;
	lua_State *L = new_state(&w);
	CHECK(task_idle(&w.t));
	push_body(L, "return function(a, b) return a + b, 'x' end");
	lua_pushinteger(L, 2);
	lua_pushinteger(L, 3);
	task_start(&w.t, &ops, &w, L, 2);
	CHECK(w.dones == 1 && w.failures == 0 && w.orphans == 0);
	CHECK(w.enters == 1 && w.leaves == 1);
	CHECK(task_idle(&w.t) && !w.t.failed && w.t.co == NULL);
	CHECK(w.t.co_ref == LUA_NOREF);
	CHECK(w.t.nresults == 2 && lua_gettop(L) == 2);
	CHECK(lua_tointeger(L, -2) == 5);
	CHECK_STR(lua_tostring(L, -1), "x");
	lua_close(L);
}

static void raise_gives_traceback(void)
{
	struct owner w;
	lua_State *L = start_body(&w, "return function() local t = nil; return t.x end", NULL);
	CHECK(w.dones == 1 && w.failures == 1 && w.t.failed);
	CHECK_STR(w.failed_verb, "raised an error");
	CHECK(strstr(w.failed_msg, "attempt to index") != NULL);
	CHECK(strstr(w.failed_msg, "stack traceback") != NULL);
	CHECK(w.t.nresults == 1 && lua_gettop(L) == 1); /* the outcome: the error */
	lua_close(L);
}

static void wait_and_resume(void)
{
	struct owner w;
	lua_State *L = start_body(&w, "return function() local r = wait(); return r * 2 end", NULL);
	CHECK(w.dones == 0 && w.t.state == TASK_YIELDED);
	CHECK(w.t.request == &w.request);
	CHECK(task_waiting(&w.t, w.ticket));
	CHECK(!task_waiting(&w.t, w.ticket + 1)); /* a stale reply */
	lua_gc(L, LUA_GCCOLLECT, 0);              /* the anchor keeps the coroutine */
	lua_pushinteger(w.t.co, 21);
	task_resume(&w.t, 1);
	CHECK(w.dones == 1 && !w.t.failed && w.t.request == NULL);
	CHECK(lua_tointeger(L, -1) == 42);
	CHECK(!task_waiting(&w.t, w.ticket)); /* the end changed the generation */
	lua_close(L);
}

static void current_only_while_running(void)
{
	struct owner w;
	lua_State *L = start_body(&w, "return function() wait() end", NULL);
	CHECK(!task_is_current(&w.t, w.t.co)); /* suspended, not running */
	CHECK(!task_is_current(&w.t, L));
	task_resume(&w.t, 0);
	CHECK(w.dones == 1);
	lua_close(L);
}

static void stray_yield_fails(void)
{
	struct owner w;
	lua_State *L = start_body(&w, "return function() coroutine.yield() end", NULL);
	CHECK(w.dones == 1 && w.failures == 1);
	CHECK_STR(w.failed_verb, "failed");
	CHECK(strstr(w.failed_msg, "yielded without a request") != NULL);
	lua_close(L);
}

static void abort_orphans_the_request(void)
{
	struct owner w;
	lua_State *L = start_body(&w, "return function() wait() end", "aborted");
	CHECK(w.dones == 1 && w.failures == 1 && w.orphans == 1);
	CHECK(w.orphaned == &w.request && w.t.request == NULL);
	CHECK_STR(w.failed_verb, "aborted");
	CHECK(strstr(w.failed_msg, "stopped by its owner") != NULL);
	CHECK(!task_waiting(&w.t, w.ticket));
	lua_close(L);
}

int main(void)
{
	returns_to_parent();
	raise_gives_traceback();
	wait_and_resume();
	current_only_while_running();
	stray_yield_fails();
	abort_orphans_the_request();
	UNIT_DONE();
}
