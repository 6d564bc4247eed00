/* Pattern fill/verify (native/mem.c) against memset/memcmp on the same
 * buffer in the same run. Prints one JSON object.
 * Usage: pattern <MiB> <reps> [passes]: each timed sample runs `passes`
 * passes over the buffer (for small, cache-resident buffers).
 *
 * Each figure is the best of <reps> timed passes (the least disturbed by the
 * other work on the machine), with the two sides interleaved so that both see
 * the same conditions. Calls go through volatile function pointers so the
 * compiler cannot merge repeated memcmp calls on unchanged buffers. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iovh.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef int (*memcmp_fn)(const void *, const void *, size_t);
typedef void *(*memset_fn)(void *, int, size_t);
typedef int (*verify_fn)(const void *, size_t, uint64_t, uint64_t, struct pattern_mismatch *);
typedef void (*fill_fn)(void *, size_t, uint64_t, uint64_t);

static memcmp_fn volatile do_memcmp = memcmp;
static memset_fn volatile do_memset = memset;
static verify_fn volatile do_verify = pattern_verify;
static fill_fn volatile do_fill = pattern_fill;

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int reps = argc > 2 ? atoi(argv[2]) : 8;
	int passes = argc > 3 ? atoi(argv[3]) : 1;
	size_t len = mib << 20;
	const uint64_t seed = 0x10b5eedULL, base = 0x200000000ULL;
	unsigned char *a = aligned_alloc(4096, len), *b = aligned_alloc(4096, len);
	double best_verify = 1e9, best_memcmp = 1e9, best_fill = 1e9, best_memset = 1e9;
	struct pattern_mismatch m;
	int bad = 0;

	if (!a || !b || reps < 1 || passes < 1) {
		fprintf(stderr, "pattern bench: cannot allocate 2 x %zu MiB\n", mib);
		return 2;
	}
	do_fill(a, len, seed, base);
	memcpy(b, a, len);
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		for (int p = 0; p < passes; p++)
			bad |= do_verify(a, len, seed, base, &m);
		double t1 = now();
		for (int p = 0; p < passes; p++)
			bad |= do_memcmp(a, b, len) != 0;
		double t2 = now();
		for (int p = 0; p < passes; p++)
			do_fill(a, len, seed, base);
		double t3 = now();
		for (int p = 0; p < passes; p++)
			do_memset(b, r + p, len);
		double t4 = now();
		memcpy(b, a, len); /* untimed: memcmp compares equal buffers again */

		if (t1 - t0 < best_verify)
			best_verify = t1 - t0;
		if (t2 - t1 < best_memcmp)
			best_memcmp = t2 - t1;
		if (t3 - t2 < best_fill)
			best_fill = t3 - t2;
		if (t4 - t3 < best_memset)
			best_memset = t4 - t3;
	}
	if (bad) {
		fprintf(stderr, "pattern bench: verify or memcmp found a difference in equal buffers\n");
		return 1;
	}
	double bytes = (double)len * passes;

	printf("{\"bytes\": %zu, \"reps\": %d, \"passes\": %d, \"verify_gbps\": %.3f, \"memcmp_gbps\": %.3f, "
	       "\"fill_gbps\": %.3f, \"memset_gbps\": %.3f}\n",
	       len, reps, passes, bytes / best_verify / 1e9, bytes / best_memcmp / 1e9, bytes / best_fill / 1e9,
	       bytes / best_memset / 1e9);
	free(a);
	free(b);
	return 0;
}
