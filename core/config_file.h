/* config file: the Lua config file, run in a guarded state of its own that
 * stays open in c->conf_L (per-scanner overrides are read from it). */
#ifndef SCANHOST_CONFIG_FILE_H
#define SCANHOST_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "config_values.h"

/* Runs path and applies the table it returns. A missing file is fine unless
 * must_exist (it was named with --config). */
bool config_file_load(struct config *c, const char *path, bool must_exist, char *err,
                      size_t errlen);

#endif
