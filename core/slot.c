/* slot: CRC16/XMODEM (polynomial 0x1021, initial 0) and hash tags, as the
 * Redis Cluster specification defines them. */
#include "slot.h"

#include <stdio.h>
#include <string.h>

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
