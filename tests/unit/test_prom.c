/* prom.c (the exposition format 0.0.4) and control.c's constant-time token
 * comparison. */
#include <math.h>

#include "control.h"
#include "prom.h"
#include "unit.h"

static void test_family_and_samples(void)
{
	struct sbuf b = { 0 };
	prom_family(&b, "x_total", "counter", "Things.");
	struct prom_label l[] = { { "scanner", "a" }, { "partition_family", "execution" } };
	prom_sample(&b, "x_total", l, 2, 42);
	prom_sample(&b, "y", NULL, 0, 0.25);
	prom_sample(&b, "big", NULL, 0, 18446744073709551615.0);
	prom_sample(&b, "inf", NULL, 0, INFINITY);
	prom_sample(&b, "nan", NULL, 0, NAN);
	CHECK_STR(b.p, "# HELP x_total Things.\n# TYPE x_total counter\n"
	               "x_total{scanner=\"a\",partition_family=\"execution\"} 42\n"
	               "y 0.25\n"
	               "big 1.8446744073709552e+19\n"
	               "inf +Inf\n"
	               "nan NaN\n");
	CHECK(!b.failed);
	sbuf_free(&b);
}

static void test_label_escapes(void)
{
	struct sbuf b = { 0 };
	struct prom_label l[] = { { "v", "a\\b\"c\nd" } };
	prom_sample(&b, "m", l, 1, 1);
	CHECK_STR(b.p, "m{v=\"a\\\\b\\\"c\\nd\"} 1\n");
	sbuf_free(&b);
	sbuf_json_str(&b, "q\"\\\x01");
	CHECK_STR(b.p, "\"q\\\"\\\\\\u0001\"");
	sbuf_free(&b);
}

static void test_histogram(void)
{
	struct prom_histogram h = { 0 };
	prom_observe(&h, 0.001); /* first bucket */
	prom_observe(&h, 0.005); /* le is inclusive */
	prom_observe(&h, 0.3);
	prom_observe(&h, 1000); /* above every bound */
	CHECK(h.count == 4);
	struct sbuf b = { 0 };
	struct prom_label l[] = { { "scanner", "s" } };
	prom_histogram_samples(&b, "d", l, 1, &h);
	CHECK(strstr(b.p, "d_bucket{scanner=\"s\",le=\"0.005\"} 2\n") != NULL);
	CHECK(strstr(b.p, "d_bucket{scanner=\"s\",le=\"0.25\"} 2\n") != NULL);
	CHECK(strstr(b.p, "d_bucket{scanner=\"s\",le=\"0.5\"} 3\n") != NULL);
	CHECK(strstr(b.p, "d_bucket{scanner=\"s\",le=\"60\"} 3\n") != NULL);
	CHECK(strstr(b.p, "d_bucket{scanner=\"s\",le=\"+Inf\"} 4\n") != NULL);
	CHECK(strstr(b.p, "d_count{scanner=\"s\"} 4\n") != NULL);
	CHECK(strstr(b.p, "d_sum{scanner=\"s\"} 1000.306\n") != NULL);
	sbuf_free(&b);
}

static void test_growth(void)
{
	struct sbuf b = { 0 };
	for (int i = 0; i < 10000; i++)
		sbuf_printf(&b, "%05d\n", i);
	CHECK(b.len == 60000);
	CHECK(strncmp(b.p + 59994, "09999\n", 6) == 0);
	sbuf_free(&b);
}

static void test_token_equal(void)
{
	CHECK(control_token_equal("secret", 6, "secret", 6));
	CHECK(!control_token_equal("secreT", 6, "secret", 6));
	CHECK(!control_token_equal("secret!", 7, "secret", 6)); /* longer */
	CHECK(!control_token_equal("secre", 5, "secret", 6));   /* a prefix */
	CHECK(!control_token_equal("", 0, "secret", 6));
	CHECK(!control_token_equal("", 0, "", 0)); /* no token: never equal */
	CHECK(!control_token_equal("secret\0x", 8, "secret", 6));
}

int main(void)
{
	test_family_and_samples();
	test_label_escapes();
	test_histogram();
	test_growth();
	test_token_equal();
	UNIT_DONE();
}
