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

struct library {
	char *source; /* full library text, NULL when there are no sources */
	size_t len;
	char version[17];   /* hex digest of the sources, after the level is set */
	int level;          /* the contract of our library: 5 or 34; 0: the sources set none */
	const char *in_use; /* after a check: LIBRARY_FLOWFABRIC, LIBRARY_OWN or NULL */
	bool busy;
	bool transient; /* the last check failed on LOADING/BUSY or I/O: retry it */
	void (*done)(void *data, const char *in_use);
	void *data;
	struct rconn *conn;
};

/* Reads dir/\*.lua in name order and sets the library level: the one
 * LIBRARY_LEVEL_LINE of the sources gets the value level (0: the default).
 * Sources without that line (a library of the user's own) are loaded as
 * they are, unless a level was asked for. False with a message when dir
 * cannot be read, the line appears twice, or a level was asked for and
 * cannot be set (an empty dir string means no sources). An existing
 * directory without sources is fine: nothing of our own to load. */
bool library_build(struct library *lib, const char *dir, int level, char *err, size_t errlen);
void library_free(struct library *lib);
/* Starts the asynchronous check/load; done() is called exactly once. */
void library_ensure(struct library *lib, struct rconn *conn,
                    void (*done)(void *data, const char *in_use), void *data);

#endif
