/* unit: a minimal test harness. Each CHECK is one test case; the binary
 * prints "N passed, N failed" and exits non-zero on any failure. */
#ifndef SCANHOST_UNIT_H
#define SCANHOST_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			unit_passed++;                                                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

#define UNIT_DONE()                                                                                \
	do {                                                                                       \
		printf("%d passed, %d failed\n", unit_passed, unit_failed);                        \
		return unit_failed ? 1 : 0;                                                        \
	} while (0)

#endif
