/* digest: FNV-1a 64 of bytes and files. */
#include "digest.h"

#include <stdio.h>

#define FNV_PRIME 0x100000001b3ull

uint64_t digest_add(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t digest_bytes(const char *p, size_t n)
{
	return digest_add(DIGEST_SEED, p, n);
}

bool digest_add_file(uint64_t *h, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		*h = digest_add(*h, buf, n);
	bool ok = !ferror(f);
	fclose(f);
	return ok;
}
