/* hoststate: the state of one host — its config, connection, function
 * library, signals and counters — and of its scanner slots. Every part of
 * the host reads it; each part's functions live in a file of their own
 * (see host.h), so this header holds data only. */
#ifndef SCANHOST_HOSTSTATE_H
#define SCANHOST_HOSTSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "claims.h"
#include "clock.h"
#include "config.h"
#include "library.h"
#include "libset.h"
#include "libversion.h"
#include "runner.h"
#include "script.h"
#include "signals.h"
#include "stats.h"
#include "tracker.h"

struct control;
struct tls_client;
struct host;

/* Durable per-name state: survives reloads of the scanner's script. */
struct scanner {
	struct scanner *next;
	char name[SCANNER_NAME_MAX + 1];
	struct host *host;
	struct tracker tracker;
	struct claims claims; /* partitions this instance claimed (ff.claim) */
	struct runner runner;
	ev_timer timer;
	struct script *active;  /* the version running now */
	struct script *pending; /* a reloaded version, swapped in at the next cycle */
	bool removed;           /* the file is gone: stop at the next cycle */
	bool scheduled;         /* a runner was started */
	bool once_done;
	bool runaway_reported;
	/* the library version it last said it waits for ("": not waiting) */
	char waits_for[LIBVERSION_MAX];
	struct runner_cycle last;
	uint8_t *wanted; /* select(): partitions [wanted_first, +RUNNER_SELECT_CHUNK) to scan */
	int wanted_first;
	struct scanner_stats stats; /* metrics, pause, run-now (survive reloads) */
};

struct host {
	struct config *cfg;
	struct config *initial_cfg; /* the caller's; a reload replaces cfg with its own */
	struct hostenv env;
	struct ev_loop *loop;
	const struct clock *clock;
	struct scanner *scanners;
	struct library library;       /* the sources of scanhost's own */
	struct libset libset;         /* the library on every primary */
	struct libversion libversion; /* what the loaded library answers to ff_version */
	const char *lanes[CONFIG_MAX_LANES];
	struct signals signals;
	ev_timer grace, connect_deadline, library_retry;
	bool ready;   /* connected and the function library checked */
	bool started; /* runners started (first ready) */
	bool once;
	bool manual;            /* test module: never start runners on connect */
	bool conn_refused;      /* --once: the server refused us (credentials, db, TLS...) */
	struct tls_client *tls; /* rediss://: OpenSSL and the client context */
	int exit_code;
	int load_errors;             /* files that failed to load (their own fault) */
	int config_errors;           /* configuration problems found by the last load */
	double library_rechecked_at; /* last re-check after a missing function */
	double paused_until;         /* BUSY/LOADING backoff: no cycle starts before */
	unsigned pause_level;        /* consecutive pauses: the backoff doubles */
	bool ended;                  /* host_end() ran */
	int releasing;               /* claim releases in flight at the end */

	/* operations (issue 15) */
	uint64_t reloads_ok, reloads_refused; /* SIGHUP, SIGUSR1, POST /reload */
	ev_timer pause_poll;                  /* reads the pause keys (pause.c) */
	bool pause_busy;                      /* ... a read is in flight */
	struct control *control;              /* --http: the operations endpoint */
};

#endif
