/* script: one scanner script as loaded — its own lua_State, the definition
 * its file returned (name, family, interval, scan, select, observe,
 * library_versions), its options and the task that runs it — and what the
 * host asks of a loaded script.
 *
 * Each scanner gets its own lua_State so that a reload replaces exactly one
 * scanner, a broken script can never disturb another one's globals, and an
 * old version retires by closing its state once its last run has finished.
 * Making and ending a script: script_load.h; running it: script_run.h. */
#ifndef SCANHOST_SCRIPT_H
#define SCANHOST_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "backlog.h"
#include "claims.h"
#include "family.h"
#include "hostenv.h"
#include "memlimit.h"
#include "runner.h"
#include "task.h"
#include "tracker.h"

#define SCANNER_NAME_MAX    64
#define SCRIPT_MAX_VERSIONS 8 /* entries of a scanner's library_versions */

/* Called when a run ends, however it ends. */
typedef void (*script_done_fn)(void *data, const struct tally *t);

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
	struct lreq *sent;         /* requests of the current run sent with send(), not collected */
	int next_sent_id;          /* send()'s handles */
	struct {                   /* the current (or last) run: script_run.c */
		int partition;     /* scanned, or the first one select() was given */
		const char *what;  /* "scan()", "select()": for logs and the watchdog */
		bool keep_results; /* its outcome stays on L for the done callback */
		script_done_fn done;
		void *done_data;
	} run;
	struct memlimit mem; /* counts L's allocations (owned states) */
	bool retired;        /* replaced or removed: close once the task is idle */
};

/* Checks the table the file returned (at the top of L) and records its
 * fields; leaves the stack as it found it. */
bool script_read_definition(struct script *s, char *err, size_t errlen);
/* Whether the script runs with the library version given: it declares no
 * library_versions, or the version is one of them. */
bool script_accepts_library(const struct script *s, const char *version);
bool script_has_select(const struct script *s);
bool script_has_observe(const struct script *s);
/* A run (scan(), select(), ...) is in progress. */
bool script_busy(const struct script *s);
/* The digest of a loaded scanner as its files are on disk now: its file and
 * the modules its top level required (in load order). False if one of them
 * cannot be read. SIGUSR1 reloads a scanner whose digest changed. */
bool script_digest(const struct script *s, uint64_t *out);

/* A Lua handle on a script: a full userdata holding the pointer, under the
 * metatable mt; the ctx clears it when a borrowed state outlives the
 * script (ctx_invalidate). Checking a cleared handle raises. */
void script_push_handle(lua_State *L, struct script *s, const char *mt);
struct script *script_check_handle(lua_State *L, const char *mt);

/* For the loading steps: pushes t[k] of the table at idx with raw access,
 * so no metamethod of a script's table runs while the host reads it; and
 * writes a message to err and returns false. */
void script_field(lua_State *L, int idx, const char *k);
__attribute__((format(printf, 3, 4))) bool script_fail(char *err, size_t errlen, const char *fmt,
                                                       ...);

#endif
