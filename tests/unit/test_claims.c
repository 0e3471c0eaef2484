/* The host's record of claimed partitions: per-cycle bitmaps, the last
 * completed cycle, takeovers, instance ids and claim keys. */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "unit.h"

static void cycles_and_counts(void)
{
	struct claims c = { 0 };
	claims_resize(&c, 300); /* more than one byte per bitmap, not a multiple of 8 */
	claims_cycle_begin(&c);
	claims_note(&c, 0, true, NULL);
	claims_note(&c, 299, true, NULL);
	claims_note(&c, 299, true, NULL); /* a renewal counts once */
	claims_note(&c, 300, true, NULL); /* out of range: ignored */
	claims_note(&c, -1, true, NULL);
	CHECK(c.won_count == 2);
	CHECK(claims_won_now(&c, 299));
	CHECK(!claims_won_last(&c, 299)); /* not before the cycle ends */
	claims_cycle_end(&c);
	CHECK(c.last_count == 2);
	CHECK(claims_won_last(&c, 0) && claims_won_last(&c, 299) && !claims_won_last(&c, 1));
	claims_cycle_begin(&c);
	CHECK(c.won_count == 0 && !claims_won_now(&c, 0));
	CHECK(claims_won_last(&c, 0)); /* the last cycle stays visible during the next */
	claims_cycle_end(&c);
	CHECK(c.last_count == 0 && !claims_won_last(&c, 0));
	claims_free(&c);
}

static void takeovers(void)
{
	struct claims c = { 0 };
	claims_resize(&c, 16);
	claims_cycle_begin(&c);
	claims_note(&c, 3, false, "other:1:abcd");
	claims_note(&c, 4, false, "other:2:beef");
	CHECK(c.won_count == 0 && c.took_over == 0);
	CHECK_STR(c.other_id, "other:2:beef");
	claims_cycle_end(&c);
	claims_cycle_begin(&c);
	claims_note(&c, 3, true, NULL); /* another instance held it: a takeover */
	claims_note(&c, 5, true, NULL); /* nobody did */
	CHECK(c.took_over == 1 && c.won_count == 2);
	claims_cycle_end(&c);
	claims_cycle_begin(&c);
	claims_note(&c, 3, true, NULL); /* ours since: no takeover again */
	CHECK(c.took_over == 0);
	claims_free(&c);
}

static void resize_starts_empty(void)
{
	struct claims c = { 0 };
	claims_resize(&c, 8);
	claims_cycle_begin(&c);
	claims_note(&c, 7, true, NULL);
	claims_cycle_end(&c);
	claims_resize(&c, 8); /* same size: kept */
	CHECK(claims_won_last(&c, 7));
	claims_resize(&c, 32); /* a reload changed the family */
	CHECK(c.n == 32 && !claims_won_last(&c, 7) && c.last_count == 0);
	claims_free(&c);
	CHECK(!claims_won_last(&c, 0) && !claims_won_now(&c, 0));
}

static void ids_and_keys(void)
{
	char a[CLAIMS_ID_MAX], b[CLAIMS_ID_MAX], key[256];
	claims_instance_id(a, sizeof(a));
	claims_instance_id(b, sizeof(b));
	CHECK(strchr(a, ':') != NULL);
	CHECK(strcmp(a, b) != 0); /* same host and pid, different random part */
	claims_key(key, sizeof(key), "fp", 7, "lease_expiry");
	CHECK_STR(key, "scanhost:claim:{fp:7}:lease_expiry");
	claims_key(key, sizeof(key), "b", 31, "budget_reset");
	CHECK_STR(key, "scanhost:claim:{b:31}:budget_reset");
}

int main(void)
{
	cycles_and_counts();
	takeovers();
	resize_starts_empty();
	ids_and_keys();
	UNIT_DONE();
}
