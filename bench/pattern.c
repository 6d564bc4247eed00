/* Pattern fill/verify (core/mem.c) against memset/memcmp on the same
 * buffer in the same run, and verify against a plain one-buffer read of that
 * buffer. Prints one JSON object.
 * Usage: pattern <MiB> <reps> [passes]: each timed sample runs `passes`
 * passes over the buffer (for small, cache-resident buffers).
 *
 * Each figure is the best of <reps> timed passes (the least disturbed by the
 * other work on the machine), with the two sides interleaved so that both see
 * the same conditions. Calls go through volatile function pointers so the
 * compiler cannot merge repeated memcmp calls on unchanged buffers.
 *
 * Two baselines for verify, since they answer different questions: memcmp
 * reads two buffers (the data and a copy) where verify reads one and computes
 * the other side, so verify / memcmp favours verify by construction. The read
 * baseline reads the one buffer verify reads and does the least work per word
 * (an XOR reduction), built like pattern_verify (-O3, the same target_clones),
 * so verify / read says how close verify gets to reading memory on equal work. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iovh.h"

/* As core/mem.c builds pattern_verify: AVX2 where the CPU has it. */
#if defined(__x86_64__) && !defined(IOVH_NO_CLONES) && !defined(__SANITIZE_ADDRESS__)
#define BENCH_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BENCH_CLONES
#endif

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef uint64_t v4u64 __attribute__((vector_size(32)));
typedef v4u64 v4u64_u __attribute__((aligned(1), may_alias));

/* One pass over the buffer: every word loaded once and XORed into one of four
 * vector accumulators, 128 bytes per iteration (in GCC vector types, as
 * core/mem.c writes verify). Four chains, not one: a single accumulator
 * measured half this speed on a cache-resident buffer, which would flatter
 * verify. The caller keeps the result live. */
BENCH_CLONES __attribute__((noinline)) static uint64_t read_xor(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	v4u64 x0 = { 0 }, x1 = { 0 }, x2 = { 0 }, x3 = { 0 };
	size_t i = 0;
	uint64_t acc, w;

	for (; i + 128 <= len; i += 128) {
		x0 ^= *(const v4u64_u *)(b + i);
		x1 ^= *(const v4u64_u *)(b + i + 32);
		x2 ^= *(const v4u64_u *)(b + i + 64);
		x3 ^= *(const v4u64_u *)(b + i + 96);
	}
	x0 ^= x1 ^ x2 ^ x3;
	acc = x0[0] ^ x0[1] ^ x0[2] ^ x0[3];
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, b + i, 8);
		acc ^= w;
	}
	return acc;
}

typedef uint64_t (*read_fn)(const void *, size_t);
typedef int (*memcmp_fn)(const void *, const void *, size_t);
typedef void *(*memset_fn)(void *, int, size_t);
typedef int (*verify_fn)(const void *, size_t, uint64_t, uint64_t, struct pattern_mismatch *);
typedef void (*fill_fn)(void *, size_t, uint64_t, uint64_t);

static read_fn volatile do_read = read_xor;
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
	double best_verify = 1e9, best_read = 1e9, best_memcmp = 1e9, best_fill = 1e9, best_memset = 1e9;
	struct pattern_mismatch m;
	uint64_t sum = 0, sum0;
	int bad = 0;

	if (!a || !b || reps < 1 || passes < 1) {
		fprintf(stderr, "pattern bench: cannot allocate 2 x %zu MiB\n", mib);
		return 2;
	}
	do_fill(a, len, seed, base);
	memcpy(b, a, len);
	sum0 = do_read(a, len); /* untimed: what every read pass must return */
	for (int r = 0; r < reps; r++) {
		/* Verify and the read take turns going first, so neither always
		 * finds the other's tail of the buffer in the cache. */
		double tv = 1e9, tr = 1e9;

		for (int k = 0; k < 2; k++) {
			double s0 = now();

			if ((k + r) % 2 == 0) {
				for (int p = 0; p < passes; p++)
					bad |= do_verify(a, len, seed, base, &m);
				tv = now() - s0;
			} else {
				for (int p = 0; p < passes; p++)
					sum ^= do_read(a, len);
				tr = now() - s0;
			}
		}
		double t2 = now();
		for (int p = 0; p < passes; p++)
			bad |= do_memcmp(a, b, len) != 0;
		double t3 = now();
		for (int p = 0; p < passes; p++)
			do_fill(a, len, seed, base);
		double t4 = now();
		for (int p = 0; p < passes; p++)
			do_memset(b, r + p, len);
		double t5 = now();
		memcpy(b, a, len); /* untimed: memcmp compares equal buffers again */

		if (tv < best_verify)
			best_verify = tv;
		if (tr < best_read)
			best_read = tr;
		if (t3 - t2 < best_memcmp)
			best_memcmp = t3 - t2;
		if (t4 - t3 < best_fill)
			best_fill = t4 - t3;
		if (t5 - t4 < best_memset)
			best_memset = t5 - t4;
	}
	if (bad) {
		fprintf(stderr, "pattern bench: verify or memcmp found a difference in equal buffers\n");
		return 1;
	}
	/* The read's result is used: reps x passes XORs of sum0 (0 for an even count). */
	if (sum != (((uint64_t)reps * passes) % 2 ? sum0 : 0)) {
		fprintf(stderr, "pattern bench: the read pass returned a different XOR of an unchanged buffer\n");
		return 1;
	}
	double bytes = (double)len * passes;

	printf("{\"bytes\": %zu, \"reps\": %d, \"passes\": %d, \"verify_gbps\": %.3f, \"read_gbps\": %.3f, "
	       "\"memcmp_gbps\": %.3f, \"fill_gbps\": %.3f, \"memset_gbps\": %.3f}\n",
	       len, reps, passes, bytes / best_verify / 1e9, bytes / best_read / 1e9, bytes / best_memcmp / 1e9,
	       bytes / best_fill / 1e9, bytes / best_memset / 1e9);
	free(a);
	free(b);
	return 0;
}
