/* script: the definition a scanner file returns, read and checked, and
 * what the host asks of a loaded script. */
#include "script.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "digest.h"

bool script_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

void script_field(lua_State *L, int idx, const char *k)
{
	if (idx < 0)
		idx = lua_gettop(L) + idx + 1;
	lua_pushstring(L, k);
	lua_rawget(L, idx);
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

static bool read_name(struct script *s)
{
	lua_State *L = s->L;
	script_field(L, -1, "name");
	const char *name = lua_tostring(L, -1);
	bool ok = lua_type(L, -1) == LUA_TSTRING && valid_name(name);
	if (ok)
		snprintf(s->name, sizeof(s->name), "%s", name);
	lua_pop(L, 1);
	return ok;
}

/* library_versions = { "5", "34" }: the function library versions whose
 * contract the scanner follows (optional; absent: it runs with any). */
static bool read_library_versions(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	script_field(L, -1, "library_versions");
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
		return script_fail(err, errlen,
		                   "%s: library_versions must be a list of 1..%d version strings, "
		                   "e.g. { \"5\", \"34\" } (scanner %s)",
		                   s->path, SCRIPT_MAX_VERSIONS, s->name);
	return true;
}

/* An optional function field of the scanner table (at the top of L): a
 * registry ref in *ref, or LUA_NOREF when absent. */
static bool optional_function(struct script *s, const char *field, int *ref, char *err,
                              size_t errlen)
{
	lua_State *L = s->L;
	script_field(L, -1, field);
	if (lua_isfunction(L, -1)) {
		*ref = luaL_ref(L, LUA_REGISTRYINDEX);
		return true;
	}
	bool absent = lua_isnil(L, -1);
	lua_pop(L, 1);
	return absent || script_fail(err, errlen, "%s: %s must be a function (scanner %s)", s->path,
	                             field, s->name);
}

bool script_read_definition(struct script *s, char *err, size_t errlen)
{
	lua_State *L = s->L;
	if (!lua_istable(L, -1))
		return script_fail(err, errlen, "%s: the script must return a scanner table",
		                   s->path);
	if (!read_name(s))
		return script_fail(err, errlen,
		                   "%s: name must be a string of [a-z0-9_], 1..64 chars", s->path);
	script_field(L, -1, "family");
	script_field(L, -2, "interval");
	bool family_ok =
	    lua_type(L, -2) == LUA_TSTRING && family_parse(lua_tostring(L, -2), &s->family);
	s->interval = lua_tonumber(L, -1);
	bool interval_ok =
	    lua_type(L, -1) == LUA_TNUMBER && s->interval > 0 && s->interval <= 86400;
	lua_pop(L, 2);
	if (!family_ok)
		return script_fail(err, errlen,
		                   "%s: family must be \"execution\", \"flow\", \"budget\" or "
		                   "\"quota\" (scanner %s)",
		                   s->path, s->name);
	if (!interval_ok)
		return script_fail(err, errlen,
		                   "%s: interval must be a number of seconds in (0, 86400] "
		                   "(scanner %s)",
		                   s->path, s->name);
	script_field(L, -1, "scan");
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return script_fail(err, errlen, "%s: scan must be a function (scanner %s)", s->path,
		                   s->name);
	}
	s->scan_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return read_library_versions(s, err, errlen) &&
	       optional_function(s, "select", &s->select_ref, err, errlen) &&
	       optional_function(s, "observe", &s->observe_ref, err, errlen);
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

bool script_has_select(const struct script *s)
{
	return s->select_ref != LUA_NOREF;
}

bool script_has_observe(const struct script *s)
{
	return s->observe_ref != LUA_NOREF;
}

bool script_busy(const struct script *s)
{
	return !task_idle(&s->task);
}

bool script_digest(const struct script *s, uint64_t *out)
{
	uint64_t h = DIGEST_SEED;
	if (!digest_add_file(&h, s->path))
		return false;
	for (size_t at = 0; at < s->modules_len; at += strlen(s->modules + at) + 1) {
		const char *m = s->modules + at;
		/* the name too: bytes moved between files count */
		h = digest_add(h, m, strlen(m) + 1);
		if (!digest_add_file(&h, m))
			return false;
	}
	*out = h;
	return true;
}

void script_push_handle(lua_State *L, struct script *s, const char *mt)
{
	struct script **h = lua_newuserdata(L, sizeof(*h));
	*h = s;
	luaL_getmetatable(L, mt);
	lua_setmetatable(L, -2);
}

struct script *script_check_handle(lua_State *L, const char *mt)
{
	struct script **h = luaL_checkudata(L, 1, mt);
	if (!*h)
		luaL_error(L, "scanhost: this ctx is closed");
	return *h;
}
