/* family: the scanner families and their tag prefixes. */
#include "family.h"

#include <string.h>

static const char *const family_names[FAMILY_COUNT] = { "execution", "flow", "budget", "quota" };
static const char *const family_prefixes[FAMILY_COUNT] = { "fp", "fp", "b", "q" };

const char *family_name(enum family f)
{
	return family_names[f];
}

const char *family_tag_prefix(enum family f)
{
	return family_prefixes[f];
}

bool family_parse(const char *s, enum family *out)
{
	for (int i = 0; i < FAMILY_COUNT; i++) {
		if (strcmp(s, family_names[i]) == 0) {
			*out = (enum family)i;
			return true;
		}
	}
	return false;
}
