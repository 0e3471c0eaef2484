/* URL parsing and the config precedence chain, including every error path
 * naming its key. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"
#include "url.h"

static void urls(void)
{
	struct redis_url u;
	char err[128], red[512];
	CHECK(url_parse("redis://127.0.0.1:6380", &u, err, sizeof(err)));
	CHECK_STR(u.host, "127.0.0.1");
	CHECK(u.port == 6380 && u.db == 0 && !u.password[0] && !u.is_unix);
	CHECK(url_parse("redis://:s3cr@t@host:7000/3", &u, err, sizeof(err)));
	CHECK_STR(u.password, "s3cr@t");
	CHECK_STR(u.host, "host");
	CHECK(u.port == 7000 && u.db == 3);
	url_redacted(&u, red, sizeof(red));
	CHECK_STR(red, "redis://:***@host:7000/3");
	CHECK(strstr(red, "s3cr") == NULL);
	CHECK(url_parse("redis://alice:pw@h", &u, err, sizeof(err)));
	CHECK_STR(u.username, "alice");
	CHECK_STR(u.password, "pw");
	CHECK(u.port == 6379);
	CHECK(url_parse("unix:///run/redis.sock", &u, err, sizeof(err)));
	CHECK(u.is_unix);
	CHECK_STR(u.host, "/run/redis.sock");
	CHECK(!url_parse("http://x", &u, err, sizeof(err)));
	CHECK(!url_parse("redis://h:0", &u, err, sizeof(err)));
	CHECK(!url_parse("redis://h:70000", &u, err, sizeof(err)));
	CHECK(!url_parse("redis://h:12ab", &u, err, sizeof(err)));
	CHECK(!url_parse("redis://:pw@:1", &u, err, sizeof(err)));
	CHECK(!url_parse("redis://h:1/x", &u, err, sizeof(err)));
	CHECK(!url_parse("unix://relative", &u, err, sizeof(err)));
	CHECK(!url_parse("", &u, err, sizeof(err)));
	CHECK(!url_parse("redis://:hunter2@h:99999", &u, err, sizeof(err)));
	CHECK(strstr(err, "hunter2") == NULL); /* errors never echo the secret */
}

static const char *write_config(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/scanhost-unit-%d.lua", (int)getpid());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

/* Builds a config from a file body and argv; returns success, fills err. */
static bool build(struct config *c, const char *file, int argc, char **argv, char *err)
{
	config_defaults(c, "./bin/scanhost");
	char **full = calloc((size_t)argc + 4, sizeof(char *));
	int n = 0;
	full[n++] = "scanhost";
	if (file) {
		full[n++] = "-c";
		full[n++] = (char *)write_config(file);
	}
	for (int i = 0; i < argc; i++)
		full[n++] = argv[i];
	bool ok = config_build(c, n, full, err, 512);
	free(full);
	return ok;
}

static void precedence(void)
{
	struct config c;
	char err[512];
	unsetenv("SCANHOST_REDIS");
	CHECK(build(&c, "return { partitions = 8, redis = 'redis://f:1', lanes = {'a','b'} }", 0,
	            NULL, err));
	CHECK(c.partitions == 8 && c.url.port == 1 && c.nlanes == 2);
	CHECK(c.budget_partitions == 32 && c.quota_partitions == 32); /* defaults */
	CHECK(c.claims); /* safe for several instances */
	config_free(&c);
	CHECK(build(&c, "return { claims = false }", 0, NULL, err));
	CHECK(!c.claims);
	config_free(&c);
	CHECK(build(&c, "return {}", 0, NULL, err));
	CHECK(c.library_level == 0); /* not set: the library's own line (34) */
	config_free(&c);
	CHECK(build(&c, "return { library_level = 5 }", 0, NULL, err));
	CHECK(c.library_level == 5);
	config_free(&c);
	CHECK(build(&c, "return {}", 0, NULL, err));
	CHECK(!c.filter.has_namespace && !c.filter.has_tag); /* the no-op filter */
	config_free(&c);
	CHECK(build(&c,
	            "return { filter = { namespace = 'ns1', tag = { key = 'a.b', value = 'v' } } }",
	            0, NULL, err));
	CHECK(c.filter.has_namespace && strcmp(c.filter.namespace_, "ns1") == 0);
	CHECK(c.filter.has_tag && strcmp(c.filter.tag_key, "a.b") == 0 &&
	      strcmp(c.filter.tag_value, "v") == 0);
	config_free(&c);
	/* a tag key v34 would refuse is accepted: it skips everything (warned at start) */
	CHECK(
	    build(&c, "return { filter = { tag = { key = 'A.b', value = 'v' } } }", 0, NULL, err));
	CHECK(c.filter.has_tag && !filter_tag_key_valid(c.filter.tag_key));
	config_free(&c);
	setenv("SCANHOST_REDIS", "redis://env:2", 1);
	char *args[] = { "--partitions", "16" };
	CHECK(build(&c, "return { partitions = 8, redis = 'redis://f:1' }", 2, args, err));
	CHECK(c.partitions == 16 && c.url.port == 2); /* env beats file, CLI beats both */
	config_free(&c);
	char *args2[] = { "--redis", "redis://cli:3" };
	CHECK(build(&c, "return {}", 2, args2, err));
	CHECK(c.url.port == 3);
	config_free(&c);
	unsetenv("SCANHOST_REDIS");
}

#define EXPECT_ERROR(file, key)                                                                    \
	do {                                                                                       \
		struct config c_;                                                                  \
		char e_[512] = "";                                                                 \
		CHECK(!build(&c_, file, 0, NULL, e_));                                             \
		CHECK(strstr(e_, key) != NULL);                                                    \
		config_free(&c_);                                                                  \
	} while (0)

static void file_errors(void)
{
	EXPECT_ERROR("return { partitons = 3 }", "partitons: unknown config key");
	EXPECT_ERROR("return { partitions = 0 }", "partitions: must be an integer");
	EXPECT_ERROR("return { partitions = 2.5 }", "partitions");
	EXPECT_ERROR("return { budget_partitions = 'x' }", "budget_partitions");
	EXPECT_ERROR("return { quota_partitions = 70000 }", "quota_partitions");
	EXPECT_ERROR("return { lanes = {} }", "lanes");
	EXPECT_ERROR("return { lanes = { '' } }", "lanes");
	EXPECT_ERROR("return { command_timeout = -1 }", "command_timeout");
	EXPECT_ERROR("return { log_level = 'loud' }", "log_level");
	EXPECT_ERROR("return { log_format = 'xml' }", "log_format");
	EXPECT_ERROR("return { claims = 'off' }", "claims: must be true or false");
	EXPECT_ERROR("return { library_level = 33 }", "library_level: must be 5");
	EXPECT_ERROR("return { library_recheck = 0 }", "library_recheck: must be a number");
	EXPECT_ERROR("return { library_level = '34' }", "library_level: must be 5");
	EXPECT_ERROR("return { filter = 'ns1' }", "filter: must be a table");
	EXPECT_ERROR("return { filter = { namspace = 'x' } }", "filter.namspace: unknown key");
	EXPECT_ERROR("return { filter = { namespace = 3 } }",
	             "filter.namespace: must be a non-empty");
	EXPECT_ERROR("return { filter = { namespace = '' } }",
	             "filter.namespace: must be a non-empty");
	EXPECT_ERROR("return { filter = { tag = 'a.b' } }", "filter.tag: must be a table");
	EXPECT_ERROR("return { filter = { tag = { key = 'a.b' } } }",
	             "filter.tag.value: is required");
	EXPECT_ERROR("return { filter = { tag = { value = 'v' } } }",
	             "filter.tag.key: is required");
	EXPECT_ERROR("return { filter = { tag = { key = 'a.b', value = 'v', x = 1 } } }",
	             "filter.tag.x: unknown key");
	EXPECT_ERROR("return { filter = { tag = { key = 'a.b', value = true } } }",
	             "filter.tag.value: must be");
	EXPECT_ERROR("return { redis = 5 }", "redis: must be a URL or a non-empty list of URLs");
	EXPECT_ERROR("return { redis = {} }", "redis: must be a URL or a non-empty list of URLs");
	EXPECT_ERROR("return { redis = { 'redis://a:1', 7 } }", "redis: URLs must be strings");
	EXPECT_ERROR("return { redis = { '' } }", "redis: a URL must be a non-empty string");
	EXPECT_ERROR("return { redis = 'http://x' }", "redis: URL must start");
	EXPECT_ERROR("return { scanners = { lease_expiry = 3 } }", "scanners.lease_expiry");
	EXPECT_ERROR("return 42", "must return a table");
	EXPECT_ERROR("return {", "config");
	EXPECT_ERROR("error('nope')", "nope");
}

static void cli_errors(void)
{
	struct config c;
	char err[512];
	char *a1[] = { "--partitions", "abc" };
	CHECK(!build(&c, NULL, 2, a1, err) && strstr(err, "--partitions"));
	config_free(&c);
	char *a2[] = { "--bogus" };
	CHECK(!build(&c, NULL, 1, a2, err) && strstr(err, "--bogus"));
	config_free(&c);
	char *a3[] = { "--redis" };
	CHECK(!build(&c, NULL, 1, a3, err) && strstr(err, "--redis: missing value"));
	config_free(&c);
	char *a4[] = { "--log-level", "chatty" };
	CHECK(!build(&c, NULL, 2, a4, err) && strstr(err, "--log-level"));
	config_free(&c);
	char *a5[] = { "--once", "--check" };
	CHECK(!build(&c, NULL, 2, a5, err) && strstr(err, "--once"));
	config_free(&c);
	char *a6[] = { "--redis", "redis://:topsecret@h:0" };
	CHECK(!build(&c, NULL, 2, a6, err) && strstr(err, "--redis") && !strstr(err, "topsecret"));
	config_free(&c);
	char *a7[] = { "-c", "/nonexistent/scanhost.lua" };
	CHECK(!build(&c, NULL, 2, a7, err) && strstr(err, "not found"));
	config_free(&c);
	char *a8[] = { "--only", "a,b", "--budget-partitions", "5", "--quota-partitions", "6" };
	CHECK(build(&c, NULL, 6, a8, err));
	CHECK(c.nonly == 2 && c.budget_partitions == 5 && c.quota_partitions == 6);
	config_free(&c);
}

/* tls = { ... } and --cacert/--cert/--key/--sni/--insecure: each value keeps
 * the name of the option it came from, for later messages. */
static void tls_options(void)
{
	struct config c;
	char err[512];
	CHECK(build(&c,
	            "return { redis = 'rediss://h:1', tls = { cacert = '/ca.pem', cert = '/c.pem', "
	            "key = '/k.pem', sni = 'redis.test', insecure = false } }",
	            0, NULL, err));
	CHECK(c.url.tls);
	CHECK_STR(c.tls.cacert, "/ca.pem");
	CHECK_STR(c.tls.cacert_opt, "tls.cacert");
	CHECK_STR(c.tls.key, "/k.pem");
	CHECK_STR(c.tls.sni, "redis.test");
	CHECK(!c.tls.insecure);
	config_free(&c);
	char *a1[] = { "--redis",    "rediss://h:1", "--cacert", "/other.pem",
		       "--insecure", "--sni",        "n" };
	CHECK(build(&c, "return { tls = { cacert = '/ca.pem', key = '/k.pem' } }", 7, a1, err));
	CHECK_STR(c.tls.cacert, "/other.pem"); /* the command line wins */
	CHECK_STR(c.tls.cacert_opt, "--cacert");
	CHECK_STR(c.tls.key_opt, "tls.key");
	CHECK(c.tls.insecure && strcmp(c.tls.insecure_opt, "--insecure") == 0);
	config_free(&c);
	EXPECT_ERROR("return { tls = 5 }", "tls: must be a table");
	EXPECT_ERROR("return { redis = 'rediss://h', tls = { cacrt = 'x' } }",
	             "tls.cacrt: unknown TLS option");
	EXPECT_ERROR("return { redis = 'rediss://h', tls = { insecure = 'yes' } }",
	             "tls.insecure: must be true or false");
	EXPECT_ERROR("return { redis = 'rediss://h', tls = { sni = 7 } }",
	             "tls.sni: must be a string");
	EXPECT_ERROR("return { tls = { sni = 'n' } }", "tls.sni: TLS options need a rediss:// URL");
	char *a2[] = { "--cert", "/c.pem" };
	CHECK(!build(&c, NULL, 2, a2, err) &&
	      strstr(err, "--cert: TLS options need a rediss:// URL"));
	config_free(&c);
	char *a3[] = { "--redis", "unix:///s", "--insecure" };
	CHECK(!build(&c, NULL, 3, a3, err) && strstr(err, "--insecure: TLS options need"));
	config_free(&c);
}

/* The config file's redis as a list: the first URL and further seed nodes,
 * checked as the command line's; SCANHOST_REDIS and --redis replace the list. */
static void file_seeds(void)
{
	struct config c;
	char err[512] = "";
	const char *list =
	    "return { redis = { 'redis://a:7000', 'redis://b:7001', 'redis://c:7002' } }";
	CHECK(build(&c, list, 0, NULL, err));
	CHECK(c.url.port == 7000 && c.nseeds == 2 && c.seeds[0].port == 7001 &&
	      c.seeds[1].port == 7002);
	CHECK_STR(c.seeds[1].host, "c");
	config_free(&c);
	CHECK(
	    !build(&c, "return { redis = { 'redis://a:7000', 'rediss://b:7001' } }", 0, NULL, err));
	CHECK(strstr(err, "redis: every seed node needs the same scheme"));
	config_free(&c);
	CHECK(!build(&c, "return { redis = { 'redis://a:7000', 'redis://b:0' } }", 0, NULL, err));
	CHECK(strstr(err, "redis: ") == err);
	config_free(&c);
	char *cli[] = { "--redis", "redis://x:1" };
	CHECK(build(&c, list, 2, cli, err) && c.url.port == 1 && c.nseeds == 0);
	config_free(&c);
	setenv("SCANHOST_REDIS", "redis://env:2", 1);
	CHECK(build(&c, list, 0, NULL, err) && c.url.port == 2 && c.nseeds == 0);
	config_free(&c);
	unsetenv("SCANHOST_REDIS");
	char text[4096] = "return { redis = {";
	for (int i = 0; i < 17; i++)
		strcat(text, " 'redis://a:7000',");
	strcat(text, " } }");
	CHECK(!build(&c, text, 0, NULL, err) && strstr(err, "redis: at most 16 seed nodes"));
	config_free(&c);
}

/* --redis again: further seed nodes of a cluster, same scheme, at most 16 in all. */
static void seeds(void)
{
	struct config c;
	char err[512] = "";
	unsetenv("SCANHOST_REDIS");
	char *two[] = { "--redis", "redis://a:7000", "--redis", "redis://b:7001" };
	CHECK(build(&c, "return {}", 4, two, err));
	CHECK(c.url.port == 7000 && c.nseeds == 1 && c.seeds[0].port == 7001);
	CHECK_STR(c.seeds[0].host, "b");
	config_free(&c);
	char *mixed[] = { "--redis", "redis://a:7000", "--redis", "rediss://b:7001" };
	CHECK(!build(&c, "return {}", 4, mixed, err));
	CHECK(strstr(err, "--redis") && strstr(err, "same scheme"));
	config_free(&c);
	char *bad[] = { "--redis", "redis://a:7000", "--redis", "redis://b:0" };
	CHECK(!build(&c, "return {}", 4, bad, err) && strstr(err, "--redis"));
	config_free(&c);
	char *many[34];
	for (int i = 0; i < 34; i += 2) {
		many[i] = "--redis";
		many[i + 1] = "redis://a:7000";
	}
	CHECK(!build(&c, "return {}", 34, many, err) && strstr(err, "at most 16 seed nodes"));
	config_free(&c);
	CHECK(build(&c, "return {}", 32, many, err) && c.nseeds == 15);
	config_free(&c);
	file_seeds();
}

/* --http ADDR:PORT: IPv4, [IPv6], port 0..65535; anything else names the key. */
static void http_addresses(void)
{
	struct config c;
	char err[256];
	config_defaults(&c, NULL);
	CHECK(config_set_http(&c, "127.0.0.1:9464", "--http", err, sizeof(err)));
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&c.http_addr;
	CHECK(v4->sin_family == AF_INET && ntohs(v4->sin_port) == 9464);
	CHECK(c.http_addrlen == sizeof(*v4));
	CHECK_STR(c.http, "127.0.0.1:9464");
	CHECK(config_set_http(&c, "[::1]:0", "http", err, sizeof(err)));
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&c.http_addr;
	CHECK(v6->sin6_family == AF_INET6 && v6->sin6_port == 0);
	CHECK(config_set_http(&c, "0.0.0.0:65535", "http", err, sizeof(err)));
	static const char *const bad[] = { "",         "9464",          ":9464",
		                           "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1",
		                           "host:80",  "[::1]80",       "[zz]:80",
		                           "::1:80",   "1.2.3.4:80x",   "1.2.3:80" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(!config_set_http(&c, bad[i], "--http", err, sizeof(err)));
		CHECK(strncmp(err, "--http: must be ADDR:PORT", 25) == 0);
	}
	CHECK_STR(c.http, "0.0.0.0:65535"); /* a refused value changes nothing */
	CHECK(((const struct sockaddr_in *)&c.http_addr)->sin_family == AF_INET);
	CHECK(ntohs(((const struct sockaddr_in *)&c.http_addr)->sin_port) == 65535);
	config_free(&c);
}

/* spec 30 §3.4: ^[a-z][a-z0-9_]*\.[a-z0-9_][a-z0-9_.]*$ */
static void filter_tag_keys(void)
{
	static const char *const good[] = { "a.b", "team.owner", "a_1.b.c", "a.b..", "x9_.0_" };
	static const char *const bad[] = { "",     "a",  "a.",    "a..b",  "A.b",  "a.B",
		                           "1a.b", ".a", "a-b.c", "a.b-c", "a.b c" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(filter_tag_key_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!filter_tag_key_valid(bad[i]));
}

int main(void)
{
	urls();
	filter_tag_keys();
	precedence();
	seeds();
	file_errors();
	cli_errors();
	tls_options();
	http_addresses();
	unlink(write_config(""));
	UNIT_DONE();
}
