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

struct library {
	char *source; /* full library text, NULL when there are no sources */
	size_t len;
	char version[17];   /* hex digest of the sources */
	const char *in_use; /* after a check: LIBRARY_FLOWFABRIC, LIBRARY_OWN or NULL */
	bool busy;
	bool transient; /* the last check failed on LOADING/BUSY or I/O: retry it */
	void (*done)(void *data, const char *in_use);
	void *data;
	struct rconn *conn;
};

/* Reads dir/\*.lua in name order; false with a message when dir cannot be
 * read (an empty dir string means no sources). An existing directory
 * without sources is fine: nothing of our own to load. */
bool library_build(struct library *lib, const char *dir, char *err, size_t errlen);
void library_free(struct library *lib);
/* Starts the asynchronous check/load; done() is called exactly once. */
void library_ensure(struct library *lib, struct rconn *conn,
                    void (*done)(void *data, const char *in_use), void *data);

#endif
