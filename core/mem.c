/* Mappings (mmap/munmap of device, dma-buf and DRM fds) and the data pattern
 * of src/uapi/pattern.ts, at memory speed.
 *
 * Pattern: the little-endian u64 at absolute address A (A % 8 == 0) is
 *     ((A >> 3) * K + s1) ^ s2,  K = 0x9E3779B97F4A7C15,
 *     s1 = splitmix64(seed), s2 = splitmix64(s1).
 * Consecutive words differ by K before the xor, so fill is one add and one
 * xor per word, done four lanes at a time in GCC vector types (SSE2 on any
 * x86-64, AVX2 where the CPU has it, picked at load time by target_clones).
 * Verify xors each loaded word with its expected value and ORs the results
 * over 256-byte blocks; only a block with a difference is rescanned word by
 * word to report the first mismatch. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "iovh.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the pattern's words are little-endian in memory");

#define PATTERN_K 0x9E3779B97F4A7C15ULL

#if defined(__x86_64__) && !defined(IOVH_NO_CLONES) && !defined(__SANITIZE_ADDRESS__)
#define IOVH_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define IOVH_CLONES
#endif

typedef uint64_t v4u64 __attribute__((vector_size(32)));
/* Unaligned, aliasing-safe views: a mapping offset need only be a multiple of 8. */
typedef v4u64 v4u64_u __attribute__((aligned(1), may_alias));

int __mem_map(int fd, uint64_t offset, size_t length, int prot, void **addr)
{
	void *p = mmap(NULL, length, prot, MAP_SHARED, fd, (off_t)offset);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

int __mem_map_anon(size_t length, void **addr)
{
	void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

int __mem_protect(void *addr, size_t length, int prot)
{
	return mprotect(addr, length, prot) == -1 ? -errno : 0;
}

int __mem_unmap(void *addr, size_t length)
{
	return munmap(addr, length) == -1 ? -errno : 0;
}

/* SIGBUS guard. A mapping can stop being backed while we hold it: a memfd
 * truncated under it, a VFIO BAR whose memory decoding is off or whose
 * device is being reset (vfio_pci_mmap_huge_fault returns VM_FAULT_SIGBUS,
 * drivers/vfio/pci/vfio_pci_core.c). An access then raises SIGBUS, which
 * would kill the process; under the guard it ends the access instead and the
 * caller gets -EFAULT. Accesses run on one thread (the JS thread), so one
 * thread-local jump buffer is enough. */
static __thread sigjmp_buf *guard_jump;
static struct sigaction guard_previous;

static void guard_handler(int sig, siginfo_t *info, void *context)
{
	(void)sig;
	(void)info;
	(void)context;
	if (guard_jump)
		siglongjmp(*guard_jump, 1);
	/* Not an access of ours: give the signal back to whoever had it. The
	 * faulting instruction runs again and meets the previous disposition. */
	sigaction(SIGBUS, &guard_previous, NULL);
}

int __mem_guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_handler;
	/* NODEFER: SIGBUS stays unblocked after the jump, so a later fault is caught too. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, &guard_previous) == -1 ? -errno : 0;
}

int mem_guarded(void (*access)(void *), void *arg)
{
	sigjmp_buf jump;
	sigjmp_buf *volatile outer = guard_jump;

	if (sigsetjmp(jump, 0)) {
		guard_jump = outer;
		return -EFAULT;
	}
	guard_jump = &jump;
	access(arg);
	guard_jump = outer;
	return 0;
}

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

IOVH_CLONES void pattern_fill(void *buf, size_t len, uint64_t seed, uint64_t address)
{
	unsigned char *b = buf;
	size_t n = len / 8, i = 0;
	uint64_t s1, s2, p;

	pattern_seeds(seed, &s1, &s2);
	p = (address >> 3) * PATTERN_K + s1;
	if (n >= 8) {
		const v4u64 x = { s2, s2, s2, s2 };
		const v4u64 step = { 8 * PATTERN_K, 8 * PATTERN_K, 8 * PATTERN_K, 8 * PATTERN_K };
		v4u64 lo = { p, p + PATTERN_K, p + 2 * PATTERN_K, p + 3 * PATTERN_K };
		v4u64 hi = lo + 4 * PATTERN_K;

		for (; i + 8 <= n; i += 8) {
			*(v4u64_u *)(b + 8 * i) = lo ^ x;
			*(v4u64_u *)(b + 8 * i + 32) = hi ^ x;
			lo += step;
			hi += step;
		}
		p += i * PATTERN_K;
	}
	for (; i < n; i++, p += PATTERN_K) {
		uint64_t w = p ^ s2;

		memcpy(b + 8 * i, &w, 8);
	}
}

/* Words per verify block: 256 bytes between checks for a difference. */
#define VERIFY_BLOCK 32

IOVH_CLONES int pattern_verify(const void *buf, size_t len, uint64_t seed, uint64_t address,
			       struct pattern_mismatch *out)
{
	const unsigned char *b = buf;
	size_t n = len / 8, i = 0;
	uint64_t s1, s2, word0;

	pattern_seeds(seed, &s1, &s2);
	word0 = address >> 3;
	if (n >= VERIFY_BLOCK) {
		const uint64_t p = word0 * PATTERN_K + s1;
		const v4u64 x = { s2, s2, s2, s2 };
		const v4u64 step = { 8 * PATTERN_K, 8 * PATTERN_K, 8 * PATTERN_K, 8 * PATTERN_K };
		v4u64 lo = { p, p + PATTERN_K, p + 2 * PATTERN_K, p + 3 * PATTERN_K };
		v4u64 hi = lo + 4 * PATTERN_K;

		for (; i + VERIFY_BLOCK <= n; i += VERIFY_BLOCK) {
			v4u64 diff = { 0, 0, 0, 0 };

			for (size_t j = 0; j < VERIFY_BLOCK; j += 8) {
				diff |= *(const v4u64_u *)(b + 8 * (i + j)) ^ (lo ^ x);
				diff |= *(const v4u64_u *)(b + 8 * (i + j) + 32) ^ (hi ^ x);
				lo += step;
				hi += step;
			}
			if (diff[0] | diff[1] | diff[2] | diff[3])
				break;
		}
	}
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
