/* lreq: a request in flight and its replies (see lreq.h).
 *
 * Ownership: a request is owned by its run from the write to its last
 * reply. If the run ends first (it cannot with the yield rules for call,
 * fcall and pipeline, but a stale reply must never touch Lua), the request
 * is orphaned and its replies are drained without touching any state. */
#include "lreq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_reply.h"
#include "router.h"
#include "slot.h"
#include "watchdog.h"

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

void lreq_push_transport_error(lua_State *L, const char *err)
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
		lreq_push_transport_error(L, a->err);
	else
		reply_push(L, a->reply);
	lua_rawseti(L, -2, a->index);
	return 0;
}

/* The commands a pipeline could not write get their {err, transport}. */
int lreq_store_unsent(lua_State *L)
{
	struct lreq *q = lua_touserdata(L, 1);
	push_results(L, q);
	for (int i = 0; i < q->ncmds; i++) {
		if (!q->slots[i].unsent)
			continue;
		lreq_push_transport_error(L, q->send_err);
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
		protected_call(s, lreq_store_unsent, q);
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

void lreq_orphan(struct lreq *q)
{
	if (!q->sent) /* a sent one is dropped with the others (lreq_drop_sent) */
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
void lreq_take_sent(lua_State *L, struct script *s, struct lreq *q)
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
	lreq_take_sent(s->task.co, s, q);
	task_resume(&s->task, 2);
}

void lreq_drop_sent(struct script *s)
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
struct lreq *lreq_new(struct script *s, int ncmds, bool pipeline)
{
	struct lreq *q = calloc(1, sizeof(*q) + (size_t)ncmds * sizeof(struct lslot));
	if (!q)
		return NULL;
	q->script = s;
	q->env = s->env;
	q->ncmds = ncmds;
	q->remaining = ncmds; /* a pipeline lowers it to the commands it wrote */
	q->pipeline = pipeline;
	/* once per request, not per command: a drain's pipelines hold thousands */
	q->slot_hint = s->run.partition >= 0
	                   ? slot_of_partition(family_tag_prefix(s->family), s->run.partition)
	                   : -1;
	for (int i = 0; i < ncmds; i++)
		q->slots[i] = (struct lslot){ q, i + 1, false };
	return q;
}

/* A keyless command (TIME) goes to the node holding the partition being
 * scanned: "now" comes from the clock of the server that holds the data. */
bool lreq_send_one(struct lreq *q, int i, const struct rargs *a, char *err, size_t errlen)
{
	struct router *r = q->env->router;
	if (!r) {
		snprintf(err, errlen, "not connected to redis");
		return false;
	}
	return router_send(r, q->slot_hint, a->argc, a->argv, a->len, on_reply, &q->slots[i], err,
	                   errlen);
}

int lreq_send_all(struct lreq *q, const struct rargs *cmds)
{
	int written = 0;
	for (int i = 0; i < q->ncmds; i++) {
		char err[sizeof(q->send_err)];
		if (lreq_send_one(q, i, &cmds[i], err, sizeof(err))) {
			written++;
			continue;
		}
		q->slots[i].unsent = true;
		q->nerrors++;
		if (!q->send_err[0])
			snprintf(q->send_err, sizeof(q->send_err), "%s", err);
	}
	q->remaining = written;
	return written;
}
