/* config: built-in defaults < config file < environment < command line.
 * Every problem is reported with the name of the key or flag and makes the
 * caller exit with status 2. */
#ifndef SCANHOST_CONFIG_H
#define SCANHOST_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "log.h"
#include "tls.h"
#include "url.h"

#define CONFIG_MAX_LANES 64
#define CONFIG_MAX_ONLY  64

struct config {
	char redis[1024];
	struct redis_url url;
	struct tls_opts tls;       /* rediss:// only */
	char tls_module[PATH_MAX]; /* the daemon's OpenSSL side, loaded for rediss:// */
	char config_path[PATH_MAX];
	char scanners_dir[PATH_MAX];
	char lua_lib_dir[PATH_MAX];
	char functions_dir[PATH_MAX];
	char lua_path[PATH_MAX]; /* empty = none */
	int partitions, budget_partitions, quota_partitions;
	char lanes[CONFIG_MAX_LANES][65];
	int nlanes;
	char only[CONFIG_MAX_ONLY][65];
	int nonly;
	double command_timeout, connect_timeout, shutdown_timeout, scan_timeout;
	enum log_level log_level;
	enum log_format log_format;
	bool once, check, help, version;
	bool claims; /* claim partitions per cycle (several instances); default on */
	/* the config file's state stays open: per-scanner overrides are read
	 * from it whenever a script is (re)loaded */
	lua_State *conf_L;
	int overrides_ref;
};

/* Fills defaults; data paths are found next to the executable (checkout:
 * <root>/scanners, installed: <prefix>/share/scanhost/scanners). */
void config_defaults(struct config *c, const char *exe_path);
/* The whole precedence chain; false with a message naming the key. */
bool config_build(struct config *c, int argc, char **argv, char *err, size_t errlen);
void config_free(struct config *c);
const char *config_usage(void);

/* Parsers shared by the file and the command line. */
bool config_parse_count(const char *text, int *out);
bool config_set_lanes(struct config *c, const char *csv, char *err, size_t errlen);

#endif
