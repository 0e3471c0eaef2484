/* libversion: the contract the loaded function library presents, as
 * FCALL ff_version 0 answers it (spec 30 §1.1): "5" (FlowFabric 0.1.1), "34"
 * (v34), another string (an intermediate FlowFabric library), or "" while it
 * is unknown. It is read after every library check (start, reconnects, a
 * missing function) and again periodically (config library_recheck), because
 * an in-place FlowFabric upgrade replaces the library without any "function
 * not found". Scanners see it as ctx.library_version; a scanner that declares
 * library_versions runs only while the loaded one is among them. */
#ifndef SCANHOST_LIBVERSION_H
#define SCANHOST_LIBVERSION_H

#include <stdbool.h>

#include <ev.h>

#include "redis.h"

#define LIBVERSION_MAX 32

struct libversion {
	char value[LIBVERSION_MAX];
	bool busy;
	struct rconn *conn;
	struct ev_loop *loop;
	ev_timer recheck;
	void (*done)(void *data, bool read);
	void *data;
};

/* every: seconds between the periodic reads */
void libversion_init(struct libversion *v, struct ev_loop *loop, double every);
/* Reads the version on conn; done(data, read) follows exactly once: read is
 * false when the connection failed (the value is kept). Any answer from the
 * server counts as read: an error reply (no ff_version) makes it "".
 * Starts the periodic re-read the first time (daemon only: once = false). */
void libversion_probe(struct libversion *v, struct rconn *conn, bool periodic,
                      void (*done)(void *data, bool read), void *data);
void libversion_stop(struct libversion *v);
/* A version scanhost knows the contract of: "5" or "34". */
bool libversion_known(const char *version);

#endif
