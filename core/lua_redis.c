/* lua_redis: ctx.redis — call, fcall and pipeline, each one write and one
 * yield; the reply callback converts the replies (protected) and resumes the
 * waiting coroutine.
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
 *
 * Ownership: a request (struct lreq) is owned by its task from the write to
 * its last reply. If the task ends first (it cannot with the yield rules,
 * but a stale reply must never touch Lua), the task orphans the request and
 * its replies are drained without touching any state. */
#include "lua_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_args.h"
#include "lua_reply.h"
#include "router.h"
#include "slot.h"
#include "watchdog.h"

#define REDIS_MT "scanhost.redis"

/* One request from a task: a single command or a whole pipeline. */
struct lreq {
	struct script *script; /* owner (its task waits); NULL once orphaned */
	struct hostenv *env;
	unsigned ticket; /* task_wait's: the task still waits for this request */
	int ncmds;
	int remaining;
	int nerrors;
	bool pipeline;      /* results table: index 1 of the waiting coroutine */
	bool sent;          /* by send(): results in results_ref, s->sent lists it */
	bool waited;        /* collect() yields for it */
	int results_ref;    /* send()'s results table (registry of the script's state) */
	int id;             /* send()'s handle */
	struct lreq *next;  /* in s->sent */
	char send_err[160]; /* why the unsent commands of a pipeline failed */
	struct lslot {
		struct lreq *req;
		int index;
		bool unsent;
	} slots[];
};

static bool task_alive(const struct lreq *q)
{
	return q->script && task_waiting(&q->script->task, q->ticket);
}

/* Protected part of a reply: push the result on the coroutine, or store
 * it in the pipeline's results. */
struct push_args {
	struct lreq *q;
	const redisReply *reply;
	const char *err;
	int index;
};

static int push_single(lua_State *L)
{
	struct push_args *a = lua_touserdata(L, 1);
	lua_State *co = a->q->script->task.co;
	if (a->err) {
		lua_pushnil(co);
		lua_pushstring(co, a->err);
		lua_pushliteral(co, "transport");
	} else if (a->reply->type == REDIS_REPLY_ERROR) {
		lua_pushnil(co);
		lua_pushlstring(co, a->reply->str, a->reply->len);
	} else {
		reply_push(L, a->reply);
		lua_xmove(L, co, 1);
	}
	return 0;
}

static void push_transport_error(lua_State *L, const char *err)
{
	lua_createtable(L, 0, 2);
	lua_pushstring(L, err);
	lua_setfield(L, -2, "err");
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "transport");
}

/* Pushes the pipeline's results table: in the registry for send(), else on
 * the waiting coroutine's stack. */
static void push_results(lua_State *L, struct lreq *q)
{
	if (q->sent) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, q->results_ref);
		return;
	}
	lua_State *co = q->script->task.co;
	lua_pushvalue(co, 1);
	lua_xmove(co, L, 1);
}

static int store_pipelined(lua_State *L)
{
	struct push_args *a = lua_touserdata(L, 1);
	push_results(L, a->q);
	if (a->err)
		push_transport_error(L, a->err);
	else
		reply_push(L, a->reply);
	lua_rawseti(L, -2, a->index);
	return 0;
}

/* The commands a pipeline could not write get their {err, transport}. */
static int store_unsent(lua_State *L)
{
	struct lreq *q = lua_touserdata(L, 1);
	push_results(L, q);
	for (int i = 0; i < q->ncmds; i++) {
		if (!q->slots[i].unsent)
			continue;
		push_transport_error(L, q->send_err);
		lua_rawseti(L, -2, i + 1);
	}
	return 0;
}

/* lua_cpcall under the script's memory limit: a failed allocation fails
 * the conversion, never the process. */
static bool protected_call(struct script *s, lua_CFunction fn, void *ud)
{
	memlimit_protect(&s->mem);
	int rc = lua_cpcall(s->L, fn, ud);
	memlimit_unprotect(&s->mem);
	if (rc != 0)
		lua_pop(s->L, 1);
	return rc == 0;
}

static void deliver(struct lreq *q)
{
	struct script *s = q->script;
	struct task *t = &s->task;
	int nargs;
	if (q->pipeline) {
		protected_call(s, store_unsent, q);
		lua_settop(t->co, 1); /* the results */
		lua_pushinteger(t->co, q->nerrors);
	}
	nargs = lua_gettop(t->co);
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

static void convert(struct lreq *q, const redisReply *reply, const char *err, int index)
{
	struct push_args a = { q, reply, err, index };
	if (protected_call(q->script, q->pipeline ? store_pipelined : push_single, &a) ||
	    q->pipeline)
		return;
	/* out of memory converting a single reply: outside protection the
	 * allocator never fails, and the limit stops the scanner afterwards */
	lua_State *co = q->script->task.co;
	lua_settop(co, 0);
	lua_pushnil(co);
	lua_pushliteral(co, "out of memory converting the reply");
}

static void deliver_sent(struct lreq *q);

static void on_reply(void *priv, redisReply *reply, const char *err)
{
	struct lslot *slot = priv;
	struct lreq *q = slot->req;
	q->remaining--;
	if (err || reply->type == REDIS_REPLY_ERROR)
		q->nerrors++;
	if (!err && reply->type == REDIS_REPLY_ERROR)
		notice_error_reply(q->env, reply->str);
	if (q->sent && q->script) {
		/* kept in the registry whether or not collect() waits yet */
		struct script *s = q->script;
		watchdog_enter(s->name, s->run.partition, "a Redis reply");
		convert(q, reply, err, slot->index);
		if (q->remaining == 0 && q->waited && task_waiting(&s->task, q->ticket))
			deliver_sent(q);
		watchdog_leave();
		return;
	}
	if (!task_alive(q)) {
		/* orphaned or stale: drain without touching any Lua state */
		if (q->remaining == 0)
			free(q);
		return;
	}
	struct script *s = q->script;
	watchdog_enter(s->name, s->run.partition, "a Redis reply");
	convert(q, reply, err, slot->index);
	if (q->remaining == 0)
		deliver(q);
	watchdog_leave();
}

void lredis_orphan(struct lreq *q)
{
	if (!q->sent) /* a sent one is dropped with the others (lredis_drop_sent) */
		q->script = NULL;
}

static void unlink_sent(struct script *s, const struct lreq *q)
{
	for (struct lreq **p = &s->sent; *p; p = &(*p)->next) {
		if (*p == q) {
			*p = q->next;
			return;
		}
	}
}

/* Pushes a complete sent request's results and error count on L (any
 * coroutine of the script's state), and frees the request. */
static void take_sent(lua_State *L, struct script *s, struct lreq *q)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, q->results_ref);
	lua_pushinteger(L, q->nerrors);
	luaL_unref(s->L, LUA_REGISTRYINDEX, q->results_ref);
	unlink_sent(s, q);
	free(q);
}

/* The last reply of the request collect() waits for: resume with it. */
static void deliver_sent(struct lreq *q)
{
	struct script *s = q->script;
	lua_settop(s->task.co, 0);
	take_sent(s->task.co, s, q);
	task_resume(&s->task, 2);
}

void lredis_drop_sent(struct script *s)
{
	while (s->sent) {
		struct lreq *q = s->sent;
		s->sent = q->next;
		luaL_unref(s->L, LUA_REGISTRYINDEX, q->results_ref);
		q->script = NULL; /* replies still to come are drained */
		if (q->remaining == 0)
			free(q);
	}
}

/* Allocated outside Lua: a request must outlive any raise. NULL when out
 * of memory (the caller raises: nothing was sent yet). */
static struct lreq *new_request(struct script *s, int ncmds, bool pipeline)
{
	struct lreq *q = calloc(1, sizeof(*q) + (size_t)ncmds * sizeof(struct lslot));
	if (!q)
		return NULL;
	q->script = s;
	q->env = s->env;
	q->ncmds = ncmds;
	q->remaining = ncmds; /* a pipeline lowers it to the commands it wrote */
	q->pipeline = pipeline;
	for (int i = 0; i < ncmds; i++)
		q->slots[i] = (struct lslot){ q, i + 1, false };
	return q;
}

/* A keyless command (TIME) goes to the node holding the partition being
 * scanned: "now" comes from the clock of the server that holds the data. */
static bool send_one(struct lreq *q, int i, const struct rargs *a, char *err, size_t errlen)
{
	struct router *r = q->env->router;
	if (!r) {
		snprintf(err, errlen, "not connected to redis");
		return false;
	}
	const struct script *s = q->script;
	int hint = s->run.partition >= 0
	               ? slot_of_partition(family_tag_prefix(s->family), s->run.partition)
	               : -1;
	return router_send(r, hint, a->argc, a->argv, a->len, on_reply, &q->slots[i], err, errlen);
}

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
	struct lreq *q = new_request(s, 1, false);
	if (!q)
		return luaL_error(L, "scanhost: out of memory");
	char err[160];
	if (!send_one(q, 0, a, err, sizeof(err))) {
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
	struct lreq *q = new_request(s, n, true);
	if (!q)
		return luaL_error(L, "scanhost: out of memory");
	int sent = 0;
	for (int i = 0; i < n; i++) {
		char err[sizeof(q->send_err)];
		if (send_one(q, i, &cmds[i], err, sizeof(err))) {
			sent++;
			continue;
		}
		q->slots[i].unsent = true;
		q->nerrors++;
		if (!q->send_err[0])
			snprintf(q->send_err, sizeof(q->send_err), "%s", err);
	}
	q->remaining = sent;
	if (sent > 0) {
		lua_pushvalue(L, 3);
		lua_replace(L, 1); /* results at 1 (the handle is no longer needed) */
		return wait_for(L, q);
	}
	/* nothing was written: answer now (a raise is still harmless here) */
	char why[sizeof(q->send_err)];
	snprintf(why, sizeof(why), "%s", q->send_err);
	free(q);
	for (int i = 1; i <= n; i++) {
		push_transport_error(L, why);
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
	struct lreq *q = new_request(s, n, true);
	if (!q) {
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		return luaL_error(L, "scanhost: out of memory");
	}
	q->sent = true;
	q->results_ref = ref;
	q->id = ++s->next_sent_id;
	int written = 0;
	for (int i = 0; i < n; i++) {
		char err[sizeof(q->send_err)];
		if (send_one(q, i, &cmds[i], err, sizeof(err))) {
			written++;
			continue;
		}
		q->slots[i].unsent = true;
		q->nerrors++;
		if (!q->send_err[0])
			snprintf(q->send_err, sizeof(q->send_err), "%s", err);
	}
	q->remaining = written;
	q->next = s->sent;
	s->sent = q;
	if (written > 0)
		s->env->round_trips++;
	/* after the writes, allocating is harmless again */
	lua_settop(L, 0);
	lua_pushlightuserdata(L, q);
	store_unsent(L);
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
		take_sent(L, s, q);
		return 2;
	}
	q->waited = true;
	q->ticket = task_wait(&s->task, q);
	return lua_yield(L, 0);
}

static const luaL_Reg redis_methods[] = {
	{ "call", lredis_call },
	{ "fcall", lredis_fcall },
	{ "pipeline", lredis_pipeline },
	{ "send", lredis_send },
	{ "collect", lredis_collect },
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
	script_push_handle(L, s, REDIS_MT);
}
