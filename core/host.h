/* host: the scanner registry and everything that ties scripts, runners,
 * the Redis connection and signals together. main.c and the busted test
 * module both drive a host. */
#ifndef SCANHOST_HOST_H
#define SCANHOST_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ev.h>

#include "clock.h"
#include "config.h"
#include "library.h"
#include "libset.h"
#include "libversion.h"
#include "metrics.h"
#include "runner.h"
#include "script.h"
#include "script_load.h"
#include "script_run.h"
#include "signals.h"
#include "tracker.h"

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

struct control;

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
	int load_errors;                 /* files that failed to load (their own fault) */
	int config_errors;               /* configuration problems found by the last load */
	double library_rechecked_at;     /* last re-check after a missing function */
	double paused_until;             /* BUSY/LOADING backoff: no cycle starts before */
	unsigned pause_level;            /* consecutive pauses: the backoff doubles */
	bool ended;                      /* host_end() ran */
	int releasing;                   /* claim releases in flight at the end */
	void (*on_idle)(struct host *h); /* --once: a scanner finished its cycle */

	/* operations (issue 15) */
	uint64_t reloads_ok, reloads_refused; /* SIGHUP, SIGUSR1, POST /reload */
	ev_timer pause_poll;                  /* reads the pause keys (pause.c) */
	bool pause_busy;                      /* ... a read is in flight */
	struct control *control;              /* --http: the operations endpoint */
};

bool host_init(struct host *h, struct config *cfg, struct ev_loop *loop, const struct clock *clock,
               char *err, size_t errlen);
/* The first load of every scanner directory (scanset.c). Sets load_errors
 * and config_errors; returns their sum. */
int host_load_scanners(struct host *h);
enum load_mode {
	LOAD_START,   /* first load: everything is installed, errors are counted */
	LOAD_SCRIPTS, /* SIGUSR1: changed files, file by file */
	LOAD_CONFIG,  /* SIGHUP: every file with the new config; all or nothing */
};
/* Loads the scanner set aside, validates it and installs it; false when
 * the pass was refused (nothing changed). */
bool host_load_set(struct host *h, enum load_mode mode);
/* SIGHUP (reload.c): a new config and every script with it, or nothing.
 * Returns false when it was refused. */
bool host_reload_config(struct host *h);
/* SIGUSR1: the scanner directories again, file by file. */
bool host_reload_scripts(struct host *h);
/* Redis connected and the function library usable (GET /readyz). */
bool host_is_ready(const struct host *h);
/* Starts the scanner's next cycle now, or right after the running one
 * (one cycle at a time); false when it is not scheduled or is paused. */
bool host_run_now(struct scanner *s, bool *queued);
/* Points the host's environment at h->cfg (after a config swap). */
void host_sync_env(struct host *h);
/* --check: prints what would run; returns false on any problem. */
bool host_check(struct host *h, FILE *out);
/* Connects; runners start once Redis is ready. */
void host_start(struct host *h);
void host_stop(struct host *h);
/* The end of a graceful run (everything idle after SIGTERM, or --once done):
 * gives back this instance's claims, then breaks the loop. */
void host_end(struct host *h);
void host_free(struct host *h);
struct scanner *host_find(struct host *h, const char *name);
bool host_selected(const struct host *h, const char *name);
/* The registry, for scanset.c. */
struct scanner *host_new_slot(struct host *h, const char *name);
const struct script *host_latest(const struct scanner *s);
void host_schedule(struct scanner *s);
/* Test module: run one cycle of one scanner (once semantics). */
void host_run_once(struct host *h, struct scanner *s);
/* The --once summary, one line per scanner, in the log format. */
void host_print_summary(struct host *h, int fd);

#endif
