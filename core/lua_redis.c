/* lua_redis: ctx.redis — call, fcall and pipeline, each one write and one
 * yield; the reply callback converts the replies (protected) and resumes the
 * waiting coroutine.
 *
 *   reply | nil, err      = ctx.redis:call(cmd, ...)
 *   reply | nil, err      = ctx.redis:fcall(name, {keys...}, {args...})
 *   results, nerrors      = ctx.redis:pipeline({{cmd, ...}, ...})
 *
 * Two error channels: Redis and I/O failures come back as values; misuse
 * (bad argument types, calling from the wrong place) raises. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_reply.h"
#include "redis.h"
#include "script.h"

#define REDIS_MT "scanhost.redis"
#define MAX_ARGS 1000000 /* a sanity bound; buffers are sized to each call */

/* One request from a task: a single command or a whole pipeline. */
struct lreq {
	struct task *task;
	unsigned gen;
	int ncmds;
	int remaining;
	int nerrors;
	bool pipeline;
	int results_ref; /* pipeline: table anchored in the registry */
	struct lslot {
		struct lreq *req;
		int index;
	} slots[];
};

/* A flat argv built from Lua values, allocated as a userdata on the Lua
 * stack: an argument error raised half-way leaks nothing. The strings point
 * into the Lua stack, which stays put until the command is formatted
 * (hiredis copies it). */
struct argv_buf {
	int argc, cap;
	const char **argv;
	size_t *len;
};

static struct argv_buf *new_argv(lua_State *L, int cap)
{
	if (cap > MAX_ARGS)
		luaL_error(L, "scanhost: too many arguments (max %d)", MAX_ARGS);
	struct argv_buf *b =
	    lua_newuserdata(L, sizeof(*b) + (size_t)cap * (sizeof(char *) + sizeof(size_t)));
	b->argc = 0;
	b->cap = cap;
	b->argv = (const char **)(b + 1);
	b->len = (size_t *)(b->argv + cap);
	return b;
}

static struct script *check_handle(lua_State *L)
{
	struct script **h = luaL_checkudata(L, 1, REDIS_MT);
	if (!*h)
		luaL_error(L, "scanhost: this ctx is closed");
	return *h;
}

/* Integral numbers go out as integers: 1713600000000, never 1.7136e+12. */
static void add_arg(lua_State *L, struct argv_buf *b, int idx, const char *what)
{
	if (b->argc >= b->cap)
		luaL_error(L, "scanhost: too many arguments (max %d)", b->cap);
	int t = lua_type(L, idx);
	if (t == LUA_TNUMBER) {
		lua_Number v = lua_tonumber(L, idx);
		char tmp[32];
		int n = (v == floor(v) && fabs(v) < 1e18) ? snprintf(tmp, sizeof(tmp), "%.0f", v)
		                                          : snprintf(tmp, sizeof(tmp), "%.17g", v);
		lua_pushlstring(L, tmp, (size_t)n); /* kept alive on the stack */
		lua_replace(L, idx);
		t = LUA_TSTRING;
	}
	if (t != LUA_TSTRING)
		luaL_error(L, "scanhost: %s must be strings or numbers, got %s", what,
		           lua_typename(L, t));
	b->argv[b->argc] = lua_tolstring(L, idx, &b->len[b->argc]);
	b->argc++;
}

/* Appends the array at idx (absolute) to argv. */
static void add_array(lua_State *L, struct argv_buf *b, int idx, const char *what)
{
	if (lua_isnoneornil(L, idx))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	int n = (int)lua_objlen(L, idx);
	luaL_checkstack(L, n + 8, "too many arguments");
	for (int i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		add_arg(L, b, lua_gettop(L), what);
	}
}

static bool task_alive(const struct lreq *q)
{
	return q->task->gen == q->gen && q->task->state == TASK_YIELDED;
}

/* Protected part of a single reply: push the result pair on the coroutine. */
struct push_args {
	struct lreq *q;
	const redisReply *reply;
	const char *err;
	int index;
};

static int push_single(lua_State *L)
{
	struct push_args *a = lua_touserdata(L, 1);
	lua_State *co = a->q->task->co;
	if (a->err || a->reply->type == REDIS_REPLY_ERROR) {
		lua_pushnil(co);
		if (a->err)
			lua_pushstring(co, a->err);
		else
			lua_pushlstring(co, a->reply->str, a->reply->len);
		return 0;
	}
	reply_push(L, a->reply);
	lua_xmove(L, co, 1);
	return 0;
}

static int store_pipelined(lua_State *L)
{
	struct push_args *a = lua_touserdata(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, a->q->results_ref);
	if (a->err) {
		lua_createtable(L, 0, 1);
		lua_pushstring(L, a->err);
		lua_setfield(L, -2, "err");
	} else {
		reply_push(L, a->reply);
	}
	lua_rawseti(L, -2, a->index);
	return 0;
}

static void deliver(struct lreq *q)
{
	struct task *t = q->task;
	lua_State *L = t->script->L;
	int nargs;
	t->pending--;
	if (q->pipeline) {
		lua_rawgeti(t->co, LUA_REGISTRYINDEX, q->results_ref);
		lua_pushinteger(t->co, q->nerrors);
		nargs = 2;
	} else {
		nargs = lua_gettop(t->co);
	}
	luaL_unref(L, LUA_REGISTRYINDEX, q->results_ref);
	free(q);
	task_resume(t, nargs);
}

/* Some error replies concern the server, not the item: tell the host. */
static void notice_error_reply(struct hostenv *env, const char *msg)
{
	if (strstr(msg, "Function not found") && env->function_missing)
		env->function_missing(env);
	else if ((strncmp(msg, "BUSY", 4) == 0 || strncmp(msg, "LOADING", 7) == 0) &&
	         env->server_busy)
		env->server_busy(env, msg);
}

static void on_reply(void *priv, redisReply *reply, const char *err)
{
	struct lslot *slot = priv;
	struct lreq *q = slot->req;
	q->remaining--;
	if (err || reply->type == REDIS_REPLY_ERROR)
		q->nerrors++;
	struct hostenv *env = q->task->script->env;
	if (!err && reply->type == REDIS_REPLY_ERROR)
		notice_error_reply(env, reply->str);
	if (task_alive(q)) {
		struct push_args a = { q, reply, err, slot->index };
		lua_State *L = q->task->script->L;
		if (lua_cpcall(L, q->pipeline ? store_pipelined : push_single, &a) != 0) {
			lua_pop(L, 1); /* out of memory while converting */
			if (!q->pipeline) {
				lua_pushnil(q->task->co);
				lua_pushliteral(q->task->co, "out of memory converting the reply");
			}
		}
	}
	if (q->remaining > 0)
		return;
	if (task_alive(q)) {
		deliver(q);
		return;
	}
	/* the task went away (cannot happen with a live connection contract,
	 * but a stale reply must never resume anything) */
	if (q->results_ref != LUA_NOREF && !q->task->script->retired)
		luaL_unref(q->task->script->L, LUA_REGISTRYINDEX, q->results_ref);
	free(q);
}

static struct lreq *new_request(lua_State *L, struct task *t, int ncmds, bool pipeline)
{
	struct lreq *q = calloc(1, sizeof(*q) + (size_t)ncmds * sizeof(struct lslot));
	if (!q) {
		luaL_error(L, "scanhost: out of memory");
		abort(); /* not reached: luaL_error longjmps */
	}
	q->task = t;
	q->ncmds = ncmds;
	q->pipeline = pipeline;
	q->results_ref = LUA_NOREF;
	for (int i = 0; i < ncmds; i++)
		q->slots[i] = (struct lslot){ q, i + 1 };
	return q;
}

static int send_one(struct lreq *q, int i, struct argv_buf *b, char *err, size_t errlen)
{
	struct rconn *c = q->task->script->env->conn;
	if (!c) {
		snprintf(err, errlen, "not connected to redis");
		return 0;
	}
	return rconn_send(c, b->argc, b->argv, b->len, on_reply, &q->slots[i], err, errlen);
}

/* After the request is written: yield until on_reply resumes us. */
static int wait_for(lua_State *L, struct lreq *q)
{
	struct task *t = q->task;
	q->gen = t->gen; /* any later resume or end of the task changes it */
	task_begin_wait(t);
	t->script->env->round_trips++;
	return lua_yield(L, 0);
}

static int fail_now(lua_State *L, const char *err)
{
	lua_pushnil(L);
	lua_pushstring(L, err);
	return 2;
}

/* Sends one command and yields for its reply (or returns nil, err now). */
static int send_and_wait(lua_State *L, struct task *t, struct argv_buf *b)
{
	struct lreq *q = new_request(L, t, 1, false);
	char err[160];
	if (!send_one(q, 0, b, err, sizeof(err))) {
		free(q);
		return fail_now(L, err);
	}
	lua_settop(L, 0); /* the coroutine's stack will receive the reply */
	return wait_for(L, q);
}

static int lredis_call(lua_State *L)
{
	struct script *s = check_handle(L);
	struct task *t = task_current(L, s);
	luaL_checkstring(L, 2);
	int top = lua_gettop(L);
	struct argv_buf *b = new_argv(L, top - 1);
	for (int i = 2; i <= top; i++)
		add_arg(L, b, i, "command arguments");
	return send_and_wait(L, t, b);
}

static int lredis_fcall(lua_State *L)
{
	struct script *s = check_handle(L);
	struct task *t = task_current(L, s);
	luaL_checkstring(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	if (!lua_isnoneornil(L, 4))
		luaL_checktype(L, 4, LUA_TTABLE);
	lua_settop(L, 4);
	int nkeys = (int)lua_objlen(L, 3);
	int nargs = lua_istable(L, 4) ? (int)lua_objlen(L, 4) : 0;
	struct argv_buf *b = new_argv(L, 3 + nkeys + nargs);
	lua_pushliteral(L, "FCALL");
	add_arg(L, b, lua_gettop(L), "fcall");
	add_arg(L, b, 2, "the function name");
	lua_pushinteger(L, nkeys);
	add_arg(L, b, lua_gettop(L), "fcall");
	add_array(L, b, 3, "keys");
	add_array(L, b, 4, "args");
	return send_and_wait(L, t, b);
}

/* results, nerrors = redis:pipeline(cmds): every command is written before
 * the single yield. A command that cannot be queued fails alone. */
static int lredis_pipeline(lua_State *L)
{
	struct script *s = check_handle(L);
	struct task *t = task_current(L, s);
	luaL_checktype(L, 2, LUA_TTABLE);
	int n = (int)lua_objlen(L, 2);
	lua_settop(L, 2);
	for (int i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, i);
		if (!lua_istable(L, -1) || lua_objlen(L, -1) == 0)
			return luaL_error(
			    L, "scanhost: pipeline command %d must be a non-empty array", i);
		lua_pop(L, 1);
	}
	lua_createtable(L, n, 0);
	if (n == 0) {
		lua_pushinteger(L, 0);
		return 2;
	}
	/* arguments are checked before anything is sent or allocated in C */
	for (int i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, i);
		int len = (int)lua_objlen(L, -1);
		for (int j = 1; j <= len; j++) {
			lua_rawgeti(L, -1, j);
			int ty = lua_type(L, -1);
			if (ty != LUA_TSTRING && ty != LUA_TNUMBER)
				return luaL_error(
				    L,
				    "scanhost: pipeline command %d argument %d must be a "
				    "string or a number, got %s",
				    i, j, lua_typename(L, ty));
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	struct lreq *q = new_request(L, t, n, true);
	lua_pushvalue(L, -1);
	q->results_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	char err[160];
	int sent = 0;
	for (int i = 1; i <= n; i++) {
		int base = lua_gettop(L);
		lua_rawgeti(L, 2, i);
		struct argv_buf *b = new_argv(L, (int)lua_objlen(L, -1));
		add_array(L, b, base + 1, "pipeline command arguments");
		if (send_one(q, i - 1, b, err, sizeof(err))) {
			sent++;
		} else {
			lua_createtable(L, 0, 1);
			lua_pushstring(L, err);
			lua_setfield(L, -2, "err");
			lua_rawseti(L, 3, i);
			q->nerrors++;
		}
		lua_settop(L, base);
	}
	q->remaining = sent;
	if (sent == 0) {
		int nerr = q->nerrors;
		luaL_unref(L, LUA_REGISTRYINDEX, q->results_ref);
		free(q);
		lua_pushinteger(L, nerr);
		return 2;
	}
	lua_settop(L, 0);
	return wait_for(L, q);
}

static const luaL_Reg redis_methods[] = {
	{ "call", lredis_call },
	{ "fcall", lredis_fcall },
	{ "pipeline", lredis_pipeline },
	{ NULL, NULL },
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
	struct script **h = lua_newuserdata(L, sizeof(*h));
	*h = s;
	luaL_getmetatable(L, REDIS_MT);
	lua_setmetatable(L, -2);
}
