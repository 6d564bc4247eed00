/* The data pattern of src/uapi/pattern.ts, at memory speed.
 *
 * The little-endian u64 at absolute address A (A % 8 == 0) is
 *     ((A >> 3) * K + s1) ^ s2,  K = 0x9E3779B97F4A7C15,
 *     s1 = splitmix64(seed), s2 = splitmix64(s1).
 * Before the xor the words form an arithmetic progression (each adds K), so
 * a vector lane needs one add and one xor per word and no multiply (AVX2 has
 * no 64-bit one): lane j of a vector starting at word i holds p + j*K and
 * steps by (lanes * unroll) * K.
 *
 * Kernels per instruction set, picked once at run time (the build targets
 * baseline x86-64 and runs on any of it): AVX2 where the CPU and the OS
 * (XSAVE of the YMM state) have it, SSE2 otherwise (every x86-64 has SSE2),
 * and a portable one in GCC vector types (other architectures; selectable on
 * x86-64 so that tests cover it). pattern_select() forces one.
 *
 * Fill of a buffer of at least pattern_nt_threshold() bytes uses
 * non-temporal stores: a plain store first reads the line it writes (read
 * for ownership), so plain stores move twice the bytes a streaming store
 * does once the buffer no longer fits in the cache. The default, 16 MiB, is
 * where streaming started to win in bench/pattern.c's sweep (refilling one
 * buffer, the case plain stores are best at: 0.77-0.98x plain at 8 MiB,
 * 1.07-1.14x at 16 MiB, 1.5-2.2x at 32 MiB, 2.0-3.3x at 256 MiB). They need an aligned destination: a
 * scalar head of at most 3 words brings an 8-byte-aligned pointer to 32
 * bytes; a pointer that is not 8-byte aligned (a Uint8Array view at an odd
 * offset) takes plain unaligned stores. A scalar tail finishes every kernel.
 *
 * Verify xors each loaded word with its expected value and ORs the results
 * over 256-byte blocks, prefetching 2 KiB ahead (VERIFY_PREFETCH); only a
 * block with a difference is rescanned word by word (in common code, from
 * the formula) to report the first mismatch. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "iovh.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PATTERN_X86 1
#endif

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the pattern's words are little-endian in memory");

#define PATTERN_K 0x9E3779B97F4A7C15ULL

/* Words per verify block: 256 bytes between checks for a difference. */
#define VERIFY_BLOCK 32

/* Verify prefetches this far ahead of its loads. With four vector
 * instructions around every load, the out-of-order window holds a quarter of
 * the loads a plain read keeps in flight, and the hardware prefetcher alone
 * did not make up for it: verify ran at 0.72-0.80x a one-buffer read of
 * 64-256 MiB, and at 0.98-1.1x with prefetches 1-4 KiB ahead (2 KiB here;
 * 512 bytes was not enough). A prefetch never faults, past the end of the
 * buffer or on memory that lost its backing. */
#define VERIFY_PREFETCH 2048

/* Default size from which fill streams past the cache (see the head comment). */
#define PATTERN_NT_DEFAULT ((size_t)16 << 20)

uint64_t pattern_splitmix64(uint64_t x)
{
	uint64_t z = x + PATTERN_K;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void pattern_seeds(uint64_t seed, uint64_t *s1, uint64_t *s2)
{
	*s1 = pattern_splitmix64(seed);
	*s2 = pattern_splitmix64(*s1);
}

uint64_t pattern_word(uint64_t seed, uint64_t address)
{
	uint64_t s1, s2;

	pattern_seeds(seed, &s1, &s2);
	return ((address >> 3) * PATTERN_K + s1) ^ s2;
}

/* n words from the progression p (before the xor with x); returns the next p. */
static inline uint64_t fill_words(unsigned char *b, size_t n, uint64_t p, uint64_t x)
{
	for (size_t i = 0; i < n; i++, p += PATTERN_K) {
		uint64_t w = p ^ x;

		memcpy(b + 8 * i, &w, 8);
	}
	return p;
}

/* A kernel fills `n` words at `b` from p, or returns the index of the first
 * block (of VERIFY_BLOCK words) with a difference, or where its whole blocks
 * end; the common code checks the rest word by word. */
struct pattern_kernels {
	const char *name;
	void (*fill)(unsigned char *b, size_t n, uint64_t p, uint64_t x, int stream);
	size_t (*verify)(const unsigned char *b, size_t n, uint64_t p, uint64_t x);
};

/* ------------------------------------------------------------------ portable */

typedef uint64_t v4u64 __attribute__((vector_size(32)));
/* Unaligned, aliasing-safe views: a buffer need not be aligned at all. */
typedef v4u64 v4u64_u __attribute__((aligned(1), may_alias));

static void fill_generic(unsigned char *b, size_t n, uint64_t p, uint64_t x, int stream)
{
	size_t i = 0;

	(void)stream;
	if (n >= 8) {
		const v4u64 vx = { x, x, x, x };
		const v4u64 step = { 8 * PATTERN_K, 8 * PATTERN_K, 8 * PATTERN_K, 8 * PATTERN_K };
		v4u64 lo = { p, p + PATTERN_K, p + 2 * PATTERN_K, p + 3 * PATTERN_K };
		v4u64 hi = lo + 4 * PATTERN_K;

		for (; i + 8 <= n; i += 8) {
			*(v4u64_u *)(b + 8 * i) = lo ^ vx;
			*(v4u64_u *)(b + 8 * i + 32) = hi ^ vx;
			lo += step;
			hi += step;
		}
		p += i * PATTERN_K;
	}
	fill_words(b + 8 * i, n - i, p, x);
}

static size_t verify_generic(const unsigned char *b, size_t n, uint64_t p, uint64_t x)
{
	const v4u64 vx = { x, x, x, x };
	const v4u64 step = { 8 * PATTERN_K, 8 * PATTERN_K, 8 * PATTERN_K, 8 * PATTERN_K };
	v4u64 lo = { p, p + PATTERN_K, p + 2 * PATTERN_K, p + 3 * PATTERN_K };
	v4u64 hi = lo + 4 * PATTERN_K;
	size_t i = 0;

	for (; i + VERIFY_BLOCK <= n; i += VERIFY_BLOCK) {
		v4u64 diff = { 0, 0, 0, 0 };

		for (size_t l = 0; l < 8 * VERIFY_BLOCK; l += 64)
			__builtin_prefetch(b + 8 * i + VERIFY_PREFETCH + l);

		for (size_t j = 0; j < VERIFY_BLOCK; j += 8) {
			diff |= *(const v4u64_u *)(b + 8 * (i + j)) ^ (lo ^ vx);
			diff |= *(const v4u64_u *)(b + 8 * (i + j) + 32) ^ (hi ^ vx);
			lo += step;
			hi += step;
		}
		if (diff[0] | diff[1] | diff[2] | diff[3])
			break;
	}
	return i;
}

#if PATTERN_X86
/* ------------------------------------------------------------------ SSE2 and AVX2
 * One body for both (core/pattern_vector.h), included once per vector width. */

/* SSE2: the x86-64 baseline. */
#define VEC __m128i
#define VEC_LANES 2
#define VEC_TARGET
#define VEC_NAME(f) f##_sse2
#define VEC_MM(op) _mm_##op
#define VEC_SI(op) _mm_##op##_si128
#define VEC_PROGRESSION(p) _mm_set_epi64x((long long)((p) + PATTERN_K), (long long)(p))
/* SSE2 has no PTEST: not all 16 bytes equal to zero. */
#define VEC_ANY(v) (_mm_movemask_epi8(_mm_cmpeq_epi8((v), _mm_setzero_si128())) != 0xffff)
#include "pattern_vector.h"

/* AVX2, where the CPU and the OS have it (kernel_usable). */
#define VEC __m256i
#define VEC_LANES 4
#define VEC_TARGET __attribute__((target("avx2")))
#define VEC_NAME(f) f##_avx2
#define VEC_MM(op) _mm256_##op
#define VEC_SI(op) _mm256_##op##_si256
#define VEC_PROGRESSION(p)                                                                           \
	_mm256_setr_epi64x((long long)(p), (long long)((p) + PATTERN_K), (long long)((p) + 2 * PATTERN_K), \
			   (long long)((p) + 3 * PATTERN_K))
#define VEC_ANY(v) (!_mm256_testz_si256((v), (v)))
#include "pattern_vector.h"
#endif

/* ------------------------------------------------------------------ dispatch */

static const struct pattern_kernels kernels[] = {
#if PATTERN_X86
	{ "avx2", fill_avx2, verify_avx2 },
	{ "sse2", fill_sse2, verify_sse2 },
#endif
	{ "generic", fill_generic, verify_generic },
};
#define NKERNELS (sizeof(kernels) / sizeof(kernels[0]))

static int kernel_usable(const struct pattern_kernels *k)
{
#if PATTERN_X86
	if (k->fill == fill_avx2) {
		/* libgcc checks the CPUID bit and that the OS saves the YMM state (XGETBV). */
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2");
	}
#endif
	(void)k;
	return 1;
}

/* The kernels in use and the streaming threshold. Written by
 * pattern_select/pattern_set_nt_threshold (tests and benchmarks) and on first
 * use; every writer stores the same or a deliberately chosen value, so
 * relaxed atomics suffice. */
static const struct pattern_kernels *current;
static size_t nt_threshold = PATTERN_NT_DEFAULT;

static const struct pattern_kernels *pattern_kernels(void)
{
	const struct pattern_kernels *k = __atomic_load_n(&current, __ATOMIC_RELAXED);

	if (__builtin_expect(k != NULL, 1))
		return k;
	for (size_t i = 0; i < NKERNELS; i++) {
		if (kernel_usable(&kernels[i])) {
			k = &kernels[i];
			break;
		}
	}
	__atomic_store_n(&current, k, __ATOMIC_RELAXED);
	return k;
}

const char *pattern_isa(void)
{
	return pattern_kernels()->name;
}

const char *pattern_isa_available(size_t i)
{
	for (size_t j = 0; j < NKERNELS; j++) {
		if (!kernel_usable(&kernels[j]))
			continue;
		if (i-- == 0)
			return kernels[j].name;
	}
	return NULL;
}

int pattern_select(const char *name)
{
	for (size_t i = 0; i < NKERNELS; i++) {
		if (name ? strcmp(kernels[i].name, name) != 0 : !kernel_usable(&kernels[i]))
			continue;
		if (!kernel_usable(&kernels[i]))
			return -ENOTSUP;
		__atomic_store_n(&current, &kernels[i], __ATOMIC_RELAXED);
		return 0;
	}
	return -EINVAL;
}

size_t pattern_nt_threshold(void)
{
	return __atomic_load_n(&nt_threshold, __ATOMIC_RELAXED);
}

void pattern_set_nt_threshold(size_t bytes)
{
	__atomic_store_n(&nt_threshold, bytes ? bytes : PATTERN_NT_DEFAULT, __ATOMIC_RELAXED);
}

void pattern_fill(void *buf, size_t len, uint64_t seed, uint64_t address)
{
	uint64_t s1, s2;

	pattern_seeds(seed, &s1, &s2);
	pattern_kernels()->fill(buf, len / 8, (address >> 3) * PATTERN_K + s1, s2, len >= pattern_nt_threshold());
}

int pattern_verify(const void *buf, size_t len, uint64_t seed, uint64_t address, struct pattern_mismatch *out)
{
	const unsigned char *b = buf;
	size_t n = len / 8, i;
	uint64_t s1, s2, word0 = address >> 3;

	pattern_seeds(seed, &s1, &s2);
	i = pattern_kernels()->verify(b, n, word0 * PATTERN_K + s1, s2);
	/* The tail, or the block that differs: word by word from the formula. */
	for (; i < n; i++) {
		uint64_t expected = ((word0 + i) * PATTERN_K + s1) ^ s2;
		uint64_t actual;

		memcpy(&actual, b + 8 * i, 8);
		if (actual != expected) {
			out->offset = (uint64_t)i * 8;
			out->expected = expected;
			out->actual = actual;
			return 1;
		}
	}
	return 0;
}
