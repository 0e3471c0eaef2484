/* main: command line, start-up and exit codes. Everything else lives in the
 * other files so the tests can link them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "host.h"
#include "log.h"

#ifndef SCANHOST_VERSION
#define SCANHOST_VERSION "0.1.0"
#endif

static void once_progress(struct host *h)
{
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (s->scheduled && !s->once_done)
			return;
	}
	host_end(h);
}

static int once_exit_code(struct host *h)
{
	if (h->exit_code)
		return h->exit_code;
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (s->scheduled && (s->last.errors > 0 || !s->once_done))
			return 1;
	}
	return h->load_errors ? 1 : 0;
}

static int run(struct config *cfg)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct host h;
	char err[512];
	if (!host_init(&h, cfg, loop, &clock_system, err, sizeof(err))) {
		fprintf(stderr, "scanhost: %s\n", err);
		return 2;
	}
	int failed = host_load_scanners(&h);
	if (cfg->check) {
		bool ok = host_check(&h, stdout);
		host_free(&h);
		return ok && failed == 0 ? 0 : 2;
	}
	for (int i = 0; i < cfg->nonly; i++) {
		if (!host_find(&h, cfg->only[i])) {
			fprintf(stderr, "scanhost: --only: no scanner named %s\n", cfg->only[i]);
			host_free(&h);
			return 2;
		}
	}
	char where[512];
	url_redacted(&cfg->url, where, sizeof(where));
	log_info("scanhost %s starting: redis %s, partitions %d/%d/%d, %s, instance %s, claims %s",
	         SCANHOST_VERSION, where, cfg->partitions, cfg->budget_partitions,
	         cfg->quota_partitions, cfg->once ? "one cycle" : "daemon", h.env.instance_id,
	         cfg->claims ? "on" : "off");
	if (cfg->once)
		h.on_idle = once_progress;
	host_start(&h);
	ev_run(loop, 0);
	int code = cfg->once ? once_exit_code(&h) : h.exit_code;
	if (cfg->once && !h.conn_refused)
		host_print_summary(&h, stdout);
	host_free(&h);
	log_info("scanhost stopped (exit %d)", code);
	return code;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	struct config cfg;
	char exe[64];
	snprintf(exe, sizeof(exe), "/proc/self/exe");
	config_defaults(&cfg, exe);
	char err[1024];
	if (!config_build(&cfg, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "scanhost: %s\n", err);
		fprintf(stderr, "try 'scanhost --help'\n");
		config_free(&cfg);
		return 2;
	}
	if (cfg.help) {
		fputs(config_usage(), stdout);
		config_free(&cfg);
		return 0;
	}
	if (cfg.version) {
		printf("scanhost %s\n", SCANHOST_VERSION);
		config_free(&cfg);
		return 0;
	}
	log_setup(cfg.log_level, cfg.log_format);
	int code = run(&cfg);
	config_free(&cfg);
	return code;
}
