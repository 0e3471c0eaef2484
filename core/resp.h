/* resp: the RESP encoding of one command, as hiredis's redisFormatCommandArgv
 * writes it ("*<argc>\r\n" then "$<len>\r\n<bytes>\r\n" per argument), sized
 * first so that it is written straight into a connection's output buffer. */
#ifndef SCANHOST_RESP_H
#define SCANHOST_RESP_H

#include <stddef.h>

/* Bytes of the encoding; SIZE_MAX when it would not fit in a size_t.
 * argvlen NULL: every argument is a C string (as with hiredis). */
size_t resp_command_size(int argc, const char **argv, const size_t *argvlen);
/* Writes exactly resp_command_size(argc, argv, argvlen) bytes to out. */
void resp_write_command(char *out, int argc, const char **argv, const size_t *argvlen);

#endif
