/* script_load: making a script (a fresh lua_State, its bindings, its file's
 * top level, its definition and options) and ending one. */
#ifndef SCANHOST_SCRIPT_LOAD_H
#define SCANHOST_SCRIPT_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "script.h"

/* Loads and validates a scanner file into a fresh lua_State. On failure
 * returns NULL and writes a message (with traceback) to err; *bad_option
 * tells a configuration error (an override naming an unknown option, a
 * value out of the scanner's bounds: the message names
 * scanners.NAME.OPTION) from a problem of the file itself. */
struct script *script_load(struct hostenv *env, const char *path, char *err, size_t errlen,
                           bool *bad_option);
/* Wraps an existing state (the busted test module): no file, no scan(). */
struct script *script_wrap(struct hostenv *env, lua_State *L, const char *name);
void script_free(struct script *s);
/* Retire: free now if idle, else when the running task ends. */
void script_retire(struct script *s);

#endif
