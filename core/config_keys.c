/* config file keys: the table of the config file's top-level keys, each with
 * the check of its value and the field it sets. */
#include "config_keys.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

typedef bool (*key_fn)(struct config *c, lua_State *L, const char *key, char *err, size_t errlen);

static bool get_string(lua_State *L, const char *key, char *dst, size_t cap, char *err,
                       size_t errlen)
{
	if (lua_type(L, -1) != LUA_TSTRING)
		return config_fail(err, errlen, key, "must be a string");
	size_t n;
	const char *s = lua_tolstring(L, -1, &n);
	if (n == 0 || n >= cap)
		return config_fail(err, errlen, key,
		                   "must be a non-empty string of reasonable length");
	memcpy(dst, s, n + 1);
	return true;
}

static bool get_count(lua_State *L, const char *key, int *dst, char *err, size_t errlen)
{
	lua_Number v = lua_tonumber(L, -1);
	/* range first: casting an out-of-range double to int is undefined */
	if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 1 && v <= 65535) || v != floor(v))
		return config_fail(err, errlen, key, "must be an integer in 1..65535");
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
		return config_fail(err, errlen, key, msg);
	}
	*dst = v;
	return true;
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
		return config_fail(e, n, k, "must be true or false");
	c->claims = lua_toboolean(L, -1);
	return true;
}

typedef bool (*add_fn)(struct config *c, const char *s, const char *key, char *err, size_t errlen);

/* Each element of the array on top of L through add; an element that is no
 * string fails with not_string (add's own failures say why themselves). */
static bool add_each(struct config *c, lua_State *L, const char *k, add_fn add,
                     const char *not_string, char *e, size_t n)
{
	int len = (int)lua_objlen(L, -1);
	for (int i = 1; i <= len; i++) {
		lua_rawgeti(L, -1, i);
		bool ok = lua_type(L, -1) == LUA_TSTRING && add(c, lua_tostring(L, -1), k, e, n);
		lua_pop(L, 1);
		if (!ok)
			return e[0] ? false : config_fail(e, n, k, not_string);
	}
	return true;
}

/* The first URL of a list is the server; the rest are further seed nodes. */
static bool add_server(struct config *c, const char *url, const char *k, char *e, size_t n)
{
	if (c->redis[0])
		return config_add_seed(c, url, k, e, n);
	if (!*url || strlen(url) >= sizeof(c->redis))
		return config_fail(e, n, k,
		                   "a URL must be a non-empty string of reasonable length");
	snprintf(c->redis, sizeof(c->redis), "%s", url);
	return true;
}
/* One URL, or a list of them: seed nodes of one cluster, tried in turn. */
static bool key_redis(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	c->nseeds = 0;
	if (lua_type(L, -1) == LUA_TSTRING)
		return get_string(L, k, c->redis, sizeof(c->redis), e, n);
	if (!lua_istable(L, -1) || lua_objlen(L, -1) == 0)
		return config_fail(e, n, k,
		                   "must be a URL or a non-empty list of URLs (seed nodes of one "
		                   "cluster)");
	c->redis[0] = '\0';
	return add_each(c, L, k, add_server, "URLs must be strings", e, n);
}
/* A directory or a list of them; replaces the default list. */
static bool key_scanners_dir(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	c->nscanners_dirs = 0;
	if (lua_type(L, -1) == LUA_TSTRING)
		return config_add_scanners_dir(c, lua_tostring(L, -1), k, e, n);
	if (!lua_istable(L, -1) || lua_objlen(L, -1) == 0)
		return config_fail(e, n, k,
		                   "must be a directory or a non-empty list of directories");
	return add_each(c, L, k, config_add_scanners_dir, "directories must be strings", e, n);
}
static bool key_functions_dir(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_string(L, k, c->functions_dir, sizeof(c->functions_dir), e, n);
}
static bool key_library_level(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	lua_Number v = lua_tonumber(L, -1);
	if (lua_type(L, -1) != LUA_TNUMBER || (v != 5 && v != 34))
		return config_fail(e, n, k, "must be 5 (FlowFabric 0.1.1) or 34 (FlowFabric v34)");
	c->library_level = (int)v;
	return true;
}
static bool key_lua_memory(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	lua_Number v = lua_tonumber(L, -1);
	if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 1 && v <= 1048576) || v != floor(v))
		return config_fail(e, n, k, "must be an integer number of megabytes in 1..1048576");
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
		return config_fail(e, n, k, "must be a string ADDR:PORT");
	return config_set_http(c, lua_tostring(L, -1), k, e, n);
}
static bool key_control_token_file(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	return get_string(L, k, c->control_token_file, sizeof(c->control_token_file), e, n);
}

static bool key_log_level(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (lua_type(L, -1) != LUA_TSTRING || !log_level_parse(lua_tostring(L, -1), &c->log_level))
		return config_fail(e, n, k,
		                   "must be one of \"error\", \"warn\", \"info\", \"debug\"");
	return true;
}

static bool key_log_format(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (lua_type(L, -1) != LUA_TSTRING ||
	    !log_format_parse(lua_tostring(L, -1), &c->log_format))
		return config_fail(e, n, k, "must be \"text\" or \"json\"");
	return true;
}

static bool key_lanes(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (!lua_istable(L, -1))
		return config_fail(e, n, k, "must be an array of lane names");
	int len = (int)lua_objlen(L, -1);
	if (len == 0)
		return config_fail(e, n, k, "must list at least one lane");
	c->nlanes = 0;
	return add_each(c, L, k, config_add_lane, "lane names must be strings", e, n);
}

/* Per-scanner overrides are checked against each script's defaults when the
 * scripts load; here only their shape. */
static bool key_scanners(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (!lua_istable(L, -1))
		return config_fail(e, n, k, "must be a table of scanner name = { options }");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		char where[128];
		snprintf(where, sizeof(where), "scanners.%s",
		         lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
		if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
			lua_pop(L, 2);
			return config_fail(e, n, where,
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
			return config_fail(e, n, "tls.insecure", "must be true or false");
		t->insecure = lua_toboolean(L, -1);
		t->insecure_opt = "tls.insecure";
		return true;
	}
	char where[96];
	snprintf(where, sizeof(where), "tls.%s", name);
	return config_fail(e, n, where,
	                   "unknown TLS option (known: cacert, cert, key, sni, insecure)");
}

static bool key_tls(struct config *c, lua_State *L, const char *k, char *e, size_t n)
{
	if (!lua_istable(L, -1))
		return config_fail(
		    e, n, k, "must be a table { cacert =, cert =, key =, sni =, insecure = }");
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

bool config_apply_key(struct config *c, lua_State *L, char *err, size_t errlen)
{
	if (lua_type(L, -2) != LUA_TSTRING)
		return config_fail(err, errlen, "config", "top-level keys must be strings");
	const char *key = lua_tostring(L, -2);
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		if (strcmp(key, config_keys[i].key) == 0)
			return config_keys[i].fn(c, L, key, err, errlen);
	}
	return config_fail(err, errlen, key, "unknown config key");
}
