/* lua_ctx: the ctx table handed to scan(ctx, partition).
 *
 *   ctx.name, ctx.family, ctx.partition, ctx.tag, ctx.config, ctx.lanes,
 *   ctx.counts, ctx.library, ctx.redis, ctx.failures, ctx.log
 *   ctx.library_version                -- ff_version's answer ("5", "34", ...) or nil
 *   ctx.filter                         -- the scanner filter (filter.h) or nil
 *   ms | nil, err = ctx:now_ms()      -- server time from TIME
 *   bool          = ctx:stopping()    -- shutdown requested
 *   seconds       = ctx:elapsed()     -- since the current cycle started
 *   tag           = ctx:tag_for(p)    -- partition p's tag in this family
 *   ctx.instance_id, ctx.claims       -- this process, claims on (ff.claim)
 *   ctx.once                          -- --once: this one cycle drains what is due
 *                   ctx:claim_note(p, won[, holder])  -- ff.claim's report to C
 *   key           = ctx:claim_key(p)  -- partition p's claim key
 *   ctx:note_backlog(n, oldest_ms|nil, now_ms) -- ff.scan's page reads, for
 *                                                 the backlog metrics
 *
 * One ctx per script, refreshed for every partition scan. Its userdata hold a
 * pointer to the script, which lives exactly as long as the script's state
 * (or is cleared by ctx_invalidate for the test module's borrowed state). */
#include "lua_ctx.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "clock.h"
#include "filter.h"
#include "log.h"
#include "lua_redis.h"

#define CTX_MT      "scanhost.ctx"
#define FAILURES_MT "scanhost.failures"
#define LOG_MT      "scanhost.log"

static const char ctx_prelude[] =
    "local methods = ...\n"
    "function methods.now_ms(self)\n"
    "  local t, err, kind = self.redis:call('TIME')\n"
    "  if not t then return nil, err, kind end\n"
    "  local sec, usec = tonumber(t[1]), tonumber(t[2])\n"
    "  if not sec or not usec then return nil, 'malformed TIME reply' end\n"
    "  return sec * 1000 + math.floor(usec / 1000)\n"
    "end\n"
    "function methods.tag_for(self, p)\n"
    "  return '{' .. self.tag_prefix .. ':' .. p .. '}'\n"
    "end\n";

/* The script behind ctx (the table at 1): its redis handle's, or NULL once
 * the ctx is closed. */
static struct script *ctx_script(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "redis");
	struct script **h = lua_touserdata(L, -1);
	struct script *s = h ? *h : NULL;
	lua_pop(L, 1);
	return s;
}

static int ctx_stopping(lua_State *L)
{
	struct script *s = ctx_script(L);
	lua_pushboolean(L, s && s->env->stopping);
	return 1;
}

/* ctx:claim_note(p, won[, holder]): ff.claim reports each claim it sent. */
static int ctx_claim_note(lua_State *L)
{
	struct script *s = ctx_script(L);
	int p = (int)luaL_checkinteger(L, 2);
	bool won = lua_toboolean(L, 3);
	const char *holder = luaL_optstring(L, 4, NULL);
	if (s && s->claims)
		claims_note(s->claims, p, won, holder);
	return 0;
}

/* ctx:claim_key(p): the claim key of partition p (claims_key). */
static int ctx_claim_key(lua_State *L)
{
	struct script *s = ctx_script(L);
	int p = (int)luaL_checkinteger(L, 2);
	if (!s)
		return luaL_error(L, "scanhost: this ctx is closed");
	char key[256];
	claims_key(key, sizeof(key), family_tag_prefix(s->family), p, s->name);
	lua_pushstring(L, key);
	return 1;
}

/* ctx:note_backlog(n, oldest_ms|nil, now_ms): a page read saw n due items
 * (backlog.h); the host keeps the sum and the oldest for the cycle. */
static int ctx_note_backlog(lua_State *L)
{
	struct script *s = ctx_script(L);
	lua_Number n = luaL_checknumber(L, 2);
	lua_Number oldest = luaL_optnumber(L, 3, -1);
	lua_Number now = luaL_checknumber(L, 4);
	if (s && s->backlog && n >= 0)
		backlog_note(s->backlog, (uint64_t)n, oldest, now);
	return 0;
}

static int ctx_elapsed(lua_State *L)
{
	const struct script *s = ctx_script(L);
	double start = s ? s->cycle_start : 0;
	lua_pushnumber(L, s && start > 0 ? clock_now(s->env->clock) - start : 0);
	return 1;
}

/* -- ctx.failures: the scanner's C failure tracker -------------------------- */

static int failures_should_skip(lua_State *L)
{
	struct script *s = script_check_handle(L, FAILURES_MT);
	size_t n;
	const char *key = luaL_checklstring(L, 2, &n);
	lua_pushboolean(L, s->tracker && tracker_should_skip(s->tracker, key, n));
	return 1;
}

static int failures_record_failure(lua_State *L)
{
	struct script *s = script_check_handle(L, FAILURES_MT);
	size_t n;
	const char *key = luaL_checklstring(L, 2, &n);
	if (s->tracker && tracker_record_failure(s->tracker, key, n)) {
		char failures[16], backoff[16];
		snprintf(failures, sizeof(failures), "%u", TRACKER_FAILURE_THRESHOLD);
		snprintf(backoff, sizeof(backoff), "%u", TRACKER_BACKOFF_CYCLES);
		struct log_field f[] = { { "item", key, LOG_STRING },
			                 { "failures", failures, LOG_NUMBER },
			                 { "backoff_cycles", backoff, LOG_NUMBER },
			                 { NULL, NULL, LOG_STRING } };
		log_event(LOG_ERROR, s->name, s->run.partition,
		          "persistent failure, skipping item for 10 scan cycles", f);
	}
	return 0;
}

static int failures_record_success(lua_State *L)
{
	struct script *s = script_check_handle(L, FAILURES_MT);
	size_t n;
	const char *key = luaL_checklstring(L, 2, &n);
	if (s->tracker)
		tracker_record_success(s->tracker, key, n);
	return 0;
}

/* -- ctx.log ---------------------------------------------------------------- */

#define LOG_MAX_FIELDS 32

/* The text of a field key or value, kept alive on the stack until the
 * binding returns; numbers and booleans keep their kind for JSON logs.
 * Integral numbers are written as integers (40, never 40.0). */
static const char *field_text(lua_State *L, int idx, enum log_kind *kind)
{
	*kind = LOG_STRING;
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: lua_pushvalue(L, idx); break;
	case LUA_TNUMBER: {
		lua_Number v = lua_tonumber(L, idx);
		char buf[40];
		if (v == floor(v) && fabs(v) < 1e15)
			snprintf(buf, sizeof(buf), "%.0f", v);
		else
			snprintf(buf, sizeof(buf), "%.17g", v);
		lua_pushstring(L, buf);
		*kind = LOG_NUMBER;
		break;
	}
	case LUA_TBOOLEAN:
		lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
		*kind = LOG_BOOL;
		break;
	default: lua_pushstring(L, lua_typename(L, lua_type(L, idx))); break;
	}
	return lua_tostring(L, -1);
}

static int log_at(lua_State *L, enum log_level level)
{
	struct script *s = script_check_handle(L, LOG_MT);
	const char *msg = luaL_checkstring(L, 2);
	if (!lua_isnoneornil(L, 3))
		luaL_checktype(L, 3, LUA_TTABLE);
	if (!log_enabled(level))
		return 0;
	struct log_field fields[LOG_MAX_FIELDS + 1];
	int n = 0;
	if (lua_istable(L, 3)) {
		luaL_checkstack(L, 4 * LOG_MAX_FIELDS + 8, "log fields");
		lua_pushnil(L);
		while (n < LOG_MAX_FIELDS && lua_next(L, 3)) {
			int value = lua_gettop(L);
			enum log_kind key_kind;
			fields[n].key = field_text(L, value - 1, &key_kind);
			fields[n].value = field_text(L, value, &fields[n].kind);
			n++;
			lua_pushvalue(L, value - 1); /* the key again, for lua_next */
		}
		/* the strings stay on the stack until we return */
	}
	fields[n] = (struct log_field){ NULL, NULL, LOG_STRING };
	int partition = script_busy(s) ? s->run.partition : -1;
	log_event(level, s->name, partition, msg, fields);
	return 0;
}

static int log_debug_(lua_State *L)
{
	return log_at(L, LOG_DEBUG);
}
static int log_info_(lua_State *L)
{
	return log_at(L, LOG_INFO);
}
static int log_warn_(lua_State *L)
{
	return log_at(L, LOG_WARN);
}
static int log_error_(lua_State *L)
{
	return log_at(L, LOG_ERROR);
}

static const luaL_Reg failures_methods[] = {
	{ "should_skip", failures_should_skip },
	{ "record_failure", failures_record_failure },
	{ "record_success", failures_record_success },
	{ NULL, NULL },
};

static const luaL_Reg log_methods[] = {
	{ "debug", log_debug_ }, { "info", log_info_ }, { "warn", log_warn_ },
	{ "error", log_error_ }, { NULL, NULL },
};

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods)
{
	luaL_newmetatable(L, name);
	lua_newtable(L);
	luaL_register(L, NULL, methods);
	lua_setfield(L, -2, "__index");
	lua_pushstring(L, name);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}

void ctx_open(lua_State *L)
{
	luaL_getmetatable(L, CTX_MT);
	bool exists = !lua_isnil(L, -1);
	lua_pop(L, 1);
	if (exists)
		return;
	new_class(L, FAILURES_MT, failures_methods);
	new_class(L, LOG_MT, log_methods);
	luaL_newmetatable(L, CTX_MT);
	lua_newtable(L); /* methods */
	lua_pushcfunction(L, ctx_stopping);
	lua_setfield(L, -2, "stopping");
	lua_pushcfunction(L, ctx_elapsed);
	lua_setfield(L, -2, "elapsed");
	lua_pushcfunction(L, ctx_claim_note);
	lua_setfield(L, -2, "claim_note");
	lua_pushcfunction(L, ctx_claim_key);
	lua_setfield(L, -2, "claim_key");
	lua_pushcfunction(L, ctx_note_backlog);
	lua_setfield(L, -2, "note_backlog");
	if (luaL_loadbuffer(L, ctx_prelude, sizeof(ctx_prelude) - 1, "=scanhost.ctx") != 0)
		lua_error(L); /* a bug in the prelude: fail loudly */
	lua_pushvalue(L, -2);
	lua_call(L, 1, 0);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}

static void push_counts(lua_State *L, const struct hostenv *env)
{
	lua_createtable(L, 0, 4);
	for (int f = 0; f < FAMILY_COUNT; f++) {
		lua_pushinteger(L, env->partitions[f]);
		lua_setfield(L, -2, family_name((enum family)f));
	}
}

void ctx_push_new(struct script *s)
{
	lua_State *L = s->L;
	lua_createtable(L, 0, 16);
	lua_pushstring(L, s->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, family_name(s->family));
	lua_setfield(L, -2, "family");
	lua_pushstring(L, family_tag_prefix(s->family));
	lua_setfield(L, -2, "tag_prefix");
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->config_ref);
	lua_setfield(L, -2, "config");
	lua_createtable(L, s->env->nlanes, 0);
	for (int i = 0; i < s->env->nlanes; i++) {
		lua_pushstring(L, s->env->lanes[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "lanes");
	push_counts(L, s->env);
	lua_setfield(L, -2, "counts");
	lua_pushstring(L, s->env->instance_id);
	lua_setfield(L, -2, "instance_id");
	lua_pushboolean(L, s->env->claims);
	lua_setfield(L, -2, "claims");
	lua_pushboolean(L, s->env->once);
	lua_setfield(L, -2, "once");
	filter_push(L, s->env->filter);
	lua_setfield(L, -2, "filter");
	lredis_push(L, s);
	lua_setfield(L, -2, "redis");
	script_push_handle(L, s, FAILURES_MT);
	lua_setfield(L, -2, "failures");
	script_push_handle(L, s, LOG_MT);
	lua_setfield(L, -2, "log");
	luaL_getmetatable(L, CTX_MT);
	lua_setmetatable(L, -2);
}

void ctx_set_partition(struct script *s, int partition)
{
	lua_State *L = s->L;
	char tag[32];
	snprintf(tag, sizeof(tag), "{%s:%d}", family_tag_prefix(s->family), partition);
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->ctx_ref);
	lua_pushinteger(L, partition);
	lua_setfield(L, -2, "partition");
	lua_pushstring(L, tag);
	lua_setfield(L, -2, "tag");
	if (s->env->library)
		lua_pushstring(L, s->env->library);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, "library");
	if (s->env->library_version && s->env->library_version[0])
		lua_pushstring(L, s->env->library_version);
	else
		lua_pushnil(L);
	lua_setfield(L, -2, "library_version");
	lua_pop(L, 1);
}

void ctx_invalidate(struct script *s)
{
	static const char *const fields[] = { "redis", "failures", "log" };
	lua_State *L = s->L;
	lua_rawgeti(L, LUA_REGISTRYINDEX, s->ctx_ref);
	if (lua_istable(L, -1)) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			lua_getfield(L, -1, fields[i]);
			struct script **h = lua_touserdata(L, -1);
			if (h)
				*h = NULL;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
}
