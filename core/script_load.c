/* script_load: making a script — a fresh lua_State with its bindings, the
 * file's top level run under the guards, the modules it required recorded
 * for its digest, its definition and options read — and ending one. */
#include "script_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua_ctx.h"
#include "lua_redis.h"
#include "options.h"
#include "runaway.h"
#include "watchdog.h"

#define PATH_MAX_TEXT 1100 /* "loading " + a path */

/* package.path: lua-lib plus the extra path, before the default. */
static void setup_paths(lua_State *L, const struct hostenv *env)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	const char *base = lua_tostring(L, -1);
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s/?.lua;%s/?/init.lua;", env->lua_lib_dir,
	                 env->lua_lib_dir);
	if (env->lua_path)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s/?.lua;%s/?/init.lua;",
		              env->lua_path, env->lua_path);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", base ? base : "");
	lua_pop(L, 1);
	lua_pushstring(L, buf);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

/* Runs the file's top level in a coroutine (so the runaway hook can stop a
 * top level that never returns) and leaves its single result on L. */
static bool run_top_level(struct script *s, const char *path, char *err, size_t errlen)
{
	lua_State *L = s->L;
	lua_State *co = lua_newthread(L);
	/* loadfile names the chunk "@path", so errors and tracebacks say where */
	if (luaL_loadfile(co, path) != 0)
		return script_fail(err, errlen, "%s", lua_tostring(co, -1));
	runaway_arm(s->env->scan_timeout);
	memlimit_protect(&s->mem);
	int rc = lua_resume(co, 0);
	memlimit_unprotect(&s->mem);
	runaway_disarm();
	if (runaway_check())
		return script_fail(err, errlen,
		                   "%s: runaway script: the top level ran for more than %g s", path,
		                   runaway_seconds());
	if (memlimit_exceeded(&s->mem))
		return script_fail(err, errlen,
		                   "%s: the top level went over the Lua memory limit of %zu MB "
		                   "(lua_memory_mb)",
		                   path, s->mem.limit >> 20);
	if (rc == LUA_YIELD)
		return script_fail(err, errlen,
		                   "%s: the top level must not yield (no I/O at load time)", path);
	if (rc != 0) {
		const char *msg = lua_tostring(co, -1);
		luaL_traceback(L, co, msg ? msg : "(error object is not a string)", 0);
		script_fail(err, errlen, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return false;
	}
	lua_settop(co, 1);
	lua_xmove(co, L, 1); /* the definition, above the thread */
	lua_remove(L, -2);   /* drop the thread */
	return true;
}

static struct script *script_alloc(struct hostenv *env)
{
	struct script *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->env = env;
	s->scan_ref = s->config_ref = s->ctx_ref = LUA_NOREF;
	s->select_ref = s->selected_ref = s->observe_ref = LUA_NOREF;
	task_init(&s->task);
	return s;
}

static void open_host_modules(struct script *s)
{
	ctx_open(s->L);
	lredis_open(s->L);
}

/* A state for a scanner: counted allocations with the configured limit.
 * A LuaJIT that refuses custom allocators (64-bit without GC64) gets its
 * own allocator, and the limit is then checked with lua_gc after every
 * resume instead (see script_run.c). */
static lua_State *new_state(struct script *s)
{
	lua_State *L = memlimit_newstate(&s->mem, s->env->lua_memory);
	s->mem_counted = L != NULL;
	if (!L) {
		L = luaL_newstate();
		s->mem.limit = s->env->lua_memory;
	}
	return L;
}

/* While a scanner's top level runs, the Lua-file searcher of require
 * (package.loaders[2]) is wrapped to record the file of every module it
 * loads; the chunk returns the function that puts the searcher back. The
 * scanner's digest covers these files, so SIGUSR1 reloads a scanner whose
 * modules changed (a module first required later, by scan(), is not
 * covered). */
static const char RECORD_MODULES[] =
    "local files = ...\n"
    "local loaders = package.loaders\n"
    "local searcher = loaders[2]\n"
    "loaders[2] = function(name)\n"
    "  local loader = searcher(name)\n"
    "  if type(loader) == 'function' then\n"
    "    files[#files + 1] = package.searchpath(name, package.path)\n"
    "  end\n"
    "  return loader\n"
    "end\n"
    "return function() loaders[2] = searcher end\n";

/* Starts recording: leaves the files table and the restore function on L. */
static bool record_modules(lua_State *L, char *err, size_t errlen)
{
	lua_newtable(L);
	if (luaL_loadbuffer(L, RECORD_MODULES, sizeof(RECORD_MODULES) - 1, "=scanhost.modules") !=
	    0)
		return script_fail(err, errlen, "recording modules: %s", lua_tostring(L, -1));
	lua_pushvalue(L, -2);
	if (lua_pcall(L, 1, 1, 0) != 0)
		return script_fail(err, errlen, "recording modules: %s", lua_tostring(L, -1));
	return true;
}

/* Stops recording (files table at files, restore function at files + 1) and
 * keeps the paths, NUL-separated in load order, in s->modules. */
static bool keep_modules(struct script *s, int files, char *err, size_t errlen)
{
	lua_State *L = s->L;
	lua_pushvalue(L, files + 1);
	if (lua_pcall(L, 0, 0, 0) != 0)
		return script_fail(err, errlen, "recording modules: %s", lua_tostring(L, -1));
	size_t len = 0, n = lua_objlen(L, files);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, files, (int)i);
		len += lua_objlen(L, -1) + 1;
		lua_pop(L, 1);
	}
	if (len > 0 && !(s->modules = malloc(len)))
		return script_fail(err, errlen, "%s: out of memory", s->path);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, files, (int)i);
		size_t l;
		const char *p = lua_tolstring(L, -1, &l);
		memcpy(s->modules + s->modules_len, p, l + 1);
		s->modules_len += l + 1;
		lua_pop(L, 1);
	}
	return true;
}

/* Claims on: select and scan go through ff.claim's wrap (lua-lib/ff/claim.lua),
 * which claims every partition before it is acted on; a script without select()
 * gets one that claims the whole chunk. Runs at load time: no I/O. Leaves the
 * stack as it found it. */
static bool wrap_claims(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	int top = lua_gettop(L);
	lua_getglobal(L, "require");
	lua_pushstring(L, "ff.claim");
	bool ok = lua_pcall(L, 1, 1, 0) == 0;
	if (ok) {
		lua_getfield(L, -1, "wrap");
		if (s->select_ref != LUA_NOREF)
			lua_rawgeti(L, LUA_REGISTRYINDEX, s->select_ref);
		else
			lua_pushnil(L);
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->scan_ref);
		ok = lua_pcall(L, 2, 2, 0) == 0 && lua_isfunction(L, -2) && lua_isfunction(L, -1);
	}
	if (!ok) {
		snprintf(err, errlen, "%s: claims: %s", s->path,
		         lua_isstring(L, -1) ? lua_tostring(L, -1) : "ff.claim.wrap failed");
		lua_settop(L, top);
		return false;
	}
	luaL_unref(L, LUA_REGISTRYINDEX, s->scan_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, s->select_ref);
	s->scan_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	s->select_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_settop(L, top);
	return true;
}

static bool load_into(struct script *s, const char *path, char *err, size_t errlen,
                      bool *bad_option)
{
	lua_State *L = s->L;
	luaL_openlibs(L);
	setup_paths(L, s->env);
	open_host_modules(s);
	runaway_install(L);
	int files = lua_gettop(L) + 1;
	if (!record_modules(L, err, errlen) || !run_top_level(s, path, err, errlen))
		return false;
	if (!keep_modules(s, files, err, errlen))
		return false;
	lua_remove(L, files + 1);
	lua_remove(L, files);
	if (!script_digest(s, &s->digest))
		return script_fail(err, errlen,
		                   "%s: cannot read it (or a module it requires) again", path);
	bool ok = script_read_definition(s, err, errlen) && options_check(s, err, errlen) &&
	          options_merge(s, err, errlen, bad_option) &&
	          (!s->env->claims || wrap_claims(s, err, errlen));
	lua_settop(L, 0);
	if (!ok)
		return false;
	ctx_push_new(s);
	s->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return true;
}

struct script *script_load(struct hostenv *env, const char *path, char *err, size_t errlen,
                           bool *bad_option)
{
	*bad_option = false;
	struct script *s = script_alloc(env);
	if (!s || !(s->L = new_state(s))) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(s);
		return NULL;
	}
	s->owns_L = true;
	snprintf(s->path, sizeof(s->path), "%s", path);
	char what[PATH_MAX_TEXT];
	snprintf(what, sizeof(what), "loading %s", path);
	watchdog_enter(NULL, -1, what);
	bool ok = load_into(s, path, err, errlen, bad_option);
	watchdog_leave();
	if (!ok) {
		script_free(s);
		return NULL;
	}
	return s;
}

struct script *script_wrap(struct hostenv *env, lua_State *L, const char *name)
{
	struct script *s = script_alloc(env);
	if (!s)
		return NULL;
	s->L = L;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->path, sizeof(s->path), "(%s)", name);
	s->family = FAMILY_EXECUTION;
	s->enabled = true;
	open_host_modules(s);
	lua_newtable(L);
	s->config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	ctx_push_new(s);
	s->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return s;
}

void script_free(struct script *s)
{
	if (!s)
		return;
	if (s->owns_L && s->L) {
		/* finalizers run here, where no hook can stop them: the watchdog
		 * ends the process if one never returns */
		watchdog_enter(s->name[0] ? s->name : NULL, -1,
		               "closing its Lua state (__gc finalizers)");
		/* run finalizers while everything they might touch still exists */
		lua_gc(s->L, LUA_GCCOLLECT, 0);
		lua_close(s->L);
		watchdog_leave();
	} else if (s->L) {
		ctx_invalidate(s);
		luaL_unref(s->L, LUA_REGISTRYINDEX, s->config_ref);
		luaL_unref(s->L, LUA_REGISTRYINDEX, s->ctx_ref);
		luaL_unref(s->L, LUA_REGISTRYINDEX, s->task.co_ref);
	}
	free(s->modules);
	free(s);
}

void script_retire(struct script *s)
{
	if (!s)
		return;
	s->retired = true;
	if (!script_busy(s))
		script_free(s);
}
