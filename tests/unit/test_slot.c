/* Cluster slots and topology replies (core/slot.c, core/topology.c): CRC16
 * vectors, hash tags, CLUSTER SLOTS parsed from real RESP text (hiredis's
 * reader), malformed replies refused, MOVED/ASK targets, INFO cluster. */
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "slot.h"
#include "topology.h"
#include "unit.h"

static int key_slot(const char *k)
{
	return slot_of_key(k, strlen(k));
}

static void crc_and_tags(void)
{
	CHECK(slot_crc16("123456789", 9) == 0x31C3);
	CHECK(key_slot("{user1000}.following") == key_slot("{user1000}.followers"));
	CHECK(key_slot("{user1000}.following") == key_slot("user1000"));
	CHECK(key_slot("foo") == 12182);                                   /* CLUSTER KEYSLOT foo */
	CHECK(key_slot("{fp:0}") == 14926 && key_slot("{fp:1}") == 10863); /* the recipe's */
	CHECK(key_slot("ff:exec:{fp:0}:lease_expiry") == 14926);
	CHECK(slot_of_partition("fp", 1) == 10863);
	CHECK(key_slot("foo{}{bar}") == slot_crc16("foo{}{bar}", 10) % 16384); /* empty tag */
	CHECK(key_slot("foo{{bar}}zap") == slot_crc16("{bar", 4) % 16384);
	CHECK(key_slot("foo{bar}{zap}") == key_slot("bar"));
	CHECK(key_slot("{unclosed") == slot_crc16("{unclosed", 9) % 16384);
	CHECK(key_slot("") == 0);
}

static redisReply *parse_resp(const char *text)
{
	redisReader *r = redisReaderCreate();
	void *reply = NULL;
	redisReaderFeed(r, text, strlen(text));
	if (redisReaderGetReply(r, &reply) != REDIS_OK)
		reply = NULL;
	redisReaderFree(r);
	return reply;
}

static void cluster_slots(void)
{
	/* two ranges; the second primary announced with an empty host */
	redisReply *r = parse_resp("*2\r\n"
	                           "*4\r\n:0\r\n:5460\r\n"
	                           "*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
	                           "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nir\r\n"
	                           "*3\r\n:5461\r\n:16383\r\n"
	                           "*2\r\n$0\r\n\r\n:7001\r\n");
	struct topology t;
	char err[128] = "";
	CHECK(r && topology_parse_slots(r, "seed.example", &t, err, sizeof(err)));
	CHECK(t.n == 2 && t.ranges[0].first == 0 && t.ranges[0].last == 5460);
	CHECK_STR(t.ranges[0].host, "127.0.0.1");
	CHECK(t.ranges[0].port == 7000);
	CHECK_STR(t.ranges[1].host, "seed.example");
	CHECK(t.ranges[1].port == 7001 && t.ranges[1].last == 16383);
	CHECK(topology_covered(&t) == 16384);
	topology_free(&t);
	freeReplyObject(r);

	r = parse_resp("*0\r\n"); /* a node without slots (not yet in a cluster) */
	CHECK(r && topology_parse_slots(r, "h", &t, err, sizeof(err)) && t.n == 0);
	CHECK(topology_covered(&t) == 0);
	freeReplyObject(r);

	static const char *const bad[] = {
		"+OK\r\n",
		"*1\r\n*2\r\n:0\r\n:1\r\n",                              /* no primary */
		"*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n",   /* slot out of range */
		"*1\r\n*3\r\n:9\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n",       /* first > last */
		"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n",       /* port 0 */
		"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n:1\r\n:1\r\n",            /* host not a string */
		"*2\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n:5\r\n", /* second entry */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = parse_resp(bad[i]);
		err[0] = '\0';
		CHECK(r && !topology_parse_slots(r, "h", &t, err, sizeof(err)));
		CHECK(strncmp(err, "CLUSTER SLOTS: ", 15) == 0 && t.n == 0 && !t.ranges);
		freeReplyObject(r);
	}
}

static bool redirect(const char *msg, struct redirect *d)
{
	return topology_parse_redirect(msg, strlen(msg), d) != REDIRECT_NONE;
}

static void redirects(void)
{
	struct redirect d;
	CHECK(redirect("MOVED 3999 127.0.0.1:6381", &d) && d.kind == REDIRECT_MOVED);
	CHECK(d.slot == 3999 && d.port == 6381);
	CHECK_STR(d.host, "127.0.0.1");
	CHECK(redirect("ASK 0 ::1:7002", &d) && d.kind == REDIRECT_ASK && d.port == 7002);
	CHECK_STR(d.host, "::1");
	CHECK(!redirect("MOVED 16384 h:1", &d) && d.kind == REDIRECT_NONE);
	CHECK(!redirect("MOVED x h:1", &d) && !redirect("MOVED 1 h", &d));
	CHECK(!redirect("MOVED 1 h:0", &d) && !redirect("MOVED 1 :5", &d));
	CHECK(!redirect("ERR MOVED 1 h:1", &d) && !redirect("TRYAGAIN x", &d));
	CHECK(topology_cluster_enabled("# Cluster\r\ncluster_enabled:1\r\n"));
	CHECK(!topology_cluster_enabled("# Cluster\r\ncluster_enabled:0\r\n"));
	CHECK(!topology_cluster_enabled(""));
}

static void command_keys(void)
{
	const char *fcall[] = { "FCALL", "ff_promote", "2", "{fp:1}:a", "{fp:1}:b", "x" };
	const char *fcall0[] = { "fcall", "f", "0", "x" };
	const char *eval[] = { "EVAL", "return 1", "1", "{fp:0}" };
	const char *time[] = { "TIME" };
	const char *ping[] = { "ping", "x" };
	const char *hget[] = { "HGET", "{fp:0}:core", "f" };
	const char *fn[] = { "FUNCTION", "LIST" };
	const char *bad[] = { "FCALL", "f", "99999999999999999999999999", "k" };
	size_t lens[] = { 5, 10, 1, 8, 8, 1 };
	CHECK(slot_of_command(6, fcall, NULL) == 10863);
	CHECK(slot_of_command(6, fcall, lens) == 10863);
	CHECK(slot_of_command(4, fcall0, NULL) == -1);
	CHECK(slot_of_command(4, eval, NULL) == 14926);
	CHECK(slot_of_command(1, time, NULL) == -1);
	CHECK(slot_of_command(2, ping, NULL) == -1);
	CHECK(slot_of_command(3, hget, NULL) == 14926);
	CHECK(slot_of_command(2, fn, NULL) == -1);
	CHECK(slot_of_command(4, bad, NULL) == -1);
	CHECK(slot_of_command(3, fcall, NULL) == -1); /* FCALL without keys' room */
}

int main(void)
{
	crc_and_tags();
	command_keys();
	cluster_slots();
	redirects();
	UNIT_DONE();
}
