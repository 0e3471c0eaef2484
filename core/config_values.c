/* config values: the built-in defaults (data paths found next to the
 * executable) and the checks of the values that both the config file and the
 * command line take, each failing with the name of its key or flag. */
#define _DEFAULT_SOURCE
#include "config_values.h"

#include <arpa/inet.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool config_fail(char *err, size_t errlen, const char *key, const char *msg)
{
	snprintf(err, errlen, "%s: %s", key, msg);
	return false;
}

void config_defaults(struct config *c, const char *exe_path)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->redis, sizeof(c->redis), "redis://127.0.0.1:6379");
	c->partitions = 256;
	c->budget_partitions = 32;
	c->quota_partitions = 32;
	snprintf(c->lanes[0], sizeof(c->lanes[0]), "default");
	c->nlanes = 1;
	c->command_timeout = 5.0;
	c->connect_timeout = 5.0;
	c->shutdown_timeout = 1.5;
	c->scan_timeout = 5.0;
	c->claims = true;
	c->lua_memory_mb = 256;
	c->log_level = LOG_INFO;
	c->log_format = LOG_TEXT;
	c->overrides_ref = LUA_NOREF;
	snprintf(c->exe_path, sizeof(c->exe_path), "%s", exe_path ? exe_path : "");
	char exe[PATH_MAX], root[PATH_MAX], probe[PATH_MAX + 64];
	if (!exe_path || !realpath(exe_path, exe))
		snprintf(exe, sizeof(exe), "./bin/scanhost");
	snprintf(root, sizeof(root), "%s", dirname(dirname(exe))); /* <root>/bin/scanhost */
	snprintf(probe, sizeof(probe), "%s/share/scanhost/scanners", root);
	bool installed = is_dir(probe);
	const char *data = installed ? "/share/scanhost" : "";
	c->nscanners_dirs = 1;
	snprintf(c->scanners_dirs[0], sizeof(c->scanners_dirs[0]), "%s%s/scanners", root, data);
	snprintf(c->lua_lib_dir, sizeof(c->lua_lib_dir), "%s%s/lua-lib", root, data);
	snprintf(c->functions_dir, sizeof(c->functions_dir), "%s%s/lua-lib/functions", root, data);
	c->library_recheck = 30;
	snprintf(c->config_path, sizeof(c->config_path), "%s%s/config/scanhost.lua", root, data);
	snprintf(c->tls_module, sizeof(c->tls_module), "%s/%s", root,
	         data[0] ? "lib/scanhost/scanhost-tls.so" : "bin/scanhost-tls.so");
	snprintf(c->http_module, sizeof(c->http_module), "%s/%s", root,
	         data[0] ? "lib/scanhost/scanhost-http.so" : "bin/scanhost-http.so");
	if (!installed)
		return;
	/* installed: the user's files live under etc/, never overwritten */
	snprintf(c->scanners_dirs[1], sizeof(c->scanners_dirs[1]), "%s/etc/scanhost/scanners.d",
	         root);
	c->scanners_dir_optional[1] = true;
	c->nscanners_dirs = 2;
	snprintf(probe, sizeof(probe), "%s/etc/scanhost/scanhost.lua", root);
	struct stat st;
	if (stat(probe, &st) == 0)
		snprintf(c->config_path, sizeof(c->config_path), "%s", probe);
}

bool config_parse_count(const char *text, int *out)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v < 1 || v > 65535)
		return false;
	*out = (int)v;
	return true;
}

static bool valid_lane(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == ',')
			return false;
	}
	return true;
}

bool config_add_lane(struct config *c, const char *lane, const char *key, char *err, size_t errlen)
{
	if (!valid_lane(lane))
		return config_fail(err, errlen, key,
		                   "each lane must be 1..64 printable ASCII characters");
	if (c->nlanes >= CONFIG_MAX_LANES)
		return config_fail(err, errlen, key, "too many lanes (max 64)");
	snprintf(c->lanes[c->nlanes++], sizeof(c->lanes[0]), "%s", lane);
	return true;
}

bool config_set_lanes(struct config *c, const char *csv, char *err, size_t errlen)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", csv);
	c->nlanes = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!config_add_lane(c, tok, "--lanes", err, errlen))
			return false;
	return c->nlanes > 0 ||
	       config_fail(err, errlen, "--lanes", "at least one lane is required");
}

static bool parse_port(const char *text, in_port_t *out)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v < 0 || v > 65535)
		return false;
	*out = htons((uint16_t)v);
	return true;
}

bool config_set_http(struct config *c, const char *text, const char *key, char *err, size_t errlen)
{
	static const char usage[] = "must be ADDR:PORT (an IPv4 address or [IPv6], port 0..65535)";
	char host[128];
	const char *colon = strrchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : 0;
	if (!colon || n == 0 || n >= sizeof(host) || strlen(text) >= sizeof(c->http))
		return config_fail(err, errlen, key, usage);
	memcpy(host, text, n);
	host[n] = '\0';
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	bool ok;
	if (host[0] == '[' && host[n - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		host[n - 1] = '\0';
		a->sin6_family = AF_INET6;
		len = sizeof(*a);
		ok = inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 &&
		     parse_port(colon + 1, &a->sin6_port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		len = sizeof(*a);
		ok = inet_pton(AF_INET, host, &a->sin_addr) == 1 &&
		     parse_port(colon + 1, &a->sin_port);
	}
	if (!ok)
		return config_fail(err, errlen, key, usage);
	c->http_addr = ss;
	c->http_addrlen = len;
	snprintf(c->http, sizeof(c->http), "%s", text);
	return true;
}

bool config_add_seed(struct config *c, const char *url, const char *key, char *err, size_t errlen)
{
	if (c->nseeds >= CONFIG_MAX_SEEDS)
		return config_fail(err, errlen, key, "at most 16 seed nodes");
	if (!*url || strlen(url) >= sizeof(c->seed_text[0]))
		return config_fail(err, errlen, key,
		                   "a URL must be a non-empty string of reasonable length");
	snprintf(c->seed_text[c->nseeds++], sizeof(c->seed_text[0]), "%s", url);
	return true;
}

bool config_add_scanners_dir(struct config *c, const char *dir, const char *key, char *err,
                             size_t errlen)
{
	if (c->nscanners_dirs >= CONFIG_MAX_DIRS)
		return config_fail(err, errlen, key, "too many scanner directories (max 16)");
	if (!*dir || strlen(dir) >= sizeof(c->scanners_dirs[0]))
		return config_fail(err, errlen, key, "a directory must be a non-empty path");
	snprintf(c->scanners_dirs[c->nscanners_dirs], sizeof(c->scanners_dirs[0]), "%s", dir);
	c->scanners_dir_optional[c->nscanners_dirs++] = false;
	return true;
}

bool config_copy_path(char *dst, size_t cap, const char *src, const char *key, char *err,
                      size_t errlen)
{
	if (strlen(src) >= cap || !*src)
		return config_fail(err, errlen, key, "path is empty or too long");
	snprintf(dst, cap, "%s", src);
	return true;
}
