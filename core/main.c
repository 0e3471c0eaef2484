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
#include "control.h"
#include "host.h"
#include "log.h"
#include "watchdog.h"

#ifndef SCANHOST_VERSION
#define SCANHOST_VERSION "0.1.0"
#endif

/* Loads and validates everything; returns -1 to go on, or an exit code. */
static int prepare(struct host *h, struct config *cfg)
{
	host_load_scanners(h);
	if (cfg->check) {
		bool ok = host_check(h, stdout);
		fflush(stdout);
		return ok ? 0 : 2;
	}
	if (host_config_errors(h) > 0) {
		fprintf(stderr, "scanhost: %d configuration error(s), see above; not starting\n",
		        host_config_errors(h));
		return 2;
	}
	return -1;
}

static int run(struct config *cfg)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct host h;
	char err[512];
	watchdog_configure(&clock_system, cfg->scan_timeout, cfg->shutdown_timeout,
	                   cfg->check ? 2 : 1);
	if (!host_init(&h, cfg, loop, &clock_system, err, sizeof(err))) {
		fprintf(stderr, "scanhost: %s\n", err);
		host_free(&h);
		return 2;
	}
	int code = prepare(&h, cfg);
	if (code >= 0) {
		host_free(&h);
		return code;
	}
	char where[512], more[48] = "";
	url_redacted(&cfg->url, where, sizeof(where));
	if (cfg->nseeds > 0)
		snprintf(more, sizeof(more), " (+%d more seed node%s)", cfg->nseeds,
		         cfg->nseeds > 1 ? "s" : "");
	log_info(
	    "scanhost %s starting: redis %s%s, partitions %d/%d/%d, %s, instance %s, claims %s",
	    SCANHOST_VERSION, where, more, cfg->partitions, cfg->budget_partitions,
	    cfg->quota_partitions, cfg->once ? "one cycle" : "daemon", host_instance_id(&h),
	    cfg->claims ? "on" : "off");
	if (!control_start(&h, err, sizeof(err))) {
		fprintf(stderr, "scanhost: %s\n", err);
		host_free(&h);
		return 2;
	}
	host_start(&h);
	ev_run(loop, 0);
	code = host_exit_code(&h);
	host_print_summary(&h, STDOUT_FILENO);
	host_free(&h);
	log_info("scanhost stopped (exit %d)", code);
	return code;
}

static int start(int argc, char **argv)
{
	struct config cfg;
	config_defaults(&cfg, "/proc/self/exe");
	char err[1024];
	int code;
	if (!config_build(&cfg, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "scanhost: %s\n", err);
		fprintf(stderr, "try 'scanhost --help'\n");
		code = 2;
	} else if (cfg.help) {
		fputs(config_usage(), stdout);
		code = 0;
	} else if (cfg.version) {
		printf("scanhost %s\n", SCANHOST_VERSION);
		code = 0;
	} else {
		log_setup(cfg.log_level, cfg.log_format);
		code = run(&cfg);
	}
	config_free(&cfg);
	return code;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	/* before the config file runs: a config stuck in C ends with status 2 */
	watchdog_configure(&clock_system, CONFIG_RUN_SECONDS, 1.5, 2);
	if (!watchdog_start()) {
		fprintf(stderr, "scanhost: cannot start the watchdog thread\n");
		return 1;
	}
	int code = start(argc, argv);
	watchdog_stop();
	return code;
}
