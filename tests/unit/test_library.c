/* The library build: sources concatenated in name order, the library level
 * line set from the config exactly once, the version digest taken after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "library.h"
#include "unit.h"

static char dir[64];

static void write_source(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void remove_sources(void)
{
	const char *names[] = { "00-common.lua", "10-more.lua" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
}

static const char COMMON[] = "-- common\n"
                             "local FF_LIBRARY_LEVEL = \"34\"\n"
                             "local C = {}\n";

static void sets_the_level(void)
{
	write_source("00-common.lua", COMMON);
	write_source("10-more.lua",
	             "-- a comment naming local FF_LIBRARY_LEVEL = \"x\" is no line\n"
	             "redis.register_function('f', function() return 1 end)");
	struct library five, thirty_four;
	char err[256] = "";
	CHECK(library_build(&five, dir, 5, err, sizeof(err)));
	CHECK(strstr(five.source, "\nlocal FF_LIBRARY_LEVEL = \"5\"\nlocal C = {}\n") != NULL);
	CHECK(strstr(five.source, "\"34\"") == NULL);
	CHECK(strncmp(five.source, "#!lua name=scanhost\n", 20) == 0);
	CHECK(five.level == 5 && five.len == strlen(five.source));
	CHECK(library_build(&thirty_four, dir, 0, err, sizeof(err))); /* the default */
	CHECK(thirty_four.level == 34);
	CHECK(strstr(thirty_four.source, "local FF_LIBRARY_LEVEL = \"34\"\n") != NULL);
	/* a level change is a new version: the loaded library gets replaced */
	CHECK(strcmp(five.version, thirty_four.version) != 0);
	/* the file without a trailing newline still ends its line */
	CHECK(strstr(thirty_four.source, "return 1 end)\n") != NULL);
	library_free(&five);
	library_free(&thirty_four);
}

static void refuses_a_missing_or_repeated_line(void)
{
	struct library lib;
	char err[256] = "";
	write_source("00-common.lua", "local C = {}\n");
	CHECK(!library_build(&lib, dir, 5, err, sizeof(err))); /* asked for, cannot be set */
	CHECK(strstr(err, "library_level: ") && strstr(err, "has no line local FF_LIBRARY_LEVEL"));
	/* not asked for: a library of the user's own, loaded as it is */
	CHECK(library_build(&lib, dir, 0, err, sizeof(err)));
	CHECK(lib.level == 0 && strstr(lib.source, "local C = {}\n"));
	library_free(&lib);
	write_source("00-common.lua", COMMON);
	write_source("10-more.lua", "local FF_LIBRARY_LEVEL = \"5\"\n");
	CHECK(!library_build(&lib, dir, 0, err, sizeof(err)));
	CHECK(strstr(err, "library_level: ") && strstr(err, "sets the level twice"));
	write_source("10-more.lua", "-- nothing\n");
	write_source("00-common.lua", "local FF_LIBRARY_LEVEL = \"34\n");
	CHECK(!library_build(&lib, dir, 34, err, sizeof(err)));
	CHECK(strstr(err, "closing quote") != NULL);
}

static void no_sources_is_not_an_error(void)
{
	struct library lib;
	char err[256] = "";
	remove_sources();
	CHECK(library_build(&lib, dir, 34, err, sizeof(err)));
	CHECK(lib.source == NULL);
	CHECK(library_build(&lib, "", 34, err, sizeof(err)));
	CHECK(!library_build(&lib, "/nonexistent/functions", 34, err, sizeof(err)));
	CHECK(strstr(err, "functions_dir: cannot read") != NULL);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/scanhost-unit-lib-%d", (int)getpid());
	mkdir(dir, 0700);
	sets_the_level();
	refuses_a_missing_or_repeated_line();
	no_sources_is_not_an_error();
	remove_sources();
	rmdir(dir);
	UNIT_DONE();
}
