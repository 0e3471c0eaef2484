/* options: a scanner's options — the shapes of its defaults, bounds and
 * order, and ctx.config: its defaults overridden by config.scanners.NAME,
 * checked as a whole (numbers finite and within bounds, orders kept). */
#include "options.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

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
			script_field(L, defaults, k);
			ok = lua_type(L, -1) == LUA_TNUMBER;
			lua_pop(L, 1);
		}
		int spec = lua_gettop(L);
		static const char *const limits[] = { "min", "max" };
		for (int i = 0; ok && i < 2; i++) {
			script_field(L, spec, limits[i]);
			ok = lua_isnil(L, -1) ||
			     (lua_type(L, -1) == LUA_TNUMBER && !isnan(lua_tonumber(L, -1)));
			lua_pop(L, 1);
		}
		if (ok) {
			script_field(L, spec, "integer");
			ok = lua_isnil(L, -1) || lua_isboolean(L, -1);
			lua_pop(L, 1);
		}
		if (!ok) {
			lua_pop(L, 2);
			return script_fail(
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
				script_field(L, defaults, lua_tostring(L, -1));
				ok = lua_type(L, -1) == LUA_TNUMBER;
				lua_pop(L, 1);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		if (!ok)
			return script_fail(
			    err, errlen,
			    "%s: order[%d] must list two or more number options of defaults "
			    "(scanner %s)",
			    s->path, (int)i, s->name);
	}
	return true;
}

/* defaults, bounds and order: shapes only (values are checked after the
 * merge). Module table at -1. */
bool options_check(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	script_field(L, -1, "defaults");
	if (!lua_isnil(L, -1) && !lua_istable(L, -1)) {
		lua_pop(L, 1);
		return script_fail(err, errlen, "%s: defaults must be a table (scanner %s)",
		                   s->path, s->name);
	}
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
	}
	int defaults = lua_gettop(L);
	bool ok = true;
	static const char *const names[] = { "bounds", "order" };
	for (int i = 0; ok && i < 2; i++) {
		script_field(L, defaults - 1, names[i]);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			continue;
		}
		if (!lua_istable(L, -1))
			ok = script_fail(err, errlen, "%s: %s must be a table (scanner %s)",
			                 s->path, names[i], s->name);
		else
			ok = i == 0 ? check_bounds_table(s, defaults, err, errlen)
			            : check_order_table(s, defaults, err, errlen);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return ok;
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
		return script_fail(err, errlen, "scanners.%s: option names must be strings",
		                   s->name);
	const char *key = lua_tostring(C, -2);
	char where[160];
	snprintf(where, sizeof(where), "scanners.%s.%s", s->name, key);
	if (strcmp(key, "enabled") == 0) {
		if (!lua_isboolean(C, -1))
			return script_fail(err, errlen, "%s: must be a boolean", where);
		s->enabled = lua_toboolean(C, -1);
		return true;
	}
	double v = lua_tonumber(C, -1);
	if (strcmp(key, "interval") == 0) {
		if (lua_type(C, -1) != LUA_TNUMBER || !(v > 0 && v <= 86400))
			return script_fail(err, errlen,
			                   "%s: must be a number of seconds in (0, 86400]", where);
		s->interval = v;
		return true;
	}
	script_field(s->L, -1, key);
	int want = lua_type(s->L, -1);
	lua_pop(s->L, 1);
	if (want == LUA_TNIL)
		return script_fail(err, errlen, "%s: unknown option for this scanner", where);
	if (want != lua_type(C, -1))
		return script_fail(err, errlen, "%s: must be a %s", where,
		                   lua_typename(s->L, want));
	if (want == LUA_TNUMBER && !isfinite(v))
		return script_fail(err, errlen, "%s: must be a finite number", where);
	if (want == LUA_TNUMBER && v < 0)
		return script_fail(err, errlen, "%s: must not be negative", where);
	return true;
}

/* The name of option key for messages: scanners.NAME.KEY when the config
 * set it (a configuration error), defaults.KEY of the file otherwise. */
static bool option_fail(struct script *s, bool from_config, const char *key, const char *what,
                        char *err, size_t errlen, bool *bad_option)
{
	*bad_option = from_config;
	if (from_config)
		return script_fail(err, errlen, "scanners.%s.%s: %s", s->name, key, what);
	return script_fail(err, errlen, "%s: defaults.%s: %s (scanner %s)", s->path, key, what,
	                   s->name);
}

static bool overridden(lua_State *L, int set, const char *key)
{
	script_field(L, set, key);
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
	script_field(L, spec, "integer");
	bool integer = lua_toboolean(L, -1);
	script_field(L, spec, "min");
	script_field(L, spec, "max");
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
	script_field(L, -3, "bounds"); /* module, merged, set, bounds */
	int bounds = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, merged)) {
		if (lua_type(L, -1) == LUA_TNUMBER && lua_type(L, -2) == LUA_TSTRING) {
			const char *key = lua_tostring(L, -2);
			if (lua_istable(L, bounds))
				script_field(L, bounds, key);
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
	script_field(L, -3, "order");
	int order = lua_gettop(L);
	size_t n = lua_istable(L, order) ? lua_objlen(L, order) : 0;
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, order, (int)i);
		for (size_t j = 1; j < lua_objlen(L, -1); j++) {
			lua_rawgeti(L, -1, (int)j);
			lua_rawgeti(L, -2, (int)j + 1);
			const char *a = lua_tostring(L, -2), *b = lua_tostring(L, -1);
			script_field(L, merged, a);
			script_field(L, merged, b);
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
bool options_merge(struct script *s, char *err, size_t errlen, bool *bad_option)
{
	lua_State *L = s->L;
	s->enabled = true;
	lua_newtable(L); /* merged */
	script_field(L, -2, "defaults");
	if (lua_istable(L, -1) && !copy_value(L, -1, L, 0)) {
		lua_pop(L, 2);
		return script_fail(err, errlen,
		                   "%s: defaults may hold only scalars and tables (scanner %s)",
		                   s->path, s->name);
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
					script_fail(err, errlen,
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
