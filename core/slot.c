/* slot: CRC16/XMODEM (polynomial 0x1021, initial 0) and hash tags, as the
 * Redis Cluster specification defines them. */
#include "slot.h"

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bitwise CRC: slots are computed once per command, on short keys. */
uint16_t slot_crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)((uint8_t)buf[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
	}
	return crc;
}

int slot_of_key(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);
	if (open) {
		size_t from = (size_t)(open - key) + 1;
		const char *close = memchr(open + 1, '}', len - from);
		if (close && close > open + 1) /* "{}" is no tag: the whole key counts */
			return slot_crc16(open + 1, (size_t)(close - open - 1)) & (SLOT_COUNT - 1);
	}
	return slot_crc16(key, len) & (SLOT_COUNT - 1);
}

int slot_of_partition(const char *tag_prefix, int p)
{
	char tag[48];
	int n = snprintf(tag, sizeof(tag), "{%s:%d}", tag_prefix, p);
	return slot_of_key(tag, (size_t)n);
}

/* Commands whose first argument is not a key. */
static const char *const keyless[] = {
	"TIME",   "PING",     "ECHO",   "INFO",     "FUNCTION", "SCRIPT",    "CLUSTER",
	"DBSIZE", "COMMAND",  "CLIENT", "CONFIG",   "SCAN",     "MULTI",     "EXEC",
	"WAIT",   "LASTSAVE", "ASKING", "READONLY", "HELLO",    "AUTH",      "SELECT",
	"ACL",    "SLOWLOG",  "MEMORY", "LATENCY",  "DISCARD",  "RANDOMKEY",
};

/* EVAL-like commands: KEYS start at argument 3, their count at argument 2. */
static const char *const scripted[] = {
	"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO",
};

static bool listed(const char *cmd, size_t len, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(names[i]) == len && strncasecmp(cmd, names[i], len) == 0)
			return true;
	}
	return false;
}

int slot_of_command(int argc, const char **argv, const size_t *lens)
{
#define ARGLEN(i) (lens ? lens[i] : strlen(argv[i]))
	if (argc < 2)
		return -1;
	size_t n = ARGLEN(0);
	if (listed(argv[0], n, keyless, sizeof(keyless) / sizeof(keyless[0])))
		return -1;
	if (!listed(argv[0], n, scripted, sizeof(scripted) / sizeof(scripted[0])))
		return slot_of_key(argv[1], ARGLEN(1));
	char count[24];
	if (argc < 4 || ARGLEN(2) >= sizeof(count))
		return -1;
	size_t cn = ARGLEN(2);
	memcpy(count, argv[2], cn);
	count[cn] = '\0';
	return strtol(count, NULL, 10) > 0 ? slot_of_key(argv[3], ARGLEN(3)) : -1;
#undef ARGLEN
}
