/* config file: runs the Lua config file in a state of its own, under the
 * runaway guard, the watchdog and a memory limit, and applies the table it
 * returns key by key (config_keys.c). The state stays open: per-scanner
 * overrides are read from it whenever a script is (re)loaded. */
#include "config_file.h"

#include <stdio.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lualib.h>

#include "config_keys.h"
#include "runaway.h"
#include "watchdog.h"

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
		return config_fail(err, errlen, path, "out of memory");
	c->conf_L = L;
	luaL_openlibs(L);
	runaway_install(L);
	lua_State *co = lua_newthread(L);
	if (luaL_loadfile(co, path) != 0)
		return config_fail(err, errlen, "config", lua_tostring(co, -1));
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
		return config_fail(err, errlen, path, msg);
	}
	if (memlimit_exceeded(&c->conf_mem)) {
		snprintf(msg, sizeof(msg), "the config file used more than %d MB; refused",
		         CONFIG_LUA_MEMORY_MB);
		return config_fail(err, errlen, path, msg);
	}
	if (rc == LUA_YIELD)
		return config_fail(err, errlen, path, "the config file must not yield");
	if (rc != 0)
		return config_fail(err, errlen, "config", lua_tostring(co, -1));
	lua_settop(co, 1);
	lua_xmove(co, L, 1);
	lua_remove(L, -2); /* the thread */
	return true;
}

bool config_file_load(struct config *c, const char *path, bool must_exist, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		if (!must_exist)
			return true;
		return config_fail(err, errlen, path, "config file not found");
	}
	if (!run_file(c, path, err, errlen))
		return false;
	c->config_loaded = true;
	lua_State *L = c->conf_L;
	if (!lua_istable(L, -1))
		return config_fail(err, errlen, path, "the config file must return a table");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (!config_apply_key(c, L, err, errlen))
			return false;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return true;
}
