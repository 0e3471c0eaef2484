/* config: defaults, the Lua config file, SCANHOST_REDIS and the command line. */
#define _DEFAULT_SOURCE
#include "config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lualib.h>

#include "runaway.h"
#include "watchdog.h"

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool fail(char *err, size_t errlen, const char *key, const char *msg)
{
	snprintf(err, errlen, "%s: %s", key, msg);
	return false;
}

void config_defaults(struct config *c, const char *exe_path)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->redis, sizeof(c->redis), "redis://127.0.0.1:6379");
	c->partitions = 256;
	c->budget_partitions = 32;
	c->quota_partitions = 32;
	snprintf(c->lanes[0], sizeof(c->lanes[0]), "default");
	c->nlanes = 1;
	c->command_timeout = 5.0;
	c->connect_timeout = 5.0;
	c->shutdown_timeout = 1.5;
	c->scan_timeout = 5.0;
	c->claims = true;
	c->lua_memory_mb = 256;
	c->log_level = LOG_INFO;
	c->log_format = LOG_TEXT;
	c->overrides_ref = LUA_NOREF;
	snprintf(c->exe_path, sizeof(c->exe_path), "%s", exe_path ? exe_path : "");
	char exe[PATH_MAX], root[PATH_MAX], probe[PATH_MAX + 64];
	if (!exe_path || !realpath(exe_path, exe))
		snprintf(exe, sizeof(exe), "./bin/scanhost");
	snprintf(root, sizeof(root), "%s", dirname(dirname(exe))); /* <root>/bin/scanhost */
	snprintf(probe, sizeof(probe), "%s/share/scanhost/scanners", root);
	bool installed = is_dir(probe);
	const char *data = installed ? "/share/scanhost" : "";
	c->nscanners_dirs = 1;
	snprintf(c->scanners_dirs[0], sizeof(c->scanners_dirs[0]), "%s%s/scanners", root, data);
	snprintf(c->lua_lib_dir, sizeof(c->lua_lib_dir), "%s%s/lua-lib", root, data);
	snprintf(c->functions_dir, sizeof(c->functions_dir), "%s%s/lua-lib/functions", root, data);
	c->library_recheck = 30;
	snprintf(c->config_path, sizeof(c->config_path), "%s%s/config/scanhost.lua", root, data);
	snprintf(c->tls_module, sizeof(c->tls_module), "%s/%s", root,
	         data[0] ? "lib/scanhost/scanhost-tls.so" : "bin/scanhost-tls.so");
	snprintf(c->http_module, sizeof(c->http_module), "%s/%s", root,
	         data[0] ? "lib/scanhost/scanhost-http.so" : "bin/scanhost-http.so");
	if (!installed)
		return;
	/* installed: the user's files live under etc/, never overwritten */
	snprintf(c->scanners_dirs[1], sizeof(c->scanners_dirs[1]), "%s/etc/scanhost/scanners.d",
	         root);
	c->scanners_dir_optional[1] = true;
	c->nscanners_dirs = 2;
	snprintf(probe, sizeof(probe), "%s/etc/scanhost/scanhost.lua", root);
	struct stat st;
	if (stat(probe, &st) == 0)
		snprintf(c->config_path, sizeof(c->config_path), "%s", probe);
}

bool config_parse_count(const char *text, int *out)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v < 1 || v > 65535)
		return false;
	*out = (int)v;
	return true;
}

static bool valid_lane(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == ',')
			return false;
	}
	return true;
}

static bool add_lane(struct config *c, const char *lane, const char *key, char *err, size_t errlen)
{
	if (!valid_lane(lane))
		return fail(err, errlen, key, "each lane must be 1..64 printable ASCII characters");
	if (c->nlanes >= CONFIG_MAX_LANES)
		return fail(err, errlen, key, "too many lanes (max 64)");
	snprintf(c->lanes[c->nlanes++], sizeof(c->lanes[0]), "%s", lane);
	return true;
}

bool config_set_lanes(struct config *c, const char *csv, char *err, size_t errlen)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", csv);
	c->nlanes = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!add_lane(c, tok, "--lanes", err, errlen))
			return false;
	return c->nlanes > 0 || fail(err, errlen, "--lanes", "at least one lane is required");
}

static bool parse_port(const char *text, in_port_t *out)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v < 0 || v > 65535)
		return false;
	*out = htons((uint16_t)v);
	return true;
}

bool config_set_http(struct config *c, const char *text, const char *key, char *err, size_t errlen)
{
	static const char usage[] = "must be ADDR:PORT (an IPv4 address or [IPv6], port 0..65535)";
	char host[128];
	const char *colon = strrchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : 0;
	if (!colon || n == 0 || n >= sizeof(host) || strlen(text) >= sizeof(c->http))
		return fail(err, errlen, key, usage);
	memcpy(host, text, n);
	host[n] = '\0';
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	bool ok;
	if (host[0] == '[' && host[n - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		host[n - 1] = '\0';
		a->sin6_family = AF_INET6;
		len = sizeof(*a);
		ok = inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 &&
		     parse_port(colon + 1, &a->sin6_port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		len = sizeof(*a);
		ok = inet_pton(AF_INET, host, &a->sin_addr) == 1 &&
		     parse_port(colon + 1, &a->sin_port);
	}
	if (!ok)
		return fail(err, errlen, key, usage);
	c->http_addr = ss;
	c->http_addrlen = len;
	snprintf(c->http, sizeof(c->http), "%s", text);
	return true;
}

/* ---- the config file ---------------------------------------------------- */

typedef bool (*key_fn)(struct config *c, lua_State *L, const char *key, char *err, size_t errlen);

static bool get_string(lua_State *L, const char *key, char *dst, size_t cap, char *err,
                       size_t errlen)
{
	if (lua_type(L, -1) != LUA_TSTRING)
		return fail(err, errlen, key, "must be a string");
	size_t n;
	const char *s = lua_tolstring(L, -1, &n);
	if (n == 0 || n >= cap)
		return fail(err, errlen, key, "must be a non-empty string of reasonable length");
	memcpy(dst, s, n + 1);
	return true;
}

static bool get_count(lua_State *L, const char *key, int *dst, char *err, size_t errlen)
{
	lua_Number v = lua_tonumber(L, -1);
	/* range first: casting an out-of-range double to int is undefined */
	if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 1 && v <= 65535) || v != floor(v))
		return fail(err, errlen, key, "must be an integer in 1..65535");
	*dst = (int)v;
	return true;
}

static bool get_seconds(lua_State *L, const char *key, double *dst, double lo, double hi, char *err,
                        size_t errlen)
{
	lua_Number v = lua_tonumber(L, -1);
	if (lua_type(L, -1) != LUA_TNUMBER || !(v >= lo && v <= hi)) {
		char msg[96];
		snprintf(msg, sizeof(msg), "must be a number of seconds in [%g, %g]", lo, hi);
		return fail(err, errlen, key, msg);
	}
	*dst = v;
	return true;
}

static bool key_redis(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_string(L, k, c->redis, sizeof(c->redis), e, n);
}
static bool key_partitions(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_count(L, k, &c->partitions, e, n);
}
static bool key_budget(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_count(L, k, &c->budget_partitions, e, n);
}
static bool key_quota(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_count(L, k, &c->quota_partitions, e, n);
}
static bool key_command_timeout(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_seconds(L, k, &c->command_timeout, 0.01, 3600, e, n);
}
static bool key_connect_timeout(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_seconds(L, k, &c->connect_timeout, 0.01, 3600, e, n);
}
static bool key_shutdown_timeout(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_seconds(L, k, &c->shutdown_timeout, 0, 600, e, n);
}
static bool key_scan_timeout(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_seconds(L, k, &c->scan_timeout, 0.01, 3600, e, n);
}
static bool key_library_recheck(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_seconds(L, k, &c->library_recheck, 0.1, 86400, e, n);
}
static bool key_claims(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (!lua_isboolean(L, -1))
		return fail(e, n, k, "must be true or false");
	c->claims = lua_toboolean(L, -1);
	return true;
}
static bool add_scanners_dir(struct config *c, const char *dir, const char *key, char *err,
                             size_t errlen)
{
	if (c->nscanners_dirs >= CONFIG_MAX_DIRS)
		return fail(err, errlen, key, "too many scanner directories (max 16)");
	if (!*dir || strlen(dir) >= sizeof(c->scanners_dirs[0]))
		return fail(err, errlen, key, "a directory must be a non-empty path");
	snprintf(c->scanners_dirs[c->nscanners_dirs], sizeof(c->scanners_dirs[0]), "%s", dir);
	c->scanners_dir_optional[c->nscanners_dirs++] = false;
	return true;
}

/* A directory or a list of them; replaces the default list. */
static bool key_scanners_dir(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	c->nscanners_dirs = 0;
	if (lua_type(L, -1) == LUA_TSTRING)
		return add_scanners_dir(c, lua_tostring(L, -1), k, e, n);
	if (!lua_istable(L, -1) || lua_objlen(L, -1) == 0)
		return fail(e, n, k, "must be a directory or a non-empty list of directories");
	int len = (int)lua_objlen(L, -1);
	for (int i = 1; i <= len; i++) {
		lua_rawgeti(L, -1, i);
		bool ok = lua_type(L, -1) == LUA_TSTRING &&
		          add_scanners_dir(c, lua_tostring(L, -1), k, e, n);
		lua_pop(L, 1);
		if (!ok)
			return e[0] ? false : fail(e, n, k, "directories must be strings");
	}
	return true;
}
static bool key_functions_dir(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_string(L, k, c->functions_dir, sizeof(c->functions_dir), e, n);
}
static bool key_library_level(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	lua_Number v = lua_tonumber(L, -1);
	if (lua_type(L, -1) != LUA_TNUMBER || (v != 5 && v != 34))
		return fail(e, n, k, "must be 5 (FlowFabric 0.1.1) or 34 (FlowFabric v34)");
	c->library_level = (int)v;
	return true;
}
static bool key_lua_memory(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	lua_Number v = lua_tonumber(L, -1);
	if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 1 && v <= 1048576) || v != floor(v))
		return fail(e, n, k, "must be an integer number of megabytes in 1..1048576");
	c->lua_memory_mb = (int)v;
	return true;
}
static bool key_lua_path(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_string(L, k, c->lua_path, sizeof(c->lua_path), e, n);
}

static bool key_http(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (lua_type(L, -1) != LUA_TSTRING)
		return fail(e, n, k, "must be a string ADDR:PORT");
	return config_set_http(c, lua_tostring(L, -1), k, e, n);
}
static bool key_control_token_file(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_string(L, k, c->control_token_file, sizeof(c->control_token_file), e, n);
}

static bool key_log_level(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (lua_type(L, -1) != LUA_TSTRING || !log_level_parse(lua_tostring(L, -1), &c->log_level))
		return fail(e, n, k, "must be one of \"error\", \"warn\", \"info\", \"debug\"");
	return true;
}

static bool key_log_format(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (lua_type(L, -1) != LUA_TSTRING ||
	    !log_format_parse(lua_tostring(L, -1), &c->log_format))
		return fail(e, n, k, "must be \"text\" or \"json\"");
	return true;
}

static bool key_lanes(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (!lua_istable(L, -1))
		return fail(e, n, k, "must be an array of lane names");
	int len = (int)lua_objlen(L, -1);
	if (len == 0)
		return fail(e, n, k, "must list at least one lane");
	c->nlanes = 0;
	for (int i = 1; i <= len; i++) {
		lua_rawgeti(L, -1, i);
		bool ok =
		    lua_type(L, -1) == LUA_TSTRING && add_lane(c, lua_tostring(L, -1), k, e, n);
		lua_pop(L, 1);
		if (!ok)
			return e[0] ? false : fail(e, n, k, "lane names must be strings");
	}
	return true;
}

/* Per-scanner overrides are checked against each script's defaults when the
 * scripts load; here only their shape. */
static bool key_scanners(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (!lua_istable(L, -1))
		return fail(e, n, k, "must be a table of scanner name = { options }");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		char where[128];
		snprintf(where, sizeof(where), "scanners.%s",
		         lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
		if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
			lua_pop(L, 2);
			return fail(e, n, where,
			            "must be a table of options keyed by scanner name");
		}
		lua_pop(L, 1);
	}
	lua_pushvalue(L, -1);
	c->overrides_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return true;
}

static bool tls_value(lua_State *L, const char *opt, char *dst, size_t cap, const char **origin,
                      char *e, size_t n)
{
	*origin = opt; /* named in later messages about this value */
	return get_string(L, opt, dst, cap, e, n);
}

/* One entry of tls = { ... }. */
static bool tls_key(struct config *c, lua_State *L, char *e, size_t n)
{
	struct tls_opts *t = &c->tls;
	const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
	if (strcmp(name, "cacert") == 0)
		return tls_value(L, "tls.cacert", t->cacert, sizeof(t->cacert), &t->cacert_opt, e,
		                 n);
	if (strcmp(name, "cert") == 0)
		return tls_value(L, "tls.cert", t->cert, sizeof(t->cert), &t->cert_opt, e, n);
	if (strcmp(name, "key") == 0)
		return tls_value(L, "tls.key", t->key, sizeof(t->key), &t->key_opt, e, n);
	if (strcmp(name, "sni") == 0)
		return tls_value(L, "tls.sni", t->sni, sizeof(t->sni), &t->sni_opt, e, n);
	if (strcmp(name, "insecure") == 0) {
		if (lua_type(L, -1) != LUA_TBOOLEAN)
			return fail(e, n, "tls.insecure", "must be true or false");
		t->insecure = lua_toboolean(L, -1);
		t->insecure_opt = "tls.insecure";
		return true;
	}
	char where[96];
	snprintf(where, sizeof(where), "tls.%s", name);
	return fail(e, n, where, "unknown TLS option (known: cacert, cert, key, sni, insecure)");
}

static bool key_tls(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (!lua_istable(L, -1))
		return fail(e, n, k,
		            "must be a table { cacert =, cert =, key =, sni =, insecure = }");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		bool ok = tls_key(c, L, e, n);
		lua_pop(L, 1);
		if (!ok) {
			lua_pop(L, 1);
			return false;
		}
	}
	return true;
}

static bool key_filter(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	(void)k;
	return filter_read(&c->filter, L, e, n);
}

static const struct {
	const char *key;
	key_fn fn;
} config_keys[] = {
	{ "redis", key_redis },
	{ "partitions", key_partitions },
	{ "budget_partitions", key_budget },
	{ "quota_partitions", key_quota },
	{ "lanes", key_lanes },
	{ "command_timeout", key_command_timeout },
	{ "connect_timeout", key_connect_timeout },
	{ "shutdown_timeout", key_shutdown_timeout },
	{ "scan_timeout", key_scan_timeout },
	{ "claims", key_claims },
	{ "lua_memory_mb", key_lua_memory },
	{ "log_level", key_log_level },
	{ "log_format", key_log_format },
	{ "scanners_dir", key_scanners_dir },
	{ "functions_dir", key_functions_dir },
	{ "library_level", key_library_level },
	{ "library_recheck", key_library_recheck },
	{ "lua_path", key_lua_path },
	{ "scanners", key_scanners },
	{ "tls", key_tls },
	{ "http", key_http },
	{ "control_token_file", key_control_token_file },
	{ "filter", key_filter },
};

static bool apply_key(struct config *c, lua_State *L, char *err, size_t errlen)
{
	if (lua_type(L, -2) != LUA_TSTRING)
		return fail(err, errlen, "config", "top-level keys must be strings");
	const char *key = lua_tostring(L, -2);
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		if (strcmp(key, config_keys[i].key) == 0)
			return config_keys[i].fn(c, L, key, err, errlen);
	}
	return fail(err, errlen, key, "unknown config key");
}

/* Runs the config file in a coroutine under the runaway guard (a loop is
 * refused after CONFIG_RUN_SECONDS), the watchdog (code stuck in C ends the
 * process, naming the file: status 2 at start) and a memory limit.
 * Leaves the file's result on top of c->conf_L. */
static bool run_file(struct config *c, const char *path, char *err, size_t errlen)
{
	lua_State *L = memlimit_newstate(&c->conf_mem, (size_t)CONFIG_LUA_MEMORY_MB << 20);
	if (!L)
		L = luaL_newstate(); /* no custom allocators: the guard still applies */
	if (!L)
		return fail(err, errlen, path, "out of memory");
	c->conf_L = L;
	luaL_openlibs(L);
	runaway_install(L);
	lua_State *co = lua_newthread(L);
	if (luaL_loadfile(co, path) != 0)
		return fail(err, errlen, "config", lua_tostring(co, -1));
	char what[PATH_MAX + 32];
	snprintf(what, sizeof(what), "the config file %s", path);
	watchdog_enter(NULL, -1, what);
	runaway_arm(CONFIG_RUN_SECONDS);
	memlimit_protect(&c->conf_mem);
	int rc = lua_resume(co, 0);
	memlimit_unprotect(&c->conf_mem);
	runaway_disarm();
	watchdog_leave();
	char msg[128];
	if (runaway_check()) {
		snprintf(msg, sizeof(msg),
		         "the config file ran for more than %g s without returning; refused",
		         runaway_seconds());
		return fail(err, errlen, path, msg);
	}
	if (memlimit_exceeded(&c->conf_mem)) {
		snprintf(msg, sizeof(msg), "the config file used more than %d MB; refused",
		         CONFIG_LUA_MEMORY_MB);
		return fail(err, errlen, path, msg);
	}
	if (rc == LUA_YIELD)
		return fail(err, errlen, path, "the config file must not yield");
	if (rc != 0)
		return fail(err, errlen, "config", lua_tostring(co, -1));
	lua_settop(co, 1);
	lua_xmove(co, L, 1);
	lua_remove(L, -2); /* the thread */
	return true;
}

static bool load_file(struct config *c, const char *path, bool must_exist, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		if (!must_exist)
			return true;
		return fail(err, errlen, path, "config file not found");
	}
	if (!run_file(c, path, err, errlen))
		return false;
	c->config_loaded = true;
	lua_State *L = c->conf_L;
	if (!lua_istable(L, -1))
		return fail(err, errlen, path, "the config file must return a table");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (!apply_key(c, L, err, errlen))
			return false;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return true;
}

/* ---- the command line ----------------------------------------------------- */

/* Seeds beyond the limit are refused in apply_seeds (nseeds counts them). */
struct cli;
static void add_redis(struct cli *cl, const char *url);

struct cli {
	const char *config, *redis, *lua_path, *only, *partitions, *budget, *quota;
	const char *log_level, *log_format, *lanes, *functions;
	const char *cacert, *cert, *key, *sni;
	const char *http;
	bool insecure;
	const char *scanners[CONFIG_MAX_DIRS]; /* --scanners, repeatable */
	const char *seeds[CONFIG_MAX_SEEDS];   /* --redis again: more seed nodes */
	int nseeds;
	int nscanners;
};

static void add_redis(struct cli *cl, const char *url)
{
	if (!cl->redis)
		cl->redis = url;
	else if (cl->nseeds < CONFIG_MAX_SEEDS)
		cl->seeds[cl->nseeds++] = url;
	else
		cl->nseeds = CONFIG_MAX_SEEDS + 1;
}

/* --redis given again: further seed nodes of a cluster, same scheme. */
static bool apply_seeds(struct config *c, const struct cli *cl, char *err, size_t errlen)
{
	char uerr[128];
	if (cl->nseeds > CONFIG_MAX_SEEDS)
		return fail(err, errlen, "--redis", "at most 16 seed nodes");
	for (int i = 0; i < cl->nseeds; i++) {
		if (!url_parse(cl->seeds[i], &c->seeds[i], uerr, sizeof(uerr)))
			return fail(err, errlen, "--redis", uerr);
		if (c->seeds[i].tls != c->url.tls || c->seeds[i].is_unix != c->url.is_unix)
			return fail(err, errlen, "--redis",
			            "every seed node needs the same scheme");
	}
	c->nseeds = cl->nseeds;
	return true;
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

static bool parse_cli(struct config *c, struct cli *cl, int argc, char **argv, char *err,
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
				return fail(err, errlen, "--scanners",
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
		return fail(err, errlen, "--once", "cannot be combined with --check");
	return true;
}

static bool set_only(struct config *c, const char *csv, char *err, size_t errlen)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", csv);
	c->nonly = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->nonly >= CONFIG_MAX_ONLY || strlen(tok) > 64)
			return fail(err, errlen, "--only", "too many or too long scanner names");
		snprintf(c->only[c->nonly++], sizeof(c->only[0]), "%s", tok);
	}
	return c->nonly > 0 || fail(err, errlen, "--only", "needs at least one scanner name");
}

static bool copy_path(char *dst, size_t cap, const char *src, const char *key, char *err,
                      size_t errlen)
{
	if (strlen(src) >= cap || !*src)
		return fail(err, errlen, key, "path is empty or too long");
	snprintf(dst, cap, "%s", src);
	return true;
}

static bool apply_counts(struct config *c, const struct cli *cl, char *err, size_t errlen)
{
	if (cl->partitions && !config_parse_count(cl->partitions, &c->partitions))
		return fail(err, errlen, "--partitions", "must be an integer in 1..65535");
	if (cl->budget && !config_parse_count(cl->budget, &c->budget_partitions))
		return fail(err, errlen, "--budget-partitions", "must be an integer in 1..65535");
	if (cl->quota && !config_parse_count(cl->quota, &c->quota_partitions))
		return fail(err, errlen, "--quota-partitions", "must be an integer in 1..65535");
	return true;
}

static bool cli_tls_value(const char *value, const char *opt, char *dst, size_t cap,
                          const char **origin, char *err, size_t errlen)
{
	if (!value)
		return true;
	*origin = opt;
	return copy_path(dst, cap, value, opt, err, errlen);
}

static bool apply_cli_tls(struct tls_opts *t, const struct cli *cl, char *err, size_t errlen)
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
		return fail(err, errlen, set, "TLS options need a rediss:// URL");
	return true;
}

static bool apply_cli(struct config *c, const struct cli *cl, char *err, size_t errlen)
{
	if (!apply_cli_tls(&c->tls, cl, err, errlen))
		return false;
	if (!apply_counts(c, cl, err, errlen))
		return false;
	if (cl->redis && !copy_path(c->redis, sizeof(c->redis), cl->redis, "--redis", err, errlen))
		return false;
	if (cl->nscanners > 0)
		c->nscanners_dirs = 0; /* the command line's list replaces the file's */
	for (int i = 0; i < cl->nscanners; i++) {
		if (!add_scanners_dir(c, cl->scanners[i], "--scanners", err, errlen))
			return false;
	}
	if (cl->lua_path &&
	    !copy_path(c->lua_path, sizeof(c->lua_path), cl->lua_path, "--lua-path", err, errlen))
		return false;
	if (cl->functions && !copy_path(c->functions_dir, sizeof(c->functions_dir), cl->functions,
	                                "--functions", err, errlen))
		return false;
	if (cl->only && !set_only(c, cl->only, err, errlen))
		return false;
	if (cl->lanes && !config_set_lanes(c, cl->lanes, err, errlen))
		return false;
	if (cl->http && !config_set_http(c, cl->http, "--http", err, errlen))
		return false;
	if (cl->log_level && !log_level_parse(cl->log_level, &c->log_level))
		return fail(err, errlen, "--log-level", "must be error, warn, info or debug");
	if (cl->log_format && !log_format_parse(cl->log_format, &c->log_format))
		return fail(err, errlen, "--log-format", "must be text or json");
	return true;
}

bool config_build(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct cli cl = { 0 };
	err[0] = '\0';
	c->argc = argc;
	c->argv = argv;
	if (!parse_cli(c, &cl, argc, argv, err, errlen))
		return false;
	if (c->help || c->version)
		return true;
	if (cl.config &&
	    !copy_path(c->config_path, sizeof(c->config_path), cl.config, "--config", err, errlen))
		return false;
	if (!load_file(c, c->config_path, cl.config != NULL, err, errlen))
		return false;
	const char *redis_key = "redis";
	const char *env = getenv("SCANHOST_REDIS");
	if (env && *env) {
		snprintf(c->redis, sizeof(c->redis), "%s", env);
		redis_key = "SCANHOST_REDIS";
	}
	if (cl.redis)
		redis_key = "--redis";
	if (!apply_cli(c, &cl, err, errlen))
		return false;
	char uerr[128];
	if (!url_parse(c->redis, &c->url, uerr, sizeof(uerr)))
		return fail(err, errlen, redis_key, uerr);
	return apply_seeds(c, &cl, err, errlen) && check_tls_url(c, err, errlen);
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
