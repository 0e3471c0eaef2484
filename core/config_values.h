/* config values: struct config, its built-in defaults, and the checks of the
 * values that both the config file and the command line take. Each check
 * fails with the name of the key or flag (the caller exits with status 2). */
#ifndef SCANHOST_CONFIG_VALUES_H
#define SCANHOST_CONFIG_VALUES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <lua.h>

#include "filter.h"
#include "log.h"
#include "memlimit.h"
#include "tls.h"
#include "url.h"

#define CONFIG_MAX_LANES     64
#define CONFIG_MAX_ONLY      64
#define CONFIG_MAX_DIRS      16
#define CONFIG_MAX_SEEDS     15  /* more cluster seed nodes than the first URL */
#define CONFIG_LUA_MEMORY_MB 64  /* the config file's own state */
#define CONFIG_RUN_SECONDS   2.0 /* a config file must return within this */

struct config {
	char redis[1024];
	struct redis_url url;
	/* further seed nodes of a cluster (--redis again, or the config file's
	 * list): as given, compared at SIGHUP, and parsed */
	char seed_text[CONFIG_MAX_SEEDS][1024];
	struct redis_url seeds[CONFIG_MAX_SEEDS];
	int nseeds;
	struct tls_opts tls;       /* rediss:// only */
	char tls_module[PATH_MAX]; /* the daemon's OpenSSL side, loaded for rediss:// */
	/* --http ADDR:PORT (empty: off); restart-only */
	char http[128];
	struct sockaddr_storage http_addr;
	socklen_t http_addrlen;
	char http_module[PATH_MAX];        /* the daemon's libmicrohttpd side, loaded for --http */
	char control_token_file[PATH_MAX]; /* control token (else SCANHOST_CONTROL_TOKEN) */
	char config_path[PATH_MAX];
	bool config_loaded; /* a config file was found and read */
	/* scanner directories, loaded in order; a default one that does not
	 * exist (the install's user directory) is skipped */
	char scanners_dirs[CONFIG_MAX_DIRS][PATH_MAX];
	bool scanners_dir_optional[CONFIG_MAX_DIRS];
	int nscanners_dirs;
	char lua_lib_dir[PATH_MAX];
	char functions_dir[PATH_MAX];
	/* the contract scanhost's own library presents: 5 or 34; 0 when not
	 * configured (34, or the sources as they are when they set no level) */
	int library_level;
	double library_recheck;  /* seconds between reads of ff_version (daemon) */
	char lua_path[PATH_MAX]; /* empty = none */
	int partitions, budget_partitions, quota_partitions;
	char lanes[CONFIG_MAX_LANES][65];
	int nlanes;
	char only[CONFIG_MAX_ONLY][65];
	int nonly;
	double command_timeout, connect_timeout, shutdown_timeout, scan_timeout;
	int lua_memory_mb; /* per scanner state */
	enum log_level log_level;
	enum log_format log_format;
	bool once, check, help, version;
	bool claims;               /* claim partitions per cycle (several instances); default on */
	struct scan_filter filter; /* filter = { namespace =, tag = { key =, value = } } */
	/* the config file's state stays open: per-scanner overrides are read
	 * from it whenever a script is (re)loaded */
	lua_State *conf_L;
	struct memlimit conf_mem;
	int overrides_ref;
	/* what config_build was given, for a reload (SIGHUP) */
	char exe_path[PATH_MAX];
	int argc;
	char **argv;
};

/* Fills defaults; data paths are found next to the executable (checkout:
 * <root>/scanners, installed: <prefix>/share/scanhost/scanners plus the
 * user's <prefix>/etc/scanhost/scanners.d, and the config file
 * <prefix>/etc/scanhost/scanhost.lua). */
void config_defaults(struct config *c, const char *exe_path);
/* A partition count: an integer in 1..65535. */
bool config_parse_count(const char *text, int *out);
/* "L[,L...]": replaces the lane list. */
bool config_set_lanes(struct config *c, const char *csv, char *err, size_t errlen);
/* "ADDR:PORT" (IPv4, or [IPv6]; port 0 = any free one) into c->http*. */
bool config_set_http(struct config *c, const char *text, const char *key, char *err, size_t errlen);
/* "KEY: MSG" into err; always false, so a check can return it. */
bool config_fail(char *err, size_t errlen, const char *key, const char *msg);
/* One lane appended (1..64 printable ASCII characters, no comma). */
bool config_add_lane(struct config *c, const char *lane, const char *key, char *err, size_t errlen);
/* One further seed node's URL appended, as text (at most CONFIG_MAX_SEEDS). */
bool config_add_seed(struct config *c, const char *url, const char *key, char *err, size_t errlen);
/* One scanner directory appended (at most CONFIG_MAX_DIRS). */
bool config_add_scanners_dir(struct config *c, const char *dir, const char *key, char *err,
                             size_t errlen);
/* A non-empty path that fits dst. */
bool config_copy_path(char *dst, size_t cap, const char *src, const char *key, char *err,
                      size_t errlen);

#endif
