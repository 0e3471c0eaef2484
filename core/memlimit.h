/* memlimit: a counting lua_Alloc with a per-state limit (lua_memory_mb).
 *
 * Every byte a state allocates is counted. Over the limit an allocation
 * fails (Lua raises "not enough memory") only while the state runs inside a
 * protected call (memlimit_protect); elsewhere, in the host's own C API
 * calls on the state, an error would be unprotected and panic the process,
 * so the allocation succeeds and the overshoot is only recorded. The owner
 * checks memlimit_exceeded() after each run and stops the scanner.
 *
 * LuaJIT 2.1 on x64 is built with GC64 (as in Debian 12), where lua_newstate
 * accepts a custom allocator; memlimit_newstate fails cleanly otherwise. */
#ifndef SCANHOST_MEMLIMIT_H
#define SCANHOST_MEMLIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

struct memlimit {
	size_t used;   /* bytes currently allocated */
	size_t peak;   /* largest `used` seen */
	size_t limit;  /* 0 = unlimited */
	int protect;   /* > 0: inside a protected call, allocations may fail */
	bool exceeded; /* an allocation went (or would have gone) over the limit */
};

/* A fresh state whose allocations are counted in m (which must outlive it),
 * with a limit of limit_bytes (0 = none). NULL when out of memory or when
 * this LuaJIT refuses custom allocators. */
lua_State *memlimit_newstate(struct memlimit *m, size_t limit_bytes);
void *memlimit_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* Brackets a protected call (lua_resume, lua_pcall, lua_cpcall). */
static inline void memlimit_protect(struct memlimit *m)
{
	m->protect++;
}
static inline void memlimit_unprotect(struct memlimit *m)
{
	m->protect--;
}
static inline bool memlimit_exceeded(const struct memlimit *m)
{
	return m->exceeded;
}

#endif
