/* Pattern fill/verify (core/pattern.c) against memset/memcmp on the same
 * buffer in the same run, and verify against a plain one-buffer read of that
 * buffer. Prints one JSON object with every round's time of every side, so
 * that bench/run.mjs can report each ratio as the median of the rounds'
 * ratios with their spread.
 *
 * Usage: pattern <MiB> <rounds> [passes [samples]]
 *   each timed sample runs `passes` passes over the buffer (for small,
 *   cache-resident buffers); within a round the sides being compared run
 *   back to back and take turns going first, `samples` times each (default
 *   3), and a side's time in the round is its fastest sample: on a shared
 *   machine the slow samples are the ones another process interrupted, so
 *   both sides see the same machine (this one is shared) and neither always
 *   finds the other's tail of the buffer in the cache.
 *        pattern sweep <rounds>
 *   fill with plain stores against fill with streaming stores at sizes from
 *   256 KiB to 256 MiB (the measurement behind core/pattern.c's streaming
 *   threshold).
 *
 * Calls go through volatile function pointers so the compiler cannot merge
 * repeated memcmp calls on unchanged buffers.
 *
 * Two baselines for verify, since they answer different questions: memcmp
 * reads two buffers (the data and a copy) where verify reads one and computes
 * the other side, so verify / memcmp favours verify by construction. The read
 * baseline reads the one buffer verify reads and does the least work per word
 * (an XOR reduction into four vector accumulators), with the instructions
 * verify's kernel has (AVX2 where pattern_isa() says avx2), so verify / read
 * says how close verify gets to reading memory on equal work. */
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

typedef uint64_t v4u64 __attribute__((vector_size(32)));
typedef v4u64 v4u64_u __attribute__((aligned(1), may_alias));

/* One pass over the buffer: every word loaded once and XORed into one of four
 * vector accumulators, 128 bytes per iteration. Four chains, not one: a
 * single accumulator measured half this speed on a cache-resident buffer,
 * which would flatter verify. The caller keeps the result live. */
#define READ_XOR_BODY                                                          \
	const unsigned char *b = buf;                                          \
	v4u64 x0 = { 0 }, x1 = { 0 }, x2 = { 0 }, x3 = { 0 };                  \
	size_t i = 0;                                                          \
	uint64_t acc, w;                                                       \
                                                                               \
	for (; i + 128 <= len; i += 128) {                                     \
		x0 ^= *(const v4u64_u *)(b + i);                               \
		x1 ^= *(const v4u64_u *)(b + i + 32);                          \
		x2 ^= *(const v4u64_u *)(b + i + 64);                          \
		x3 ^= *(const v4u64_u *)(b + i + 96);                          \
	}                                                                      \
	x0 ^= x1 ^ x2 ^ x3;                                                    \
	acc = x0[0] ^ x0[1] ^ x0[2] ^ x0[3];                                   \
	for (; i + 8 <= len; i += 8) {                                         \
		memcpy(&w, b + i, 8);                                          \
		acc ^= w;                                                      \
	}                                                                      \
	return acc;

__attribute__((noinline)) static uint64_t read_xor(const void *buf, size_t len)
{
	READ_XOR_BODY
}

#if defined(__x86_64__)
__attribute__((noinline, target("avx2"))) static uint64_t read_xor_avx2(const void *buf, size_t len)
{
	READ_XOR_BODY
}
#endif

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

static const uint64_t seed = 0x10b5eedULL, base = 0x200000000ULL;

static void print_times(const char *name, const double *t, int n, int last)
{
	printf("\"%s\": [", name);
	for (int i = 0; i < n; i++)
		printf("%s%.9f", i ? ", " : "", t[i]);
	printf("]%s", last ? "" : ", ");
}

/* Plain against streaming fill at growing sizes, alternating. */
static int sweep(int rounds)
{
	static const size_t sizes_kib[] = { 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072, 262144 };
	const size_t nsizes = sizeof(sizes_kib) / sizeof(sizes_kib[0]);
	size_t max = sizes_kib[nsizes - 1] << 10;
	unsigned char *a = aligned_alloc(4096, max);

	if (!a) {
		fprintf(stderr, "pattern bench: cannot allocate %zu MiB\n", max >> 20);
		return 2;
	}
	memset(a, 1, max);
	printf("{\"isa\": \"%s\", \"nt_threshold\": %zu, \"sizes\": [", pattern_isa(), pattern_nt_threshold());
	for (size_t s = 0; s < nsizes; s++) {
		size_t len = sizes_kib[s] << 10;
		/* Enough passes for some 256 MiB of stores per sample. */
		int passes = (int)((max / len) < 1 ? 1 : max / len);
		double *plain = calloc((size_t)rounds, sizeof(double)), *stream = calloc((size_t)rounds, sizeof(double));

		if (!plain || !stream)
			return 2;
		for (int r = 0; r < rounds; r++) {
			for (int k = 0; k < 2; k++) {
				int streaming = (k + r) % 2;

				pattern_set_nt_threshold(streaming ? 8 : (size_t)-1);
				double t0 = now();
				for (int p = 0; p < passes; p++)
					do_fill(a, len, seed, base + (uint64_t)p * 8);
				(streaming ? stream : plain)[r] = now() - t0;
			}
		}
		printf("%s{\"bytes\": %zu, \"passes\": %d, ", s ? ", " : "", len, passes);
		print_times("plain", plain, rounds, 0);
		print_times("stream", stream, rounds, 1);
		printf("}");
		free(plain);
		free(stream);
	}
	pattern_set_nt_threshold(0);
	printf("]}\n");
	free(a);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "sweep") == 0)
		return sweep(argc > 2 ? atoi(argv[2]) : 5);

	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int rounds = argc > 2 ? atoi(argv[2]) : 9;
	int passes = argc > 3 ? atoi(argv[3]) : 1;
	int samples = argc > 4 ? atoi(argv[4]) : 3;
	size_t len = mib << 20;
	unsigned char *a = aligned_alloc(4096, len), *b = aligned_alloc(4096, len);
	double *tv = calloc((size_t)rounds + 1, sizeof(double)), *tr = calloc((size_t)rounds + 1, sizeof(double));
	double *tc = calloc((size_t)rounds + 1, sizeof(double)), *tf = calloc((size_t)rounds + 1, sizeof(double));
	double *ts = calloc((size_t)rounds + 1, sizeof(double));
	struct pattern_mismatch m;
	uint64_t sum = 0, sum0, reads = 0;
	int bad = 0;

	if (!a || !b || !tv || !tr || !tc || !tf || !ts || rounds < 1 || passes < 1 || samples < 1) {
		fprintf(stderr, "pattern bench: cannot allocate 2 x %zu MiB\n", mib);
		return 2;
	}
#if defined(__x86_64__)
	if (strcmp(pattern_isa(), "avx2") == 0)
		do_read = read_xor_avx2;
#endif
	do_fill(a, len, seed, base);
	memcpy(b, a, len);
	sum0 = do_read(a, len); /* untimed: what every read pass must return */
	/* Round 0 warms up (page tables, frequency) and is not reported. */
	for (int r = 0; r <= rounds; r++) {
		tv[r] = tr[r] = tc[r] = tf[r] = ts[r] = 1e30;
		for (int q = 0; q < samples; q++) {
			for (int k = 0; k < 2; k++) {
				double s0 = now(), t;

				if ((k + r + q) % 2 == 0) {
					for (int p = 0; p < passes; p++)
						bad |= do_verify(a, len, seed, base, &m);
					t = now() - s0;
					tv[r] = t < tv[r] ? t : tv[r];
				} else {
					for (int p = 0; p < passes; p++)
						sum ^= do_read(a, len);
					t = now() - s0;
					tr[r] = t < tr[r] ? t : tr[r];
				}
			}
			reads += passes;
			double t2 = now();
			for (int p = 0; p < passes; p++)
				bad |= do_memcmp(a, b, len) != 0;
			double t3 = now() - t2;
			tc[r] = t3 < tc[r] ? t3 : tc[r];
			for (int k = 0; k < 2; k++) {
				double s0 = now(), t;

				if ((k + r + q) % 2 == 0) {
					for (int p = 0; p < passes; p++)
						do_fill(a, len, seed, base);
					t = now() - s0;
					tf[r] = t < tf[r] ? t : tf[r];
				} else {
					for (int p = 0; p < passes; p++)
						do_memset(b, r + p, len);
					t = now() - s0;
					ts[r] = t < ts[r] ? t : ts[r];
				}
			}
			memcpy(b, a, len); /* untimed: memcmp compares equal buffers again */
		}
	}
	if (bad) {
		fprintf(stderr, "pattern bench: verify or memcmp found a difference in equal buffers\n");
		return 1;
	}
	/* The read's result is used: `reads` XORs of sum0 (0 for an even count). */
	if (sum != (reads % 2 ? sum0 : 0)) {
		fprintf(stderr, "pattern bench: the read pass returned a different XOR of an unchanged buffer\n");
		return 1;
	}
	printf("{\"bytes\": %zu, \"rounds\": %d, \"passes\": %d, \"samples\": %d, \"isa\": \"%s\", \"nt_threshold\": %zu, ",
	       len, rounds, passes, samples, pattern_isa(), pattern_nt_threshold());
	print_times("verify", tv + 1, rounds, 0);
	print_times("read", tr + 1, rounds, 0);
	print_times("memcmp", tc + 1, rounds, 0);
	print_times("fill", tf + 1, rounds, 0);
	print_times("memset", ts + 1, rounds, 1);
	printf("}\n");
	free(a);
	free(b);
	return 0;
}
