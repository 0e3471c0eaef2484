/* libFuzzer target, two parts:
 *
 * 1. RESP bytes -> hiredis reader -> reply_push (core/lua_reply.c) inside
 *    lua_cpcall, as the host converts replies. Oracle: the Lua value is a
 *    faithful copy of the reply (types, integers, string bytes, array order,
 *    nested errors as {err = msg}), checked with raw access.
 * 2. The same bytes through the connection's read path (core/cmdq.c: the
 *    pending commands and the reader that answers them), fed whole, split
 *    at every byte, and in chunks of a few bytes with the queue failed from
 *    inside a reply callback (as a dropped connection does). Oracles: every
 *    split gives the replies of the whole stream, in order, each to its own
 *    command; every reply function runs exactly once (a reply or an error);
 *    a protocol error, or a reply with no command pending, is reported
 *    exactly when the whole stream has one; a queue failed from a callback
 *    stops the dispatch at once. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <lauxlib.h>
#include <lualib.h>

#include "cmdq.h"
#include "lua_reply.h"

static lua_State *L;

static int push(lua_State *Ls)
{
	reply_push(Ls, lua_touserdata(Ls, 1));
	return 1;
}

static int convert(lua_State *Ls)
{
	/* lua_cpcall cannot return values: keep the result in the registry */
	push(Ls);
	lua_setfield(Ls, LUA_REGISTRYINDEX, "fuzz_result");
	return 0;
}

static void check(lua_State *Ls, int idx, const redisReply *r)
{
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		if (r->integer >= -REPLY_MAX_EXACT_INT && r->integer <= REPLY_MAX_EXACT_INT) {
			if (lua_type(Ls, idx) != LUA_TNUMBER ||
			    (long long)lua_tonumber(Ls, idx) != r->integer)
				abort();
		} else {
			char buf[32];
			snprintf(buf, sizeof(buf), "%lld", r->integer);
			if (lua_type(Ls, idx) != LUA_TSTRING ||
			    strcmp(lua_tostring(Ls, idx), buf) != 0)
				abort();
		}
		break;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS: {
		size_t n;
		if (lua_type(Ls, idx) != LUA_TSTRING)
			abort();
		const char *s = lua_tolstring(Ls, idx, &n);
		if (n != r->len || memcmp(s, r->str, n) != 0)
			abort();
		break;
	}
	case REDIS_REPLY_NIL:
		if (lua_type(Ls, idx) != LUA_TBOOLEAN || lua_toboolean(Ls, idx))
			abort();
		break;
	case REDIS_REPLY_ERROR: {
		if (lua_type(Ls, idx) != LUA_TTABLE)
			abort();
		lua_pushstring(Ls, "err");
		lua_rawget(Ls, idx);
		size_t n;
		const char *s = lua_tolstring(Ls, -1, &n);
		if (!s || n != r->len || memcmp(s, r->str, n) != 0)
			abort();
		lua_pop(Ls, 1);
		break;
	}
	case REDIS_REPLY_ARRAY:
		if (lua_type(Ls, idx) != LUA_TTABLE || lua_objlen(Ls, idx) != r->elements)
			abort();
		for (size_t i = 0; i < r->elements; i++) {
			lua_rawgeti(Ls, idx, (int)i + 1);
			check(Ls, lua_gettop(Ls), r->element[i]);
			lua_pop(Ls, 1);
		}
		break;
	default: abort();
	}
}

/* hiredis 0.14 allocates a multi-bulk's element array up front: skip inputs
 * announcing huge counts, which only test hiredis's allocator. */
static int sane(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i] != '*' && d[i] != '$')
			continue;
		unsigned long long v = 0;
		for (size_t j = i + 1; j < n && j < i + 21 && d[j] >= '0' && d[j] <= '9'; j++) {
			v = v * 10 + (d[j] - '0');
			if (v > 100000)
				return 0;
		}
	}
	return 1;
}

/* ---- part 2: the connection's read path ------------------------------------ */

#define MAX_REPLIES 512
#define NO_FAIL     ((size_t)-1)

static struct stream {
	redisReply *ref[MAX_REPLIES]; /* the whole stream's complete replies */
	size_t n;
	bool error;     /* a protocol error follows them */
	size_t got;     /* replies delivered in this run */
	size_t fail_at; /* the reply whose callback fails the queue */
	unsigned calls[MAX_REPLIES];
	struct cmdq *q;
} X;

static bool same(const redisReply *a, const redisReply *b)
{
	if (a->type != b->type || a->integer != b->integer || a->len != b->len ||
	    a->elements != b->elements)
		return false;
	if (a->str && (!b->str || memcmp(a->str, b->str, a->len) != 0))
		return false;
	for (size_t i = 0; i < a->elements; i++) {
		if (!same(a->element[i], b->element[i]))
			return false;
	}
	return true;
}

static void on_stream_reply(void *priv, redisReply *r, const char *err)
{
	size_t i = (size_t)(uintptr_t)priv;
	if (++X.calls[i] != 1)
		abort(); /* exactly once */
	if (!r) {
		if (!err)
			abort();
		return;
	}
	if (err || i != X.got || i >= X.n || !same(r, X.ref[i]))
		abort(); /* in order, each its own, faithful */
	X.got++;
	if (i == X.fail_at)
		cmdq_fail_all(X.q, "dropped from a callback");
}

static bool reference(const uint8_t *data, size_t size)
{
	redisReader *rd = redisReaderCreate();
	X.n = 0;
	X.error = false;
	redisReaderFeed(rd, (const char *)data, size);
	for (;;) {
		void *reply = NULL;
		if (redisReaderGetReply(rd, &reply) != REDIS_OK) {
			X.error = true;
			break;
		}
		if (!reply)
			break;
		if (X.n == MAX_REPLIES) {
			freeReplyObject(reply);
			break;
		}
		X.ref[X.n++] = reply;
	}
	bool usable = X.n < MAX_REPLIES;
	redisReaderFree(rd);
	return usable;
}

/* Feeds the stream in chunks to a queue of `pending` commands. */
static void run_split(const uint8_t *data, size_t size, size_t chunk, size_t pending,
                      size_t fail_at)
{
	struct cmdq q;
	if (!cmdq_init(&q))
		return;
	X.q = &q;
	X.got = 0;
	X.fail_at = fail_at;
	memset(X.calls, 0, sizeof(X.calls));
	for (size_t i = 0; i < pending; i++)
		cmdq_push(&q, 0, on_stream_reply, (void *)(uintptr_t)i);
	bool ok = true, dropped = false;
	char err[256];
	for (size_t off = 0; off < size && ok && !dropped; off += chunk) {
		unsigned epoch = q.epoch;
		size_t n = size - off < chunk ? size - off : chunk;
		ok = cmdq_feed(&q, (const char *)data + off, n, err, sizeof(err));
		dropped = q.epoch != epoch;
	}
	if (dropped) {
		if (!ok || X.got != fail_at + 1)
			abort(); /* the dispatch stopped right after the failing callback */
	} else {
		bool too_many = X.n > pending;
		if (X.got != (too_many ? pending : X.n) || ok == (too_many || X.error))
			abort();
	}
	cmdq_free(&q); /* fails what is left ("shutting down") */
	for (size_t i = 0; i < pending; i++) {
		if (X.calls[i] != 1)
			abort();
	}
}

static void check_stream(const uint8_t *data, size_t size)
{
	if (reference(data, size)) {
		run_split(data, size, size ? size : 1, X.n, NO_FAIL);
		run_split(data, size, 1, X.n, NO_FAIL);
		if (X.n > 0) {
			size_t chunk = size ? 1 + data[0] % 7 : 1;
			run_split(data, size, chunk, X.n, size ? data[size - 1] % X.n : 0);
			run_split(data, size, 1, X.n - 1, NO_FAIL);
		}
	}
	for (size_t i = 0; i < X.n; i++)
		freeReplyObject(X.ref[i]);
	X.n = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sane(data, size))
		return 0;
	check_stream(data, size);
	if (!L) {
		L = luaL_newstate();
		luaL_openlibs(L);
	}
	redisReader *rd = redisReaderCreate();
	if (!rd)
		return 0;
	/* feed in two pieces to exercise partial reads */
	size_t half = size / 2;
	redisReaderFeed(rd, (const char *)data, half);
	void *reply = NULL;
	int rounds = 0;
	for (int fed_all = 0; rounds < 1000; rounds++) {
		if (redisReaderGetReply(rd, &reply) != REDIS_OK)
			break;
		if (!reply) {
			if (fed_all)
				break;
			redisReaderFeed(rd, (const char *)data + half, size - half);
			fed_all = 1;
			continue;
		}
		if (lua_cpcall(L, convert, reply) == 0) {
			lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_result");
			check(L, lua_gettop(L), reply);
		}
		lua_settop(L, 0);
		freeReplyObject(reply);
		reply = NULL;
	}
	redisReaderFree(rd);
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_result");
	lua_gc(L, LUA_GCSTEP, 10);
	return 0;
}
