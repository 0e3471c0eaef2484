/* URL forms (core/url.c): schemes, RFC 3986 percent-decoding of the user
 * name, password and socket path, [IPv6]:port hosts, unix sockets with
 * credentials, query parameters, every malformed shape refused with a fixed
 * message, and redaction that never shows a password. */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "url.h"

static struct redis_url u;
static char err[128], red[512];

static bool parse(const char *text)
{
	err[0] = '\0';
	return url_parse(text, &u, err, sizeof(err));
}

static const char *redacted(void)
{
	url_redacted(&u, red, sizeof(red));
	return red;
}

static void schemes(void)
{
	CHECK(parse("redis://127.0.0.1:6380"));
	CHECK_STR(u.host, "127.0.0.1");
	CHECK(u.port == 6380 && u.db == 0 && !u.password[0] && !u.is_unix && !u.tls);
	CHECK(parse("rediss://cache.example.com"));
	CHECK(u.tls && u.port == 6379);
	CHECK_STR(redacted(), "rediss://cache.example.com:6379");
	CHECK(parse("REDIS://h:1")); /* schemes are case-insensitive */
	CHECK(!parse("http://x"));
	CHECK_STR(err, "URL must start with redis://, rediss:// or unix://");
	CHECK(!parse(""));
	CHECK(!parse("redis://h:0") && !parse("redis://h:70000") && !parse("redis://h:12ab"));
	CHECK(!parse("redis://h:"));
	CHECK(!parse("redis://h:1/x") && !parse("redis://h/1/2"));
	CHECK(!parse("redis://h#frag"));
	CHECK(!parse("redis://ho st") && !parse("redis://h\n"));
	CHECK(parse("redis://h/")); /* an empty path: no database */
	CHECK(u.db == 0);
}

static void credentials(void)
{
	CHECK(parse("redis://:s3cr@t@host:7000/3")); /* the last '@' ends the user info */
	CHECK_STR(u.password, "s3cr@t");
	CHECK_STR(u.host, "host");
	CHECK(u.port == 7000 && u.db == 3);
	CHECK_STR(redacted(), "redis://:***@host:7000/3");
	CHECK(parse("redis://alice:pw@h"));
	CHECK_STR(u.username, "alice");
	CHECK_STR(u.password, "pw");
	CHECK_STR(redacted(), "redis://alice:***@h:6379");
	CHECK(parse("redis://justpw@h")); /* no colon: a password, as redis-cli reads it */
	CHECK_STR(u.password, "justpw");
	CHECK(!u.username[0]);
	/* percent-decoding: '/', '@', ':', '%' and any byte but NUL */
	CHECK(parse("redis://us%65r:p%2Fw%40x%3Ay%25z%C3%A9@h"));
	CHECK_STR(u.username, "user");
	CHECK_STR(u.password, "p/w@x:y%z\xc3\xa9");
	CHECK(strstr(redacted(), "p/w") == NULL && strstr(red, "%2F") == NULL);
	CHECK(!parse("redis://:p%2@h") && !parse("redis://:p%zz@h") && !parse("redis://:p%@h"));
	CHECK(!parse("redis://:p%00w@h")); /* a NUL cannot be sent as part of AUTH here */
	CHECK(strstr(err, "percent-encoding") != NULL);
	/* a user name that could forge a log line is encoded when printed */
	CHECK(parse("redis://a%0Ab%40c:pw@h"));
	CHECK_STR(redacted(), "redis://a%0Ab%40c:***@h:6379");
	CHECK(parse("redis://bob:@h")); /* a user without a password: nothing to hide */
	CHECK_STR(redacted(), "redis://bob@h:6379");
}

static void ipv6(void)
{
	CHECK(parse("redis://[::1]:7000/2"));
	CHECK_STR(u.host, "::1");
	CHECK(u.port == 7000 && u.db == 2);
	CHECK_STR(redacted(), "redis://[::1]:7000/2");
	CHECK(parse("rediss://:pw@[2001:db8::10]"));
	CHECK_STR(u.host, "2001:db8::10");
	CHECK(u.port == 6379 && u.tls);
	CHECK(!parse("redis://user:pw@[::1"));
	CHECK_STR(err, "unterminated '[' in the host (IPv6: redis://[::1]:6379)");
	CHECK(!parse("redis://[::1]x:1") && !parse("redis://[]:1") && !parse("redis://[nothex]:1"));
	CHECK(!parse("redis://::1:6379")); /* unbracketed: ambiguous */
	CHECK(!parse("redis://[::1]:"));
}

static void unix_sockets(void)
{
	CHECK(parse("unix:///run/redis.sock"));
	CHECK(u.is_unix);
	CHECK_STR(u.host, "/run/redis.sock");
	CHECK_STR(redacted(), "unix:///run/redis.sock");
	CHECK(parse("unix://:s%2Fcret@/run/redis.sock"));
	CHECK_STR(u.password, "s/cret");
	CHECK_STR(u.host, "/run/redis.sock");
	CHECK_STR(redacted(), "unix://:***@/run/redis.sock");
	CHECK(parse("unix://app:pw@/tmp/my%20dir/r.sock?db=4"));
	CHECK_STR(u.username, "app");
	CHECK_STR(u.host, "/tmp/my dir/r.sock");
	CHECK(u.db == 4);
	CHECK_STR(redacted(), "unix://app:***@/tmp/my%20dir/r.sock?db=4");
	CHECK(parse("unix:///tmp/a@b.sock")); /* '@' inside the path is the path's */
	CHECK_STR(u.host, "/tmp/a@b.sock");
	CHECK(!parse("unix://relative") && !parse("unix://host/path"));
	CHECK(!parse("unix://:pw@relative"));
}

static void queries(void)
{
	CHECK(parse("unix:///s.sock?db=2&password=p%26w"));
	CHECK(u.db == 2);
	CHECK_STR(u.password, "p&w");
	CHECK(strstr(redacted(), "p&w") == NULL && strstr(red, ":***@") != NULL);
	CHECK(parse("redis://h:1?password=pw&username=u&db=5"));
	CHECK_STR(u.username, "u");
	CHECK_STR(u.password, "pw");
	CHECK(u.db == 5);
	CHECK_STR(redacted(), "redis://u:***@h:1/5");
	CHECK(parse("redis://h?&db=1&")); /* empty parameters are ignored */
	CHECK(u.db == 1);
	CHECK(!parse("redis://h/1?db=2"));
	CHECK(!parse("redis://:a@h?password=b"));
	CHECK(!parse("redis://h?db=x") && !parse("redis://h?db") && !parse("redis://h?pasword=x"));
	CHECK_STR(err, "unknown query parameter (known: db, password, username)");
}

static void secrets_never_echoed(void)
{
	static const char *const bad[] = {
		"redis://:hunter2@h:99999", "redis://:hunter2@[::1",
		"redis://:hunter2%zz@h",    "redis://:hunter2@h?x=hunter2",
		"unix://:hunter2@nopath",   "redis://:hunter2@h/hunter2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!parse(bad[i]));
		CHECK(strstr(err, "hunter2") == NULL);
	}
	char long_pw[400];
	memset(long_pw, 'p', sizeof(long_pw));
	snprintf(long_pw, sizeof(long_pw), "redis://:%0300d@h", 7);
	CHECK(!parse(long_pw));
	CHECK_STR(err, "user name or password too long");
}

int main(void)
{
	schemes();
	credentials();
	ipv6();
	unix_sockets();
	queries();
	secrets_never_echoed();
	UNIT_DONE();
}
