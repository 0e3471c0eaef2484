/* url: a strict parser for the URL forms scanhost accepts (see url.h).
 * Every error message is a fixed text: none quotes a part of the URL, so
 * none can leak a password. */
#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct parse {
	struct redis_url *u;
	char *err;
	size_t errlen;
	bool have_db, have_password, have_username;
};

static bool fail(struct parse *p, const char *msg)
{
	snprintf(p->err, p->errlen, "%s", msg);
	return false;
}

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

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 percent-decoding of s[0..n) into dst, NUL-terminated. A bad
 * escape, an encoded NUL or a result that does not fit is an error. */
static bool decode(struct parse *p, const char *s, size_t n, char *dst, size_t cap,
                   const char *too_long)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return fail(p, "invalid percent-encoding in the URL (write %XX, "
				               "e.g. %2F for '/', %40 for '@', %25 for '%')");
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (k + 1 >= cap)
			return fail(p, too_long);
		dst[k++] = c;
	}
	dst[k] = '\0';
	return true;
}

/* userinfo is "[user]:password" or "password" (as redis-cli accepts). */
static bool parse_userinfo(struct parse *p, const char *s, size_t n)
{
	static const char too_long[] = "user name or password too long";
	const char *colon = memchr(s, ':', n);
	p->have_password = n > 0;
	if (!colon)
		return decode(p, s, n, p->u->password, sizeof(p->u->password), too_long);
	size_t ulen = (size_t)(colon - s);
	p->have_username = ulen > 0;
	return decode(p, s, ulen, p->u->username, sizeof(p->u->username), too_long) &&
	       decode(p, colon + 1, n - ulen - 1, p->u->password, sizeof(p->u->password), too_long);
}

static bool valid_hostname(const char *h)
{
	for (; *h; h++) {
		char c = *h;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
		if (!ok)
			return false;
	}
	return true;
}

static bool parse_port(struct parse *p, const char *s, size_t n)
{
	long port = 6379;
	if (s && !parse_int(s, n, 1, 65535, &port))
		return fail(p, "port must be a number in 1..65535");
	p->u->port = (int)port;
	return true;
}

/* "[v6]" or "[v6]:port" */
static bool parse_bracketed(struct parse *p, const char *s, size_t n)
{
	const char *close = memchr(s, ']', n);
	if (!close)
		return fail(p, "unterminated '[' in the host (IPv6: redis://[::1]:6379)");
	size_t hlen = (size_t)(close - s - 1);
	if (hlen == 0 || hlen >= 64)
		return fail(p, "invalid IPv6 address in brackets");
	memcpy(p->u->host, s + 1, hlen);
	p->u->host[hlen] = '\0';
	unsigned char addr[16];
	if (inet_pton(AF_INET6, p->u->host, addr) != 1)
		return fail(p, "invalid IPv6 address in brackets");
	const char *after = close + 1, *end = s + n;
	if (after == end)
		return parse_port(p, NULL, 0);
	if (*after != ':')
		return fail(p, "unexpected text after ']' (expected :port)");
	return parse_port(p, after + 1, (size_t)(end - after - 1));
}

static bool parse_hostport(struct parse *p, const char *s, size_t n)
{
	if (n == 0)
		return fail(p, "missing host");
	if (s[0] == '[')
		return parse_bracketed(p, s, n);
	const char *colon = memchr(s, ':', n);
	size_t hlen = colon ? (size_t)(colon - s) : n;
	if (colon && memchr(colon + 1, ':', n - hlen - 1))
		return fail(p, "an IPv6 address must be in brackets (redis://[::1]:6379)");
	if (hlen == 0)
		return fail(p, "missing host");
	if (hlen >= sizeof(p->u->host))
		return fail(p, "host too long");
	memcpy(p->u->host, s, hlen);
	p->u->host[hlen] = '\0';
	if (!valid_hostname(p->u->host))
		return fail(p, "host may contain only letters, digits, '-', '.' and '_'");
	return colon ? parse_port(p, colon + 1, n - hlen - 1) : parse_port(p, NULL, 0);
}

static bool set_db(struct parse *p, const char *s, size_t n)
{
	long db;
	if (p->have_db)
		return fail(p, "database given twice (path and ?db=)");
	if (!parse_int(s, n, 0, 1000000, &db))
		return fail(p, "database must be a non-negative number");
	p->have_db = true;
	p->u->db = (int)db;
	return true;
}

/* host part of redis:// and rediss:// up to the query: [userinfo@]host[:port][/db] */
static bool parse_tcp(struct parse *p, const char *s, const char *end)
{
	const char *slash = memchr(s, '/', (size_t)(end - s));
	const char *auth_end = slash ? slash : end;
	const char *at = NULL;
	for (const char *q = s; q < auth_end; q++) {
		if (*q == '@')
			at = q; /* the last '@' ends the userinfo: passwords may contain '@' */
	}
	const char *hp = s;
	if (at) {
		if (!parse_userinfo(p, s, (size_t)(at - s)))
			return false;
		hp = at + 1;
	}
	if (!parse_hostport(p, hp, (size_t)(auth_end - hp)))
		return false;
	if (slash && slash + 1 < end)
		return set_db(p, slash + 1, (size_t)(end - slash - 1));
	return true;
}

/* unix://[userinfo@]/path up to the query */
static bool parse_unix(struct parse *p, const char *s, const char *end)
{
	const char *slash = memchr(s, '/', (size_t)(end - s));
	if (!slash)
		return fail(p, "unix:// URL needs an absolute socket path");
	if (slash > s) {
		if (slash[-1] != '@')
			return fail(p,
			            "unix:// URL: write credentials as unix://user:password@/path");
		if (!parse_userinfo(p, s, (size_t)(slash - 1 - s)))
			return false;
	}
	p->u->is_unix = true;
	return decode(p, slash, (size_t)(end - slash), p->u->host, sizeof(p->u->host),
	              "socket path too long");
}

static bool is_name(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(s, name, n) == 0;
}

/* One "name=value" of the query. */
static bool parse_param(struct parse *p, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	if (!eq)
		return fail(p, "query parameters must look like name=value");
	size_t klen = (size_t)(eq - s);
	const char *v = eq + 1;
	size_t vlen = n - klen - 1;
	if (is_name(s, klen, "db"))
		return set_db(p, v, vlen);
	if (is_name(s, klen, "password")) {
		if (p->have_password)
			return fail(p, "password given twice (user info and ?password=)");
		p->have_password = true;
		return decode(p, v, vlen, p->u->password, sizeof(p->u->password),
		              "user name or password too long");
	}
	if (is_name(s, klen, "username")) {
		if (p->have_username)
			return fail(p, "user name given twice (user info and ?username=)");
		p->have_username = true;
		return decode(p, v, vlen, p->u->username, sizeof(p->u->username),
		              "user name or password too long");
	}
	return fail(p, "unknown query parameter (known: db, password, username)");
}

static bool parse_query(struct parse *p, const char *q)
{
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		if (n > 0 && !parse_param(p, q, n))
			return false;
		q += n + (amp ? 1 : 0);
	}
	return true;
}

bool url_parse(const char *text, struct redis_url *out, char *err, size_t errlen)
{
	struct parse p = { .u = out, .err = err, .errlen = errlen };
	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return fail(&p, "empty URL");
	const char *rest;
	bool unix_url = false;
	if (strncasecmp(text, "unix://", 7) == 0) {
		unix_url = true;
		rest = text + 7;
	} else if (strncasecmp(text, "rediss://", 9) == 0) {
		out->tls = true;
		rest = text + 9;
	} else if (strncasecmp(text, "redis://", 8) == 0) {
		rest = text + 8;
	} else {
		return fail(&p, "URL must start with redis://, rediss:// or unix://");
	}
	if (strchr(rest, '#'))
		return fail(&p, "'#' is not allowed in the URL (percent-encode it as %23)");
	const char *query = strchr(rest, '?');
	const char *end = query ? query : rest + strlen(rest);
	if (!(unix_url ? parse_unix(&p, rest, end) : parse_tcp(&p, rest, end)))
		return false;
	return !query || parse_query(&p, query + 1);
}

/* ---- redaction ------------------------------------------------------------ */

struct out {
	char *s;
	size_t cap, len;
};

static void put(struct out *o, const char *s)
{
	int n = snprintf(o->s + o->len, o->cap - o->len, "%s", s);
	if (n > 0)
		o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

/* Percent-encodes everything but unreserved characters (and '/' in paths),
 * so a user name or path can never inject a line break or a '@' into a log. */
static void put_encoded(struct out *o, const char *s, bool path)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		             c == '~' || (path && c == '/');
		char buf[4];
		snprintf(buf, sizeof(buf), plain ? "%c" : "%%%02X", c);
		put(o, buf);
	}
}

void url_redacted(const struct redis_url *u, char *out, size_t n)
{
	struct out o = { out, n, 0 };
	if (n == 0)
		return;
	out[0] = '\0';
	put(&o, u->is_unix ? "unix://" : u->tls ? "rediss://" : "redis://");
	if (u->username[0] || u->password[0]) {
		put_encoded(&o, u->username, false);
		put(&o, u->password[0] ? ":***@" : "@");
	}
	char num[24];
	if (u->is_unix) {
		put_encoded(&o, u->host, true);
		snprintf(num, sizeof(num), "?db=%d", u->db);
		if (u->db)
			put(&o, num);
		return;
	}
	bool v6 = strchr(u->host, ':') != NULL;
	put(&o, v6 ? "[" : "");
	put(&o, u->host);
	snprintf(num, sizeof(num), "%s:%d", v6 ? "]" : "", u->port);
	put(&o, num);
	snprintf(num, sizeof(num), "/%d", u->db);
	if (u->db)
		put(&o, num);
}
