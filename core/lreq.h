/* lreq: one request of a script's run to Redis — a command or a pipeline
 * written through the router — and its replies: converted into the
 * script's state under its memory limit and delivered to the coroutine that
 * waits for them (call, fcall, pipeline), or kept in a registry-anchored
 * results table until collect() asks (send). A request whose run ended is
 * orphaned: its replies are drained without touching any Lua state. */
#ifndef SCANHOST_LREQ_H
#define SCANHOST_LREQ_H

#include <stdbool.h>

#include <lua.h>

#include "lua_args.h"
#include "script.h"

/* One request from a task: a single command or a whole pipeline. */
struct lreq {
	struct script *script; /* owner (its task waits); NULL once orphaned */
	struct hostenv *env;
	unsigned ticket; /* task_wait's: the task still waits for this request */
	int ncmds;
	int remaining;
	int nerrors;
	bool pipeline;      /* results table: index 1 of the waiting coroutine */
	int slot_hint;      /* where a keyless command goes: the partition's slot, or -1 */
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

/* Allocated outside Lua: a request must outlive any raise. NULL when out
 * of memory (the caller raises: nothing was sent yet). */
struct lreq *lreq_new(struct script *s, int ncmds, bool pipeline);
/* Writes command i of q (false with err: not written). */
bool lreq_send_one(struct lreq *q, int i, const struct rargs *a, char *err, size_t errlen);
/* Writes every command of q (cmds[0 .. q->ncmds)); one that cannot be
 * written is marked unsent and the first such error kept in q->send_err.
 * Returns how many were written (the replies q waits for). */
int lreq_send_all(struct lreq *q, const struct rargs *cmds);
/* {err = err, transport = true}, the result of a command that failed on the wire. */
void lreq_push_transport_error(lua_State *L, const char *err);
/* lua_CFunction, q as light userdata at 1: the commands of q that could not
 * be written get their transport error in q's results table. */
int lreq_store_unsent(lua_State *L);
/* Pushes a complete sent request's results and error count on L (any
 * coroutine of the script's state), and frees the request. */
void lreq_take_sent(lua_State *L, struct script *s, struct lreq *q);
/* The run ended while waiting for q: its replies never reach Lua. */
void lreq_orphan(struct lreq *q);
/* The run ended: the requests it sent and never collected are dropped,
 * their replies drained without touching any Lua state. */
void lreq_drop_sent(struct script *s);

#endif
