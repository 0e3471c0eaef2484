/* task: a bare coroutine driver (rspamd's thread-pool shape).
 *
 * A task runs one Lua function in a fresh coroutine, anchored in the
 * registry of its parent state for as long as it runs, so that it cannot
 * be collected while a request is in flight. It is entered only through
 * lua_resume (never lua_pcall), so a binding can yield from it: the binding
 * sends its request, calls task_wait() and yields; the reply resumes the
 * task through task_resume() only if task_waiting() says the task still
 * waits for that very request (generation check: any later resume, or the
 * end of the task, changes the generation).
 *
 * The task knows nothing of what it runs. Its owner passes ops: guards
 * around every resume, the report of a failure, what to do with a request
 * still in flight when the task ends, and the end itself. */
#ifndef SCANHOST_TASK_H
#define SCANHOST_TASK_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

enum task_state { TASK_IDLE, TASK_RUNNING, TASK_YIELDED };

struct task_ops {
	/* Around every lua_resume: the owner arms its guards, then disarms
	 * them and says whether the run must stop now (returns a verb for the
	 * log, "aborted", with why in why[n]) or may go on (NULL). */
	void (*enter)(void *owner);
	const char *(*leave)(void *owner, char *why, size_t n);
	/* The run failed (verb: "raised an error", "ran out of memory", ...):
	 * its error with the coroutine's traceback is on top of the parent. */
	void (*failed)(void *owner, const char *verb);
	/* The task ended while waiting for request: its replies must never
	 * reach Lua. */
	void (*orphan)(void *owner, void *request);
	/* The task is idle again. Its outcome is on top of the parent state,
	 * nresults values: the body's results, or (failed) its error with
	 * traceback; done takes them. The owner may free the task here. */
	void (*done)(void *owner);
	/* Why a yield without a request is refused, for the log. */
	const char *stray_yield;
};

struct task {
	lua_State *L;  /* the parent: holds the anchor, receives the outcome */
	lua_State *co; /* the coroutine while the task runs */
	int co_ref;    /* registry anchor: the coroutine cannot be collected mid-request */
	unsigned gen;  /* bumped at every resume and at the end: stale replies are dropped */
	enum task_state state;
	void *request; /* the one request it waits for (NULL: none) */
	bool failed;   /* the last run ended in an error */
	int nresults;  /* the size of its outcome on the parent's stack */
	const struct task_ops *ops;
	void *owner;
};

void task_init(struct task *t);
/* Runs the function below nargs arguments on top of L in a new coroutine
 * of L. ops->done is always called, possibly before task_start returns. */
void task_start(struct task *t, const struct task_ops *ops, void *owner, lua_State *L, int nargs);
bool task_idle(const struct task *t);
/* Whether co is the coroutine of t, running now. */
bool task_is_current(const struct task *t, const lua_State *co);
/* The running task is about to yield until request completes; returns the
 * ticket that task_waiting checks. */
unsigned task_wait(struct task *t, void *request);
bool task_waiting(const struct task *t, unsigned ticket);
/* Resumes the task with nargs values already pushed on t->co. */
void task_resume(struct task *t, int nargs);

#endif
