/* claims: per-scanner bitmaps of claimed partitions (see claims.h). */
#define _DEFAULT_SOURCE
#include "claims.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static size_t bytes_for(int n)
{
	return n > 0 ? ((size_t)n + 7) / 8 : 0;
}

static bool bit(const uint8_t *map, int p)
{
	return (map[p / 8] >> (p % 8)) & 1;
}

static void set_bit(uint8_t *map, int p, bool on)
{
	if (on)
		map[p / 8] |= (uint8_t)(1u << (p % 8));
	else
		map[p / 8] &= (uint8_t) ~(1u << (p % 8));
}

static uint8_t *zeroed(size_t bytes)
{
	uint8_t *p = calloc(bytes ? bytes : 1, 1);
	if (!p)
		abort();
	return p;
}

void claims_free(struct claims *c)
{
	free(c->won);
	free(c->last);
	free(c->other);
	memset(c, 0, sizeof(*c));
}

void claims_resize(struct claims *c, int n)
{
	if (c->won && c->n == n)
		return;
	claims_free(c);
	size_t bytes = bytes_for(n);
	c->n = n;
	c->won = zeroed(bytes);
	c->last = zeroed(bytes);
	c->other = zeroed(bytes);
}

void claims_cycle_begin(struct claims *c)
{
	if (c->won)
		memset(c->won, 0, bytes_for(c->n));
	c->won_count = 0;
	c->took_over = 0;
}

void claims_note(struct claims *c, int p, bool won, const char *holder)
{
	if (!c->won || p < 0 || p >= c->n)
		return;
	if (!won) {
		set_bit(c->other, p, true);
		if (holder)
			snprintf(c->other_id, sizeof(c->other_id), "%s", holder);
		return;
	}
	if (bit(c->other, p)) {
		set_bit(c->other, p, false);
		c->took_over++;
	}
	if (!bit(c->won, p)) {
		set_bit(c->won, p, true);
		c->won_count++;
	}
}

void claims_cycle_end(struct claims *c)
{
	if (!c->won)
		return;
	memcpy(c->last, c->won, bytes_for(c->n));
	c->last_count = c->won_count;
}

bool claims_won_last(const struct claims *c, int p)
{
	return c->last && p >= 0 && p < c->n && bit(c->last, p);
}

bool claims_won_now(const struct claims *c, int p)
{
	return c->won && p >= 0 && p < c->n && bit(c->won, p);
}

void claims_instance_id(char *buf, size_t n)
{
	char host[65] = "host";
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	uint32_t r;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)time(NULL) ^ (uint32_t)clock() ^ ((uint32_t)getpid() << 16);
	snprintf(buf, n, "%s:%ld:%08x", host, (long)getpid(), (unsigned)r);
}

void claims_key(char *buf, size_t n, const char *tag_prefix, int p, const char *scanner)
{
	snprintf(buf, n, "scanhost:claim:{%s:%d}:%s", tag_prefix, p, scanner);
}

const char claims_release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";
