/* command line: the options as given, kept apart from the config until the
 * config file has been read, then applied over it (flags win). */
#ifndef SCANHOST_CONFIG_CLI_H
#define SCANHOST_CONFIG_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "config_values.h"

/* The option values as given (NULL: not given). Seeds beyond the limit are
 * refused in config_build (nseeds counts them). */
struct config_cli {
	const char *config, *redis, *lua_path, *only, *partitions, *budget, *quota;
	const char *log_level, *log_format, *lanes, *functions;
	const char *cacert, *cert, *key, *sni;
	const char *http;
	bool insecure;
	const char *scanners[CONFIG_MAX_DIRS]; /* --scanners, repeatable */
	const char *seeds[CONFIG_MAX_SEEDS];   /* --redis again: more seed nodes */
	int nseeds;
	int nscanners;
};

const char *config_usage(void);
/* argv into cl; the flags that are no values (--once, --check, --help,
 * --version) straight into c. */
bool config_cli_parse(struct config *c, struct config_cli *cl, int argc, char **argv, char *err,
                      size_t errlen);
/* Every value flag over c (after the config file and SCANHOST_REDIS). */
bool config_cli_apply(struct config *c, const struct config_cli *cl, char *err, size_t errlen);

#endif
