/* filter: the scanner filter's configuration (see filter.h). */
#include "filter.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static bool fail(char *err, size_t errlen, const char *key, const char *msg)
{
	snprintf(err, errlen, "%s: %s", key, msg);
	return false;
}

/* A non-empty string field of the table on top of L into dst. */
static bool text(lua_State *L, const char *key, char *dst, char *err, size_t errlen)
{
	size_t len;
	const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
	if (!v || len == 0 || len >= FILTER_MAX_TEXT || memchr(v, '\0', len))
		return fail(err, errlen, key, "must be a non-empty string of at most 255 bytes");
	memcpy(dst, v, len + 1);
	return true;
}

static bool read_tag(struct scan_filter *f, lua_State *L, char *err, size_t errlen)
{
	if (!lua_istable(L, -1))
		return fail(err, errlen, "filter.tag",
		            "must be a table { key = \"...\", value = \"...\" }");
	bool has_key = false, has_value = false;
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		bool ok;
		if (strcmp(k, "key") == 0)
			ok = has_key = text(L, "filter.tag.key", f->tag_key, err, errlen);
		else if (strcmp(k, "value") == 0)
			ok = has_value = text(L, "filter.tag.value", f->tag_value, err, errlen);
		else {
			char where[64];
			snprintf(where, sizeof(where), "filter.tag.%s", k);
			ok = fail(err, errlen, where, "unknown key (known: key, value)");
		}
		lua_pop(L, 1);
		if (!ok) {
			lua_pop(L, 1);
			return false;
		}
	}
	if (!has_key || !has_value)
		return fail(err, errlen, has_key ? "filter.tag.value" : "filter.tag.key",
		            "is required when filter.tag is set");
	f->has_tag = true;
	return true;
}

bool filter_read(struct scan_filter *f, lua_State *L, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	if (!lua_istable(L, -1))
		return fail(err, errlen, "filter",
		            "must be a table { namespace = \"...\", tag = { key =, value = } }");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		bool ok;
		if (strcmp(k, "namespace") == 0)
			ok = f->has_namespace =
			    text(L, "filter.namespace", f->namespace_, err, errlen);
		else if (strcmp(k, "tag") == 0)
			ok = read_tag(f, L, err, errlen);
		else {
			char where[64];
			snprintf(where, sizeof(where), "filter.%s", k);
			ok = fail(err, errlen, where, "unknown key (known: namespace, tag)");
		}
		lua_pop(L, 1);
		if (!ok) {
			lua_pop(L, 1);
			return false;
		}
	}
	return true;
}

static bool in(char c, const char *set)
{
	return c && strchr(set, c);
}

bool filter_tag_key_valid(const char *key)
{
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
	static const char word[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
	static const char rest[] = "abcdefghijklmnopqrstuvwxyz0123456789_.";
	const char *p = key;
	if (!in(*p++, lower))
		return false;
	while (in(*p, word))
		p++;
	if (*p++ != '.' || !in(*p++, word))
		return false;
	while (in(*p, rest))
		p++;
	return *p == '\0';
}

void filter_report(const struct scan_filter *f)
{
	if (!f->has_namespace && !f->has_tag)
		return;
	if (f->has_tag && !filter_tag_key_valid(f->tag_key)) {
		struct log_field fields[] = { { "tag_key", f->tag_key, LOG_STRING },
			                      { NULL, NULL, LOG_STRING } };
		log_event(LOG_WARN, NULL, -1,
		          "filter.tag.key is not a valid tag key "
		          "(^[a-z][a-z0-9_]*\\.[a-z0-9_][a-z0-9_.]*$): the filtering scanners skip "
		          "every execution",
		          fields);
		return;
	}
	struct log_field fields[] = {
		{ "namespace", f->has_namespace ? f->namespace_ : "", LOG_STRING },
		{ "tag_key", f->has_tag ? f->tag_key : "", LOG_STRING },
		{ "tag_value", f->has_tag ? f->tag_value : "", LOG_STRING },
		{ NULL, NULL, LOG_STRING },
	};
	log_event(LOG_INFO, NULL, -1, "scanner filter on: only matching executions are maintained",
	          fields);
}

void filter_push(lua_State *L, const struct scan_filter *f)
{
	if (!f || (!f->has_namespace && !f->has_tag)) {
		lua_pushnil(L);
		return;
	}
	lua_createtable(L, 0, 2);
	if (f->has_namespace) {
		lua_pushstring(L, f->namespace_);
		lua_setfield(L, -2, "namespace");
	}
	if (f->has_tag) {
		lua_createtable(L, 0, 2);
		lua_pushstring(L, f->tag_key);
		lua_setfield(L, -2, "key");
		lua_pushstring(L, f->tag_value);
		lua_setfield(L, -2, "value");
		lua_setfield(L, -2, "tag");
	}
}
