/* lua_redis: ctx.redis, the class a scanner talks to Redis with — call,
 * fcall and pipeline, each one write and one yield, and send/collect; the
 * requests and their replies are lreq.c's.
 *
 *   reply | nil, err[, "transport"]  = ctx.redis:call(cmd, ...)
 *   reply | nil, err[, "transport"]  = ctx.redis:fcall(name, {keys...}, {args...})
 *   results, nerrors                 = ctx.redis:pipeline({{cmd, ...}, ...})
 *   handle                           = ctx.redis:send({{cmd, ...}, ...})
 *   results, nerrors                 = ctx.redis:collect(handle)
 *
 * send() writes a pipeline and returns at once, so a script can prepare its
 * next request while the server executes this one; collect() yields until
 * the replies are in (or returns them at once). Replies that arrive before
 * collect() are kept in a registry-anchored results table. Every request a
 * run sent and never collected is dropped when the run ends.
 *
 * Two error channels: Redis and I/O failures come back as values; misuse
 * (bad argument types, calling from the wrong place) raises, and always
 * before anything is sent. A transport failure (timeout, lost connection,
 * not connected, shutting down) is told apart from an error reply: a third
 * result "transport", or `transport = true` beside `err` in a pipeline
 * result. It says nothing about the item, only about the connection.

 */
#include "lua_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lreq.h"

#define REDIS_MT "scanhost.redis"

/* After the request is written: yield until on_reply resumes us. Nothing
 * here allocates, so nothing can raise once a command is on the wire. */
static int wait_for(lua_State *L, struct lreq *q)
{
	q->ticket = task_wait(&q->script->task, q);
	q->env->round_trips++;
	/* the coroutine's stack receives the reply; a pipeline yields its
	 * results table, which stays at index 1 of the suspended coroutine */
	int keep = q->pipeline ? 1 : 0;
	lua_settop(L, keep);
	return lua_yield(L, keep);
}

static int fail_now(lua_State *L, const char *err)
{
	lua_pushnil(L);
	lua_pushstring(L, err);
	lua_pushliteral(L, "transport");
	return 3;
}

/* Sends one command and yields for its reply (or returns nil, err now). */
static int send_and_wait(lua_State *L, struct script *s, const struct rargs *a)
{
	struct lreq *q = lreq_new(s, 1, false);
	if (!q)
		return luaL_error(L, "scanhost: out of memory");
	char err[160];
	if (!lreq_send_one(q, 0, a, err, sizeof(err))) {
		free(q);
		return fail_now(L, err);
	}
	return wait_for(L, q);
}

/* The script whose own coroutine calls: only its task may yield for a
 * reply. */
static struct script *current_script(lua_State *L)
{
	struct script *s = script_check_handle(L, REDIS_MT);
	if (!task_is_current(&s->task, L))
		luaL_error(
		    L, "scanhost: Redis calls are only allowed from the scanner's own "
		       "coroutine (inside scan(), not at top level, not in a nested coroutine)");
	return s;
}

static int lredis_call(lua_State *L)
{
	struct script *s = current_script(L);
	luaL_checkstring(L, 2);
	return send_and_wait(L, s, rargs_call(L, 2));
}

static int lredis_fcall(lua_State *L)
{
	struct script *s = current_script(L);
	luaL_checkstring(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	if (!lua_isnoneornil(L, 4))
		luaL_checktype(L, 4, LUA_TTABLE);
	lua_settop(L, 4);
	return send_and_wait(L, s, rargs_fcall(L, 2, 3, 4));
}

/* results, nerrors = redis:pipeline(cmds): every command is built, then
 * every command is written, then the single yield. A command that cannot
 * be written fails alone, with {err = ..., transport = true}. */
static int lredis_pipeline(lua_State *L)
{
	struct script *s = current_script(L);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	/* the results table first: after the vectors are built nothing may
	 * allocate until they are written (a finalizer could drop a string) */
	lua_createtable(L, (int)lua_objlen(L, 2), 0); /* results at 3 */
	int n;
	const struct rargs *cmds = rargs_pipeline(L, 2, &n); /* userdata at 4 */
	if (n == 0) {
		lua_pushvalue(L, 3);
		lua_pushinteger(L, 0);
		return 2;
	}
	struct lreq *q = lreq_new(s, n, true);
	if (!q)
		return luaL_error(L, "scanhost: out of memory");
	if (lreq_send_all(q, cmds) > 0) {
		lua_pushvalue(L, 3);
		lua_replace(L, 1); /* results at 1 (the handle is no longer needed) */
		return wait_for(L, q);
	}
	/* nothing was written: answer now (a raise is still harmless here) */
	char why[sizeof(q->send_err)];
	snprintf(why, sizeof(why), "%s", q->send_err);
	free(q);
	for (int i = 1; i <= n; i++) {
		lreq_push_transport_error(L, why);
		lua_rawseti(L, 3, i);
	}
	lua_pushvalue(L, 3);
	lua_pushinteger(L, n);
	return 2;
}

/* handle = redis:send(cmds): the commands are written now; the results,
 * as pipeline() gives them, come from collect(handle). */
static int lredis_send(lua_State *L)
{
	struct script *s = current_script(L);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	/* the results table and its anchor first: nothing may allocate between
	 * building the vectors and writing them */
	lua_createtable(L, (int)lua_objlen(L, 2), 0);
	int ref = luaL_ref(L, LUA_REGISTRYINDEX);
	int n;
	const struct rargs *cmds = rargs_pipeline(L, 2, &n);
	struct lreq *q = lreq_new(s, n, true);
	if (!q) {
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		return luaL_error(L, "scanhost: out of memory");
	}
	q->sent = true;
	q->results_ref = ref;
	q->id = ++s->next_sent_id;
	int written = lreq_send_all(q, cmds);
	q->next = s->sent;
	s->sent = q;
	if (written > 0)
		s->env->round_trips++;
	/* after the writes, allocating is harmless again */
	lua_settop(L, 0);
	lua_pushlightuserdata(L, q);
	lreq_store_unsent(L);
	lua_settop(L, 0);
	lua_pushinteger(L, q->id);
	return 1;
}

/* results, nerrors = redis:collect(handle): yields until the request's
 * replies are in, unless they already are. */
static int lredis_collect(lua_State *L)
{
	struct script *s = current_script(L);
	lua_Integer id = luaL_checkinteger(L, 2);
	struct lreq *q = s->sent;
	while (q && q->id != id)
		q = q->next;
	if (!q)
		return luaL_error(L, "scanhost: collect(%d): no such request (already collected?)",
		                  (int)id);
	lua_settop(L, 0);
	if (q->remaining == 0) {
		lreq_take_sent(L, s, q);
		return 2;
	}
	q->waited = true;
	q->ticket = task_wait(&s->task, q);
	return lua_yield(L, 0);
}

static const luaL_Reg redis_methods[] = {
	{ "call", lredis_call }, { "fcall", lredis_fcall },     { "pipeline", lredis_pipeline },
	{ "send", lredis_send }, { "collect", lredis_collect }, { NULL, NULL },
};

void lredis_open(lua_State *L)
{
	if (!luaL_newmetatable(L, REDIS_MT)) {
		lua_pop(L, 1);
		return;
	}
	lua_newtable(L);
	luaL_register(L, NULL, redis_methods);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "scanhost.redis");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}

void lredis_push(lua_State *L, struct script *s)
{
	script_push_handle(L, s, REDIS_MT);
}
