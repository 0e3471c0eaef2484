/* config: the precedence chain, built-in defaults < config file <
 * SCANHOST_REDIS < command line, and the config's release. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "config_file.h"
#include "watchdog.h"

/* TLS options mean nothing without rediss://: say so rather than connect in clear. */
static bool check_tls_url(const struct config *c, char *err, size_t errlen)
{
	const struct tls_opts *t = &c->tls;
	const char *set = t->cacert[0]  ? t->cacert_opt
	                  : t->cert[0]  ? t->cert_opt
	                  : t->key[0]   ? t->key_opt
	                  : t->sni[0]   ? t->sni_opt
	                  : t->insecure ? t->insecure_opt
	                                : NULL;
	if (set && !c->url.tls)
		return config_fail(err, errlen, set, "TLS options need a rediss:// URL");
	return true;
}

/* --redis given again: the command line's seeds replace the file's list. */
static bool cli_seeds(struct config *c, const struct config_cli *cl, char *err, size_t errlen)
{
	c->nseeds = 0;
	if (cl->nseeds > CONFIG_MAX_SEEDS)
		return config_fail(err, errlen, "--redis", "at most 16 seed nodes");
	for (int i = 0; i < cl->nseeds; i++) {
		if (!config_add_seed(c, cl->seeds[i], "--redis", err, errlen))
			return false;
	}
	return true;
}

/* Every further seed node, parsed: the same scheme as the first URL (parsed
 * by then), as one cluster is reached one way. */
static bool parse_seeds(struct config *c, const char *key, char *err, size_t errlen)
{
	char uerr[128];
	for (int i = 0; i < c->nseeds; i++) {
		struct redis_url *u = &c->seeds[i];
		if (!url_parse(c->seed_text[i], u, uerr, sizeof(uerr)))
			return config_fail(err, errlen, key, uerr);
		if (u->tls != c->url.tls || u->is_unix != c->url.is_unix)
			return config_fail(err, errlen, key,
			                   "every seed node needs the same scheme");
	}
	return true;
}

bool config_build(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct config_cli cl = { 0 };
	err[0] = '\0';
	c->argc = argc;
	c->argv = argv;
	if (!config_cli_parse(c, &cl, argc, argv, err, errlen))
		return false;
	if (c->help || c->version)
		return true;
	if (cl.config && !config_copy_path(c->config_path, sizeof(c->config_path), cl.config,
	                                   "--config", err, errlen))
		return false;
	if (!config_file_load(c, c->config_path, cl.config != NULL, err, errlen))
		return false;
	const char *redis_key = "redis";
	const char *env = getenv("SCANHOST_REDIS");
	if (env && *env) {
		snprintf(c->redis, sizeof(c->redis), "%s", env);
		c->nseeds = 0; /* it names one server, in place of the file's list */
		redis_key = "SCANHOST_REDIS";
	}
	if (cl.redis && !cli_seeds(c, &cl, err, errlen))
		return false;
	if (cl.redis)
		redis_key = "--redis";
	if (!config_cli_apply(c, &cl, err, errlen))
		return false;
	char uerr[128];
	if (!url_parse(c->redis, &c->url, uerr, sizeof(uerr)))
		return config_fail(err, errlen, redis_key, uerr);
	return parse_seeds(c, redis_key, err, errlen) && check_tls_url(c, err, errlen);
}

/* The config file's finalizers run here: the watchdog ends a close that
 * never returns. */
void config_free(struct config *c)
{
	if (c->conf_L) {
		char what[PATH_MAX + 48];
		snprintf(what, sizeof(what), "closing the Lua state of the config file %s",
		         c->config_path);
		watchdog_enter(NULL, -1, what);
		lua_close(c->conf_L);
		watchdog_leave();
	}
	c->conf_L = NULL;
}
