/* reload: SIGHUP, SIGUSR1 and the environment the scripts see.
 *
 * SIGHUP or POST /reload — the config file again (with the same command line and
 * environment), and every scanner with it.
 *
 * The new config is built aside; if it is invalid, or any scanner refuses
 * its options, nothing changes. Settings that live in the connection or the
 * partition layout (redis, partition counts, lanes, timeouts of the
 * connection, the function library) need a restart: a change to one of
 * them is refused with a log line and the running value kept, and the rest
 * of the new config applies. Options, intervals and enabled flags take
 * effect at each scanner's next cycle boundary. */
#include "reload.h"

#include <stdlib.h>
#include <string.h>

#include "hoststate.h"
#include "log.h"
#include "scanset.h"
#include "watchdog.h"

/* The same server URL and the same further seed nodes, in the same order. */
static bool same_servers(const struct config *a, const struct config *b)
{
	if (strcmp(a->redis, b->redis) != 0 || a->nseeds != b->nseeds)
		return false;
	for (int i = 0; i < a->nseeds; i++) {
		if (strcmp(a->seed_text[i], b->seed_text[i]) != 0)
			return false;
	}
	return true;
}

/* Keeps the running value of every key that needs a restart. */
static void keep_restart_keys(const char *cause, const struct config *run, struct config *next)
{
	if (!same_servers(run, next)) {
		log_warn("%s: redis changed in the config; that needs a restart, keeping the "
		         "running server",
		         cause);
		memcpy(next->redis, run->redis, sizeof(next->redis));
		next->url = run->url;
		memcpy(next->seed_text, run->seed_text, sizeof(next->seed_text));
		memcpy(next->seeds, run->seeds, sizeof(next->seeds));
		next->nseeds = run->nseeds;
	}
	struct {
		const char *key;
		const int *was;
		int *now;
	} counts[] = {
		{ "partitions", &run->partitions, &next->partitions },
		{ "budget_partitions", &run->budget_partitions, &next->budget_partitions },
		{ "quota_partitions", &run->quota_partitions, &next->quota_partitions },
	};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		if (*counts[i].was == *counts[i].now)
			continue;
		log_warn("%s: %s changed from %d to %d; that needs a restart, keeping %d", cause,
		         counts[i].key, *counts[i].was, *counts[i].now, *counts[i].was);
		*counts[i].now = *counts[i].was;
	}
	struct {
		const char *key;
		double was, *now;
	} secs[] = {
		{ "command_timeout", run->command_timeout, &next->command_timeout },
		{ "connect_timeout", run->connect_timeout, &next->connect_timeout },
	};
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		if (secs[i].was == *secs[i].now)
			continue;
		log_warn("%s: %s changed from %g to %g; that needs a restart, keeping %g", cause,
		         secs[i].key, secs[i].was, *secs[i].now, secs[i].was);
		*secs[i].now = secs[i].was;
	}
	bool lanes_same = run->nlanes == next->nlanes;
	for (int i = 0; lanes_same && i < run->nlanes; i++)
		lanes_same = strcmp(run->lanes[i], next->lanes[i]) == 0;
	if (!lanes_same) {
		log_warn("%s: lanes changed; that needs a restart, keeping the running lanes",
		         cause);
		memcpy(next->lanes, run->lanes, sizeof(next->lanes));
		next->nlanes = run->nlanes;
	}
	if (strcmp(run->http, next->http) != 0 ||
	    strcmp(run->control_token_file, next->control_token_file) != 0) {
		log_warn("%s: http or control_token_file changed; that needs a restart, keeping "
		         "the running endpoint",
		         cause);
		memcpy(next->http, run->http, sizeof(next->http));
		next->http_addr = run->http_addr;
		next->http_addrlen = run->http_addrlen;
		memcpy(next->control_token_file, run->control_token_file,
		       sizeof(next->control_token_file));
	}
	if (strcmp(run->functions_dir, next->functions_dir) != 0) {
		log_warn("%s: functions_dir changed; that needs a restart, keeping %s", cause,
		         run->functions_dir);
		memcpy(next->functions_dir, run->functions_dir, sizeof(next->functions_dir));
	}
	if (run->library_recheck != next->library_recheck) {
		log_warn("%s: library_recheck changed; that needs a restart, keeping %g", cause,
		         run->library_recheck);
		next->library_recheck = run->library_recheck;
	}
	if (run->library_level != next->library_level) {
		log_warn("%s: library_level changed; that needs a restart, keeping %s", cause,
		         run->library_level == 5    ? "5"
		         : run->library_level == 34 ? "34"
		                                    : "the default");
		next->library_level = run->library_level;
	}
}

/* Settings read at use: logging, timeouts of scans and shutdown. */
static void apply_live(const struct host *h)
{
	const struct config *c = h->cfg;
	log_setup(c->log_level, c->log_format);
	watchdog_configure(h->clock, c->scan_timeout, c->shutdown_timeout, 1);
}

static void drop_config(struct host *h, struct config *c)
{
	config_free(c);
	if (c != h->initial_cfg)
		free(c);
}

static bool refused(struct host *h)
{
	h->reloads_refused++;
	return false;
}

bool host_reload_config(struct host *h, const char *cause)
{
	struct config *old = h->cfg;
	struct config *next = calloc(1, sizeof(*next));
	if (!next) {
		log_error("%s: out of memory; the running config stays", cause);
		return refused(h);
	}
	config_defaults(next, old->exe_path);
	char err[1024];
	if (!config_build(next, old->argc, old->argv, err, sizeof(err))) {
		log_error("%s: the new config is refused (%s); the running config stays", cause,
		          err);
		config_free(next);
		free(next);
		return refused(h);
	}
	next->once = old->once;
	keep_restart_keys(cause, old, next);
	h->cfg = next;
	host_sync_env(h);
	if (!host_load_set(h, LOAD_CONFIG)) {
		log_error("%s: the new config is refused (see above); the running config and "
		          "scanners stay",
		          cause);
		h->cfg = old;
		host_sync_env(h);
		config_free(next);
		free(next);
		return refused(h);
	}
	apply_live(h);
	drop_config(h, old);
	log_info("%s: config %s applied; scanners take it at their next cycle", cause,
	         next->config_loaded ? next->config_path : "(built-in defaults)");
	h->reloads_ok++;
	return true;
}

bool host_reload_scripts(struct host *h)
{
	if (!host_load_set(h, LOAD_SCRIPTS)) {
		log_error("script reload refused (see above); the running scanners go on");
		return refused(h);
	}
	int failed = h->load_errors + h->config_errors;
	log_msg(failed ? LOG_WARN : LOG_INFO, NULL, "reload finished: %d file(s) failed to load",
	        failed);
	h->reloads_ok++;
	return true;
}

void host_sync_env(struct host *h)
{
	const struct config *cfg = h->cfg;
	struct hostenv *e = &h->env;
	for (int i = 0; i < cfg->nlanes; i++)
		h->lanes[i] = cfg->lanes[i];
	e->lanes = h->lanes;
	e->nlanes = cfg->nlanes;
	e->lua_lib_dir = cfg->lua_lib_dir;
	e->lua_path = cfg->lua_path[0] ? cfg->lua_path : NULL;
	e->conf_L = cfg->conf_L;
	e->overrides_ref = cfg->overrides_ref;
	e->scan_timeout = cfg->scan_timeout;
	e->lua_memory = (size_t)cfg->lua_memory_mb << 20;
	e->claims = cfg->claims;
	e->once = cfg->once;
	e->filter = &cfg->filter;
}
