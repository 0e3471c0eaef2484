/* lua_reply: hiredis reply -> Lua value, faithfully and without metamethods. */
#ifndef SCANHOST_LUA_REPLY_H
#define SCANHOST_LUA_REPLY_H

#include <hiredis/hiredis.h>
#include <lua.h>

/* Integers beyond this magnitude do not fit a double exactly and are
 * pushed as decimal strings instead. */
#define REPLY_MAX_EXACT_INT 9007199254740992LL

/* Pushes one value: integer -> number (or decimal string when too large),
 * bulk/status -> string, nil -> false, array -> table 1..n,
 * error -> {err = message}. May raise on out-of-memory: call it protected. */
void reply_push(lua_State *L, const redisReply *r);

#endif
