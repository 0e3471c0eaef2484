/* options: a scanner's options (defaults, bounds, order) and ctx.config,
 * its defaults merged with the config's overrides, config.scanners.NAME. */
#ifndef SCANHOST_OPTIONS_H
#define SCANHOST_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "script.h"

/* The shapes of defaults, bounds and order in the scanner table (at the
 * top of s->L); values are checked after the merge. */
bool options_check(struct script *s, char *err, size_t errlen);
/* ctx.config (s->config_ref) = a copy of defaults, overridden by
 * config.scanners[name], then checked as a whole; also sets s->enabled and
 * s->interval from the overrides. *bad_option tells a configuration error
 * (the message names scanners.NAME.OPTION) from a problem of the file. */
bool options_merge(struct script *s, char *err, size_t errlen, bool *bad_option);

#endif
