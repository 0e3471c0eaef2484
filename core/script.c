/* script: loading, validation and option merging of one scanner file. */
#include "script.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "log.h"
#include "watchdog.h"

#define PATH_MAX_TEXT 1100 /* "loading " + a path */

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

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull

static uint64_t fnv_more(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t digest_bytes(const char *p, size_t n)
{
	return fnv_more(FNV_OFFSET, p, n);
}

/* Folds a file's bytes into *h; false if it cannot be read. */
static bool digest_more(const char *path, uint64_t *h)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		*h = fnv_more(*h, buf, n);
	bool ok = !ferror(f);
	fclose(f);
	return ok;
}

bool digest_file(const char *path, uint64_t *out)
{
	uint64_t h = FNV_OFFSET;
	if (!digest_more(path, &h))
		return false;
	*out = h;
	return true;
}

bool script_digest(const struct script *s, uint64_t *out)
{
	uint64_t h = FNV_OFFSET;
	if (!digest_more(s->path, &h))
		return false;
	for (size_t at = 0; at < s->modules_len; at += strlen(s->modules + at) + 1) {
		const char *m = s->modules + at;
		h = fnv_more(h, m,
		             strlen(m) + 1); /* the name too: bytes moved between files count */
		if (!digest_more(m, &h))
			return false;
	}
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

/* Pushes t[k] of the table at idx with raw access: no metamethod of a
 * script's table runs while the host reads it. */
static void rawfield(lua_State *L, int idx, const char *k)
{
	if (idx < 0)
		idx = lua_gettop(L) + idx + 1;
	lua_pushstring(L, k);
	lua_rawget(L, idx);
}

/* bounds = { option = { integer = bool, min = n, max = n }, ... }: every
 * entry names a number option of defaults. Table at -1. */
static bool check_bounds_table(struct script *s, int defaults, char *err, size_t errlen)
{
	lua_State *L = s->L;
	int bounds = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, bounds)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		bool ok = k && lua_istable(L, -1);
		if (ok) {
			rawfield(L, defaults, k);
			ok = lua_type(L, -1) == LUA_TNUMBER;
			lua_pop(L, 1);
		}
		int spec = lua_gettop(L);
		static const char *const limits[] = { "min", "max" };
		for (int i = 0; ok && i < 2; i++) {
			rawfield(L, spec, limits[i]);
			ok = lua_isnil(L, -1) ||
			     (lua_type(L, -1) == LUA_TNUMBER && !isnan(lua_tonumber(L, -1)));
			lua_pop(L, 1);
		}
		if (ok) {
			rawfield(L, spec, "integer");
			ok = lua_isnil(L, -1) || lua_isboolean(L, -1);
			lua_pop(L, 1);
		}
		if (!ok) {
			lua_pop(L, 2);
			return fail(
			    err, errlen,
			    "%s: bounds.%s must be { integer = bool, min = n, max = n } for "
			    "a number option of defaults (scanner %s)",
			    s->path, k ? k : "?", s->name);
		}
		lua_pop(L, 1);
	}
	return true;
}

/* order = { { "a", "b", ... }, ... }: each names number options of defaults
 * that must be non-decreasing. Table at -1. */
static bool check_order_table(struct script *s, int defaults, char *err, size_t errlen)
{
	lua_State *L = s->L;
	int order = lua_gettop(L);
	size_t n = lua_objlen(L, order);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, order, (int)i);
		int rule = lua_gettop(L);
		bool ok = lua_istable(L, rule) && lua_objlen(L, rule) >= 2;
		for (size_t j = 1; ok && j <= lua_objlen(L, rule); j++) {
			lua_rawgeti(L, rule, (int)j);
			ok = lua_type(L, -1) == LUA_TSTRING;
			if (ok) {
				rawfield(L, defaults, lua_tostring(L, -1));
				ok = lua_type(L, -1) == LUA_TNUMBER;
				lua_pop(L, 1);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		if (!ok)
			return fail(
			    err, errlen,
			    "%s: order[%d] must list two or more number options of defaults "
			    "(scanner %s)",
			    s->path, (int)i, s->name);
	}
	return true;
}

/* defaults, bounds and order: shapes only (values are checked after the
 * merge). Module table at -1. */
static bool read_options(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	rawfield(L, -1, "defaults");
	if (!lua_isnil(L, -1) && !lua_istable(L, -1)) {
		lua_pop(L, 1);
		return fail(err, errlen, "%s: defaults must be a table (scanner %s)", s->path,
		            s->name);
	}
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
	}
	int defaults = lua_gettop(L);
	bool ok = true;
	static const char *const names[] = { "bounds", "order" };
	for (int i = 0; ok && i < 2; i++) {
		rawfield(L, defaults - 1, names[i]);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			continue;
		}
		if (!lua_istable(L, -1))
			ok = fail(err, errlen, "%s: %s must be a table (scanner %s)", s->path,
			          names[i], s->name);
		else
			ok = i == 0 ? check_bounds_table(s, defaults, err, errlen)
			            : check_order_table(s, defaults, err, errlen);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return ok;
}

/* library_versions = { "5", "34" }: the function library versions whose
 * contract the scanner follows (optional; absent: it runs with any). */
static bool read_library_versions(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	rawfield(L, -1, "library_versions");
	int t = lua_gettop(L);
	bool ok = lua_isnil(L, t);
	if (lua_istable(L, t)) {
		int n = (int)lua_objlen(L, t);
		ok = n >= 1 && n <= SCRIPT_MAX_VERSIONS;
		for (int i = 1; ok && i <= n; i++) {
			lua_rawgeti(L, t, i);
			size_t len;
			const char *v = lua_tolstring(L, -1, &len);
			ok = lua_type(L, -1) == LUA_TSTRING && len >= 1 &&
			     len < sizeof(s->library_versions[0]);
			if (ok)
				memcpy(s->library_versions[s->nlibrary_versions++], v, len + 1);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (!ok)
		return fail(err, errlen,
		            "%s: library_versions must be a list of 1..%d version strings, e.g. "
		            "{ \"5\", \"34\" } (scanner %s)",
		            s->path, SCRIPT_MAX_VERSIONS, s->name);
	return true;
}

bool script_accepts_library(const struct script *s, const char *version)
{
	if (!s->nlibrary_versions)
		return true;
	for (int i = 0; i < s->nlibrary_versions; i++) {
		if (strcmp(s->library_versions[i], version ? version : "") == 0)
			return true;
	}
	return false;
}

/* An optional function field of the scanner table (at the top of L): a
 * registry ref in *ref, or LUA_NOREF when absent. */
static bool optional_function(struct script *s, const char *field, int *ref, char *err,
                              size_t errlen)
{
	lua_State *L = s->L;
	rawfield(L, -1, field);
	if (lua_isfunction(L, -1)) {
		*ref = luaL_ref(L, LUA_REGISTRYINDEX);
		return true;
	}
	bool absent = lua_isnil(L, -1);
	lua_pop(L, 1);
	return absent ||
	       fail(err, errlen, "%s: %s must be a function (scanner %s)", s->path, field, s->name);
}

/* Checks the table the file returned (at the top of L) and records its
 * fields; leaves the stack as it found it. */
static bool read_definition(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	if (!lua_istable(L, -1))
		return fail(err, errlen, "%s: the script must return a scanner table", s->path);
	rawfield(L, -1, "name");
	const char *name = lua_tostring(L, -1);
	if (lua_type(L, -1) != LUA_TSTRING || !valid_name(name)) {
		lua_pop(L, 1);
		return fail(err, errlen, "%s: name must be a string of [a-z0-9_], 1..64 chars",
		            s->path);
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	lua_pop(L, 1);
	rawfield(L, -1, "family");
	const char *fam = lua_tostring(L, -1);
	bool fam_ok = lua_type(L, -1) == LUA_TSTRING && family_parse(fam, &s->family);
	lua_pop(L, 1);
	if (!fam_ok)
		return fail(err, errlen,
		            "%s: family must be \"execution\", \"flow\", \"budget\" or "
		            "\"quota\" (scanner %s)",
		            s->path, s->name);
	rawfield(L, -1, "interval");
	s->interval = lua_tonumber(L, -1);
	bool iv_ok = lua_type(L, -1) == LUA_TNUMBER && s->interval > 0 && s->interval <= 86400;
	lua_pop(L, 1);
	if (!iv_ok)
		return fail(err, errlen,
		            "%s: interval must be a number of seconds in (0, 86400] "
		            "(scanner %s)",
		            s->path, s->name);
	rawfield(L, -1, "scan");
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return fail(err, errlen, "%s: scan must be a function (scanner %s)", s->path,
		            s->name);
	}
	s->scan_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (!read_library_versions(s, err, errlen) ||
	    !optional_function(s, "select", &s->select_ref, err, errlen) ||
	    !optional_function(s, "observe", &s->observe_ref, err, errlen))
		return false;
	return read_options(s, err, errlen);
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

/* Validates one override key (at -2 of C, its value at -1) against the
 * script's defaults (the merged table at -1 of L); "enabled" and
 * "interval" are host options every scanner has. */
static bool check_override(struct script *s, lua_State *C, char *err, size_t errlen)
{
	if (lua_type(C, -2) != LUA_TSTRING)
		return fail(err, errlen, "scanners.%s: option names must be strings", s->name);
	const char *key = lua_tostring(C, -2);
	char where[160];
	snprintf(where, sizeof(where), "scanners.%s.%s", s->name, key);
	if (strcmp(key, "enabled") == 0) {
		if (!lua_isboolean(C, -1))
			return fail(err, errlen, "%s: must be a boolean", where);
		s->enabled = lua_toboolean(C, -1);
		return true;
	}
	double v = lua_tonumber(C, -1);
	if (strcmp(key, "interval") == 0) {
		if (lua_type(C, -1) != LUA_TNUMBER || !(v > 0 && v <= 86400))
			return fail(err, errlen, "%s: must be a number of seconds in (0, 86400]",
			            where);
		s->interval = v;
		return true;
	}
	rawfield(s->L, -1, key);
	int want = lua_type(s->L, -1);
	lua_pop(s->L, 1);
	if (want == LUA_TNIL)
		return fail(err, errlen, "%s: unknown option for this scanner", where);
	if (want != lua_type(C, -1))
		return fail(err, errlen, "%s: must be a %s", where, lua_typename(s->L, want));
	if (want == LUA_TNUMBER && !isfinite(v))
		return fail(err, errlen, "%s: must be a finite number", where);
	if (want == LUA_TNUMBER && v < 0)
		return fail(err, errlen, "%s: must not be negative", where);
	return true;
}

/* The name of option key for messages: scanners.NAME.KEY when the config
 * set it (a configuration error), defaults.KEY of the file otherwise. */
static bool option_fail(struct script *s, bool from_config, const char *key, const char *what,
                        char *err, size_t errlen, bool *bad_option)
{
	*bad_option = from_config;
	if (from_config)
		return fail(err, errlen, "scanners.%s.%s: %s", s->name, key, what);
	return fail(err, errlen, "%s: defaults.%s: %s (scanner %s)", s->path, key, what, s->name);
}

static bool overridden(lua_State *L, int set, const char *key)
{
	rawfield(L, set, key);
	bool yes = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return yes;
}

/* One number option against its bounds entry (at -1, or nil). */
static bool within_bounds(lua_State *L, lua_Number v, char *what, size_t n)
{
	if (!isfinite(v)) {
		snprintf(what, n, "must be a finite number");
		return false;
	}
	if (!lua_istable(L, -1))
		return true;
	int spec = lua_gettop(L);
	rawfield(L, spec, "integer");
	bool integer = lua_toboolean(L, -1);
	rawfield(L, spec, "min");
	rawfield(L, spec, "max");
	double lo = lua_isnil(L, -2) ? -HUGE_VAL : lua_tonumber(L, -2);
	double hi = lua_isnil(L, -1) ? HUGE_VAL : lua_tonumber(L, -1);
	lua_pop(L, 3);
	if ((integer && v != floor(v)) || v < lo || v > hi) {
		snprintf(what, n, "must be %s in [%.17g, %.17g], got %.17g",
		         integer ? "an integer" : "a number", lo, hi, v);
		return false;
	}
	return true;
}

/* Every number option of the merged table (at merged) is finite and within
 * its bounds; every order rule holds. set: the keys the config set. */
static bool check_values(struct script *s, int merged, int set, char *err, size_t errlen,
                         bool *bad_option)
{
	lua_State *L = s->L;
	char what[160];
	rawfield(L, -3, "bounds"); /* module, merged, set, bounds */
	int bounds = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, merged)) {
		if (lua_type(L, -1) == LUA_TNUMBER && lua_type(L, -2) == LUA_TSTRING) {
			const char *key = lua_tostring(L, -2);
			if (lua_istable(L, bounds))
				rawfield(L, bounds, key);
			else
				lua_pushnil(L);
			bool ok = within_bounds(L, lua_tonumber(L, -2), what, sizeof(what));
			lua_pop(L, 1);
			if (!ok) {
				bool conf = overridden(L, set, key);
				lua_settop(L, bounds - 1);
				return option_fail(s, conf, key, what, err, errlen, bad_option);
			}
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	rawfield(L, -3, "order");
	int order = lua_gettop(L);
	size_t n = lua_istable(L, order) ? lua_objlen(L, order) : 0;
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, order, (int)i);
		for (size_t j = 1; j < lua_objlen(L, -1); j++) {
			lua_rawgeti(L, -1, (int)j);
			lua_rawgeti(L, -2, (int)j + 1);
			const char *a = lua_tostring(L, -2), *b = lua_tostring(L, -1);
			rawfield(L, merged, a);
			rawfield(L, merged, b);
			lua_Number va = lua_tonumber(L, -2), vb = lua_tonumber(L, -1);
			if (!(va <= vb)) {
				snprintf(what, sizeof(what), "must be <= %s (%.17g > %.17g)", b, va,
				         vb);
				bool conf_a = overridden(L, set, a), conf_b = overridden(L, set, b);
				char key[128];
				snprintf(key, sizeof(key), "%s", conf_a || !conf_b ? a : b);
				if (!conf_a && conf_b)
					snprintf(what, sizeof(what),
					         "must be >= %s (%.17g < %.17g)", a, vb, va);
				lua_settop(L, order - 1);
				return option_fail(s, conf_a || conf_b, key, what, err, errlen,
				                   bad_option);
			}
			lua_pop(L, 4);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return true;
}

/* ctx.config = copy of defaults, overridden by config.scanners[name], then
 * checked as a whole. */
static bool merge_config(struct script *s, char *err, size_t errlen, bool *bad_option)
{
	lua_State *L = s->L;
	s->enabled = true;
	lua_newtable(L); /* merged */
	rawfield(L, -2, "defaults");
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
	int merged = lua_gettop(L);
	lua_newtable(L); /* the keys the config set */
	if (push_overrides(s->env, s->name)) {
		lua_State *C = s->env->conf_L;
		lua_pushnil(C);
		while (lua_next(C, -2)) {
			lua_pushvalue(L, merged);
			bool ok = check_override(s, C, err, errlen);
			lua_pop(L, 1);
			if (!ok || !copy_value(C, -2, L, 0) || !copy_value(C, -1, L, 0)) {
				if (ok)
					fail(err, errlen,
					     "scanners.%s: options must be scalars or "
					     "tables of them",
					     s->name);
				*bad_option = true;
				lua_pop(C, 3);
				lua_settop(L, merged - 2);
				return false;
			}
			lua_pushvalue(L, -2);
			lua_pushboolean(L, 1);
			lua_rawset(L, merged + 1);
			lua_rawset(L, merged);
			lua_pop(C, 1);
		}
		lua_pop(C, 1);
	}
	if (!check_values(s, merged, merged + 1, err, errlen, bad_option)) {
		lua_settop(L, merged - 1);
		return false;
	}
	lua_pop(L, 1);
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
	memlimit_protect(&s->mem);
	int rc = lua_resume(co, 0);
	memlimit_unprotect(&s->mem);
	runaway_disarm();
	if (runaway_check())
		return fail(err, errlen, "%s: runaway script: the top level ran for more than %g s",
		            path, runaway_seconds());
	if (memlimit_exceeded(&s->mem))
		return fail(err, errlen,
		            "%s: the top level went over the Lua memory limit of %zu MB "
		            "(lua_memory_mb)",
		            path, s->mem.limit >> 20);
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
	s->select_ref = s->selected_ref = s->observe_ref = LUA_NOREF;
	s->task.script = s;
	s->task.co_ref = LUA_NOREF;
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
 * resume instead (see task.c). */
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
		return fail(err, errlen, "recording modules: %s", lua_tostring(L, -1));
	lua_pushvalue(L, -2);
	if (lua_pcall(L, 1, 1, 0) != 0)
		return fail(err, errlen, "recording modules: %s", lua_tostring(L, -1));
	return true;
}

/* Stops recording (files table at files, restore function at files + 1) and
 * keeps the paths, NUL-separated in load order, in s->modules. */
static bool keep_modules(struct script *s, int files, char *err, size_t errlen)
{
	lua_State *L = s->L;
	lua_pushvalue(L, files + 1);
	if (lua_pcall(L, 0, 0, 0) != 0)
		return fail(err, errlen, "recording modules: %s", lua_tostring(L, -1));
	size_t len = 0, n = lua_objlen(L, files);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, files, (int)i);
		len += lua_objlen(L, -1) + 1;
		lua_pop(L, 1);
	}
	if (len > 0 && !(s->modules = malloc(len)))
		return fail(err, errlen, "%s: out of memory", s->path);
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

static bool load_into(struct script *s, const char *path, char *err, size_t errlen,
                      bool *bad_option)
{
	lua_State *L = s->L;
	luaL_openlibs(L);
	script_setup_paths(L, s->env);
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
		return fail(err, errlen, "%s: cannot read it (or a module it requires) again",
		            path);
	bool ok = read_definition(s, err, errlen) && merge_config(s, err, errlen, bad_option) &&
	          (!s->env->claims || ctx_wrap_claims(s, err, errlen));
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
	if (!task_busy(s))
		script_free(s);
}
