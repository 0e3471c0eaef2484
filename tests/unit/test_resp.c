/* RESP command encoding (core/resp.c): byte for byte what hiredis's
 * redisFormatCommandArgv writes, for empty, binary, long and many
 * arguments and C strings without lengths, and the size it announces is the size it writes. */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "resp.h"
#include "unit.h"

/* Encodes argv both ways; true when the bytes match and the announced size
 * is exactly what was written (a guard byte after it stays untouched). */
static int same_as_hiredis(int argc, const char **argv, const size_t *lens)
{
	char *want = NULL;
	int wlen = redisFormatCommandArgv(&want, argc, argv, lens);
	size_t size = resp_command_size(argc, argv, lens);
	char *got = malloc(size + 1);
	if (wlen < 0 || !got) {
		free(got);
		redisFreeCommand(want);
		return 0;
	}
	got[size] = '#';
	resp_write_command(got, argc, argv, lens);
	int ok = (size_t)wlen == size && memcmp(want, got, size) == 0 && got[size] == '#';
	free(got);
	redisFreeCommand(want);
	return ok;
}

static void small_commands(void)
{
	const char *ping[] = { "PING" };
	size_t ping_len[] = { 4 };
	CHECK(same_as_hiredis(1, ping, ping_len));
	CHECK(resp_command_size(1, ping, ping_len) == strlen("*1\r\n$4\r\nPING\r\n"));

	const char *empty[] = { "SET", "k", "" };
	size_t empty_len[] = { 3, 1, 0 };
	CHECK(same_as_hiredis(3, empty, empty_len));

	const char *binary[] = { "SET", "a\0b", "\r\n$3\r\n" };
	size_t binary_len[] = { 3, 3, 7 };
	CHECK(same_as_hiredis(3, binary, binary_len));

	CHECK(same_as_hiredis(0, NULL, NULL));

	/* no lengths: C strings, as hiredis takes them */
	const char *hello[] = { "HELLO", "3", "AUTH", "default", "" };
	CHECK(same_as_hiredis(5, hello, NULL));
}

/* lengths across digit boundaries: 9/10, 99/100, 999/1000, 1e6 */
static void long_arguments(void)
{
	static const size_t sizes[] = { 9, 10, 99, 100, 999, 1000, 1000000 };
	char *big = malloc(1000000);
	if (!big) {
		CHECK(!"out of memory");
		return;
	}
	memset(big, 'x', 1000000);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *argv[] = { "SET", "k", big };
		size_t lens[] = { 3, 1, sizes[i] };
		CHECK(same_as_hiredis(3, argv, lens));
	}
	free(big);
}

/* a batch FCALL's worth: thousands of arguments, argc across 4 digits */
static void many_arguments(void)
{
	enum { N = 12345 };
	const char **argv = malloc(N * sizeof(*argv));
	size_t *lens = malloc(N * sizeof(*lens));
	if (!argv || !lens) {
		CHECK(!"out of memory");
		free(argv);
		free(lens);
		return;
	}
	static const char text[] =
	    "ff:exec:{fp:1}:{fp:1}:00000000-0000-4000-8000-000000000001:core";
	for (int i = 0; i < N; i++) {
		argv[i] = text;
		lens[i] = (size_t)i % sizeof(text);
	}
	CHECK(same_as_hiredis(N, argv, lens));
	CHECK(same_as_hiredis(10, argv, lens));
	free(argv);
	free(lens);
}

static void overflow_refused(void)
{
	size_t lens[] = { (size_t)-1 - 3 };
	CHECK(resp_command_size(1, NULL, lens) == (size_t)-1);
	size_t two[] = { (size_t)-1 / 2, (size_t)-1 / 2 };
	CHECK(resp_command_size(2, NULL, two) == (size_t)-1);
}

int main(void)
{
	small_commands();
	long_arguments();
	many_arguments();
	overflow_refused();
	UNIT_DONE();
}
