/* slot: Redis Cluster's key slot. A key's slot is CRC16 (XMODEM) of its
 * hash tag (the text between the first '{' and the next '}', when that is
 * not empty) or of the whole key, modulo 16384. Every FlowFabric key carries
 * its partition's tag ({fp:N}, {b:N}, {q:N}): one partition, one slot. */
#ifndef SCANHOST_SLOT_H
#define SCANHOST_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

uint16_t slot_crc16(const char *buf, size_t len);
int slot_of_key(const char *key, size_t len);
/* The slot of partition p of a family's tag prefix: "{fp:7}" -> its slot. */
int slot_of_partition(const char *tag_prefix, int p);
/* The slot of a command's first key, or -1 for a command without keys
 * (TIME, PING, INFO, FUNCTION..., an EVAL/FCALL with 0 keys). lens may be
 * NULL for NUL-terminated arguments. */
int slot_of_command(int argc, const char **argv, const size_t *lens);

#endif
