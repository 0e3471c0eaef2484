/* libversion: the contract the loaded function library presents, as
 * FCALL ff_version 0 answers it (spec 30 §1.1): "5" (FlowFabric 0.1.1), "34"
 * (v34), another string (an intermediate FlowFabric library), or "" while it
 * is unknown. It is read after every library check (start, reconnects, a
 * missing function) and again periodically (config library_recheck), because
 * an in-place FlowFabric upgrade replaces the library without any "function
 * not found". On a cluster it is read on every primary, and they must agree:
 * primaries that answer differently (an upgrade half done) make it "".
 * Scanners see it as ctx.library_version; a scanner that declares
 * library_versions runs only while the loaded one is among them. */
#ifndef SCANHOST_LIBVERSION_H
#define SCANHOST_LIBVERSION_H

#include <stdbool.h>

#include <ev.h>

#include "redis.h"

#define LIBVERSION_MAX   32
#define LIBVERSION_NODES 64 /* primaries read in one round, at most */

/* The connections to read the version on (every primary with a usable
 * library; standalone: the server) and their names for the log; returns how
 * many (at most max). */
typedef int (*libversion_targets_fn)(void *data, struct rconn **conns, const char **names, int max);

struct libversion {
	char value[LIBVERSION_MAX];
	int pending;  /* reads of the round in flight (0: no round) */
	bool failed;  /* a read of the round failed (connection) */
	int answered; /* its reads answered by the server */
	char first[LIBVERSION_MAX], first_at[96];
	char other[LIBVERSION_MAX], other_at[96]; /* a primary that disagrees, or "" */
	char error[128];                          /* an error reply (no ff_version) */
	char said[2 * LIBVERSION_MAX + 16];       /* what the log said last (once per change) */
	struct ev_loop *loop;
	ev_timer recheck;
	libversion_targets_fn targets;
	void *targets_data;
	void (*done)(void *data, bool read);
	void *data;
};

/* every: seconds between the periodic reads */
void libversion_init(struct libversion *v, struct ev_loop *loop, double every,
                     libversion_targets_fn targets, void *targets_data);
/* Reads the version on every target; done(data, read) follows exactly once:
 * read is false when a connection failed (the value is kept). Any answer
 * from the server counts as read: an error reply (no ff_version) makes it "".
 * Starts the periodic re-read the first time (daemon only: periodic). */
void libversion_probe(struct libversion *v, bool periodic, void (*done)(void *data, bool read),
                      void *data);
void libversion_stop(struct libversion *v);
/* A version scanhost knows the contract of: "5" or "34". */
bool libversion_known(const char *version);

#endif
