/* digest: FNV-1a 64 of bytes and files. Scripts and the function library
 * are identified by the digest of their text: a reload acts only on what
 * changed. */
#ifndef SCANHOST_DIGEST_H
#define SCANHOST_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_SEED 0xcbf29ce484222325ull /* the digest of nothing */

uint64_t digest_bytes(const char *p, size_t n);
/* Folds more bytes, or a file's bytes, into a digest h (start: DIGEST_SEED).
 * digest_add_file is false if the file cannot be read. */
uint64_t digest_add(uint64_t h, const char *p, size_t n);
bool digest_add_file(uint64_t *h, const char *path);

#endif
