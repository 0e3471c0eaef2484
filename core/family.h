/* family: the four kinds of partition a scanner sweeps (execution, flow,
 * budget, quota), their names in scripts and config, and the prefix of
 * their hash tags ({fp:N}, {b:N}, {q:N}). */
#ifndef SCANHOST_FAMILY_H
#define SCANHOST_FAMILY_H

#include <stdbool.h>

enum family { FAMILY_EXECUTION, FAMILY_FLOW, FAMILY_BUDGET, FAMILY_QUOTA, FAMILY_COUNT };

const char *family_name(enum family f);
bool family_parse(const char *s, enum family *out);
const char *family_tag_prefix(enum family f); /* "fp", "b", "q" */

#endif
