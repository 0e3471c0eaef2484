/* script: one loaded scanner script in its own lua_State, plus the task that
 * runs its scan() for one partition in a registry-anchored coroutine.
 *
 * Each scanner gets its own lua_State so that a reload replaces exactly one
 * scanner, a broken script can never disturb another one's globals, and an
 * old version retires by closing its state once its last partition scan has
 * finished. */
#ifndef SCANHOST_SCRIPT_H
#define SCANHOST_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <lua.h>

#include "backlog.h"
#include "claims.h"
#include "clock.h"
#include "memlimit.h"
#include "runaway.h"
#include "runner.h"
#include "tracker.h"

#define SCANNER_NAME_MAX    64
#define SCRIPT_MAX_VERSIONS 8 /* entries of a scanner's library_versions */

enum family { FAMILY_EXECUTION, FAMILY_FLOW, FAMILY_BUDGET, FAMILY_QUOTA, FAMILY_COUNT };

const char *family_name(enum family f);
bool family_parse(const char *s, enum family *out);
const char *family_tag_prefix(enum family f); /* "fp", "b", "q" */

/* What every script and binding needs from the host. */
struct hostenv {
	struct ev_loop *loop;
	struct router *router; /* every command goes through it (router.h) */
	bool stopping;
	int partitions[FAMILY_COUNT];
	const char **lanes;
	int nlanes;
	const char *library;         /* "flowfabric", "scanhost" or NULL */
	const char *library_version; /* what ff_version answered: "5", "34", other, "" */
	const char *lua_lib_dir;     /* always on package.path */
	const char *lua_path;        /* extra directory, may be NULL */
	lua_State *conf_L;           /* the config file's state, kept for overrides */
	int overrides_ref;           /* registry ref in conf_L of config.scanners, or LUA_NOREF */
	uint64_t round_trips;        /* request batches written by scripts */
	const struct clock *clock;   /* the host's (injected) clock: cycle times */
	double scan_timeout;         /* seconds a script may run without yielding */
	bool claims;                 /* claim partitions before acting (several instances) */
	bool once;                   /* --once: one cycle that drains what is due (ctx.once) */
	const struct scan_filter *filter; /* ctx.filter (NULL = none) */
	char instance_id[CLAIMS_ID_MAX];  /* this process: ctx.instance_id, claim values */
	size_t lua_memory;                /* bytes each scanner state may allocate (0 = no limit) */
	/* An error reply said a server-side function is missing (e.g. the
	 * library was flushed): the host re-checks its library. */
	void (*function_missing)(struct hostenv *env);
	/* A BUSY or LOADING reply: the server cannot serve now; pause cycles. */
	void (*server_busy)(struct hostenv *env, const char *reply);
	void *host;
};

struct script;
struct task;
struct lreq;

/* Called when a partition scan ends, however it ends. */
typedef void (*task_done_fn)(void *data, const struct tally *t);

enum task_state { TASK_IDLE, TASK_RUNNING, TASK_YIELDED };

struct task {
	struct script *script;
	lua_State *co;
	int co_ref;   /* registry anchor: the coroutine cannot be collected mid-request */
	unsigned gen; /* bumped at every resume and at the end: stale replies are dropped */
	enum task_state state;
	int partition;
	const char *what;      /* "scan()", "select()": for logs and the watchdog */
	int pending;           /* requests in flight (0 or 1: a task waits for one at a time) */
	struct lreq *inflight; /* that request: orphaned if the task ends first */
	task_done_fn done;
	void *done_data;
	/* Test module only: leave the body's results (or its error with
	 * traceback) on the script's stack instead of counting them. */
	bool keep_results;
	bool failed;
	int nresults;
};

struct script {
	lua_State *L;
	bool owns_L;
	bool mem_counted; /* L uses the counting allocator (else: lua_gc counts) */
	struct hostenv *env;
	struct tracker *tracker; /* borrowed from the scanner slot (durable) */
	struct claims *claims;   /* borrowed from the scanner slot, or NULL */
	struct backlog *backlog; /* borrowed from the scanner slot: this cycle's, or NULL */
	char path[1024];
	char *modules;      /* the Lua files its top level required, NUL-separated */
	size_t modules_len; /* bytes in modules, NULs included */
	uint64_t digest;    /* of the file and those modules (script_digest) */
	char name[SCANNER_NAME_MAX + 1];
	enum family family;
	double interval;
	bool enabled;
	int scan_ref;
	int select_ref;     /* optional select(ctx, partitions), or LUA_NOREF */
	int selected_ref;   /* the last select() result: scan()'s third argument */
	int observe_ref;    /* optional observe(ctx, partitions): run instead of select()
	                     * while the scanner is paused (reads only), or LUA_NOREF */
	bool observing;     /* this cycle runs observe(): the scanner is paused */
	bool runaway;       /* aborted for running too long without yielding */
	bool over_memory;   /* went over lua_memory: stopped, state to discard */
	double cycle_start; /* monotonic start of the current cycle: ctx:elapsed() */
	int config_ref;     /* merged options table: ctx.config */
	int ctx_ref;        /* the ctx table reused by every partition scan */
	/* library_versions: the versions it runs with (none declared: any) */
	char library_versions[SCRIPT_MAX_VERSIONS][16];
	int nlibrary_versions;
	struct task task;
	struct memlimit mem; /* counts L's allocations (owned states) */
	bool retired;        /* replaced or removed: close once the task is idle */
};

/* Loads and validates a scanner file into a fresh lua_State. On failure
 * returns NULL and writes a message (with traceback) to err; *bad_option
 * tells a configuration error (an override naming an unknown option, a
 * value out of the scanner's bounds: the message names
 * scanners.NAME.OPTION) from a problem of the file itself. */
struct script *script_load(struct hostenv *env, const char *path, char *err, size_t errlen,
                           bool *bad_option);
/* Wraps an existing state (the busted test module): no file, no scan(). */
struct script *script_wrap(struct hostenv *env, lua_State *L, const char *name);
void script_free(struct script *s);
/* Retire: free now if idle, else when the running task ends. */
void script_retire(struct script *s);

/* Whether the script runs with the library version given: it declares no
 * library_versions, or the version is one of them. */
bool script_accepts_library(const struct script *s, const char *version);

/* Prepares package.path/cpath on a state: lua-lib plus the extra path. */
void script_setup_paths(lua_State *L, const struct hostenv *env);

/* FNV-1a 64 of a buffer; scripts are identified by the digest of their text. */
uint64_t digest_bytes(const char *p, size_t n);
bool digest_file(const char *path, uint64_t *out);
/* The digest of a loaded scanner as its files are on disk now: its file and
 * the modules its top level required (in load order). False if one of them
 * cannot be read. SIGUSR1 reloads a scanner whose digest changed. */
bool script_digest(const struct script *s, uint64_t *out);

/* Runs scan(ctx, partition[, selected[partition]]) in a new coroutine. done is
 * always called, possibly before task_start returns. */
void task_start(struct script *s, int partition, task_done_fn done, void *data);
/* Runs select(ctx, {first..first+count-1}) (observe() when s->observing);
 * its result is left on the script's stack (keep_results) for the caller's
 * done callback. */
void task_start_select(struct script *s, int first, int count, task_done_fn done, void *data);
/* Runs fn (on the script's stack top) as a task body with ctx; for tests. */
void task_start_fn(struct script *s, int partition, task_done_fn done, void *data);
bool task_busy(const struct script *s);
bool script_has_select(const struct script *s);
bool script_has_observe(const struct script *s);
/* After a select task: turns its result into wanted[0..n) for partitions
 * first.. and keeps the table as scan()'s third argument; select()'s optional
 * further results (items it processed itself, its errors, items it
 * skipped) go to t. Returns false (and wants everything) when select()
 * failed or returned no table. */
bool task_take_selection(struct script *s, int first, uint8_t *wanted, int n, struct tally *t);

/* Used by the bindings. */
struct task *task_current(lua_State *L, struct script *s);
void task_begin_wait(struct task *t);
/* Resumes the task with nargs values already pushed on t->co. */
void task_resume(struct task *t, int nargs);

/* ctx construction (lua_ctx.c) */
void ctx_open(lua_State *L);
void ctx_push_new(struct script *s);
void ctx_set_partition(struct script *s, int partition);
/* Clears the ctx handles of a borrowed state before its script is freed. */
void ctx_invalidate(struct script *s);
/* Claims on: routes the script's select and scan through ff.claim. */
bool ctx_wrap_claims(struct script *s, char *err, size_t errlen);

/* redis binding (lua_redis.c) */
void lredis_open(lua_State *L);
void lredis_push(lua_State *L, struct script *s);
/* The task ended with its request in flight: the replies are drained
 * without touching any Lua state. */
void lredis_orphan(struct lreq *q);

#endif
