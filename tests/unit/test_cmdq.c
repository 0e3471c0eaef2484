/* The connection's pending-command queue and reply reader (core/cmdq.c):
 * replies go to commands in order across arbitrary splits, each reply
 * function runs exactly once, a queue failed from inside a callback stops
 * the dispatch, garbage and unrequested replies are protocol errors, and the
 * ring buffer keeps order while it grows and wraps. (The libFuzzer target
 * tests/fuzz/fuzz_reply.c checks the same on generated streams.) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmdq.h"
#include "unit.h"

#define N 300

static struct {
	int calls[N];
	char seen[N][32]; /* what each command received: the reply text or "err:<msg>" */
	int order[N], norder;
	int fail_at;
	struct cmdq *q;
} R;

static void on_reply(void *priv, redisReply *r, const char *err)
{
	int i = (int)(intptr_t)priv;
	R.calls[i]++;
	R.order[R.norder++] = i;
	if (r)
		snprintf(R.seen[i], sizeof(R.seen[i]), "%s",
		         r->type == REDIS_REPLY_INTEGER ? "int" : r->str);
	else
		snprintf(R.seen[i], sizeof(R.seen[i]), "err:%s", err);
	if (i == R.fail_at)
		cmdq_fail_all(R.q, "dropped");
}

static void setup(struct cmdq *q, int pending)
{
	memset(&R, 0, sizeof(R));
	R.fail_at = -1;
	R.q = q;
	cmdq_init(q);
	for (int i = 0; i < pending; i++)
		cmdq_push(q, i, on_reply, (void *)(intptr_t)i);
}

static const char stream[] = "+OK\r\n$5\r\nhello\r\n-ERR nope\r\n:42\r\n*1\r\n+x\r\n";

static void in_order_across_splits(void)
{
	for (size_t chunk = 1; chunk <= sizeof(stream); chunk++) {
		struct cmdq q;
		setup(&q, 5);
		char err[128];
		bool ok = true;
		for (size_t off = 0; off < sizeof(stream) - 1 && ok; off += chunk) {
			size_t n =
			    sizeof(stream) - 1 - off < chunk ? sizeof(stream) - 1 - off : chunk;
			ok = cmdq_feed(&q, stream + off, n, err, sizeof(err));
		}
		CHECK(ok);
		CHECK(R.norder == 5 && cmdq_len(&q) == 0);
		CHECK_STR(R.seen[0], "OK");
		CHECK_STR(R.seen[1], "hello");
		CHECK_STR(R.seen[2], "ERR nope"); /* an error reply is a reply, not a failure */
		CHECK_STR(R.seen[3], "int");
		cmdq_free(&q);
	}
}

static void exactly_once(void)
{
	struct cmdq q;
	setup(&q, 4);
	char err[128];
	CHECK(cmdq_feed(&q, "+OK\r\n$3\r\nab", 11, err, sizeof(err))); /* one and a half */
	CHECK(R.norder == 1 && cmdq_len(&q) == 3);
	cmdq_fail_all(&q, "connection lost: reset");
	CHECK(R.norder == 4);
	CHECK_STR(R.seen[1], "err:connection lost: reset");
	for (int i = 0; i < 4; i++)
		CHECK(R.calls[i] == 1);
	cmdq_free(&q); /* nothing left to fail */
	CHECK(R.norder == 4);
	setup(&q, 2);
	cmdq_free(&q);
	CHECK(R.calls[0] == 1 && R.calls[1] == 1);
	CHECK_STR(R.seen[1], "err:shutting down");
}

static void failed_from_a_callback(void)
{
	struct cmdq q;
	setup(&q, 5);
	R.fail_at = 1;
	char err[128];
	unsigned epoch = q.epoch;
	CHECK(cmdq_feed(&q, stream, sizeof(stream) - 1, err, sizeof(err)));
	CHECK(q.epoch != epoch);
	CHECK(R.norder == 5 && R.order[1] == 1 && R.order[2] == 2);
	CHECK_STR(R.seen[1], "hello");
	CHECK_STR(R.seen[2],
	          "err:dropped"); /* its reply was in the buffer, but the connection is gone */
	for (int i = 0; i < 5; i++)
		CHECK(R.calls[i] == 1);
	/* a new connection: a fresh reader, nothing of the old bytes */
	CHECK(cmdq_reset(&q));
	cmdq_push(&q, 0, on_reply, (void *)(intptr_t)0);
	CHECK(cmdq_feed(&q, "+NEW\r\n", 6, err, sizeof(err)));
	CHECK_STR(R.seen[0], "NEW");
	cmdq_free(&q);
}

static void protocol_errors(void)
{
	struct cmdq q;
	char err[128];
	setup(&q, 2);
	CHECK(!cmdq_feed(&q, "HTTP/1.1 400 Bad Request\r\n", 26, err, sizeof(err)));
	CHECK(strstr(err, "Protocol error, got \"H\" as reply type byte") != NULL);
	CHECK(R.norder == 0);
	cmdq_free(&q);
	CHECK(R.calls[0] == 1 && R.calls[1] == 1);
	setup(&q, 1);
	CHECK(!cmdq_feed(&q, "+A\r\n+B\r\n", 8, err, sizeof(err)));
	CHECK(strstr(err, "no command pending") != NULL);
	CHECK(R.norder == 1);
	cmdq_free(&q);
}

static void ring_grows_and_wraps(void)
{
	struct cmdq q;
	setup(&q, 0);
	char err[128];
	int next = 0;
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 50; i++, next++)
			cmdq_push(&q, next, on_reply, (void *)(intptr_t)next);
		for (int i = 0; i < 30; i++)
			CHECK(cmdq_feed(&q, ":1\r\n", 4, err, sizeof(err)));
	}
	CHECK(cmdq_len(&q) == 300 - 180);
	CHECK(cmdq_oldest(&q)->deadline == 180);
	cmdq_free(&q);
	bool ordered = R.norder == N;
	for (int i = 0; i < R.norder; i++)
		ordered = ordered && R.order[i] == i && R.calls[i] == 1;
	CHECK(ordered);
}

int main(void)
{
	in_order_across_splits();
	exactly_once();
	failed_from_a_callback();
	protocol_errors();
	ring_grows_and_wraps();
	UNIT_DONE();
}
