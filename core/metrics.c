/* metrics: the numbers behind GET /metrics. */
#define _DEFAULT_SOURCE
#include "metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hoststate.h"
#include "ready.h"
#include "redis.h"
#include "registry.h"
#include "router.h"

#ifndef SCANHOST_VERSION
#define SCANHOST_VERSION "0.1.0"
#endif

/* ---- per scanner ------------------------------------------------------------- */

struct series {
	const char *name, *type, *help;
	double (*value)(const struct scanner *s);
	bool backlog; /* only scanners whose cycles read due indexes */
};

static double v_processed(const struct scanner *s)
{
	return (double)s->stats.processed;
}
static double v_skipped(const struct scanner *s)
{
	return (double)s->stats.skipped;
}
static double v_errors(const struct scanner *s)
{
	return (double)s->stats.errors;
}
static double v_cycles(const struct scanner *s)
{
	return (double)s->stats.cycles;
}
static double v_backlog(const struct scanner *s)
{
	return (double)s->stats.backlog_last.due;
}
static double v_age(const struct scanner *s)
{
	return s->stats.backlog_last.due ? s->stats.backlog_last.age : 0;
}
static double v_backoff(const struct scanner *s)
{
	return (double)s->stats.in_backoff;
}
static double v_paused(const struct scanner *s)
{
	return s->stats.paused;
}

static const struct series per_scanner[] = {
	{ "scanhost_items_processed_total", "counter", "Items whose state a scanner changed.",
	  v_processed, false },
	{ "scanhost_items_skipped_total", "counter",
	  "Items a scanner left as they were (no-op replies, backoff).", v_skipped, false },
	{ "scanhost_scan_errors_total", "counter", "Items or steps of a scan that failed.",
	  v_errors, false },
	{ "scanhost_cycles_total", "counter", "Scan cycles ended (complete or cut short).",
	  v_cycles, false },
	{ "scanhost_backlog_items", "gauge",
	  "Due items the last complete cycle's index reads saw (first pages and drain pages).",
	  v_backlog, true },
	{ "scanhost_backlog_age_seconds", "gauge",
	  "Server time minus the oldest due score the last complete cycle saw; 0 when nothing "
	  "was due.",
	  v_age, true },
	{ "scanhost_tracker_backoff_items", "gauge",
	  "Items the failure tracker skips (backoff) at the last cycle end.", v_backoff, false },
	{ "scanhost_scanner_paused", "gauge", "1 while the scanner's pause key exists.", v_paused,
	  false },
	{ "ff_scanner_cycle_total", "counter",
	  "Scan cycles ended (FlowFabric dashboard name; label scanner only).", v_cycles, false },
};

static const char *family_of(const struct scanner *s)
{
	const struct script *sc = host_latest(s);
	return sc ? family_name(sc->family) : "unknown";
}

static void render_scanner_series(struct host *h, struct sbuf *b, const struct series *m)
{
	bool ff = strncmp(m->name, "ff_", 3) == 0;
	prom_family(b, m->name, m->type, m->help);
	for (const struct scanner *s = h->scanners; s; s = s->next) {
		if (!host_latest(s) || (m->backlog && !s->stats.backlog_last.seen))
			continue;
		struct prom_label l[] = { { "scanner", s->name },
			                  { "partition_family", family_of(s) } };
		prom_sample(b, m->name, l, ff ? 1 : 2, m->value(s));
	}
}

static void render_durations(struct host *h, struct sbuf *b)
{
	static const char *const names[] = { "scanhost_cycle_duration_seconds",
		                             "ff_scanner_cycle_duration_seconds" };
	for (int i = 0; i < 2; i++) {
		prom_family(b, names[i], "histogram",
		            i ? "Scan cycle duration (FlowFabric dashboard name)."
		              : "Scan cycle duration.");
		for (const struct scanner *s = h->scanners; s; s = s->next) {
			if (!host_latest(s))
				continue;
			struct prom_label l[] = { { "scanner", s->name },
				                  { "partition_family", family_of(s) } };
			prom_histogram_samples(b, names[i], l, i ? 1 : 2, &s->stats.duration);
		}
	}
}

/* ---- the process and its connection ----------------------------------------- */

static double rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;
	if (!f)
		return 0;
	int n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	return n == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) : 0;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gauge(struct sbuf *b, const char *name, const char *type, const char *help, double v)
{
	prom_family(b, name, type, help);
	prom_sample(b, name, NULL, 0, v);
}

static void render_process(struct host *h, struct sbuf *b)
{
	struct rconn_stats sum = { 0 }; /* every node's connection (one on a single server) */
	const struct rconn_stats *rs = h->env.router ? router_stats(h->env.router, &sum) : NULL;
	bool connected = h->env.router && router_ready(h->env.router);
	gauge(b, "scanhost_ready", "gauge",
	      "1 while Redis is connected and the function library usable (GET /readyz).",
	      host_is_ready(h));
	gauge(b, "scanhost_redis_connected", "gauge", "1 while the Redis connection is up.",
	      connected);
	gauge(b, "scanhost_redis_reconnects_total", "counter",
	      "Connections to Redis made again after a connection was lost (a cluster's "
	      "first connection to each node is not one).",
	      (double)(rs ? rs->reconnects : 0));
	gauge(b, "scanhost_redis_round_trips_total", "counter",
	      "Request batches the scanners wrote to Redis (a pipeline is one).",
	      (double)h->env.round_trips);
	gauge(b, "scanhost_redis_commands_total", "counter", "Commands written to Redis.",
	      (double)(rs ? rs->commands : 0));
	prom_family(b, "scanhost_reloads_total", "counter",
	            "Reloads (SIGHUP, SIGUSR1, POST /reload) by result.");
	prom_sample(b, "scanhost_reloads_total", (struct prom_label[]){ { "result", "ok" } }, 1,
	            (double)h->reloads_ok);
	prom_sample(b, "scanhost_reloads_total", (struct prom_label[]){ { "result", "refused" } },
	            1, (double)h->reloads_refused);
	prom_family(b, "scanhost_build_info", "gauge", "The running version.");
	prom_sample(b, "scanhost_build_info",
	            (struct prom_label[]){ { "version", SCANHOST_VERSION } }, 1, 1);
	gauge(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
	      rss_bytes());
	gauge(b, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.",
	      cpu_seconds());
}

/* FlowFabric's ff_cancel_backlog_depth: the size of every partition's
 * cancel backlog, as cancel_reconciler's select() read it in its last
 * complete cycle (no command of its own); absent until then. */
static void render_cancel_backlog(struct host *h, struct sbuf *b)
{
	const struct scanner *s = host_find(h, "cancel_reconciler");
	if (!s || !host_latest(s) || !s->stats.backlog_last.seen)
		return;
	gauge(b, "ff_cancel_backlog_depth", "gauge",
	      "Flows with cancel work owed, over all partitions (FlowFabric dashboard name).",
	      (double)s->stats.backlog_last.due);
}

void metrics_render(struct host *h, struct sbuf *b)
{
	for (size_t i = 0; i < sizeof(per_scanner) / sizeof(per_scanner[0]); i++)
		render_scanner_series(h, b, &per_scanner[i]);
	render_durations(h, b);
	render_cancel_backlog(h, b);
	render_process(h, b);
}
