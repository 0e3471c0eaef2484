/* config file keys: each top-level key of the config file's table, its
 * check and the field of struct config it sets. */
#ifndef SCANHOST_CONFIG_KEYS_H
#define SCANHOST_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "config_values.h"

/* The pair on top of L's stack (key at -2, value at -1) into c; an unknown
 * key or a bad value fails naming the key. */
bool config_apply_key(struct config *c, lua_State *L, char *err, size_t errlen);

#endif
