/* hostenv: what every script and binding needs from the host — the loop,
 * the router, the deployment's shape, the library in use, the limits, and
 * the two ways a reply tells the host about the server. The host owns it;
 * scripts and bindings borrow it. */
#ifndef SCANHOST_HOSTENV_H
#define SCANHOST_HOSTENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <lua.h>

#include "claims.h"
#include "clock.h"
#include "family.h"

struct router;
struct scan_filter;

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

#endif
