/* filter: FlowFabric v34's scanner filter (spec 30 §3.4), the config key
 *   filter = { namespace = "...", tag = { key = "...", value = "..." } }
 * validated here and handed to the scanners as ctx.filter (lua-lib/ff/filter.lua
 * applies it, fail-closed). Both parts optional; none = the no-op filter. */
#ifndef SCANHOST_FILTER_H
#define SCANHOST_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#define FILTER_MAX_TEXT 256

struct scan_filter {
	bool has_namespace, has_tag;
	char namespace_[FILTER_MAX_TEXT];
	char tag_key[FILTER_MAX_TEXT];
	char tag_value[FILTER_MAX_TEXT];
};

/* Reads the value on top of L (a table) into f; false with a message naming
 * the key (filter, filter.namespace, filter.tag.key, ...). */
bool filter_read(struct scan_filter *f, lua_State *L, char *err, size_t errlen);
/* The tag key rule of spec 30 §3.4: ^[a-z][a-z0-9_]*\.[a-z0-9_][a-z0-9_.]*$.
 * A filter whose key breaks it is accepted and skips every candidate. */
bool filter_tag_key_valid(const char *key);
/* Logs, once at start, what the filter does (a warning for a bad tag key). */
void filter_report(const struct scan_filter *f);
/* Pushes ctx.filter: nil for the no-op filter, else a table. */
void filter_push(lua_State *L, const struct scan_filter *f);

#endif
