/* lua_args: Redis argument vectors built from Lua values, for whole
 * requests at once.
 *
 * A request (one command, an FCALL, or a pipeline of many) is checked and
 * built completely before anything is sent: misuse raises while nothing is
 * on the wire yet. Values are read one at a time with raw access, never all
 * pushed on the Lua stack, so a command may have as many arguments as
 * Redis accepts. Strings are not copied: argv points into the Lua strings,
 * which the argument tables or the stack keep alive until the request is
 * written (hiredis copies it then); numbers are formatted into the vector's
 * own storage. The vectors live in a userdata left on the stack, so a raise
 * half-way leaks nothing. */
#ifndef SCANHOST_LUA_ARGS_H
#define SCANHOST_LUA_ARGS_H

#include <stddef.h>

#include <lua.h>

struct rargs {
	int argc;
	const char **argv;
	size_t *len;
};

/* ctx.redis:call(cmd, ...): stack values first..top of L. */
struct rargs *rargs_call(lua_State *L, int first);
/* ctx.redis:fcall(name, keys, args): FCALL name #keys keys... args...;
 * name at name_idx, keys and (optional, may be nil) args arrays. */
struct rargs *rargs_fcall(lua_State *L, int name_idx, int keys_idx, int args_idx);
/* ctx.redis:pipeline(cmds): one vector per command of the array at idx;
 * *ncmds receives their number (0 for an empty array). */
struct rargs *rargs_pipeline(lua_State *L, int idx, int *ncmds);

#endif
