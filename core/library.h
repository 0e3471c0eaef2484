/* library: makes sure a server-side function library is available.
 *
 * If FlowFabric's own library ("flowfabric") is loaded, use it and load
 * nothing. Otherwise load scanhost's library (built from lua-lib/functions)
 * under the name "scanhost", replacing it only when it carries scanhost's
 * version marker and the version differs. A library scanhost did not create
 * is never replaced or deleted. */
#ifndef SCANHOST_LIBRARY_H
#define SCANHOST_LIBRARY_H

#include <stdbool.h>
#include <stddef.h>

#include "redis.h"

#define LIBRARY_FLOWFABRIC "flowfabric"
#define LIBRARY_OWN        "scanhost"
#define LIBRARY_MARKER     "-- scanhost-library-version: "
/* The one line of the sources that sets the contract the library presents
 * (what FCALL ff_version answers): the loader rewrites its value. */
#define LIBRARY_LEVEL_LINE    "local FF_LIBRARY_LEVEL = \""
#define LIBRARY_DEFAULT_LEVEL 34

/* The library's sources, built once. */
struct library {
	char *source; /* full library text, NULL when there are no sources */
	size_t len;
	char version[17]; /* hex digest of the sources, after the level is set */
	int level;        /* the contract of our library: 5 or 34; 0: the sources set none */
};

/* What one server has (one check's outcome). */
enum lib_verdict {
	LIB_FLOWFABRIC, /* FlowFabric's library: use it */
	LIB_OWN,        /* scanhost's library at this version (found or loaded) */
	LIB_ABSENT,     /* neither, or an older scanhost library, and the check
	                 * was told not to load (may_load false) */
	LIB_FOREIGN,    /* a "scanhost" library scanhost did not create: untouched */
	LIB_FAILED,     /* an error that retrying will not fix (no Functions...) */
	LIB_TRANSIENT,  /* LOADING, BUSY or a dropped connection: check again later */
};

/* One check on one server. */
struct libcheck {
	const struct library *lib;
	struct rconn *conn;
	const char *where; /* "host:port" in log lines (cluster), or NULL */
	bool may_load;     /* load or replace scanhost's library when needed */
	bool busy;
	void (*done)(void *data, enum lib_verdict v);
	void *data;
};

/* The library a verdict means for scripts (ctx.library), or NULL. */
const char *library_in_use(enum lib_verdict v);

/* Reads dir/\*.lua in name order and sets the library level: the one
 * LIBRARY_LEVEL_LINE of the sources gets the value level (0: the default).
 * Sources without that line (a library of the user's own) are loaded as
 * they are, unless a level was asked for. False with a message when dir
 * cannot be read, the line appears twice, or a level was asked for and
 * cannot be set (an empty dir string means no sources). An existing
 * directory without sources is fine: nothing of our own to load. */
bool library_build(struct library *lib, const char *dir, int level, char *err, size_t errlen);
void library_free(struct library *lib);
/* Starts the asynchronous check (and load when allowed) on conn; done()
 * is called exactly once, possibly before this returns. */
void library_ensure(struct libcheck *chk, const struct library *lib, struct rconn *conn,
                    bool may_load, void (*done)(void *data, enum lib_verdict v), void *data);

#endif
