/* script: loading, validation and option merging of one scanner file. */
#include "script.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "log.h"

static const char *const family_names[FAMILY_COUNT] = { "execution", "flow", "budget", "quota" };
static const char *const family_prefixes[FAMILY_COUNT] = { "fp", "fp", "b", "q" };

const char *family_name(enum family f)
{
	return family_names[f];
}

const char *family_tag_prefix(enum family f)
{
	return family_prefixes[f];
}

bool family_parse(const char *s, enum family *out)
{
	for (int i = 0; i < FAMILY_COUNT; i++) {
		if (strcmp(s, family_names[i]) == 0) {
			*out = (enum family)i;
			return true;
		}
	}
	return false;
}

uint64_t digest_bytes(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

bool digest_file(const char *path, uint64_t *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	uint64_t h = 0xcbf29ce484222325ull;
	int c;
	while ((c = fgetc(f)) != EOF) {
		h ^= (unsigned char)c;
		h *= 0x100000001b3ull;
	}
	fclose(f);
	*out = h;
	return true;
}

void script_setup_paths(lua_State *L, const struct hostenv *env)
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

__attribute__((format(printf, 3, 4))) static bool fail(char *err, size_t errlen, const char *fmt,
                                                       ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SCANNER_NAME_MAX)
		return false;
	for (; *s; s++) {
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
			return false;
	}
	return true;
}

/* Checks the table the file returned (at the top of L) and records its
 * fields; leaves the stack as it found it. */
static bool read_definition(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	if (!lua_istable(L, -1))
		return fail(err, errlen, "%s: the script must return a scanner table", s->path);
	lua_getfield(L, -1, "name");
	const char *name = lua_tostring(L, -1);
	if (lua_type(L, -1) != LUA_TSTRING || !valid_name(name)) {
		lua_pop(L, 1);
		return fail(err, errlen, "%s: name must be a string of [a-z0-9_], 1..64 chars",
		            s->path);
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	lua_pop(L, 1);
	lua_getfield(L, -1, "family");
	const char *fam = lua_tostring(L, -1);
	bool fam_ok = lua_type(L, -1) == LUA_TSTRING && family_parse(fam, &s->family);
	lua_pop(L, 1);
	if (!fam_ok)
		return fail(err, errlen,
		            "%s: family must be \"execution\", \"flow\", \"budget\" or "
		            "\"quota\" (scanner %s)",
		            s->path, s->name);
	lua_getfield(L, -1, "interval");
	s->interval = lua_tonumber(L, -1);
	bool iv_ok = lua_type(L, -1) == LUA_TNUMBER && s->interval > 0 && s->interval <= 86400;
	lua_pop(L, 1);
	if (!iv_ok)
		return fail(err, errlen,
		            "%s: interval must be a number of seconds in (0, 86400] "
		            "(scanner %s)",
		            s->path, s->name);
	lua_getfield(L, -1, "scan");
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return fail(err, errlen, "%s: scan must be a function (scanner %s)", s->path,
		            s->name);
	}
	s->scan_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_getfield(L, -1, "select");
	if (lua_isfunction(L, -1)) {
		s->select_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	} else {
		bool absent = lua_isnil(L, -1);
		lua_pop(L, 1);
		if (!absent)
			return fail(err, errlen, "%s: select must be a function (scanner %s)",
			            s->path, s->name);
	}
	lua_getfield(L, -1, "defaults");
	bool defaults_ok = lua_isnil(L, -1) || lua_istable(L, -1);
	lua_pop(L, 1);
	if (!defaults_ok)
		return fail(err, errlen, "%s: defaults must be a table (scanner %s)", s->path,
		            s->name);
	return true;
}

/* Copies a config value (scalars and nested tables of them) between states. */
static bool copy_value(lua_State *from, int idx, lua_State *to, int depth)
{
	switch (lua_type(from, idx)) {
	case LUA_TBOOLEAN: lua_pushboolean(to, lua_toboolean(from, idx)); return true;
	case LUA_TNUMBER: lua_pushnumber(to, lua_tonumber(from, idx)); return true;
	case LUA_TSTRING: {
		size_t n;
		const char *p = lua_tolstring(from, idx, &n);
		lua_pushlstring(to, p, n);
		return true;
	}
	case LUA_TTABLE: break;
	default: return false;
	}
	if (depth > 8 || !lua_checkstack(from, 4) || !lua_checkstack(to, 4))
		return false;
	/* absolute indices throughout: from and to may be the same state */
	idx = idx < 0 ? lua_gettop(from) + idx + 1 : idx;
	lua_newtable(to);
	int dst = lua_gettop(to);
	lua_pushnil(from);
	while (lua_next(from, idx)) {
		int value = lua_gettop(from);
		if (!copy_value(from, value - 1, to, depth + 1) ||
		    !copy_value(from, value, to, depth + 1)) {
			lua_settop(from, value - 2);
			return false;
		}
		lua_rawset(to, dst);
		lua_settop(from, value - 1);
	}
	return true;
}

/* Pushes config.scanners[name] of the config state, or returns false. */
static bool push_overrides(const struct hostenv *env, const char *name)
{
	if (!env->conf_L || env->overrides_ref == LUA_NOREF || env->overrides_ref == LUA_REFNIL)
		return false;
	lua_State *C = env->conf_L;
	lua_rawgeti(C, LUA_REGISTRYINDEX, env->overrides_ref);
	lua_getfield(C, -1, name);
	lua_remove(C, -2);
	if (lua_istable(C, -1))
		return true;
	lua_pop(C, 1);
	return false;
}

/* Validates one override key against the script's defaults ("enabled" and
 * "interval" are host options every scanner has). Defaults table at -1 of L. */
static bool check_override(struct script *s, lua_State *C, char *err, size_t errlen)
{
	const char *key = lua_tostring(C, -2);
	char where[160];
	snprintf(where, sizeof(where), "scanners.%s.%s", s->name, key ? key : "?");
	if (lua_type(C, -2) != LUA_TSTRING)
		return fail(err, errlen, "%s: option names must be strings", where);
	if (strcmp(key, "enabled") == 0) {
		if (!lua_isboolean(C, -1))
			return fail(err, errlen, "%s: must be a boolean", where);
		s->enabled = lua_toboolean(C, -1);
		return true;
	}
	if (strcmp(key, "interval") == 0) {
		double v = lua_tonumber(C, -1);
		if (lua_type(C, -1) != LUA_TNUMBER || v <= 0 || v > 86400)
			return fail(err, errlen, "%s: must be a number of seconds in (0, 86400]",
			            where);
		s->interval = v;
		return true;
	}
	lua_getfield(s->L, -1, key);
	int want = lua_type(s->L, -1);
	lua_pop(s->L, 1);
	if (want == LUA_TNIL)
		return fail(err, errlen, "%s: unknown option for this scanner", where);
	if (want != lua_type(C, -1))
		return fail(err, errlen, "%s: must be a %s", where, lua_typename(s->L, want));
	if (want == LUA_TNUMBER && lua_tonumber(C, -1) < 0)
		return fail(err, errlen, "%s: must not be negative", where);
	return true;
}

/* ctx.config = copy of defaults, overridden by config.scanners[name]. */
static bool merge_config(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	s->enabled = true;
	lua_newtable(L); /* merged */
	lua_getfield(L, -2, "defaults");
	if (lua_istable(L, -1) && !copy_value(L, -1, L, 0)) {
		lua_pop(L, 2);
		return fail(err, errlen,
		            "%s: defaults may hold only scalars and tables (scanner %s)", s->path,
		            s->name);
	}
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_newtable(L);
	}
	/* stack: module, merged, defaults, defaults_copy */
	lua_replace(L, -3);
	lua_pop(L, 1);
	if (push_overrides(s->env, s->name)) {
		lua_State *C = s->env->conf_L;
		lua_pushnil(C);
		while (lua_next(C, -2)) {
			if (!check_override(s, C, err, errlen) || !copy_value(C, -2, L, 0) ||
			    !copy_value(C, -1, L, 0)) {
				lua_pop(C, 3);
				lua_pop(L, lua_gettop(L) > 2 ? lua_gettop(L) - 2 : 0);
				return false;
			}
			lua_rawset(L, -3);
			lua_pop(C, 1);
		}
		lua_pop(C, 1);
	}
	lua_pushnumber(L, s->interval);
	lua_setfield(L, -2, "interval");
	lua_pushboolean(L, s->enabled);
	lua_setfield(L, -2, "enabled");
	s->config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return true;
}

/* Runs the file's top level in a coroutine (so the runaway hook can stop a
 * top level that never returns) and leaves its single result on L. */
static bool run_top_level(struct script *s, const char *path, char *err, size_t errlen)
{
	lua_State *L = s->L;
	lua_State *co = lua_newthread(L);
	/* loadfile names the chunk "@path", so errors and tracebacks say where */
	if (luaL_loadfile(co, path) != 0)
		return fail(err, errlen, "%s", lua_tostring(co, -1));
	runaway_arm(s->env->scan_timeout);
	int rc = lua_resume(co, 0);
	runaway_disarm();
	if (runaway_check())
		return fail(err, errlen, "%s: runaway script: the top level ran for more than %g s",
		            path, runaway_seconds());
	if (rc == LUA_YIELD)
		return fail(err, errlen, "%s: the top level must not yield (no I/O at load time)",
		            path);
	if (rc != 0) {
		const char *msg = lua_tostring(co, -1);
		luaL_traceback(L, co, msg ? msg : "(error object is not a string)", 0);
		fail(err, errlen, "%s", lua_tostring(L, -1));
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
	s->select_ref = s->selected_ref = LUA_NOREF;
	s->task.script = s;
	s->task.co_ref = LUA_NOREF;
	return s;
}

static void open_host_modules(struct script *s)
{
	ctx_open(s->L);
	lredis_open(s->L);
}

struct script *script_load(struct hostenv *env, const char *path, char *err, size_t errlen)
{
	struct script *s = script_alloc(env);
	if (!s || !(s->L = luaL_newstate())) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(s);
		return NULL;
	}
	s->owns_L = true;
	snprintf(s->path, sizeof(s->path), "%s", path);
	digest_file(path, &s->digest);
	lua_State *L = s->L;
	luaL_openlibs(L);
	script_setup_paths(L, env);
	open_host_modules(s);
	runaway_install(L);
	if (!run_top_level(s, path, err, errlen)) {
		script_free(s);
		return NULL;
	}
	bool ok = read_definition(s, err, errlen) && merge_config(s, err, errlen) &&
	          (!env->claims || ctx_wrap_claims(s, err, errlen));
	lua_settop(L, 0);
	if (!ok) {
		script_free(s);
		return NULL;
	}
	ctx_push_new(s);
	s->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
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
		/* run finalizers while everything they might touch still exists */
		lua_gc(s->L, LUA_GCCOLLECT, 0);
		lua_close(s->L);
	} else if (s->L) {
		ctx_invalidate(s);
		luaL_unref(s->L, LUA_REGISTRYINDEX, s->config_ref);
		luaL_unref(s->L, LUA_REGISTRYINDEX, s->ctx_ref);
		luaL_unref(s->L, LUA_REGISTRYINDEX, s->task.co_ref);
	}
	free(s);
}

void script_retire(struct script *s)
{
	if (!s)
		return;
	s->retired = true;
	if (!task_busy(s))
		script_free(s);
}
