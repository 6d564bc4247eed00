/* The pattern's fill and verify kernels for one x86 vector width, written
 * once and included by core/pattern.c once per instruction set (SSE2, AVX2)
 * with these defined:
 *   VEC            the vector type (__m128i, __m256i)
 *   VEC_LANES      64-bit words per vector (2, 4)
 *   VEC_TARGET     the function attribute that enables the instruction set
 *   VEC_NAME(f)    the kernel's name: f##_sse2, f##_avx2
 *   VEC_MM(op)     the instruction set's _mm*_<op> (set1_epi64x, add_epi64)
 *   VEC_SI(op)     its whole-register _mm*_<op>_si128/_si256 (xor, or,
 *                  loadu, storeu, stream, setzero)
 *   VEC_PROGRESSION(p)  lane j = p + j*K
 *   VEC_ANY(v)     nonzero when any bit of v is set
 * and undefines them at its end. core/pattern.c's head comment has the formula,
 * the streaming threshold and the verify block; the scalar head and tail
 * and the word-by-word rescan are shared there (fill_words, pattern_verify).
 *
 * A loop step covers 4 vectors (4 * VEC_LANES words): four independent add
 * chains v0..v3, each stepping by 4 * VEC_LANES * K. */

/* Every lane x. */
#define VEC_SPLAT(x) VEC_MM(set1_epi64x)((long long)(x))

/* The xor word vx and the four chains from p (before the xor), and one step of all four. */
#define VEC_CHAINS(p)                                                                   \
	const VEC vx = VEC_SPLAT(x);                                                    \
	const VEC step = VEC_SPLAT(4 * VEC_LANES * PATTERN_K);                          \
	VEC v0 = VEC_PROGRESSION(p);                                                    \
	VEC v1 = VEC_MM(add_epi64)(v0, VEC_SPLAT(VEC_LANES * PATTERN_K));               \
	VEC v2 = VEC_MM(add_epi64)(v0, VEC_SPLAT(2 * VEC_LANES * PATTERN_K));           \
	VEC v3 = VEC_MM(add_epi64)(v0, VEC_SPLAT(3 * VEC_LANES * PATTERN_K))
#define VEC_ADVANCE()                                                                   \
	do {                                                                            \
		v0 = VEC_MM(add_epi64)(v0, step);                                       \
		v1 = VEC_MM(add_epi64)(v1, step);                                       \
		v2 = VEC_MM(add_epi64)(v2, step);                                       \
		v3 = VEC_MM(add_epi64)(v3, step);                                       \
	} while (0)

/* Fills n words at b from the progression p (before the xor with x). */
VEC_TARGET static void VEC_NAME(fill)(unsigned char *b, size_t n, uint64_t p, uint64_t x, int stream)
{
	size_t i = 0;

	/* Streaming stores need an aligned destination: a scalar head brings an
	 * 8-byte-aligned pointer to the vector's alignment; any other pointer
	 * takes plain unaligned stores. */
	stream = stream && ((uintptr_t)b & 7) == 0;
	if (stream) {
		size_t head = ((sizeof(VEC) - ((uintptr_t)b & (sizeof(VEC) - 1))) & (sizeof(VEC) - 1)) / 8;

		head = head < n ? head : n;
		p = fill_words(b, head, p, x);
		i = head;
	}
	if (n - i >= 4 * VEC_LANES) {
		VEC_CHAINS(p);
		size_t start = i;

/* One loop per store kind, so that neither carries a branch per step. */
#define VEC_FILL_LOOP(store)                                                            \
	for (; i + 4 * VEC_LANES <= n; i += 4 * VEC_LANES) {                            \
		VEC *d = (VEC *)(b + 8 * i);                                            \
                                                                                        \
		store(d, VEC_SI(xor)(v0, vx));                                          \
		store(d + 1, VEC_SI(xor)(v1, vx));                                      \
		store(d + 2, VEC_SI(xor)(v2, vx));                                      \
		store(d + 3, VEC_SI(xor)(v3, vx));                                      \
		VEC_ADVANCE();                                                          \
	}
		if (stream) {
			VEC_FILL_LOOP(VEC_SI(stream))
			/* Streaming stores are weakly ordered: make them visible before we return. */
			_mm_sfence();
		} else {
			VEC_FILL_LOOP(VEC_SI(storeu))
		}
#undef VEC_FILL_LOOP
		p += (i - start) * PATTERN_K;
	}
	fill_words(b + 8 * i, n - i, p, x);
}

/* The index of the first VERIFY_BLOCK-word block with a difference, or where the whole blocks end. */
VEC_TARGET static size_t VEC_NAME(verify)(const unsigned char *b, size_t n, uint64_t p, uint64_t x)
{
	VEC_CHAINS(p);
	size_t i = 0;

	for (; i + VERIFY_BLOCK <= n; i += VERIFY_BLOCK) {
		VEC d0 = VEC_SI(setzero)(), d1 = VEC_SI(setzero)();

		for (size_t l = 0; l < 8 * VERIFY_BLOCK; l += 64)
			_mm_prefetch((const char *)b + 8 * i + VERIFY_PREFETCH + l, _MM_HINT_T0);

		for (size_t j = 0; j < VERIFY_BLOCK; j += 4 * VEC_LANES) {
			const VEC *s = (const VEC *)(b + 8 * (i + j));

			d0 = VEC_SI(or)(d0, VEC_SI(xor)(VEC_SI(loadu)(s), VEC_SI(xor)(v0, vx)));
			d1 = VEC_SI(or)(d1, VEC_SI(xor)(VEC_SI(loadu)(s + 1), VEC_SI(xor)(v1, vx)));
			d0 = VEC_SI(or)(d0, VEC_SI(xor)(VEC_SI(loadu)(s + 2), VEC_SI(xor)(v2, vx)));
			d1 = VEC_SI(or)(d1, VEC_SI(xor)(VEC_SI(loadu)(s + 3), VEC_SI(xor)(v3, vx)));
			VEC_ADVANCE();
		}
		if (VEC_ANY(VEC_SI(or)(d0, d1)))
			break;
	}
	return i;
}

#undef VEC_SPLAT
#undef VEC_CHAINS
#undef VEC_ADVANCE
#undef VEC
#undef VEC_LANES
#undef VEC_TARGET
#undef VEC_NAME
#undef VEC_MM
#undef VEC_SI
#undef VEC_PROGRESSION
#undef VEC_ANY
