/* libFuzzer target: the argument vectors of ctx.redis:pipeline, :call and
 * :fcall (core/lua_args.c). The fuzz bytes build a request from Lua values:
 * strings with any byte, integers, floats (inf, nan), huge argument counts,
 * and misuse (booleans, tables, holes) anywhere, so that a request raises
 * midway as often as it succeeds. Oracles: no crash or sanitizer report; a
 * raise comes before anything would be sent (the harness "sends" only what
 * the builder returned) and says "scanhost:"; a built request holds exactly
 * the values of the tables, numbers formatted as the binding documents. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua_args.h"

struct in {
	const uint8_t *d;
	size_t n, i;
};

static unsigned byte(struct in *g)
{
	return g->i < g->n ? g->d[g->i++] : 0;
}

/* Pushes one argument value; *bad is set for a value the binding refuses. */
static void push_value(lua_State *L, struct in *g, int *bad)
{
	switch (byte(g) % 10) {
	case 0:
	case 1:
	case 2: {
		char buf[64];
		unsigned len = byte(g) % sizeof(buf);
		for (unsigned k = 0; k < len; k++)
			buf[k] = (char)byte(g);
		lua_pushlstring(L, buf, len);
		break;
	}
	case 3:
	case 4: lua_pushnumber(L, (double)(int32_t)(byte(g) | byte(g) << 8 | byte(g) << 16)); break;
	case 5: {
		uint64_t bits = 0;
		for (int k = 0; k < 8; k++)
			bits = bits << 8 | byte(g);
		double v;
		memcpy(&v, &bits, sizeof(v));
		lua_pushnumber(L, v);
		break;
	}
	case 6: lua_pushnumber(L, byte(g) % 2 ? 1e18 : -0.5); break;
	case 7: lua_pushstring(L, "x"); break;
	default:
		/* misuse: the whole request must be refused */
		if (byte(g) % 4 == 0) {
			*bad = 1;
			if (byte(g) % 2)
				lua_pushboolean(L, 1);
			else
				lua_newtable(L);
		} else {
			lua_pushliteral(L, "ok");
		}
		break;
	}
}

/* The text the binding sends for the value at idx. */
static size_t expected(lua_State *L, int idx, char *tmp, const char **p)
{
	size_t n;
	if (lua_type(L, idx) == LUA_TSTRING) {
		*p = lua_tolstring(L, idx, &n);
		return n;
	}
	lua_Number v = lua_tonumber(L, idx);
	/* integral: its integer digits (-0 goes out as "0") */
	int k = (v == floor(v) && fabs(v) < 1e18) ? snprintf(tmp, 32, "%lld", (long long)v)
	                                          : snprintf(tmp, 32, "%.17g", v);
	*p = tmp;
	return (size_t)k;
}

static void check_array(lua_State *L, int tidx, const struct rargs *a, int from)
{
	for (int j = 1; j <= (int)lua_objlen(L, tidx); j++) {
		lua_rawgeti(L, tidx, j);
		char tmp[32];
		const char *p;
		size_t n = expected(L, -1, tmp, &p);
		if (a->len[from + j - 1] != n || memcmp(a->argv[from + j - 1], p, n) != 0)
			abort();
		lua_pop(L, 1);
	}
}

static int build_pipeline(lua_State *L)
{
	int n;
	const struct rargs *cmds = rargs_pipeline(L, 1, &n);
	if (n != (int)lua_objlen(L, 1))
		abort();
	for (int i = 0; i < n; i++) {
		lua_rawgeti(L, 1, i + 1);
		if (cmds[i].argc != (int)lua_objlen(L, -1))
			abort();
		check_array(L, lua_gettop(L), &cmds[i], 0);
		lua_pop(L, 1);
	}
	return 0;
}

static int build_fcall(lua_State *L)
{
	const struct rargs *a = rargs_fcall(L, 1, 2, 3);
	int nk = (int)lua_objlen(L, 2), na = (int)lua_objlen(L, 3);
	char count[32];
	snprintf(count, sizeof(count), "%d", nk);
	if (a->argc != 3 + nk + na || memcmp(a->argv[0], "FCALL", 5) != 0 ||
	    a->len[2] != strlen(count) || memcmp(a->argv[2], count, a->len[2]) != 0)
		abort();
	check_array(L, 2, a, 3);
	check_array(L, 3, a, 3 + nk);
	return 0;
}

/* A table of count values at the top of the stack. */
static void push_array(lua_State *L, struct in *g, unsigned count, int *bad)
{
	lua_createtable(L, (int)count, 0);
	for (unsigned k = 1; k <= count; k++) {
		push_value(L, g, bad);
		lua_rawseti(L, -2, (int)k);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static lua_State *L;
	if (!L) {
		L = luaL_newstate();
		luaL_openlibs(L);
	}
	struct in g = { data, size, 0 };
	int bad = 0;
	int top = lua_gettop(L);
	unsigned mode = byte(&g) % 3;
	if (mode < 2) {
		/* a pipeline; now and then one command with thousands of arguments */
		unsigned ncmds = byte(&g) % 8;
		lua_pushcfunction(L, build_pipeline);
		lua_createtable(L, (int)ncmds, 0);
		for (unsigned c = 1; c <= ncmds; c++) {
			unsigned count = byte(&g) % 6;
			if (byte(&g) == 0xff)
				count = 9001 + byte(&g) * 64;
			if (count == 0)
				bad = 1; /* an empty command is refused */
			push_array(L, &g, count, &bad);
			lua_rawseti(L, -2, (int)c);
		}
	} else {
		lua_pushcfunction(L, build_fcall);
		push_value(L, &g, &bad);
		push_array(L, &g, byte(&g) % 5, &bad);
		push_array(L, &g, byte(&g) % 5, &bad);
	}
	int nargs = lua_gettop(L) - top - 1;
	int rc = lua_pcall(L, nargs, 0, 0);
	if (rc != 0) {
		const char *msg = lua_tostring(L, -1);
		if (!bad || !msg || strncmp(msg, "scanhost:", 9) != 0)
			abort(); /* refused a valid request, or an unexpected error */
	} else if (bad) {
		abort(); /* misuse went through */
	}
	lua_settop(L, top);
	lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
