/* url: a strict parser for the two URL shapes scanhost accepts. Error
 * messages quote only the parts that cannot be secret. */
#include "url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_int(const char *s, size_t n, long lo, long hi, long *out)
{
	if (n == 0 || n > 10)
		return false;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool copy_part(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		return false;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return true;
}

static bool fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return false;
}

/* userinfo is "[user]:password" or "password" (as redis-cli accepts). */
static bool parse_userinfo(const char *s, size_t n, struct redis_url *out)
{
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return copy_part(out->password, sizeof(out->password), s, n);
	size_t ulen = (size_t)(colon - s);
	return copy_part(out->username, sizeof(out->username), s, ulen) &&
	       copy_part(out->password, sizeof(out->password), colon + 1, n - ulen - 1);
}

static bool parse_hostport(const char *s, size_t n, struct redis_url *out, char *err, size_t errlen)
{
	const char *colon = NULL;
	for (size_t i = n; i > 0; i--) {
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
	}
	size_t hlen = colon ? (size_t)(colon - s) : n;
	if (hlen == 0)
		return fail(err, errlen, "missing host");
	if (!copy_part(out->host, sizeof(out->host), s, hlen))
		return fail(err, errlen, "host too long");
	long port = 6379;
	if (colon && !parse_int(colon + 1, n - hlen - 1, 1, 65535, &port))
		return fail(err, errlen, "port must be a number in 1..65535");
	out->port = (int)port;
	return true;
}

static bool parse_tcp(const char *p, struct redis_url *out, char *err, size_t errlen)
{
	const char *slash = strchr(p, '/');
	const char *end = slash ? slash : p + strlen(p);
	const char *at = NULL;
	for (const char *q = p; q < end; q++) {
		if (*q == '@')
			at = q; /* the last '@' ends the userinfo: passwords may contain '@' */
	}
	const char *hp = p;
	if (at) {
		if (!parse_userinfo(p, (size_t)(at - p), out))
			return fail(err, errlen, "user name or password too long");
		hp = at + 1;
	}
	if (!parse_hostport(hp, (size_t)(end - hp), out, err, errlen))
		return false;
	if (slash && slash[1] != '\0') {
		long db;
		if (!parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &db))
			return fail(err, errlen, "database must be a non-negative number");
		out->db = (int)db;
	}
	return true;
}

bool url_parse(const char *text, struct redis_url *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return fail(err, errlen, "empty URL");
	if (strncmp(text, "unix://", 7) == 0) {
		const char *path = text + 7;
		if (*path != '/')
			return fail(err, errlen, "unix:// URL needs an absolute socket path");
		out->is_unix = true;
		if (!copy_part(out->host, sizeof(out->host), path, strlen(path)))
			return fail(err, errlen, "socket path too long");
		return true;
	}
	if (strncmp(text, "redis://", 8) == 0)
		return parse_tcp(text + 8, out, err, errlen);
	return fail(err, errlen, "URL must start with redis:// or unix://");
}

void url_redacted(const struct redis_url *u, char *out, size_t n)
{
	if (u->is_unix) {
		snprintf(out, n, "unix://%s", u->host);
		return;
	}
	const char *secret = u->password[0] ? ":***@" : (u->username[0] ? "@" : "");
	snprintf(out, n, "redis://%s%s%s:%d", u->username, secret, u->host, u->port);
	if (u->db) {
		size_t k = strlen(out);
		snprintf(out + k, n - k, "/%d", u->db);
	}
}
