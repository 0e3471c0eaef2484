/* lua_args: two passes over the arguments, one userdata (see lua_args.h).
 *
 * The first pass checks every value and counts; the one allocation follows;
 * the second pass fills the vectors and checks again, because a __gc
 * finalizer run by that allocation could have changed the tables. Nothing
 * else allocates, so no Lua code runs during the second pass and the
 * strings it points to stay referenced. */
#include "lua_args.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#define NUM_TEXT 32 /* room for one formatted number */

/* Walks the arguments of one request; counts them, or fills the vectors. */
struct walk {
	lua_State *L;
	bool fill;
	const char *what; /* for error messages: "command arguments", "keys"... */
	int cmd;          /* pipeline: 1-based command number, else 0 */
	size_t nargs, nnums;
	/* fill pass */
	struct rargs *cur;
	const char **argv;
	size_t *len;
	char *nums;
	size_t capargs, capnums;
};

static void too_many(lua_State *L)
{
	luaL_error(L, "scanhost: too many arguments for one request");
}

static void bad_type(struct walk *w, int type, size_t pos)
{
	if (w->cmd > 0)
		luaL_error(
		    w->L,
		    "scanhost: pipeline command %d argument %d must be a string or a number, "
		    "got %s",
		    w->cmd, (int)pos, lua_typename(w->L, type));
	luaL_error(w->L, "scanhost: %s must be strings or numbers, got %s", w->what,
	           lua_typename(w->L, type));
}

/* Digits written by hand: a drain formats a number per item (a timestamp,
 * a count), and snprintf's floating-point path cost more than the rest of
 * the argument walk. */
static size_t format_integer(long long v, char *out)
{
	char rev[24];
	size_t n = 0, len = 0;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		rev[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		out[len++] = '-';
	while (n)
		out[len++] = rev[--n];
	out[len] = '\0';
	return len;
}

/* Integral numbers go out as integers: 1713600000000, never 1.7136e+12. */
static size_t format_number(lua_Number v, char *out)
{
	if (v == floor(v) && fabs(v) < 1e18)
		return format_integer((long long)v, out);
	return (size_t)snprintf(out, NUM_TEXT, "%.17g", v);
}

static void add_text(struct walk *w, const char *p, size_t n)
{
	if (!w->fill) {
		w->nargs++;
		return;
	}
	if (!w->cur || w->nargs >= w->capargs || w->cur->argc == INT_MAX)
		luaL_error(w->L, "scanhost: the arguments changed while being read");
	w->argv[w->nargs] = p;
	w->len[w->nargs] = n;
	w->nargs++;
	w->cur->argc++;
}

/* One value at absolute index idx; pos is its 1-based position (messages). */
static void add_value(struct walk *w, int idx, size_t pos)
{
	int t = lua_type(w->L, idx);
	if (t == LUA_TSTRING) {
		size_t n;
		const char *p = lua_tolstring(w->L, idx, &n);
		add_text(w, p, n);
		return;
	}
	if (t != LUA_TNUMBER)
		bad_type(w, t, pos);
	if (!w->fill) {
		w->nnums++;
		w->nargs++;
		return;
	}
	if (w->nnums >= w->capnums)
		luaL_error(w->L, "scanhost: the arguments changed while being read");
	char *text = w->nums + w->nnums * NUM_TEXT;
	w->nnums++;
	add_text(w, text, format_number(lua_tonumber(w->L, idx), text));
}

/* Every element 1..#t of the table at absolute index idx. */
static void add_array(struct walk *w, int idx)
{
	size_t n = lua_objlen(w->L, idx);
	for (size_t i = 1; i <= n; i++) {
		if (i > INT_MAX)
			too_many(w->L);
		lua_rawgeti(w->L, idx, (int)i);
		add_value(w, lua_gettop(w->L), i);
		lua_pop(w->L, 1);
	}
}

static void begin_command(struct walk *w, struct rargs *cmds, int i)
{
	if (!w->fill || !cmds)
		return;
	w->cur = &cmds[i];
	w->cur->argc = 0;
	w->cur->argv = w->argv + w->nargs;
	w->cur->len = w->len + w->nargs;
}

/* The one allocation, between the passes: every vector of the request. */
static struct rargs *allocate(struct walk *w, int ncmds)
{
	lua_State *L = w->L;
	size_t per_arg = sizeof(char *) + sizeof(size_t);
	if (w->nargs > (SIZE_MAX / 2) / per_arg || w->nnums > (SIZE_MAX / 4) / NUM_TEXT)
		too_many(L);
	size_t head = (size_t)ncmds * sizeof(struct rargs);
	size_t size = head + w->nargs * per_arg + w->nnums * NUM_TEXT;
	char *mem = lua_newuserdata(L, size ? size : 1);
	struct rargs *cmds = (struct rargs *)mem;
	w->argv = (const char **)(mem + head);
	w->len = (size_t *)(w->argv + w->nargs);
	w->nums = (char *)(w->len + w->nargs);
	w->capargs = w->nargs;
	w->capnums = w->nnums;
	w->nargs = w->nnums = 0;
	w->fill = true;
	return cmds;
}

struct rargs *rargs_call(lua_State *L, int first)
{
	int top = lua_gettop(L);
	struct walk w = { .L = L, .what = "command arguments" };
	for (int i = first; i <= top; i++)
		add_value(&w, i, (size_t)i - (size_t)first + 1);
	struct rargs *cmd = allocate(&w, 1);
	begin_command(&w, cmd, 0);
	for (int i = first; i <= top; i++)
		add_value(&w, i, (size_t)i - (size_t)first + 1);
	return cmd;
}

static void fcall_walk(struct walk *w, int name_idx, int keys_idx, int args_idx, const char *nkeys,
                       size_t nkeys_len)
{
	add_text(w, "FCALL", 5);
	w->what = "the function name";
	add_value(w, name_idx, 1);
	add_text(w, nkeys, nkeys_len);
	w->what = "keys";
	add_array(w, keys_idx);
	if (lua_istable(w->L, args_idx)) {
		w->what = "args";
		add_array(w, args_idx);
	}
}

struct rargs *rargs_fcall(lua_State *L, int name_idx, int keys_idx, int args_idx)
{
	struct walk w = { .L = L };
	size_t nkeys = lua_objlen(L, keys_idx);
	if (nkeys > INT_MAX)
		too_many(L);
	fcall_walk(&w, name_idx, keys_idx, args_idx, "", 0);
	w.nnums++; /* the key count, formatted below */
	struct rargs *cmd = allocate(&w, 1);
	begin_command(&w, cmd, 0);
	char *count = w.nums;
	w.nnums = 1;
	size_t n = (size_t)snprintf(count, NUM_TEXT, "%zu", nkeys);
	fcall_walk(&w, name_idx, keys_idx, args_idx, count, n);
	/* the count must still match: a finalizer may have resized the table */
	if (lua_objlen(L, keys_idx) != nkeys)
		luaL_error(L, "scanhost: the arguments changed while being read");
	return cmd;
}

static void pipeline_walk(struct walk *w, int idx, int n, struct rargs *cmds)
{
	for (int i = 1; i <= n; i++) {
		lua_rawgeti(w->L, idx, i);
		if (!lua_istable(w->L, -1) || lua_objlen(w->L, -1) == 0)
			luaL_error(w->L, "scanhost: pipeline command %d must be a non-empty array",
			           i);
		w->cmd = i;
		begin_command(w, cmds, i - 1);
		add_array(w, lua_gettop(w->L));
		lua_pop(w->L, 1);
	}
}

struct rargs *rargs_pipeline(lua_State *L, int idx, int *ncmds)
{
	size_t n = lua_objlen(L, idx);
	if (n > INT_MAX / 2)
		too_many(L);
	struct walk w = { .L = L };
	pipeline_walk(&w, idx, (int)n, NULL);
	struct rargs *cmds = allocate(&w, (int)n);
	pipeline_walk(&w, idx, (int)n, cmds);
	*ncmds = (int)n;
	return cmds;
}
