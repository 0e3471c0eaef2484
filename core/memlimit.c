/* memlimit: the counting allocator (see memlimit.h). */
#include "memlimit.h"

#include <stdlib.h>

#include <lauxlib.h>

#include "log.h"

void *memlimit_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct memlimit *m = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		m->used -= old;
		return NULL;
	}
	/* shrinking never fails: the collector relies on it */
	if (nsize > old && m->limit && m->used - old + nsize > m->limit) {
		m->exceeded = true;
		if (m->protect > 0)
			return NULL;
	}
	void *p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	m->used = m->used - old + nsize;
	if (m->used > m->peak)
		m->peak = m->used;
	return p;
}

/* An error outside any protected call: a bug in the host, never a
 * script's doing (see memlimit.h). Say so before the process dies. */
static int on_panic(lua_State *L)
{
	const char *msg = lua_tostring(L, -1);
	log_error("unprotected Lua error: %s", msg ? msg : "(not a string)");
	abort();
}

lua_State *memlimit_newstate(struct memlimit *m, size_t limit_bytes)
{
	*m = (struct memlimit){ .limit = limit_bytes };
	lua_State *L = lua_newstate(memlimit_alloc, m);
	if (L)
		lua_atpanic(L, on_panic);
	return L;
}
