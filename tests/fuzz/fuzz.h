/*
 * fuzz.h: what the fuzz targets share. A target is one file,
 * tests/fuzz/fuzz_<target>.c, defining LLVMFuzzerTestOneInput; CMake
 * builds it with libFuzzer (-DSNAPFS_FUZZ=ON, clang) or with replay.c
 * (every other build, where ctest replays its corpus and regression
 * inputs). See tests/fuzz/README.md.
 *
 * FUZZ_CHECK is the targets' assert: a broken property aborts in every
 * build type (NDEBUG or not), which libFuzzer and ctest both see as a
 * crash.
 */
#ifndef SNAPFS_FUZZ_H
#define SNAPFS_FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__,        \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated malloc'ed copy of the input (for text parsers). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
