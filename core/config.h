/* config: built-in defaults < config file < environment < command line.
 * Every problem is reported with the name of the key or flag and makes the
 * caller exit with status 2. The parts: config_values (struct config, the
 * defaults, shared checks), config_file (the Lua config file, its keys in
 * config_keys), config_cli (the command line). */
#ifndef SCANHOST_CONFIG_H
#define SCANHOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "config_cli.h"
#include "config_values.h"

/* The whole precedence chain; false with a message naming the key. The
 * config file runs under the runaway guard, the watchdog and a memory
 * limit: one that never returns is refused (naming the file). argv must
 * outlive c (it is kept for config reloads). */
bool config_build(struct config *c, int argc, char **argv, char *err, size_t errlen);
void config_free(struct config *c);

#endif
