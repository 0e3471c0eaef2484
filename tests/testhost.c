/* scanhost_test: the host's real bindings, loop and runner loaded into
 * busted, so specs run scanners exactly as the daemon does.
 *
 *   local T = require "scanhost_test"
 *   local h = T.new{ redis = url, partitions = 4, budget_partitions = 2,
 *                    quota_partitions = 2, lanes = {"default"},
 *                    scanners = "scanners", functions = "lua-lib/functions",
 *                    lua_lib = "lua-lib", scanner_config = { name = {...} },
 *                    command_timeout = 5,
 *                    tls = { cacert =, cert =, key =, sni =, insecure = } }
 *   h:run(fn, ...)   fn(ctx, 0, ...) in a coroutine with a real ctx; its results
 *   h:call(cmd, ...) h:fcall(name, keys, args)   one command, synchronously
 *   h:load_library() "scanhost" | "flowfabric" | nil, err
 *   h:once(name)     one full cycle of a scanner: processed, errors, skipped
 *   h:tracker(name, key)  consecutive failures recorded for key
 *   h:wait_ready([seconds])  runs the loop until connected again: true | false
 *   h:reload(name)   a fresh Lua state for one scanner (its tracker stays)
 *   h:round_trips()  request batches written by scripts so far
 *   h:instance_id()  this handle's instance id (claims: T.new{claims = false} turns them off)
 *   h:claimed(name)  partitions the scanner claimed in its last cycle: count, {p, ...}
 *   h:logs()         log lines captured since the last call (T.new{capture_logs = true})
 *   T.new{once = true}: ctx.once is true, as under --once
 *   h:close()
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "redis.h"
#include "router.h"
#include "runaway.h"
#include "script_load.h"
#include "script_run.h"

#define TESTHOST_MT "scanhost_test.host"

struct testhost {
	struct config cfg;
	struct host host;
	struct ev_loop *loop;
	struct script *spec; /* runs h:run bodies; its L is `home` */
	int home_ref;        /* anchors home: a thread of the caller's state that
	                      * lives as long as the handle (a busted `it` coroutine
	                      * may be collected before h:close) */
	bool open;
	char *logs; /* captured log text */
	size_t logs_len;
};

static void capture_log(void *data, const char *line, size_t len)
{
	struct testhost *t = data;
	char *p = realloc(t->logs, t->logs_len + len + 1);
	if (!p)
		return;
	memcpy(p + t->logs_len, line, len);
	t->logs = p;
	t->logs_len += len;
	t->logs[t->logs_len] = '\0';
}

static struct testhost *check_host(lua_State *L)
{
	struct testhost *t = luaL_checkudata(L, 1, TESTHOST_MT);
	if (!t->open)
		luaL_error(L, "scanhost_test: host is closed");
	return t;
}

static const char *opt_string(lua_State *L, const char *key, const char *def)
{
	lua_getfield(L, 1, key);
	const char *v = lua_isnil(L, -1) ? def : luaL_checkstring(L, -1);
	lua_pop(L, 1);
	return v;
}

static double opt_number(lua_State *L, const char *key, double def)
{
	lua_getfield(L, 1, key);
	double v = lua_isnil(L, -1) ? def : luaL_checknumber(L, -1);
	lua_pop(L, 1);
	return v;
}

static void set_path(char *dst, size_t cap, const char *v)
{
	snprintf(dst, cap, "%s", v);
}

static void read_lanes(lua_State *L, struct config *c)
{
	lua_getfield(L, 1, "lanes");
	if (lua_istable(L, -1)) {
		c->nlanes = 0;
		for (int i = 1; i <= (int)lua_objlen(L, -1) && i <= CONFIG_MAX_LANES; i++) {
			lua_rawgeti(L, -1, i);
			snprintf(c->lanes[c->nlanes++], sizeof(c->lanes[0]), "%s",
			         luaL_checkstring(L, -1));
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
}

/* scanner_config goes into a private config state, as a config file would. */
static void read_overrides(lua_State *L, struct config *c)
{
	lua_getfield(L, 1, "scanner_config");
	if (lua_istable(L, -1)) {
		c->conf_L = luaL_newstate();
		lua_State *C = c->conf_L;
		lua_newtable(C);
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			lua_pushstring(C, luaL_checkstring(L, -2));
			lua_newtable(C);
			lua_pushnil(L);
			while (lua_next(L, -2)) {
				lua_pushstring(C, luaL_checkstring(L, -2));
				if (lua_type(L, -1) == LUA_TNUMBER)
					lua_pushnumber(C, lua_tonumber(L, -1));
				else if (lua_type(L, -1) == LUA_TBOOLEAN)
					lua_pushboolean(C, lua_toboolean(L, -1));
				else
					lua_pushstring(C, luaL_checkstring(L, -1));
				lua_rawset(C, -3);
				lua_pop(L, 1);
			}
			lua_rawset(C, -3);
			lua_pop(L, 1);
		}
		c->overrides_ref = luaL_ref(C, LUA_REGISTRYINDEX);
	}
	lua_pop(L, 1);
}

/* tls = { cacert =, cert =, key =, sni =, insecure = }, for rediss:// URLs */
static void read_tls(lua_State *L, struct tls_opts *t)
{
	lua_getfield(L, 1, "tls");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "insecure");
		t->insecure = lua_toboolean(L, -1);
		lua_pop(L, 1);
		lua_getfield(L, -1, "cacert");
		snprintf(t->cacert, sizeof(t->cacert), "%s", luaL_optstring(L, -1, ""));
		lua_getfield(L, -2, "cert");
		snprintf(t->cert, sizeof(t->cert), "%s", luaL_optstring(L, -1, ""));
		lua_getfield(L, -3, "key");
		snprintf(t->key, sizeof(t->key), "%s", luaL_optstring(L, -1, ""));
		lua_getfield(L, -4, "sni");
		snprintf(t->sni, sizeof(t->sni), "%s", luaL_optstring(L, -1, ""));
		lua_pop(L, 4);
	}
	lua_pop(L, 1);
	t->cacert_opt = "tls.cacert";
	t->cert_opt = "tls.cert";
	t->key_opt = "tls.key";
	t->sni_opt = "tls.sni";
	t->insecure_opt = "tls.insecure";
}

static void configure(lua_State *L, struct config *c)
{
	config_defaults(c, "./bin/scanhost");
	set_path(c->redis, sizeof(c->redis), opt_string(L, "redis", c->redis));
	set_path(c->scanners_dirs[0], sizeof(c->scanners_dirs[0]),
	         opt_string(L, "scanners", "scanners"));
	c->nscanners_dirs = 1;
	c->scanners_dir_optional[0] = false;
	set_path(c->lua_lib_dir, sizeof(c->lua_lib_dir), opt_string(L, "lua_lib", "lua-lib"));
	lua_getfield(L, 1, "functions"); /* false: no library sources */
	bool no_functions = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
	lua_pop(L, 1);
	set_path(c->functions_dir, sizeof(c->functions_dir),
	         no_functions ? "" : opt_string(L, "functions", "lua-lib/functions"));
	c->partitions = (int)opt_number(L, "partitions", 4);
	c->budget_partitions = (int)opt_number(L, "budget_partitions", 2);
	c->quota_partitions = (int)opt_number(L, "quota_partitions", 2);
	c->command_timeout = opt_number(L, "command_timeout", 5);
	c->connect_timeout = opt_number(L, "connect_timeout", 5);
	lua_getfield(L, 1, "claims");
	c->claims = lua_isnil(L, -1) || lua_toboolean(L, -1);
	lua_pop(L, 1);
	c->lua_memory_mb = (int)opt_number(L, "lua_memory_mb", c->lua_memory_mb);
	c->library_level = (int)opt_number(L, "library_level", 0); /* 5 | 34; 0: default */
	read_lanes(L, c);
	read_overrides(L, c);
	read_tls(L, &c->tls);
	lua_getfield(L, 1, "filter"); /* filter = { namespace =, tag = { key =, value = } } */
	char ferr[160];
	if (!lua_isnil(L, -1) && !filter_read(&c->filter, L, ferr, sizeof(ferr)))
		luaL_error(L, "scanhost_test: %s", ferr);
	lua_pop(L, 1);
	char err[128];
	if (!url_parse(c->redis, &c->url, err, sizeof(err)))
		luaL_error(L, "scanhost_test: redis: %s", err);
}

/* Runs the loop until *flag becomes true or the deadline passes. */
static bool wait_until(struct testhost *t, const bool *flag, double seconds)
{
	double deadline = ev_time() + seconds;
	while (!*flag && ev_time() < deadline)
		ev_run(t->loop, EVRUN_ONCE);
	return *flag;
}

static int th_new(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct testhost *t = lua_newuserdata(L, sizeof(*t));
	memset(t, 0, sizeof(*t));
	luaL_getmetatable(L, TESTHOST_MT);
	lua_setmetatable(L, -2);
	configure(L, &t->cfg);
	const char *level = opt_string(L, "log_level", "warn");
	const char *format = opt_string(L, "log_format", "text");
	enum log_level lv = LOG_WARN;
	enum log_format lf = LOG_TEXT;
	log_level_parse(level, &lv);
	log_format_parse(format, &lf);
	log_setup(lv, lf);
	lua_getfield(L, 1, "capture_logs");
	if (lua_toboolean(L, -1))
		log_set_sink(capture_log, t);
	lua_pop(L, 1);
	t->loop = ev_loop_new(EVFLAG_AUTO);
	char err[256];
	if (!host_init(&t->host, &t->cfg, t->loop, &clock_system, err, sizeof(err)))
		return luaL_error(L, "scanhost_test: %s", err);
	t->host.manual = true;
	t->open = true;
	lua_getfield(L, 1, "once"); /* ctx.once: its scanners act as under --once */
	t->host.env.once = lua_toboolean(L, -1);
	lua_pop(L, 1);
	host_load_scanners(&t->host);
	lua_State *home = lua_newthread(L);
	t->home_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	t->spec = script_wrap(&t->host.env, home, "spec");
	host_start(&t->host);
	if (!wait_until(t, &t->host.ready, t->cfg.connect_timeout + 5))
		return luaL_error(L, "scanhost_test: redis at %s not ready", t->cfg.redis);
	return 1;
}

static void on_done(void *data, const struct tally *t)
{
	(void)t;
	*(bool *)data = true;
}

/* h:run(fn, ...) -> fn's results; raises fn's error with its traceback. */
static int th_run(lua_State *L)
{
	struct testhost *t = check_host(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	struct script *s = t->spec;
	if (script_busy(s))
		return luaL_error(L, "scanhost_test: h:run/h:call cannot be nested; use ctx.redis "
		                     "inside the body");
	lua_State *home = s->L;
	int base = lua_gettop(home);
	bool done = false;
	lua_pushvalue(L, 2);
	lua_xmove(L, home, 1);
	script_run_fn(s, 0, on_done, &done);
	if (!wait_until(t, &done, 3600))
		return luaL_error(L, "scanhost_test: run did not finish");
	int n = lua_gettop(home) - base; /* the results, or the error with its traceback */
	lua_xmove(home, L, n);
	if (s->task.failed)
		return lua_error(L);
	return n;
}

/* h:load_library() -> "scanhost" | "flowfabric", version | nil, err: the
 * host's loader, run again now on every primary (e.g. after a spec flushed
 * or replaced libraries), then ff_version read as the host does
 * (ctx.library_version). */
static int th_load_library(lua_State *L)
{
	struct testhost *t = check_host(L);
	double deadline = ev_time() + 30;
	libset_recheck(&t->host.libset);
	while ((libset_busy(&t->host.libset) || t->host.libversion.pending > 0) &&
	       ev_time() < deadline)
		ev_run(t->loop, EVRUN_ONCE);
	t->host.env.library = libset_in_use(&t->host.libset);
	if (libset_busy(&t->host.libset) || !t->host.env.library) {
		lua_pushnil(L);
		lua_pushstring(L, "no usable function library (see the log)");
		return 2;
	}
	lua_pushstring(L, t->host.env.library);
	lua_pushstring(L, t->host.libversion.value);
	return 2;
}

static int th_once(lua_State *L)
{
	struct testhost *t = check_host(L);
	const char *name = luaL_checkstring(L, 2);
	struct scanner *s = host_find(&t->host, name);
	if (!s || !s->active)
		return luaL_error(L, "scanhost_test: no scanner named %s", name);
	host_run_once(&t->host, s);
	if (!wait_until(t, &s->once_done, 3600))
		return luaL_error(L, "scanhost_test: cycle did not finish");
	lua_pushnumber(L, (lua_Number)s->last.processed);
	lua_pushnumber(L, (lua_Number)s->last.errors);
	lua_pushnumber(L, (lua_Number)s->last.skipped);
	return 3;
}

/* h:wait_ready([seconds]) -> true once connected again (the loop runs
 * meanwhile, so reconnects happen), false after the timeout (default 10). */
static int th_wait_ready(lua_State *L)
{
	struct testhost *t = check_host(L);
	double deadline = ev_time() + luaL_optnumber(L, 2, 10);
	while (!(t->host.env.router && router_ready(t->host.env.router) && t->host.ready) &&
	       ev_time() < deadline)
		ev_run(t->loop, EVRUN_ONCE);
	lua_pushboolean(L, t->host.env.router && router_ready(t->host.env.router) && t->host.ready);
	return 1;
}

/* h:reload(name): a fresh Lua state for one scanner, as a reload of its
 * changed file gives (module-level variables start over; the C failure
 * tracker stays). */
static int th_reload(lua_State *L)
{
	struct testhost *t = check_host(L);
	const char *name = luaL_checkstring(L, 2);
	struct scanner *s = host_find(&t->host, name);
	if (!s || !s->active || script_busy(s->active))
		return luaL_error(L, "scanhost_test: no idle scanner named %s", name);
	char err[2048];
	bool bad_option;
	struct script *sc =
	    script_load(&t->host.env, s->active->path, err, sizeof(err), &bad_option);
	if (!sc)
		return luaL_error(L, "scanhost_test: %s", err);
	sc->tracker = &s->tracker;
	script_retire(s->active);
	s->active = sc;
	return 0;
}

static int th_tracker(lua_State *L)
{
	struct testhost *t = check_host(L);
	struct scanner *s = host_find(&t->host, luaL_checkstring(L, 2));
	size_t n;
	const char *key = luaL_checklstring(L, 3, &n);
	lua_pushinteger(L, s ? (lua_Integer)tracker_failures(&s->tracker, key, n) : 0);
	return 1;
}

static int th_round_trips(lua_State *L)
{
	struct testhost *t = check_host(L);
	lua_pushnumber(L, (lua_Number)t->host.env.round_trips);
	return 1;
}

static int th_instance_id(lua_State *L)
{
	struct testhost *t = check_host(L);
	lua_pushstring(L, t->host.env.instance_id);
	return 1;
}

static int th_claimed(lua_State *L)
{
	struct testhost *t = check_host(L);
	struct scanner *s = host_find(&t->host, luaL_checkstring(L, 2));
	if (!s)
		return luaL_error(L, "scanhost_test: no scanner named %s", lua_tostring(L, 2));
	lua_pushinteger(L, s->claims.last_count);
	lua_newtable(L);
	for (int p = 0, n = 0; p < s->claims.n; p++) {
		if (claims_won_last(&s->claims, p)) {
			lua_pushinteger(L, p);
			lua_rawseti(L, -2, ++n);
		}
	}
	return 2;
}

/* h:logs() -> array of the lines logged since the last call */
static int th_logs(lua_State *L)
{
	struct testhost *t = check_host(L);
	lua_newtable(L);
	int n = 0;
	for (char *line = t->logs, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
		lua_pushlstring(L, line, (size_t)(nl - line));
		lua_rawseti(L, -2, ++n);
	}
	t->logs_len = 0;
	if (t->logs)
		t->logs[0] = '\0';
	return 1;
}

static int th_close(lua_State *L)
{
	struct testhost *t = luaL_checkudata(L, 1, TESTHOST_MT);
	if (!t->open)
		return 0;
	t->open = false;
	host_free(&t->host);
	script_free(t->spec);
	luaL_unref(L, LUA_REGISTRYINDEX, t->home_ref);
	log_set_sink(NULL, NULL);
	free(t->logs);
	config_free(&t->cfg);
	ev_loop_destroy(t->loop);
	return 0;
}

static const luaL_Reg methods[] = {
	{ "run", th_run },
	{ "load_library", th_load_library },
	{ "once", th_once },
	{ "tracker", th_tracker },
	{ "wait_ready", th_wait_ready },
	{ "reload", th_reload },
	{ "round_trips", th_round_trips },
	{ "instance_id", th_instance_id },
	{ "claimed", th_claimed },
	{ "logs", th_logs },
	{ "close", th_close },
	{ NULL, NULL },
};

/* Conveniences written in Lua on top of run(). */
static const char helpers[] =
    "local M = ...\n"
    "local unpack = unpack or table.unpack\n"
    "function M.call(h, ...)\n"
    "  local n, args = select('#', ...), {...}\n"
    "  return h:run(function(ctx) return ctx.redis:call(unpack(args, 1, n)) end)\n"
    "end\n"
    "function M.fcall(h, name, keys, args)\n"
    "  return h:run(function(ctx) return ctx.redis:fcall(name, keys, args) end)\n"
    "end\n"
    "function M.pipeline(h, cmds)\n"
    "  return h:run(function(ctx) return ctx.redis:pipeline(cmds) end)\n"
    "end\n";

int luaopen_scanhost_test(lua_State *L)
{
	/* h:run re-enters the VM (lua_resume) from a C function and may raise
	 * from it; with LuaJIT 2.1's trace stitching that corrupts the state
	 * when the caller is JIT-compiled (seen as random segfaults under
	 * busted, in lj_snap_restore on a trace exit). Scanner states already
	 * run with the JIT off; so does any process that loads the test module,
	 * and the traces busted compiled before it loaded it are dropped. */
	jit_off(L);
	/* a server that goes away must not kill the test process: the daemon
	 * ignores SIGPIPE the same way (OpenSSL writes with write(2)) */
	signal(SIGPIPE, SIG_IGN);
	luaL_newmetatable(L, TESTHOST_MT);
	lua_newtable(L);
	luaL_register(L, NULL, methods);
	if (luaL_loadbuffer(L, helpers, sizeof(helpers) - 1, "=scanhost_test") != 0)
		return lua_error(L);
	lua_pushvalue(L, -2);
	lua_call(L, 1, 0);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, th_close);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	lua_newtable(L);
	lua_pushcfunction(L, th_new);
	lua_setfield(L, -2, "new");
	return 1;
}
