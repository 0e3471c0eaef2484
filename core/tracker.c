/* tracker: a chained hash map from item key to failure state. */
#include "tracker.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct tracker_entry {
	struct tracker_entry *next;
	uint32_t consecutive_failures;
	uint64_t skip_until_cycle;
	size_t len;
	char key[];
};

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

void tracker_init(struct tracker *t)
{
	memset(t, 0, sizeof(*t));
}

static void free_chain(struct tracker_entry *e)
{
	while (e) {
		struct tracker_entry *next = e->next;
		free(e);
		e = next;
	}
}

void tracker_free(struct tracker *t)
{
	for (size_t i = 0; i < t->nbuckets; i++)
		free_chain(t->buckets[i]);
	free(t->buckets);
	tracker_init(t);
}

static struct tracker_entry **slot_of(const struct tracker *t, const char *key, size_t len)
{
	if (t->nbuckets == 0)
		return NULL;
	struct tracker_entry **p = &t->buckets[hash_key(key, len) & (t->nbuckets - 1)];
	while (*p && ((*p)->len != len || memcmp((*p)->key, key, len) != 0))
		p = &(*p)->next;
	return p;
}

/* Rehashes into n buckets (a power of two). */
static void resize(struct tracker *t, size_t n)
{
	struct tracker_entry **b = calloc(n, sizeof(*b));
	if (!b)
		abort(); /* out of memory: nothing sensible left to do */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct tracker_entry *e = t->buckets[i];
		while (e) {
			struct tracker_entry *next = e->next;
			size_t k = hash_key(e->key, e->len) & (n - 1);
			e->next = b[k];
			b[k] = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static void grow(struct tracker *t)
{
	resize(t, t->nbuckets ? t->nbuckets * 2 : 64);
}

/* After a GC emptied most of a large table, give the bucket array back. */
static void shrink(struct tracker *t)
{
	size_t n = t->nbuckets;
	while (n > 64 && t->count < n / 8)
		n /= 2;
	if (n != t->nbuckets)
		resize(t, n);
}

static struct tracker_entry *get_or_create(struct tracker *t, const char *key, size_t len)
{
	struct tracker_entry **p = slot_of(t, key, len);
	struct tracker_entry *found = p ? *p : NULL;
	if (found)
		return found;
	if (t->count + 1 > t->nbuckets / 4 * 3) {
		grow(t);
		p = slot_of(t, key, len);
	}
	assert(p); /* there are buckets now */
	struct tracker_entry *e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		abort();
	memcpy(e->key, key, len);
	e->len = len;
	*p = e;
	t->count++;
	return e;
}

static bool in_backoff(const struct tracker_entry *e, uint64_t cycle)
{
	return e->consecutive_failures >= TRACKER_FAILURE_THRESHOLD && e->skip_until_cycle > cycle;
}

/* Keep only the entries still in backoff, as the seed's GC does. */
static void gc(struct tracker *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct tracker_entry **p = &t->buckets[i];
		while (*p) {
			if (in_backoff(*p, t->cycle)) {
				p = &(*p)->next;
				continue;
			}
			struct tracker_entry *dead = *p;
			*p = dead->next;
			free(dead);
			t->count--;
		}
	}
	shrink(t);
}

void tracker_advance_cycle(struct tracker *t)
{
	t->cycle++;
	if (t->cycle % TRACKER_GC_PERIOD == 0 && t->count > TRACKER_GC_THRESHOLD)
		gc(t);
}

/* should_skip and record_success run once per item of every drain, and the
 * tracker is empty nearly always: then neither hashes the key. */
bool tracker_should_skip(struct tracker *t, const char *key, size_t len)
{
	if (t->count == 0)
		return false;
	struct tracker_entry **p = slot_of(t, key, len);
	if (!p || !*p || (*p)->consecutive_failures < TRACKER_FAILURE_THRESHOLD)
		return false;
	if ((*p)->skip_until_cycle > t->cycle)
		return true;
	/* backoff expired: reset and give the item another chance */
	(*p)->consecutive_failures = 0;
	(*p)->skip_until_cycle = 0;
	return false;
}

bool tracker_record_failure(struct tracker *t, const char *key, size_t len)
{
	struct tracker_entry *e = get_or_create(t, key, len);
	e->consecutive_failures++;
	if (e->consecutive_failures != TRACKER_FAILURE_THRESHOLD)
		return false;
	e->skip_until_cycle = t->cycle + TRACKER_BACKOFF_CYCLES;
	return true;
}

void tracker_record_success(struct tracker *t, const char *key, size_t len)
{
	if (t->count == 0)
		return;
	struct tracker_entry **p = slot_of(t, key, len);
	if (!p || !*p)
		return;
	struct tracker_entry *dead = *p;
	*p = dead->next;
	free(dead);
	t->count--;
}

size_t tracker_size(const struct tracker *t)
{
	return t->count;
}

size_t tracker_in_backoff(const struct tracker *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (const struct tracker_entry *e = t->buckets[i]; e; e = e->next)
			n += in_backoff(e, t->cycle);
	}
	return n;
}

unsigned tracker_failures(const struct tracker *t, const char *key, size_t len)
{
	struct tracker_entry **p = slot_of(t, key, len);
	return (p && *p) ? (*p)->consecutive_failures : 0;
}
