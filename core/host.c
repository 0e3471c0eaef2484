/* host: the lifecycle of a host — init, start, signals, --check, free —
 * wiring the files that each hold one part of it (see host.h). */
#define _DEFAULT_SOURCE
#include "host.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "busy.h"
#include "control.h"
#include "log.h"
#include "pause.h"
#include "router.h"
#include "tls.h"

/* Every signal is logged, with what it does. */
static void on_signal(void *data, int signo)
{
	struct host *h = data;
	const char *name = signal_name(signo);
	switch (signo) {
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping", name);
		host_stop(h);
		break;
	case SIGHUP:
	case SIGUSR1:
		if (h->env.stopping) {
			log_info("%s: ignored while stopping", name);
			break;
		}
		log_info("%s: reloading %s", name,
		         signo == SIGHUP ? "the config and every scanner" : "scanners");
		if (signo == SIGHUP)
			host_reload_config(h, name);
		else
			host_reload_scripts(h);
		break;
	default: log_info("%s: ignored", name); break;
	}
}

bool host_init(struct host *h, struct config *cfg, struct ev_loop *loop, const struct clock *clock,
               char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	h->cfg = h->initial_cfg = cfg;
	h->loop = loop;
	h->clock = clock;
	h->once = cfg->once;
	struct hostenv *e = &h->env;
	e->loop = loop;
	e->partitions[FAMILY_EXECUTION] = e->partitions[FAMILY_FLOW] = cfg->partitions;
	e->partitions[FAMILY_BUDGET] = cfg->budget_partitions;
	e->partitions[FAMILY_QUOTA] = cfg->quota_partitions;
	host_sync_env(h);
	claims_instance_id(e->instance_id, sizeof(e->instance_id));
	e->host = h;
	e->clock = clock;
	busy_init(h);
	filter_report(&cfg->filter);
	ready_init(h);
	shutdown_init(h);
	pause_init(h);
	if (!library_build(&h->library, cfg->functions_dir, cfg->library_level, err, errlen))
		return false;
	ready_watch_library(h);
	if (cfg->url.tls && !(h->tls = tls_client_new(cfg->tls_module, &cfg->tls, err, errlen))) {
		library_free(&h->library);
		return false;
	}
	if (cfg->url.tls && cfg->tls.insecure)
		log_warn("%s: TLS certificate verification is off; the server's identity is not "
		         "checked",
		         cfg->tls.insecure_opt);
	return true;
}

void host_start(struct host *h)
{
	ready_connect(h);
	if (!h->manual) { /* signals are the process's: the test module's hosts do without */
		signals_start(&h->signals, h->loop, on_signal, h);
		pause_start(h);
	}
	router_start(h->env.router);
}

/* What --check used: config file, directories, lanes, partition counts. */
static void print_plan_head(const struct host *h, FILE *out)
{
	const struct config *c = h->cfg;
	fprintf(out, "config=%s\n",
	        c->config_loaded ? c->config_path : "(none: built-in defaults)");
	for (int i = 0; i < c->nscanners_dirs; i++)
		fprintf(out, "scanners_dir=%s%s\n", c->scanners_dirs[i],
		        c->scanners_dir_optional[i] ? " (optional)" : "");
	fprintf(out, "functions_dir=%s library_level=%s\n", c->functions_dir,
	        c->library_level == 5    ? "5"
	        : c->library_level == 34 ? "34"
	                                 : "default (34)");
	fprintf(out, "lanes=");
	for (int i = 0; i < c->nlanes; i++)
		fprintf(out, "%s%s", i ? "," : "", c->lanes[i]);
	fprintf(out, "\npartitions=%d budget_partitions=%d quota_partitions=%d\n", c->partitions,
	        c->budget_partitions, c->quota_partitions);
	control_print_plan(c, out);
}

bool host_check(struct host *h, FILE *out)
{
	print_plan_head(h, out);
	for (struct scanner *s = h->scanners; s; s = s->next) {
		const struct script *sc = host_latest(s);
		if (!sc)
			continue;
		fprintf(out, "scanner=%s family=%s interval=%g partitions=%d enabled=%s file=%s\n",
		        s->name, family_name(sc->family), runner_effective_interval(sc->interval),
		        h->env.partitions[sc->family], sc->enabled ? "true" : "false", sc->path);
	}
	return h->load_errors == 0 && h->config_errors == 0;
}

const char *host_instance_id(const struct host *h)
{
	return h->env.instance_id;
}

void host_free(struct host *h)
{
	ev_timer_stop(h->loop, &h->grace);
	ev_timer_stop(h->loop, &h->connect_deadline);
	ev_timer_stop(h->loop, &h->library_retry);
	libversion_stop(&h->libversion);
	control_free(h);
	pause_stop(h);
	libset_stop(&h->libset);
	if (h->env.router) {
		h->env.stopping = true;
		router_free(h->env.router); /* in-flight requests fail; tasks wind down */
		h->env.router = NULL;
		libset_attach(&h->libset, NULL);
	}
	signals_stop(&h->signals);
	host_free_slots(h);
	library_free(&h->library);
	tls_client_free(h->tls);
	h->tls = NULL;
	if (h->cfg != h->initial_cfg) { /* a reload's config: ours to free */
		config_free(h->cfg);
		free(h->cfg);
		h->cfg = h->initial_cfg;
	}
}
