/* scanset: loading the set of scanners — one code path for the first load,
 * SIGUSR1 and SIGHUP (see scanset.c for what is checked). */
#ifndef SCANHOST_SCANSET_H
#define SCANHOST_SCANSET_H

#include <stdbool.h>

struct host;

enum load_mode {
	LOAD_START,   /* first load: everything is installed, errors are counted */
	LOAD_SCRIPTS, /* SIGUSR1: changed files, file by file */
	LOAD_CONFIG,  /* SIGHUP: every file with the new config; all or nothing */
};
/* Loads the scanner set aside, validates it and installs it; false when
 * the pass was refused (nothing changed). */
bool host_load_set(struct host *h, enum load_mode mode);
/* The first load of every scanner directory. Sets load_errors and
 * config_errors; returns their sum. */
int host_load_scanners(struct host *h);
/* Configuration problems the last load found (main: exit 2 at start). */
int host_config_errors(const struct host *h);

#endif
