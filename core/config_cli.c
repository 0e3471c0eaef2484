/* command line: the options, the usage text, and the flags applied over the
 * config file's values (they win over the file and SCANHOST_REDIS). */
#include "config_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void add_redis(struct config_cli *cl, const char *url)
{
	if (!cl->redis)
		cl->redis = url;
	else if (cl->nseeds < CONFIG_MAX_SEEDS)
		cl->seeds[cl->nseeds++] = url;
	else
		cl->nseeds = CONFIG_MAX_SEEDS + 1;
}

enum {
	OPT_REDIS = 256,
	OPT_SCANNERS,
	OPT_LUA_PATH,
	OPT_ONLY,
	OPT_PARTITIONS,
	OPT_BUDGET,
	OPT_QUOTA,
	OPT_ONCE,
	OPT_CHECK,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_VERSION,
	OPT_LANES,
	OPT_FUNCTIONS,
	OPT_CACERT,
	OPT_CERT,
	OPT_KEY,
	OPT_SNI,
	OPT_INSECURE,
	OPT_HTTP,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "redis", required_argument, NULL, OPT_REDIS },
	{ "scanners", required_argument, NULL, OPT_SCANNERS },
	{ "lua-path", required_argument, NULL, OPT_LUA_PATH },
	{ "only", required_argument, NULL, OPT_ONLY },
	{ "partitions", required_argument, NULL, OPT_PARTITIONS },
	{ "budget-partitions", required_argument, NULL, OPT_BUDGET },
	{ "quota-partitions", required_argument, NULL, OPT_QUOTA },
	{ "lanes", required_argument, NULL, OPT_LANES },
	{ "functions", required_argument, NULL, OPT_FUNCTIONS },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "sni", required_argument, NULL, OPT_SNI },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "http", required_argument, NULL, OPT_HTTP },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

const char *config_usage(void)
{
	return "usage: scanhost [options]\n"
	       "  -c, --config FILE        Lua config file (default: config/scanhost.lua, or the\n"
	       "                           install's etc/scanhost/scanhost.lua)\n"
	       "  --redis URL              redis://[[user]:password@]host[:port][/db][?db=N&password=P],\n"
	       "                           rediss://... (TLS), unix://[[user]:password@]/path[?...]\n"
	       "                           (env SCANHOST_REDIS; default redis://127.0.0.1:6379);\n"
	       "                           repeat it to name more seed nodes of a cluster\n"
	       "  --cacert FILE            rediss://: CA certificate(s) to verify the server with\n"
	       "                           (default: the system CA store)\n"
	       "  --cert FILE, --key FILE  rediss://: client certificate and key (mutual TLS)\n"
	       "  --sni NAME               rediss://: server name to send and to verify\n"
	       "  --insecure               rediss://: do not verify the server certificate\n"
	       "  --scanners DIR           directory of scanner scripts (repeatable: all are loaded)\n"
	       "  --lua-path DIR           extra directory searched by require\n"
	       "  --functions DIR          server-side library sources (default lua-lib/functions)\n"
	       "  --only NAME[,NAME...]    run only these scanners\n"
	       "  --partitions N           flow/execution partition count (default 256)\n"
	       "  --budget-partitions N    (default 32)\n"
	       "  --quota-partitions N     (default 32)\n"
	       "  --lanes L[,L...]         lanes to scan (default: default)\n"
	       "  --once                   one full cycle of every enabled scanner, then exit\n"
	       "  --check                  validate config and scripts, print what would run\n"
	       "  --http ADDR:PORT         serve /metrics, /healthz, /readyz, /status and the\n"
	       "                           control endpoints there (default: off)\n"
	       "  --log-level error|warn|info|debug\n"
	       "  --log-format text|json\n"
	       "  -h, --help               --version\n"
	       "exit codes: 0 clean exit, 1 runtime failure, 2 usage or configuration error\n";
}

bool config_cli_parse(struct config *c, struct config_cli *cl, int argc, char **argv, char *err,
                      size_t errlen)
{
	optind = 1;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":c:h", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cl->config = optarg; break;
		case OPT_REDIS: add_redis(cl, optarg); break;
		case OPT_SCANNERS:
			if (cl->nscanners >= CONFIG_MAX_DIRS)
				return config_fail(err, errlen, "--scanners",
				                   "too many directories (max 16)");
			cl->scanners[cl->nscanners++] = optarg;
			break;
		case OPT_LUA_PATH: cl->lua_path = optarg; break;
		case OPT_FUNCTIONS: cl->functions = optarg; break;
		case OPT_ONLY: cl->only = optarg; break;
		case OPT_PARTITIONS: cl->partitions = optarg; break;
		case OPT_BUDGET: cl->budget = optarg; break;
		case OPT_QUOTA: cl->quota = optarg; break;
		case OPT_LANES: cl->lanes = optarg; break;
		case OPT_LOG_LEVEL: cl->log_level = optarg; break;
		case OPT_LOG_FORMAT: cl->log_format = optarg; break;
		case OPT_CACERT: cl->cacert = optarg; break;
		case OPT_CERT: cl->cert = optarg; break;
		case OPT_KEY: cl->key = optarg; break;
		case OPT_SNI: cl->sni = optarg; break;
		case OPT_INSECURE: cl->insecure = true; break;
		case OPT_HTTP: cl->http = optarg; break;
		case OPT_ONCE: c->once = true; break;
		case OPT_CHECK: c->check = true; break;
		case 'h': c->help = true; break;
		case OPT_VERSION: c->version = true; break;
		case ':':
			snprintf(err, errlen, "%s: missing value", argv[optind - 1]);
			return false;
		default:
			snprintf(err, errlen, "%s: unknown option", argv[optind - 1]);
			return false;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "%s: unexpected argument", argv[optind]);
		return false;
	}
	if (c->once && c->check)
		return config_fail(err, errlen, "--once", "cannot be combined with --check");
	return true;
}

static bool set_only(struct config *c, const char *csv, char *err, size_t errlen)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", csv);
	c->nonly = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->nonly >= CONFIG_MAX_ONLY || strlen(tok) > 64)
			return config_fail(err, errlen, "--only",
			                   "too many or too long scanner names");
		snprintf(c->only[c->nonly++], sizeof(c->only[0]), "%s", tok);
	}
	return c->nonly > 0 ||
	       config_fail(err, errlen, "--only", "needs at least one scanner name");
}

static bool apply_counts(struct config *c, const struct config_cli *cl, char *err, size_t errlen)
{
	if (cl->partitions && !config_parse_count(cl->partitions, &c->partitions))
		return config_fail(err, errlen, "--partitions", "must be an integer in 1..65535");
	if (cl->budget && !config_parse_count(cl->budget, &c->budget_partitions))
		return config_fail(err, errlen, "--budget-partitions",
		                   "must be an integer in 1..65535");
	if (cl->quota && !config_parse_count(cl->quota, &c->quota_partitions))
		return config_fail(err, errlen, "--quota-partitions",
		                   "must be an integer in 1..65535");
	return true;
}

static bool cli_tls_value(const char *value, const char *opt, char *dst, size_t cap,
                          const char **origin, char *err, size_t errlen)
{
	if (!value)
		return true;
	*origin = opt;
	return config_copy_path(dst, cap, value, opt, err, errlen);
}

static bool apply_cli_tls(struct tls_opts *t, const struct config_cli *cl, char *err, size_t errlen)
{
	if (cl->insecure) {
		t->insecure = true;
		t->insecure_opt = "--insecure";
	}
	return cli_tls_value(cl->cacert, "--cacert", t->cacert, sizeof(t->cacert), &t->cacert_opt,
	                     err, errlen) &&
	       cli_tls_value(cl->cert, "--cert", t->cert, sizeof(t->cert), &t->cert_opt, err,
	                     errlen) &&
	       cli_tls_value(cl->key, "--key", t->key, sizeof(t->key), &t->key_opt, err, errlen) &&
	       cli_tls_value(cl->sni, "--sni", t->sni, sizeof(t->sni), &t->sni_opt, err, errlen);
}

bool config_cli_apply(struct config *c, const struct config_cli *cl, char *err, size_t errlen)
{
	if (!apply_cli_tls(&c->tls, cl, err, errlen))
		return false;
	if (!apply_counts(c, cl, err, errlen))
		return false;
	if (cl->redis &&
	    !config_copy_path(c->redis, sizeof(c->redis), cl->redis, "--redis", err, errlen))
		return false;
	if (cl->nscanners > 0)
		c->nscanners_dirs = 0; /* the command line's list replaces the file's */
	for (int i = 0; i < cl->nscanners; i++) {
		if (!config_add_scanners_dir(c, cl->scanners[i], "--scanners", err, errlen))
			return false;
	}
	if (cl->lua_path && !config_copy_path(c->lua_path, sizeof(c->lua_path), cl->lua_path,
	                                      "--lua-path", err, errlen))
		return false;
	if (cl->functions && !config_copy_path(c->functions_dir, sizeof(c->functions_dir),
	                                       cl->functions, "--functions", err, errlen))
		return false;
	if (cl->only && !set_only(c, cl->only, err, errlen))
		return false;
	if (cl->lanes && !config_set_lanes(c, cl->lanes, err, errlen))
		return false;
	if (cl->http && !config_set_http(c, cl->http, "--http", err, errlen))
		return false;
	if (cl->log_level && !log_level_parse(cl->log_level, &c->log_level))
		return config_fail(err, errlen, "--log-level",
		                   "must be error, warn, info or debug");
	if (cl->log_format && !log_format_parse(cl->log_format, &c->log_format))
		return config_fail(err, errlen, "--log-format", "must be text or json");
	return true;
}
